import {
  type Dashboard,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { AVAILABILITY_SLO, DATASOURCE } from './metrics.ts';
import { dashboard, finish, stat, thresholds, timeseries, trafficLight } from './panels.ts';

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

/**
 * Service: the registration service (or any process of the stack, by the job selector) as a
 * service owner sees it: RED per route, the error budget, the Node.js runtime, and its database.
 */
export function serviceDashboard(): Dashboard {
  const budget = 1 - AVAILABILITY_SLO;
  const d = dashboard(
    'gelombang-service',
    'gelombang / Service',
    'Rate, errors and duration per route; event-loop lag; CPU and memory; the database (waves, outbox).',
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
        limits: thresholds([
          { value: null, color: 'green' },
          { value: budget, color: 'red' },
        ]),
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
  return finish(d.build());
}
