import { type Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { ABOVE_P95 } from '../model/slo.ts';
import { dashboard, finish, overLimit, RUN, stat, thresholds, timeseries, trafficLight } from './panels.ts';

/**
 * Load generator: is the test itself valid? The same panels serve the embedded runner (scraped as
 * job "runner") and real k6 (remote write), because both name their series as k6's
 * experimental-prometheus-rw output does; no panel filters on the job.
 *
 * Trend statistics (k6_http_req_duration_p95, ...) are gauges computed per series by the engine:
 * percentiles cannot be summed, so per step we show the worst series (max), an upper bound.
 */
export function loadGeneratorDashboard(): Dashboard {
  const d = dashboard(
    'gelombang-load-generator',
    'gelombang / Load generator',
    'VUs, iteration rate against the target, dropped iterations and per-step request duration, whichever engine (embedded runner or k6) produced the metrics.',
  )
    .withRow(new RowBuilder('Is the test valid?'))
    .withPanel(
      stat({
        title: 'Dropped iterations',
        description:
          'Iterations an arrival-rate executor could not start for want of a free VU, over the selected range. Anything but 0 means the load offered was lower than planned: the run is invalid.',
        unit: 'short',
        width: 6,
        colours: overLimit(1),
        queries: [
          {
            expr: `sum(increase(k6_dropped_iterations_total{${RUN}}[$__range])) or vector(0)`,
            legend: 'dropped',
            instant: true,
          },
        ],
      }),
    )
    .withPanel(
      stat({
        title: 'Share of the target not offered',
        description: 'Dropped iterations over iterations due (started + dropped), last minute.',
        unit: 'percentunit',
        width: 6,
        colours: trafficLight(0.001, 0.01),
        queries: [
          { expr: `max(testid:k6_dropped_iterations:ratio_rate1m{${RUN}}) or vector(0)`, legend: 'share' },
        ],
      }),
    )
    .withPanel(
      stat({
        title: 'HTTP requests failed',
        description: 'Share of requests k6 counts as failed (http_req_failed), worst series.',
        unit: 'percentunit',
        width: 6,
        colours: trafficLight(0.01, 0.05),
        queries: [{ expr: `max(k6_http_req_failed_rate{${RUN}})`, legend: 'failed' }],
      }),
    )
    .withPanel(
      stat({
        title: 'Checks passed',
        description: 'Share of check() calls that passed, worst series.',
        unit: 'percentunit',
        width: 6,
        colours: thresholds([
          { value: null, color: 'red' },
          { value: 0.95, color: 'orange' },
          { value: 0.99, color: 'green' },
        ]),
        queries: [{ expr: `min(k6_checks_rate{${RUN}})`, legend: 'checks' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Iteration rate vs target',
        description:
          'Iterations started per second, and the target: started plus dropped, i.e. what the executor was asked to start. When the two lines part, the load generator is the bottleneck.',
        unit: 'reqps',
        capacityRegexp: 'target.*',
        queries: [
          { expr: `sum by (scenario) (testid:k6_iterations:rate1m{${RUN}})`, legend: 'started {{scenario}}' },
          {
            // one selector over both recorded series: the sum exists even before the first drop
            expr: `sum by (scenario) ({__name__=~"testid:k6_(dropped_)?iterations:rate1m", ${RUN}})`,
            legend: 'target {{scenario}}',
          },
          {
            expr: `sum by (scenario) (testid:k6_dropped_iterations:rate1m{${RUN}})`,
            legend: 'dropped {{scenario}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Virtual users',
        description: 'Active VUs and the most the executor may use (vus_max).',
        unit: 'short',
        capacityRegexp: 'max.*',
        queries: [
          { expr: `sum by (testid) (k6_vus{testid=~"$testid"})`, legend: 'active {{testid}}' },
          { expr: `sum by (testid) (k6_vus_max{testid=~"$testid"})`, legend: 'max {{testid}}' },
        ],
      }),
    )
    .withRow(new RowBuilder('Requests per step'))
    .withPanel(
      timeseries({
        title: 'Request duration p95 per step',
        description: 'Worst p95 among the series of each step (step tag set by the scenarios).',
        unit: 's',
        queries: [{ expr: `max by (step) (k6_http_req_duration_p95{${RUN}, step!=""})`, legend: '{{step}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Request duration p99 per step',
        description: 'Worst p99 among the series of each step.',
        unit: 's',
        queries: [{ expr: `max by (step) (k6_http_req_duration_p99{${RUN}, step!=""})`, legend: '{{step}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Slow requests per step',
        description:
          "Share of each step's requests slower than its p95 objective (model/slo.ts), as the scenarios count them (step_slow_requests), over the rate interval: above the dashed 5 % the step's p95 is over its objective. Real k6's p95 panels above are since the start of the test; this one is the interval's.",
        unit: 'percentunit',
        min: 0,
        limits: overLimit(ABOVE_P95),
        queries: [
          {
            expr: `sum by (step) (rate(k6_step_slow_requests_total{${RUN}, step!=""}[$__rate_interval])) / sum by (step) (rate(k6_http_reqs_total{${RUN}, step!=""}[$__rate_interval]))`,
            legend: '{{step}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Requests per step and status',
        description: 'HTTP requests the load generator sent per second, by step and status code.',
        unit: 'reqps',
        stacked: true,
        queries: [
          {
            expr: `sum by (step, status) (rate(k6_http_reqs_total{${RUN}}[$__rate_interval]))`,
            legend: '{{step}} {{status}}',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Failed requests per step',
        description: 'Share of failed requests per step (worst series).',
        unit: 'percentunit',
        min: 0,
        queries: [{ expr: `max by (step) (k6_http_req_failed_rate{${RUN}, step!=""})`, legend: '{{step}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Data sent and received',
        description: 'Bytes per second on the wire (photo uploads dominate what is sent).',
        unit: 'Bps',
        queries: [
          { expr: `sum(rate(k6_data_sent_total{${RUN}}[$__rate_interval]))`, legend: 'sent' },
          { expr: `sum(rate(k6_data_received_total{${RUN}}[$__rate_interval]))`, legend: 'received' },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Iteration duration',
        description: 'How long one registrant journey took (p95 and median, worst series).',
        unit: 's',
        queries: [
          { expr: `max(k6_iteration_duration_p95{${RUN}})`, legend: 'p95' },
          { expr: `max(k6_iteration_duration_med{${RUN}})`, legend: 'median' },
        ],
      }),
    );
  return finish(d.build());
}
