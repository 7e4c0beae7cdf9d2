import { type Dashboard, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { bars, dashboard, finish, RUN, stat, thresholds, timeseries, trafficLight } from './panels.ts';

/**
 * Funnel: where registrants drop out, and whether the system or their own choice made them.
 * Two views of the same journey: the service's counters (what it completed) and the scenario's
 * (every registrant's outcome at every stage, including those the service never saw succeed).
 */
export function funnelDashboard(): Dashboard {
  const d = dashboard(
    'gelombang-funnel',
    'gelombang / Funnel',
    'Arrivals and completions per funnel stage, conversion over time, and registrants lost to the system versus those who left by choice.',
  )
    .withRow(new RowBuilder("Registrants (load generator): every registrant's outcome per stage"))
    .withPanel(
      timeseries({
        title: 'Arrivals vs completions per stage',
        description:
          'Per stage: registrants who arrived at it (any outcome) and those who completed it and went on. The gap between the two lines of a stage is the loss at that stage.',
        unit: 'reqps',
        width: 16,
        queries: [
          {
            expr: `sum by (stage) (rate(k6_funnel_stage_total{${RUN}}[$__rate_interval]))`,
            legend: '{{stage}} arrived',
          },
          {
            expr: `sum by (stage) (rate(k6_funnel_stage_total{${RUN}, outcome="continued"}[$__rate_interval]))`,
            legend: '{{stage}} completed',
          },
        ],
      }),
    )
    .withPanel(
      stat({
        title: 'Registrants arrived',
        description: 'Registrants the scenario started over the selected time range.',
        unit: 'short',
        width: 8,
        height: 8,
        colours: thresholds([{ value: null, color: 'blue' }]),
        queries: [
          {
            expr: `sum(increase(k6_funnel_arrivals_total{${RUN}}[$__range]))`,
            legend: 'arrived',
            instant: true,
          },
        ],
      }),
    )
    .withPanel(
      bars({
        title: 'Lost to the system, per stage',
        description:
          'Registrants who failed at a stage because the system did not answer usefully (errors, timeouts, gave up after retries), over the selected range. These are the ones a bigger capacity would have kept.',
        unit: 'short',
        width: 8,
        colours: trafficLight(1, 100),
        queries: [
          {
            expr: `sort_desc(sum by (stage) (increase(k6_funnel_stage_total{${RUN}, outcome="failed"}[$__range])))`,
            legend: '{{stage}}',
            instant: true,
          },
        ],
      }),
    )
    .withPanel(
      bars({
        title: 'Left by choice, per stage',
        description:
          'Registrants who abandoned a stage by the behaviour model (not the system\'s fault), over the selected range. Compare with "lost to the system": only that one is a capacity problem.',
        unit: 'short',
        width: 8,
        colours: thresholds([{ value: null, color: 'blue' }]),
        queries: [
          {
            expr: `sort_desc(sum by (stage) (increase(k6_funnel_stage_total{${RUN}, outcome="left_by_choice"}[$__range])))`,
            legend: '{{stage}}',
            instant: true,
          },
        ],
      }),
    )
    .withPanel(
      bars({
        title: 'Rejected (ineligible) and still in progress, per stage',
        description:
          'Rejected: refused by a business rule (not eligible, quota full). In progress: had not finished the stage when the run ended.',
        unit: 'short',
        width: 8,
        colours: thresholds([{ value: null, color: 'purple' }]),
        queries: [
          {
            expr: `sum by (stage, outcome) (increase(k6_funnel_stage_total{${RUN}, outcome=~"rejected|in_progress"}[$__range]))`,
            legend: '{{stage}} {{outcome}}',
            instant: true,
          },
        ],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Lost to the system vs left by choice, over time',
        description: 'Rate of each way of leaving the funnel, per stage.',
        unit: 'reqps',
        width: 24,
        stacked: true,
        queries: [
          {
            expr: `sum by (stage, outcome) (stage:k6_funnel_stage:rate1m{${RUN}, outcome=~"failed|left_by_choice|rejected"})`,
            legend: '{{stage}} {{outcome}}',
          },
        ],
      }),
    )
    .withRow(new RowBuilder('Registration service: stages reached'))
    .withPanel(
      timeseries({
        title: 'Stage reached per second',
        description: 'Registrants reaching each stage, as the service counts them.',
        unit: 'reqps',
        queries: [{ expr: 'stage:gelombang_funnel_stage_reached:rate1m', legend: '{{stage}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Conversion: stage over the previous stage',
        description:
          'Of those reaching the previous stage, the share reaching this one (5-minute rates; lags early in a run because later stages happen later). A line falling to 0 is a stalled funnel.',
        unit: 'percentunit',
        min: 0,
        queries: [{ expr: 'stage:gelombang_funnel_conversion:ratio_rate5m', legend: '{{from}} → {{stage}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Conversion from registration',
        description: 'Share of registrations that reached each stage (5-minute rates).',
        unit: 'percentunit',
        min: 0,
        queries: [{ expr: 'stage:gelombang_funnel_overall_conversion:ratio_rate5m', legend: '{{stage}}' }],
      }),
    )
    .withPanel(
      timeseries({
        title: 'Refusals per stage and code',
        description:
          'Requests the service refused at a stage, by error code: validation and eligibility, and dependency failures passed on to the registrant.',
        unit: 'reqps',
        stacked: true,
        queries: [{ expr: 'stage:gelombang_funnel_rejections:rate1m', legend: '{{stage}} {{code}}' }],
      }),
    )
    .withPanel(
      bars({
        title: 'Stage totals over the range',
        description: 'How many reached each stage in the selected time range.',
        unit: 'short',
        width: 24,
        colours: thresholds([{ value: null, color: 'green' }]),
        queries: [
          {
            expr: 'sum by (stage) (increase(gelombang_funnel_stage_reached_total[$__range]))',
            legend: '{{stage}}',
            instant: true,
          },
        ],
      }),
    );
  return finish(d.build());
}
