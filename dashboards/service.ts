import {
  type Dashboard,
  type DashboardBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { AVAILABILITY_SLO, DATASOURCE } from './metrics.ts';
import { dashboard, finish, overLimit, stat, stateTimeline, timeseries, trafficLight } from './panels.ts';

const JOB = 'job=~"$job"';

function jobVariable(): QueryVariableBuilder {
  const q = 'label_values(process_cpu_seconds_total, job)';
  return new QueryVariableBuilder('job')
    .label('Process')
    .datasource(DATASOURCE)
    .query({ query: q, refId: 'job-variable' })
    .definition(q)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .multi(false)
    .includeAll(false)
    .current({ selected: true, text: 'registration', value: 'registration' });
}

/** A share of a counter's rate, 0 rather than absent while the part has never been counted. */
function shareOf(metric: string, by: string, part: string): string {
  const all = `sum by (${by}) (rate(${metric}{${JOB}}[$__rate_interval]))`;
  return `(sum by (${by}) (rate(${metric}{${JOB}, ${part}}[$__rate_interval])) or ${all} * 0) / (${all} > 0)`;
}

/**
 * Service: the registration service (or any process of the stack, by the job selector) as a
 * service owner sees it: RED per route, the error budget, the Node.js runtime, and its database.
 */
export function serviceDashboard(): Dashboard {
  const budget = 1 - AVAILABILITY_SLO;
  const d = dashboard(
    'gelombang-service',
    'gelombang / Service',
    'Rate, errors and duration per route; event-loop lag; CPU and memory; the database (waves, outbox); the hardened design at work (waiting room, ministry guard, outbox, idempotency keys).',
  )
    .withVariable(jobVariable())
    .withRow(new RowBuilder('Requests (RED per route)'))
    .withPanel(
      timeseries({
        title: 'Request rate per route',
        description: 'Requests answered per second by route pattern (each route is a journey step).',
        unit: 'reqps',
        stacked: true,
        queries: [
          {
            expr: `sum by (method, route) (rate(gelombang_http_requests_total{${JOB}}[$__rate_interval]))`,
            legend: '{{method}} {{route}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Answers by status',
        description:
          '2xx, the 4xx the registrant caused or is asked to retry (429), and the 5xx that burn the error budget.',
        unit: 'reqps',
        stacked: true,
        queries: [
          {
            expr: `sum by (status) (rate(gelombang_http_requests_total{${JOB}}[$__rate_interval]))`,
            legend: '{{status}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: '5xx ratio per route',
        description: `Share of each route's answers that were 5xx. The objective is ${(AVAILABILITY_SLO * 100).toFixed(1)}% without (dashed line).`,
        unit: 'percentunit',
        min: 0,
        limits: overLimit(budget),
        queries: [
          { expr: `route:gelombang_http_errors:ratio_rate1m{${JOB}}`, legend: '{{method}} {{route}}' },
        ],
      }),
    )
    .withPanel(
      stat({
        title: 'Error budget burn rate (5m)',
        description:
          'How many times faster than sustainable the 5xx budget burns: 1 spends exactly the budget; 14 pages.',
        unit: 'x',
        width: 12,
        height: 8,
        colours: trafficLight(1, 14.4),
        queries: [{ expr: `max(job:gelombang_error_budget:burn_rate5m{${JOB}})`, legend: 'burn rate' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Duration p95 per route',
        description: "From the service's histograms, per route.",
        unit: 's',
        queries: [
          {
            expr: `route:gelombang_http_request_duration_seconds:quantile_rate1m{quantile="0.95", ${JOB}}`,
            legend: '{{method}} {{route}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Duration p99 per route',
        description: "From the service's histograms, per route.",
        unit: 's',
        queries: [
          {
            expr: `route:gelombang_http_request_duration_seconds:quantile_rate1m{quantile="0.99", ${JOB}}`,
            legend: '{{method}} {{route}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'In flight',
        description: 'HTTP requests being handled, and calls waiting on each dependency.',
        unit: 'short',
        queries: [
          { expr: `sum(gelombang_http_requests_in_flight{${JOB}})`, legend: 'HTTP requests' },
          { expr: 'dependency:gelombang_dependency_in_flight:sum', legend: 'waiting on {{dependency}}' },
        ],
      }),
    )
    .withRow(new RowBuilder('Runtime'))
    .withPanel(
      timeseries({
        title: 'Event-loop lag',
        description: 'How late timers fire: high lag means the process is CPU-bound and every request waits.',
        unit: 's',
        limits: trafficLight(0.1, 0.25),
        queries: [
          {
            expr: `max by (instance) (nodejs_eventloop_lag_p99_seconds{${JOB}})`,
            legend: 'p99 {{instance}}',
          },
          {
            expr: `max by (instance) (nodejs_eventloop_lag_mean_seconds{${JOB}})`,
            legend: 'mean {{instance}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'CPU',
        description: 'CPU seconds per second (1 = one core).',
        unit: 'percentunit',
        queries: [
          {
            expr: `sum by (instance) (rate(process_cpu_seconds_total{${JOB}}[$__rate_interval]))`,
            legend: '{{instance}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Memory',
        description: 'Resident set and V8 heap in use.',
        unit: 'bytes',
        queries: [
          {
            expr: `sum by (instance) (process_resident_memory_bytes{${JOB}})`,
            legend: 'resident {{instance}}',
          },
          {
            expr: `sum by (instance) (nodejs_heap_size_used_bytes{${JOB}})`,
            legend: 'heap used {{instance}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Password hashing time',
        description:
          'scrypt p95: the CPU cost of every account and login, a bottleneck of the service itself.',
        unit: 's',
        queries: [
          {
            expr: `histogram_quantile(0.95, sum by (operation, le) (rate(gelombang_password_hash_duration_seconds_bucket{${JOB}}[$__rate_interval])))`,
            legend: '{{operation}} p95',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Email: the service’s SMTP connections',
        description:
          'Connections of the service’s own SMTP pool sending a mail, over the pool (EMAIL_CONNECTIONS in each process), and the mails waiting for one. At 100 % with mails waiting while the email server has servers free, the pool is the bottleneck, not the relay: sign-ups (inline mail) or the outbox slow down with nothing refused. Raise EMAIL_CONNECTIONS, or WORKERS.',
        unit: 'short',
        min: 0,
        queries: [
          {
            expr: `sum(gelombang_email_connections_busy{${JOB}}) / sum(gelombang_email_connections{${JOB}}) * 100`,
            legend: 'connections busy (%)',
          },
          { expr: `sum(gelombang_email_waiting{${JOB}})`, legend: 'mails waiting for a connection' },
        ],
      }),
    )
    .withRow(new RowBuilder('Database'))
    .withPanel(
      timeseries({
        title: 'Wave places',
        description:
          "Each wave's quota (dashed) and places taken, read from SQLite: taken must never exceed the quota.",
        unit: 'short',
        capacityRegexp: '.*quota.*',
        queries: [
          { expr: 'max by (wave, state) (gelombang_wave_places)', legend: 'wave {{wave}} {{state}}' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Email outbox',
        description: 'Verification mails stored in SQLite awaiting SMTP (outbox delivery mode).',
        unit: 'short',
        queries: [{ expr: 'max(gelombang_email_outbox_depth)', legend: 'outbox' }],
      }),
    );
  hardenedDesignRow(d);
  return finish(d.build());
}

/**
 * The hardened design's parts, each shown only when its knob is on (a part that is off exports
 * nothing, and its panel says "No data"): the waiting room, the ministry guard (breaker, bulkhead,
 * cache), the email outbox's dead letters and duplicates, and idempotency keys.
 */
function hardenedDesignRow(d: DashboardBuilder): void {
  d.withRow(new RowBuilder('Hardened design'))
    .withPanel(
      timeseries({
        title: 'Waiting room',
        description:
          'Registrants holding a ticket whose turn has not come (left axis) and sign-ups let through per second that succeeded (right axis), with ADMISSION_RATE > 0. Admissions flat at the rate while the queue grows: the room works as meant, tell registrants their wait. Admissions below the rate with a queue: sign-ups fail after admission, look at the 5xx and the dependencies. A queue that never drains: raise ADMISSION_RATE only if the dependencies below have room.',
        unit: 'short',
        width: 8,
        min: 0,
        queries: [
          { expr: `max(gelombang_waiting_room_queue_length{${JOB}})`, legend: 'waiting' },
          {
            expr: `sum(rate(gelombang_waiting_room_admissions_total{${JOB}}[$__rate_interval]))`,
            legend: 'admitted/s',
          },
        ],
      }).overrideByName('admitted/s', [
        { id: 'unit', value: 'reqps' },
        { id: 'custom.axisPlacement', value: 'right' },
      ]),
    )
    .withPanel(
      stateTimeline({
        title: 'Ministry circuit breakers',
        description:
          "Each ministry's breaker (MINISTRY_BREAKER=on): closed (calls go through), half-open (one probe call tests the ministry), open (calls refused at once, registrants told to retry). Open again and again: that ministry is down or overloaded, check its row on the Bottlenecks dashboard and its status with the ministry; the MinistryCircuitOpen alert fires after a minute.",
        width: 8,
        states: [
          { value: 0, text: 'closed', color: 'green' },
          { value: 1, text: 'half-open', color: 'orange' },
          { value: 2, text: 'open', color: 'red' },
        ],
        queries: [
          {
            expr: `max by (dependency) (gelombang_ministry_breaker_state{${JOB}})`,
            legend: '{{dependency}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Ministry calls shed',
        description:
          'Calls to a ministry refused before they were made, per second: by the open breaker, or by the bulkhead (MINISTRY_BULKHEAD) when its slots and queue were full. Each is a registrant told to retry rather than left waiting. Shed by the bulkhead while the ministry answers fast: the bulkhead is too small; while it is slow: the ministry is the bottleneck, shedding is protecting the service.',
        unit: 'reqps',
        width: 8,
        stacked: true,
        queries: [
          {
            expr: `sum by (dependency, reason) (rate(gelombang_ministry_calls_shed_total{${JOB}}[$__rate_interval]))`,
            legend: '{{dependency}} {{reason}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Ministry answer cache hit ratio',
        description:
          "Share of ministry look-ups answered from the cache (MINISTRY_CACHE=on), per ministry. Each hit is a call the ministry did not have to answer. Near 0 in a surge of first-time registrants is expected (each NIK is asked once); near 0 while registrants retry means the cache's entries expire too soon or it is too small.",
        unit: 'percentunit',
        width: 8,
        min: 0,
        max: 1,
        queries: [
          {
            expr: shareOf('gelombang_ministry_cache_total', 'dependency', 'result="hit"'),
            legend: '{{dependency}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Email outbox: depth and dead letters',
        description:
          'Verification mails waiting in the outbox, and those set aside after EMAIL_MAX_ATTEMPTS failed attempts (dead letters, kept in the database across restarts; EMAIL_DELIVERY=outbox). Depth rising steadily: SMTP takes mail slower than sign-ups write it, compare EMAIL_SEND_RATE with the provider. Any dead letter is a registrant who got no verification mail: find why SMTP refused (the outbox keeps the last error) and send them again.',
        unit: 'short',
        width: 8,
        min: 0,
        queries: [
          { expr: `max(gelombang_email_outbox_depth{${JOB}})`, legend: 'waiting to be sent' },
          { expr: `max(gelombang_email_outbox_dead_letters{${JOB}})`, legend: 'dead letters' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Email: dead-lettered and duplicate mails',
        description:
          'Mails set aside as dead letters per second (the service), and copies of a mail the mailbox already held per second (the email mock: the outbox sent a mail again after a lost acknowledgement, under the same Message-ID). Dead letters growing: SMTP keeps refusing, the EmailDeadLettersGrowing alert fires. A few duplicates are the price of never losing a mail; many mean SMTP answers slower than the outbox lease, the outbox resends mails that were delivered.',
        unit: 'reqps',
        width: 8,
        queries: [
          {
            expr: `sum(rate(gelombang_email_dead_letters_total{${JOB}}[$__rate_interval]))`,
            legend: 'dead-lettered',
          },
          {
            expr: 'sum(rate(email_duplicate_messages_total[$__rate_interval]))',
            legend: 'duplicates delivered',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Idempotency keys by outcome',
        description:
          'Requests carrying an Idempotency-Key per second (IDEMPOTENCY=on): first (the request ran), replayed (a retry got the first answer again, nothing done twice), in_progress (a retry came while the first still ran: told to retry in a second), reused (the key came with another body: refused). Many in_progress: clients retry faster than the service answers, look at the duration panels. Any reused: a client reuses keys across requests, a client bug to report.',
        unit: 'reqps',
        width: 12,
        stacked: true,
        queries: [
          {
            expr: `sum by (outcome) (rate(gelombang_idempotency_keys_total{${JOB}}[$__rate_interval]))`,
            legend: '{{outcome}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Idempotent replays',
        description:
          'Share of keyed requests answered from the store: retries after a timeout or a lost answer that, without keys, would have created a second account or booked a second place. It rises with timeouts and 5xx: the keys are absorbing retries; fix the cause of the retries upstream.',
        unit: 'percentunit',
        width: 12,
        min: 0,
        max: 1,
        queries: [
          {
            expr: shareOf('gelombang_idempotency_keys_total', 'job', 'outcome="replayed"'),
            legend: 'replayed',
          },
        ],
      }),
    );
}
