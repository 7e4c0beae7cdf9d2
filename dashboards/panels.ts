import { PanelBuilder as BarGaugeBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  AnnotationQueryBuilder,
  type Dashboard,
  DashboardBuilder,
  MappingType,
  QueryVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelineBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';
import { DATASOURCE } from './metrics.ts';

/**
 * Small wrappers over the foundation SDK so that every panel gets the same datasource, legend and
 * colouring, and every dashboard the same variables and annotations. The SDK leaves panel ids and
 * query refIds unset; `finish` numbers them, since Grafana needs both unique.
 */

/** The run filter every load-generator query carries; k6 users set testid with `--tag testid=...`. */
export const RUN = 'testid=~"$testid", scenario=~"$scenario"';

export interface Query {
  expr: string;
  legend?: string;
  /** instant: a stat/bar gauge reads one value, not a range */
  instant?: boolean;
}

export function query(q: Query): DataqueryBuilder {
  const b = new DataqueryBuilder().datasource(DATASOURCE).expr(q.expr);
  if (q.legend) b.legendFormat(q.legend);
  if (q.instant) b.instant();
  else b.range();
  return b;
}

export interface Step {
  value: number | null;
  color: string;
}

export function thresholds(steps: Step[]): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps);
}

/** Green below `limit`, red from it: an objective or a budget, drawn dashed on a time series. */
export function overLimit(limit: number): ThresholdsConfigBuilder {
  return thresholds([
    { value: null, color: 'green' },
    { value: limit, color: 'red' },
  ]);
}

/** Green below `warn`, orange up to `crit`, red beyond: the colouring of every saturation figure. */
export function trafficLight(warn: number, crit: number): ThresholdsConfigBuilder {
  return thresholds([
    { value: null, color: 'green' },
    { value: warn, color: 'orange' },
    { value: crit, color: 'red' },
  ]);
}

export interface TimeseriesSpec {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  width?: number;
  height?: number;
  stacked?: boolean;
  /** draws the thresholds as dashed lines: a capacity or an SLO on the same axes as the measure */
  limits?: ThresholdsConfigBuilder;
  /** series whose name matches are drawn as a dashed red line (a capacity series) */
  capacityRegexp?: string;
  min?: number;
  max?: number;
}

export function timeseries(s: TimeseriesSpec): TimeseriesBuilder {
  const b = new TimeseriesBuilder()
    .title(s.title)
    .description(s.description)
    .datasource(DATASOURCE)
    .unit(s.unit)
    .span(s.width ?? 12)
    .height(s.height ?? 8)
    .lineWidth(1)
    .fillOpacity(s.stacked ? 40 : 10)
    .legend(
      new common.VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Right)
        .calcs(['lastNotNull', 'max']),
    )
    .tooltip(
      new common.VizTooltipOptionsBuilder()
        .mode(common.TooltipDisplayMode.Multi)
        .sort(common.SortOrder.Descending),
    );
  for (const q of s.queries) b.withTarget(query(q));
  if (s.stacked) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (s.min !== undefined) b.min(s.min);
  if (s.max !== undefined) b.max(s.max);
  if (s.limits) {
    b.thresholds(s.limits).thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed),
    );
  }
  if (s.capacityRegexp) {
    b.overrideByRegexp(s.capacityRegexp, [
      { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'custom.lineWidth', value: 2 },
      { id: 'custom.fillOpacity', value: 0 },
      { id: 'custom.stacking', value: { mode: 'none', group: 'A' } },
    ]);
  }
  return b;
}

export interface StatSpec {
  title: string;
  description: string;
  unit: string;
  queries: Query[];
  colours: ThresholdsConfigBuilder;
  width?: number;
  height?: number;
  /** how a range of values becomes the one shown */
  reduce?: 'lastNotNull' | 'max' | 'sum';
}

export function stat(s: StatSpec): StatBuilder {
  const b = new StatBuilder()
    .title(s.title)
    .description(s.description)
    .datasource(DATASOURCE)
    .unit(s.unit)
    .span(s.width ?? 6)
    .height(s.height ?? 6)
    .thresholds(s.colours)
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs([s.reduce ?? 'lastNotNull']).values(false));
  for (const q of s.queries) b.withTarget(query(q));
  return b;
}

/** Horizontal bars, one per series, in the order the query returns them (sort_desc puts the worst on top). */
export function bars(s: StatSpec): BarGaugeBuilder {
  const b = new BarGaugeBuilder()
    .title(s.title)
    .description(s.description)
    .datasource(DATASOURCE)
    .unit(s.unit)
    .span(s.width ?? 6)
    .height(s.height ?? 8)
    .thresholds(s.colours)
    .orientation(common.VizOrientation.Horizontal)
    .displayMode(common.BarGaugeDisplayMode.Gradient)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs([s.reduce ?? 'lastNotNull']).values(false));
  for (const q of s.queries) b.withTarget(query(q));
  return b;
}

export interface StateSpec {
  title: string;
  description: string;
  queries: Query[];
  /** what each value of an encoded gauge means, and its colour: 0 closed, 1 half-open... */
  states: Array<{ value: number; text: string; color: string }>;
  width?: number;
  height?: number;
}

/** One band per series, coloured by the state an encoded gauge is in over time. */
export function stateTimeline(s: StateSpec): StateTimelineBuilder {
  const b = new StateTimelineBuilder()
    .title(s.title)
    .description(s.description)
    .datasource(DATASOURCE)
    .span(s.width ?? 12)
    .height(s.height ?? 8)
    .showValue(common.VisibilityMode.Never)
    .mergeValues(true)
    .fillOpacity(80)
    .mappings([
      {
        type: MappingType.ValueToText,
        options: Object.fromEntries(
          s.states.map((st, index) => [String(st.value), { text: st.text, color: st.color, index }]),
        ),
      },
    ])
    .thresholds(thresholds(s.states.map((st, i) => ({ value: i === 0 ? null : st.value, color: st.color }))));
  for (const q of s.queries) b.withTarget(query(q));
  return b;
}

function labelVariable(name: string, label: string, query: string): QueryVariableBuilder {
  return new QueryVariableBuilder(name)
    .label(label)
    .datasource(DATASOURCE)
    .query({ query, refId: `${name}-variable` })
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.AlphabeticalDesc)
    .multi(true)
    .includeAll(true)
    .allValue('.*')
    .current({ selected: true, text: ['All'], value: ['$__all'] });
}

/**
 * The run and scenario selectors. Both engines label load-generator series with `testid` (k6 users
 * pass `--tag testid=...`; the embedded runner adds it the same way) and `scenario`. The services'
 * own series carry neither: on their panels the run is the time range, marked by the run annotation.
 */
export function runVariables(): QueryVariableBuilder[] {
  return [
    labelVariable('testid', 'Run (testid)', 'label_values(k6_vus, testid)'),
    labelVariable('scenario', 'Scenario', 'label_values(k6_iterations_total{testid=~"$testid"}, scenario)'),
  ];
}

export function dependencyVariable(): QueryVariableBuilder {
  return labelVariable('dependency', 'Dependency', 'label_values(station_capacity, dependency)').sort(
    VariableSort.AlphabeticalAsc,
  );
}

/**
 * The annotation queries every dashboard shows. Fault injections: a mock's config-change counter
 * rising, or appearing at all (prom-client exports a labelled counter only after its first
 * increment, so the first injection shows up as a new series rather than an increase).
 */
export const FAULT_ANNOTATION_EXPR =
  'sum by (dependency) (increase(station_config_changes_total[1m]) > 0 or (station_config_changes_total unless station_config_changes_total offset 1m))';
export const RUN_ANNOTATION_EXPR = 'max by (testid) (k6_vus{testid=~"$testid"}) > 0';

export function annotations(): AnnotationQueryBuilder[] {
  return [
    new AnnotationQueryBuilder()
      .name('Fault injections')
      .datasource(DATASOURCE)
      .enable(true)
      .iconColor('red')
      .expr(FAULT_ANNOTATION_EXPR)
      .step('15s')
      .titleFormat('capacity/fault change: {{dependency}}')
      .tagKeys('dependency'),
    new AnnotationQueryBuilder()
      .name('Load generator running')
      .datasource(DATASOURCE)
      .enable(true)
      .iconColor('rgba(0, 211, 255, 0.4)')
      .expr(RUN_ANNOTATION_EXPR)
      .step('15s')
      .titleFormat('run {{testid}}')
      .tagKeys('testid'),
  ];
}

export function dashboard(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['gelombang', 'rehearsal'])
    .editable()
    .refresh('5s')
    .time({ from: 'now-30m', to: 'now' })
    .timezone('browser')
    .variables(runVariables())
    .annotations(annotations());
}

interface PanelLike {
  id?: number;
  type?: string;
  panels?: PanelLike[];
  targets?: Array<{ refId?: string }>;
}

/** Numbers every panel (rows and their nested panels included) and names every query A, B, C... */
export function finish(d: Dashboard): Dashboard {
  let next = 1;
  const visit = (p: PanelLike) => {
    p.id = next++;
    p.targets?.forEach((t, i) => {
      t.refId = String.fromCharCode(65 + i);
    });
    p.panels?.forEach(visit);
  };
  (d.panels as PanelLike[] | undefined)?.forEach(visit);
  return d;
}
