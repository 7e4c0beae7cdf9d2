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
