/**
 * The vocabulary the dashboards and rules chart: scrape jobs, dependencies, funnel stages and the
 * datasource. The metric names themselves are owned by the services (mock-services/station/metrics.ts,
 * mock-services/registration/metrics.ts) and the runner (runner/metrics/prometheus.ts, which names
 * them as k6's experimental-prometheus-rw output does); the queries spell them out where they are
 * used so that a reader of a panel sees exactly what it asks Prometheus.
 */

/** Scrape jobs, one per process of the stack plus the embedded runner. */
export const JOBS = ['registration', 'ministry', 'email', 'upload', 'runner'] as const;
export type Job = (typeof JOBS)[number];

/** The `dependency` label, the same on the service side and on the mocks' stations. */
export { DEPENDENCIES } from '../model/capacity.ts';

/**
 * Funnel stages and per-stage outcomes: the model's single source (model/funnel.ts), in
 * journey order, so that conversion is always "this stage over the one before".
 */
export { OUTCOMES as FUNNEL_OUTCOMES, STAGES as FUNNEL_STAGES } from '../model/funnel.ts';

/** The provisioned datasource; its uid is fixed so that the dashboards need no datasource picker. */
export const DATASOURCE = { type: 'prometheus', uid: 'gelombang-prometheus' } as const;

/**
 * The rehearsal's availability objective for the error-budget alerts and panels: 99.5% of requests
 * answered without a 5xx. A 429 is load shedding the registrant is told to retry: it is charted,
 * but it does not burn the budget. The rule files spell out the same number (0.005 budget).
 */
export const AVAILABILITY_SLO = 0.995;

/**
 * Metrics a run with the 2020 defaults has no series of, and when they have some: the hardened
 * design's parts export them only with their knob on, and prom-client a labelled counter only after
 * its first increment. A query naming one may rightly return nothing (its panel says "No data": the
 * part is off, or has had nothing to do). The unlabelled counters (waiting-room admissions, email
 * dead letters, the email mock's duplicates) are always there, at 0 until something happens.
 */
export const CONDITIONAL_METRICS: Readonly<Record<string, string>> = {
  gelombang_waiting_room_queue_length: 'ADMISSION_RATE > 0',
  gelombang_ministry_breaker_state: 'MINISTRY_BREAKER=on',
  gelombang_ministry_calls_shed_total:
    'a ministry call shed by the breaker or the bulkhead (MINISTRY_BREAKER=on or MINISTRY_BULKHEAD > 0)',
  gelombang_ministry_cache_total: 'MINISTRY_CACHE=on and a ministry call',
  gelombang_idempotency_keys_total: 'IDEMPOTENCY=on and a request with an Idempotency-Key',
  gelombang_email_outbox_dead_letters: 'EMAIL_DELIVERY=outbox',
};
