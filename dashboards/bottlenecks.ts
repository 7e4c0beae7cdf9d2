import { type Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { SATURATION } from '../model/station.ts';
import {
  bars,
  dashboard,
  dependencyVariable,
  finish,
  RUN,
  stat,
  thresholds,
  timeseries,
  trafficLight,
} from './panels.ts';

/** The model's one definition (the report's, compare's and the DependencySaturated alert's). */
const SATURATED = SATURATION.utilisation;
const SUSTAIN = `${SATURATION.sustainSeconds}s`;
const PERCENT = `${Math.round(SATURATED * 100)}%`;
const DEP = 'dependency=~"$dependency"';

/**
 * Bottlenecks: which dependency (email, photo upload, the ministries) or the service itself limits
 * the rehearsal. The top row answers "who saturates first" at a glance; one repeated row per
 * dependency then shows its USE (utilisation against the capacity line, queue, errors) and latency.
 */
export function bottlenecksDashboard(): Dashboard {
  const d = dashboard(
    'gelombang-bottlenecks',
    'gelombang / Bottlenecks',
    'Per dependency utilisation, saturation and errors (USE) with the capacity line, queue depth and latency quantiles; the first to saturate stands out.',
  )
    .withVariable(dependencyVariable())
    .withRow(new RowBuilder('Who is the bottleneck'))
    .withPanel(
      bars({
        title: 'Saturation now (busy servers / servers), worst first',
        description: `In-flight requests over the station's concurrency. Red at ${PERCENT}: (nearly) every server busy, arrivals queue; saturated once it lasts ${SUSTAIN}. The top bar is the bottleneck.`,
        unit: 'percentunit',
        width: 8,
        colours: trafficLight(0.7, SATURATED),
        queries: [
          {
            expr: `sort_desc(dependency:station_saturation:ratio{${DEP}})`,
            legend: '{{dependency}}',
            instant: true,
          },
        ],
      }).max(1),
    )
    .withPanel(
      bars({
        title: `First to saturate (${PERCENT} busy for ${SUSTAIN})`,
        description: `When each dependency's first saturation within the selected range began: ${PERCENT} of its servers or more busy at every sample for ${SUSTAIN}, as the alert and the report judge it (model/station.ts). Earliest first; dependencies that never saturated are absent.`,
        unit: 'dateTimeAsLocal',
        width: 8,
        colours: thresholds([{ value: null, color: 'red' }]),
        queries: [
          {
            // The first moment the window behind it was all saturated, less the window: when it began.
            expr: `sort(min_over_time((timestamp(min_over_time(dependency:station_saturation:ratio{${DEP}}[${SUSTAIN}]) >= ${SATURATED}) * 1000)[$__range:1s]) - ${SATURATION.sustainSeconds * 1000})`,
            legend: '{{dependency}}',
            instant: true,
          },
        ],
      }),
    )
    .withPanel(
      bars({
        title: 'Queue fill now (waiting / waiting room)',
        description:
          'Requests waiting for a server over the queue capacity. At 100% the next arrival is refused.',
        unit: 'percentunit',
        width: 8,
        colours: trafficLight(0.5, 0.9),
        queries: [
          {
            expr: `sort_desc(dependency:station_queue_fill:ratio{${DEP}})`,
            legend: '{{dependency}}',
            instant: true,
          },
        ],
      }).max(1),
    )
    .withPanel(
      timeseries({
        title: 'Saturation over time',
        description: `Every dependency on one axis with the ${PERCENT} line: the first line to stay above it for ${SUSTAIN} is the first bottleneck.`,
        unit: 'percentunit',
        width: 12,
        min: 0,
        limits: trafficLight(0.7, SATURATED),
        queries: [{ expr: `dependency:station_saturation:ratio{${DEP}}`, legend: '{{dependency}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Offered load and refusals',
        description:
          'Iterations the load generator started per second (run and scenario selected above) against the requests the dependencies refused or timed out.',
        unit: 'reqps',
        width: 12,
        queries: [
          { expr: `sum(testid:k6_iterations:rate1m{${RUN}})`, legend: 'iterations started' },
          {
            expr: `sum by (dependency, reason) (dependency:station_rejections:rate1m{${DEP}})`,
            legend: '{{dependency}} {{reason}}',
          },
        ],
      }),
    )
    .withPanel(
      stat({
        title: 'Registration service: event-loop lag p99',
        description:
          'When this is high the service itself (its CPU, e.g. password hashing) is the bottleneck, not a dependency.',
        unit: 's',
        width: 6,
        colours: trafficLight(0.1, 0.25),
        queries: [{ expr: 'max(nodejs_eventloop_lag_p99_seconds{job="registration"})', legend: 'lag p99' }],
      }),
    )
    .withPanel(
      stat({
        title: 'Registration service: CPU',
        description: 'CPU seconds per second of the service (1 = one core fully used).',
        unit: 'percentunit',
        width: 6,
        colours: trafficLight(0.7, 0.9),
        queries: [
          {
            expr: 'sum(rate(process_cpu_seconds_total{job="registration"}[$__rate_interval]))',
            legend: 'cpu',
          },
        ],
      }),
    )
    .withPanel(
      stat({
        title: 'Upload ingress link',
        description:
          "Share of the photo store's shared ingress bandwidth booked: the upload bottleneck that is not servers.",
        unit: 'percentunit',
        width: 6,
        colours: trafficLight(0.7, SATURATED),
        queries: [{ expr: 'max(upload_bandwidth_utilisation)', legend: 'bandwidth' }],
      }),
    )
    .withPanel(
      stat({
        title: 'Email outbox',
        description: 'Verification mails accepted by the service but not yet handed to SMTP (outbox mode).',
        unit: 'short',
        width: 6,
        colours: trafficLight(100, 1000),
        queries: [{ expr: 'max(gelombang_email_outbox_depth)', legend: 'outbox' }],
      }),
    )
    .withRow(new RowBuilder('$dependency').repeat('dependency'))
    .withPanel(
      timeseries({
        title: '$dependency: utilisation vs capacity',
        description:
          "Busy servers with the station's concurrency as the dashed red line: when they meet, it is saturated.",
        unit: 'short',
        width: 6,
        min: 0,
        capacityRegexp: '.*capacity.*',
        queries: [
          { expr: 'dependency:station_in_flight:sum{dependency=~"$dependency"}', legend: 'busy servers' },
          {
            expr: 'dependency:station_capacity:sum{dependency=~"$dependency"}',
            legend: 'capacity (servers)',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: '$dependency: queue depth vs queue capacity',
        description:
          "Requests waiting for a server, with the waiting room's size as the dashed line: beyond it, refusals.",
        unit: 'short',
        width: 6,
        min: 0,
        capacityRegexp: '.*capacity.*',
        queries: [
          { expr: 'dependency:station_queue_depth:sum{dependency=~"$dependency"}', legend: 'waiting' },
          {
            expr: 'sum by (dependency) (station_queue_capacity{dependency=~"$dependency"})',
            legend: 'queue capacity',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: '$dependency: errors',
        description:
          'Answers by outcome and refusals by reason (queue full, timeout, injected error), with the service-side view of the same calls.',
        unit: 'reqps',
        width: 6,
        queries: [
          {
            expr: 'sum by (reason) (dependency:station_rejections:rate1m{dependency=~"$dependency"})',
            legend: 'refused: {{reason}}',
          },
          {
            expr: 'sum by (outcome) (dependency:gelombang_dependency_calls:rate1m{dependency=~"$dependency", outcome!="ok"})',
            legend: 'service saw: {{outcome}}',
          },
          {
            expr: 'sum by (outcome) (dependency:station_requests:rate1m{dependency=~"$dependency", outcome="ok"})',
            legend: 'answered ok',
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: '$dependency: latency quantiles',
        description:
          'At the mock (queueing included) and as the registration service waited for it (network and client timeouts included).',
        unit: 's',
        width: 6,
        queries: [
          {
            expr: 'dependency:station_request_duration_seconds:quantile_rate1m{dependency=~"$dependency"}',
            legend: 'mock p{{quantile}}',
          },
          {
            expr: 'dependency:gelombang_dependency_request_duration_seconds:quantile_rate1m{dependency=~"$dependency", quantile="0.99"}',
            legend: 'service-side p{{quantile}}',
          },
        ],
      }),
    );
  return finish(d.build());
}
