import type { TopLevelSpec } from 'vega-lite';
import { SATURATION } from '../model/station.ts';

/**
 * The report's charts: Vega-Lite specs rendered to static SVG strings on the server, so that
 * report.html needs no script, no canvas and no request of its own. Each function takes plain
 * arrays (the caller maps the Report onto them) and resolves to one `<svg>` element.
 *
 * Every chart must stay readable printed in black and white: series differ by dash pattern or
 * carry their own labels, never by colour alone.
 */

type Value = number | null;
type Row = Record<string, string | number | null>;
/** One layer of a layered Vega-Lite spec, derived from the public type (vega-lite exports no name for it). */
type Layer = Extract<TopLevelSpec, { layer: unknown }>['layer'][number];

const WIDTH = 640;
const HEIGHT = 240;
/** Fonts every system has: the report must not download one. */
const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif';
/** Colours of distinct lightness, so that they stay apart in greyscale too. */
const PALETTE = ['#1f4e99', '#c0392b', '#2e8540', '#e08a00', '#6c3d91', '#5b5b5b', '#0e8c9e', '#9c640c'];
const DASHES = [
  [1, 0],
  [8, 4],
  [2, 2],
  [10, 3, 2, 3],
  [4, 4],
  [14, 4],
  [1, 4],
  [10, 3, 2, 3, 2, 3],
];
const TIME_AXIS_TITLE = 'seconds since the start of the run';

const BASE_CONFIG = {
  font: FONT,
  background: 'white',
  view: { stroke: '#999' },
  axis: {
    labelFontSize: 11,
    labelLimit: 360,
    titleFontSize: 11,
    titleFontWeight: 'normal',
    gridColor: '#e4e4e4',
  },
  legend: {
    labelFontSize: 11,
    titleFontSize: 11,
    orient: 'bottom',
    direction: 'horizontal',
    columns: 4,
    labelLimit: 360,
    symbolStrokeWidth: 2,
    symbolSize: 300,
  },
  title: { fontSize: 13, anchor: 'start' },
  // A missing measurement must show as a gap, not as a line drawn across it.
  mark: { invalid: 'break-paths-show-domains' },
} as const;

/** Renders a spec to SVG with Vega's headless renderer (no canvas, no DOM). */
async function renderSvg(chartId: string, spec: TopLevelSpec): Promise<string> {
  // Loaded on the first chart: Vega takes over a second to import, which every CLI command that
  // draws no chart (and every one that fails on its flags) would otherwise pay at start-up.
  const [{ parse, View }, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return scopeIds(await view.toSVG(), chartId);
  } finally {
    view.finalize();
  }
}

/**
 * Vega numbers its clip paths and gradients from 1 in every SVG: five charts inline in one page
 * would share `clip1`, and each would clip to another chart's rectangle. Prefixing makes them unique.
 */
export function scopeIds(svg: string, chartId: string): string {
  return svg
    .replace(/\bid="([^"]+)"/g, `id="${chartId}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${chartId}-$1)`)
    .replace(/href="#([^"]+)"/g, `href="#${chartId}-$1"`);
}

function assertAligned(t: readonly number[], name: string, values: readonly Value[]): void {
  if (values.length !== t.length) {
    throw new Error(
      `chart series "${name}": ${values.length} values for ${t.length} intervals (expected one per interval)`,
    );
  }
}

function assertSameLength(what: string, expected: number, arrays: Record<string, readonly unknown[]>): void {
  for (const [name, values] of Object.entries(arrays)) {
    if (values.length !== expected) {
      throw new Error(`${what}: "${name}" has ${values.length} values for ${expected} stages`);
    }
  }
}

const thousands = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const share = (x: number): string => `${(x * 100).toFixed(1)} %`;

/** Long-format rows for one line per named series, `null` kept so the line breaks there. */
function longRows(t: readonly number[], series: Record<string, readonly Value[]>): Row[] {
  return Object.entries(series).flatMap(([name, values]) => {
    assertAligned(t, name, values);
    return t.map((at, i) => ({ t: at, series: name, value: values[i] ?? null }));
  });
}

/** A line per series, told apart by colour and by dash (for black and white). */
function lineLayer(names: string[], yTitle: string, yScale: 'linear' | 'log' = 'linear'): Layer {
  return {
    mark: { type: 'line', strokeWidth: 1.8 },
    encoding: {
      x: { field: 't', type: 'quantitative', title: TIME_AXIS_TITLE },
      y: { field: 'value', type: 'quantitative', title: yTitle, scale: { type: yScale } },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: names, range: PALETTE } },
      strokeDash: { field: 'series', type: 'nominal', title: null, scale: { domain: names, range: DASHES } },
    },
  };
}

/**
 * Registrants who reached each funnel stage (bars), with a tick where the stage would have ended had
 * it converted from the previous stage at the 2020 rate, and a label with both conversions.
 */
export async function funnelChart(
  stages: readonly string[],
  reached: readonly number[],
  conversion: readonly Value[],
  conversion2020: readonly Value[],
): Promise<string> {
  assertSameLength('funnel chart', stages.length, { reached, conversion, conversion2020 });
  const rows = stages.map((stage, i) => {
    const previous = i > 0 ? (reached[i - 1] ?? null) : null;
    const c2020 = conversion2020[i] ?? null;
    const at2020 = previous !== null && c2020 !== null ? previous * c2020 : null;
    const n = reached[i] ?? 0;
    const c = conversion[i] ?? null;
    const label = [
      thousands.format(n),
      c !== null ? share(c) : null,
      c2020 !== null ? `2020: ${share(c2020)}` : null,
    ]
      .filter((part) => part !== null)
      .join(' · ');
    return { stage, reached: n, at2020, labelAt: Math.max(n, at2020 ?? 0), label };
  });
  const kinds = ['reached in this run', 'had it converted as in 2020'];
  const y = { field: 'stage', type: 'nominal', sort: [...stages], title: null } as const;
  return renderSvg('funnel', {
    description: 'Registrants who reached each funnel stage, against the 2020 conversion',
    width: WIDTH - 160,
    height: { step: 30 },
    config: BASE_CONFIG,
    data: { values: rows },
    encoding: { y },
    layer: [
      {
        mark: { type: 'bar', height: 18 },
        encoding: {
          x: { field: 'reached', type: 'quantitative', title: 'registrants', scale: { nice: true } },
          color: { datum: kinds[0], scale: { domain: kinds, range: ['#7fa7d9', '#111'] }, title: null },
        },
      },
      {
        mark: { type: 'tick', thickness: 3, size: 26 },
        encoding: { x: { field: 'at2020', type: 'quantitative' }, color: { datum: kinds[1] } },
      },
      {
        mark: { type: 'text', align: 'left', dx: 5, fontSize: 10.5, fill: '#111' },
        encoding: { x: { field: 'labelAt', type: 'quantitative' }, text: { field: 'label' } },
      },
    ],
  });
}

const LOSS_KINDS = [
  { key: 'failed', label: 'failed by the system', colour: '#a3201a', ink: 'white' },
  { key: 'rejected', label: 'rejected by the rules', colour: '#6e6e6e', ink: 'white' },
  { key: 'left_by_choice', label: 'left by choice', colour: '#93c0e6', ink: '#111' },
  { key: 'in_progress', label: 'still in progress', colour: '#efefef', ink: '#111' },
] as const;

/**
 * Registrants lost at each stage, stacked by what became of them. Segments are laid out here (not
 * by Vega's stack) so that each can carry its count as a label: the labels, not the fills, are what
 * a black-and-white printout is read by.
 */
export async function lossesChart(
  stages: readonly string[],
  leftByChoice: readonly number[],
  inProgress: readonly number[],
  failed: readonly number[],
  rejected: readonly number[],
): Promise<string> {
  assertSameLength('losses chart', stages.length, { leftByChoice, inProgress, failed, rejected });
  const byKind = { failed, rejected, left_by_choice: leftByChoice, in_progress: inProgress };
  const totals = stages.map((_, i) => LOSS_KINDS.reduce((sum, k) => sum + (byKind[k.key][i] ?? 0), 0));
  const widest = Math.max(1, ...totals);
  const rows = stages.flatMap((stage, i) => {
    let start = 0;
    return LOSS_KINDS.map((kind) => {
      const count = byKind[kind.key][i] ?? 0;
      const row = {
        stage,
        kind: kind.label,
        start,
        end: start + count,
        mid: start + count / 2,
        count,
        ink: kind.ink,
      };
      start += count;
      // Only a segment wide enough for its digits gets a label; the table below the chart has them all.
      return { ...row, label: count / widest >= 0.06 ? thousands.format(count) : '' };
    });
  });
  const y = { field: 'stage', type: 'nominal', sort: [...stages], title: null } as const;
  return renderSvg('losses', {
    description: 'Registrants lost at each funnel stage, by what became of them',
    width: WIDTH - 160,
    height: { step: 30 },
    config: BASE_CONFIG,
    data: { values: rows },
    encoding: { y },
    layer: [
      {
        mark: { type: 'bar', height: 20, stroke: '#333', strokeWidth: 0.6 },
        encoding: {
          x: {
            field: 'start',
            type: 'quantitative',
            title: 'registrants of the previous stage who did not continue',
          },
          x2: { field: 'end' },
          color: {
            field: 'kind',
            type: 'nominal',
            title: null,
            scale: { domain: LOSS_KINDS.map((k) => k.label), range: LOSS_KINDS.map((k) => k.colour) },
          },
        },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          x: { field: 'mid', type: 'quantitative' },
          text: { field: 'label' },
          // fill, not color: sharing the bars' color channel would merge scales and drop their legend
          fill: { field: 'ink', type: 'nominal', scale: null, legend: null },
        },
      },
    ],
  });
}

/** A span of the run to shade on a time-series chart: an injected fault. */
export interface SpanMark {
  fromSeconds: number;
  toSeconds: number;
  label: string;
}

/**
 * Faults as shaded spans behind the lines, each with a dotted rule at its start (a kill's downtime
 * may be narrower than a pixel) and its label at the top: grey, so that it reads in black and
 * white and does not take a series' colour.
 */
function markLayers(marks: readonly SpanMark[]): Layer[] {
  if (marks.length === 0) return [];
  const values = marks.map((m) => ({ from: m.fromSeconds, to: m.toSeconds, label: m.label }));
  const x = { field: 'from', type: 'quantitative', title: TIME_AXIS_TITLE } as const;
  return [
    {
      data: { values },
      mark: { type: 'rect', color: '#777', opacity: 0.16 },
      encoding: { x, x2: { field: 'to' } },
    },
    {
      data: { values },
      mark: { type: 'rule', color: '#444', strokeDash: [2, 2], strokeWidth: 1 },
      encoding: { x },
    },
    // Labels of faults close together would print over each other: three rows, in turn.
    ...[0, 1, 2].flatMap((row): Layer[] => {
      const inRow = values.filter((_, i) => i % 3 === row);
      if (inRow.length === 0) return [];
      return [
        {
          data: { values: inRow },
          mark: {
            type: 'text',
            align: 'left',
            baseline: 'top',
            dx: 3,
            y: 3 + row * 12,
            fontSize: 9.5,
            fill: '#333',
          },
          encoding: { x, text: { field: 'label' } },
        },
      ];
    }),
  ];
}

/** Registrants arriving against registrants completing (joining a wave), per second of the run. */
export async function arrivalsChart(
  t: readonly number[],
  arrivalsPerSecond: readonly Value[],
  completionsPerSecond: readonly Value[],
  marks: readonly SpanMark[] = [],
): Promise<string> {
  const arrivals = 'arrivals (new registrants)';
  const completions = 'completions (joined a wave)';
  return renderSvg('arrivals', {
    description: 'Arrivals and completions per second over the run',
    width: WIDTH,
    height: HEIGHT,
    config: BASE_CONFIG,
    layer: [
      ...markLayers(marks),
      {
        data: { values: longRows(t, { [arrivals]: arrivalsPerSecond, [completions]: completionsPerSecond }) },
        ...lineLayer([arrivals, completions], 'registrants per second'),
      },
    ],
  });
}

/**
 * The 95th-percentile latency of each step over the run, one line per step. With `sloMs`, a
 * dashed grey rule per distinct objective, labelled with the steps it applies to. The scale is
 * logarithmic because a status read (tens of ms) and a photo upload (seconds) share the chart.
 */
export async function stepLatencyChart(
  t: readonly number[],
  p95MsByStep: Record<string, readonly Value[]>,
  sloMs: Record<string, number> = {},
  marks: readonly SpanMark[] = [],
): Promise<string> {
  const names = Object.keys(p95MsByStep);
  // A log scale has no zero: one 0 ms sample would collapse the axis, so anything under 1 ms sits at 1 ms.
  const floored = Object.fromEntries(
    Object.entries(p95MsByStep).map(([step, values]) => [
      step,
      values.map((v) => (v === null ? null : Math.max(v, 1))),
    ]),
  );
  const layers: Layer[] = [
    ...markLayers(marks),
    { data: { values: longRows(t, floored) }, ...lineLayer(names, 'p95 latency (ms, log scale)', 'log') },
  ];
  const rules = sloRules(sloMs, names);
  if (rules.length > 0) layers.push(...ruleLayers(rules));
  return renderSvg('latency', {
    description: '95th-percentile latency per journey step over the run, with the objectives',
    width: WIDTH,
    height: HEIGHT + 40,
    config: BASE_CONFIG,
    layer: layers,
  });
}

interface Rule {
  y: number;
  label: string;
}

function sloRules(sloMs: Record<string, number>, steps: string[]): Rule[] {
  const byTarget = new Map<number, string[]>();
  for (const step of steps) {
    const target = sloMs[step];
    if (target === undefined) continue;
    byTarget.set(target, [...(byTarget.get(target) ?? []), step]);
  }
  return [...byTarget].map(([y, on]) => ({
    y,
    label: `objective ${thousands.format(y)} ms: ${on.join(', ')}`,
  }));
}

/** Dashed horizontal rules, labelled at the right end where the lines are usually lowest. */
function ruleLayers(rules: Rule[]): Layer[] {
  return [
    {
      data: { values: rules },
      mark: { type: 'rule', strokeDash: [5, 4], color: '#555', strokeWidth: 1 },
      encoding: { y: { field: 'y', type: 'quantitative' } },
    },
    {
      data: { values: rules },
      mark: {
        type: 'text',
        align: 'right',
        baseline: 'bottom',
        dy: -2,
        fontSize: 9.5,
        fill: '#333',
        x: WIDTH - 4,
      },
      encoding: { y: { field: 'y', type: 'quantitative' }, text: { field: 'label' } },
    },
  ];
}

/**
 * Each dependency's utilisation (busy servers over capacity, the peak of each interval) over
 * the run, with a rule where it counts as saturated (model/station.ts SATURATION).
 */
export async function utilisationChart(
  t: readonly number[],
  byDependency: Record<string, readonly Value[]>,
  marks: readonly SpanMark[] = [],
): Promise<string> {
  const names = Object.keys(byDependency);
  const saturation: Rule[] = [
    {
      y: SATURATION.utilisation,
      label: `saturated: ${Math.round(SATURATION.utilisation * 100)} % of servers busy for ${SATURATION.sustainSeconds} s`,
    },
  ];
  return renderSvg('utilisation', {
    description: 'Utilisation of each dependency over the run, against saturation',
    width: WIDTH,
    height: HEIGHT,
    config: BASE_CONFIG,
    layer: [
      ...markLayers(marks),
      { data: { values: longRows(t, byDependency) }, ...lineLayer(names, 'utilisation (1 = saturated)') },
      ...ruleLayers(saturation),
    ],
  });
}
