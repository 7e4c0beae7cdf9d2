import { errorFunction } from 'simple-statistics';
import { STAGES, STEPS, type Stage } from '../model/funnel.ts';
import { type RunManifest, type RunRecord, seriesValues, type Timeseries } from './record.ts';

/**
 * Before/after comparison of two rehearsal runs: every metric side by side with a verdict that
 * separates a real change from run-to-run noise, and an overall verdict a CI job can gate on.
 * Pure: records in, a Comparison out (reports/render-comparison.ts renders it).
 *
 * How noise is modelled, and why:
 *
 * - A verdict needs two things: the change is statistically significant at `confidence`, AND it is
 *   at least `minEffect` (relative) on the headline figure the table shows. Significance alone
 *   flags 0.3 % shifts over a million requests; size alone flags noise.
 *
 * - Proportions (per-step error rate, conversion per funnel stage, share of registrants failed by
 *   the system, share of arrivals dropped) use the two-proportion z-test on the run's exact
 *   totals. Requests are not independent coin tosses, though: failures come in bursts (a
 *   dependency saturates and fails everything for 20 s), which makes the plain test wildly
 *   overconfident over thousands of requests. So the test's variance is inflated by the
 *   overdispersion seen between sampling intervals (quasi-binomial: Pearson chi-square / degrees of
 *   freedom of the per-interval counts, floored at 1). Where the load follows a profile the rate
 *   varies over time by design too, which this counts as noise: conservative, on purpose, for a
 *   gate.
 *
 * - Latency percentiles, throughput and utilisation use the per-interval series as repeated
 *   samples. Two comparable runs replay the same arrival profile, so interval i of one run faced
 *   the load of interval i of the other: the test is paired (Wilcoxon signed-rank on the log ratio
 *   per interval), which removes the profile's shape that would otherwise swamp the difference.
 *   When the sampling grids differ, or the runs are not comparable (another profile, scale,
 *   window...), intervals cannot be paired and the test falls back to Mann-Whitney U over the two
 *   sets of intervals. Both are rank tests (a latency spike of
 *   30 s does not dominate) with the normal approximation and the tie correction.
 *
 * - Consecutive intervals are not independent (a queue that builds up lasts). Both rank tests
 *   inflate their variance by (1 + r) / (1 - r), r being the lag-1 autocorrelation of the scores
 *   they sum (the AR(1) variance inflation), and require `minSamples` effective samples, n (1 - r)
 *   / (1 + r), else the verdict is within_noise with that reason.
 *
 * - Some forty metrics are tested at once: at 95 % each, two would be "significant" by chance in
 *   every comparison of identical runs. The p-values are Holm-adjusted over all the tests of the
 *   comparison, so the chance that a no-change comparison reports anything at all is at most
 *   1 - confidence.
 */

export type Verdict = 'better' | 'worse' | 'within_noise' | 'not_comparable';
export type Direction = 'lower_is_better' | 'higher_is_better';
export type Section = 'throughput' | 'latency' | 'errors' | 'funnel' | 'bottleneck';
export type Unit = 'ms' | 'per_second' | 'share' | 'ratio' | 'seconds' | 'cores';
export type OverallVerdict = 'regression' | 'improvement' | 'no_change';

export const METRIC_KINDS = [
  'throughput',
  'latency_p50',
  'latency_p95',
  'latency_p99',
  'error_rate',
  'conversion',
  'system_failure_share',
  'dropped_iterations',
  'bottleneck_utilisation',
  'bottleneck_saturation',
  'process_cpu',
] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];

export const DEFAULT_GATE: readonly MetricKind[] = ['throughput', 'latency_p95', 'error_rate', 'conversion'];

export interface CompareOptions {
  /** confidence of the tests, family-wide after the Holm adjustment; default 0.95 */
  confidence?: number;
  /** the smallest relative change of the headline figure called better or worse; default 0.05 */
  minEffect?: number;
  /** the metric kinds whose `worse` makes the overall verdict a regression; default DEFAULT_GATE */
  gate?: readonly MetricKind[];
  /** fewest effective samples (intervals) a series test needs; default 10 */
  minSamples?: number;
  /** 'none' keeps each test's own p-value (more sensitive, more false alarms); default 'holm' */
  adjust?: 'holm' | 'none';
}

export interface StatTest {
  method: 'wilcoxon_signed_rank' | 'mann_whitney_u' | 'two_proportion_z';
  /** standardised statistic, > 0 when the candidate is higher */
  z: number;
  /** two-sided p-value of this test alone */
  p: number;
  /** p after the adjustment over all tests of the comparison: what the verdict uses */
  pAdjusted: number;
  /** intervals paired (both entries equal), intervals per run, or requests / registrants per run */
  samples: [number, number];
  /** rank tests: lag-1 autocorrelation of the scores, and the samples it leaves as independent */
  autocorrelation?: number;
  effectiveSamples?: number;
  /** two-proportion test: variance inflation for failures clustered in time (1: independent) */
  dispersion?: number;
}

export interface MetricComparison {
  /** stable key, e.g. 'latency.submit_biodata.p95' */
  id: string;
  section: Section;
  kind: MetricKind;
  label: string;
  unit: Unit;
  direction: Direction;
  gating: boolean;
  baseline: number | null;
  candidate: number | null;
  /** (candidate - baseline) / baseline; null when either is missing or the baseline is 0 */
  change: number | null;
  verdict: Verdict;
  /** why the verdict: the p-value, or what kept it from better/worse */
  reason: string;
  test: StatTest | null;
  /** proportions: the counts behind the shares ("30 of 6,000") */
  counts?: { baseline: string; candidate: string };
}

export interface BottleneckSide {
  dependency: string;
  peakUtilisation: number;
  /** seconds since the start when utilisation first reached 1; null if it never did */
  saturatedAtSeconds: number | null;
}

export interface RunInfo {
  runId: string;
  dir: string;
  scenario: string;
  engine: string;
  startedAt: string;
  durationSeconds: number;
  intervalSeconds: number;
  profile: string | null;
  scale: number | null;
  compress: number | null;
  windowMinutes: [number, number] | null;
}

export interface Comparison {
  format: 'gelombang/comparison';
  version: 1;
  baseline: RunInfo;
  candidate: RunInfo;
  options: Required<CompareOptions>;
  /** false when the runs differ in what was run (scenario, replay, engine): they are still compared */
  comparable: boolean;
  warnings: string[];
  /** what differs in the set-up besides the change under test: knobs, env, capacities (informative) */
  configChanges: string[];
  /** 'paired' when the sampling grids line up, else 'unpaired' (Mann-Whitney) */
  pairing: 'paired' | 'unpaired';
  /** number of tests the p-values were adjusted over */
  tests: number;
  overall: {
    verdict: OverallVerdict;
    headline: string;
    /** ids of the metrics that are worse, better, and worse among the gating ones */
    worse: string[];
    better: string[];
    gatingWorse: string[];
  };
  bottleneck: { baseline: BottleneckSide | null; candidate: BottleneckSide | null };
  metrics: MetricComparison[];
}

// ---------------------------------------------------------------------------------------------
// Statistics

/** P(|Z| >= |z|) for a standard normal Z. */
function twoSided(z: number): number {
  return Math.min(1, Math.max(0, 1 - errorFunction(Math.abs(z) / Math.SQRT2)));
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** Average ranks (from 1) and the sizes of the groups of ties, which reduce the variance. */
function rank(values: readonly number[]): { ranks: number[]; ties: number[] } {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(values.length).fill(0);
  const ties: number[] = [];
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]!.v === order[i]!.v) j++;
    for (let k = i; k <= j; k++) ranks[order[k]!.i] = (i + j) / 2 + 1;
    if (j > i) ties.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, ties };
}

/** Lag-1 autocorrelation, with the pairs it was computed from (for pooling). */
function lag1(xs: readonly number[]): { r: number; weight: number } {
  if (xs.length < 3) return { r: 0, weight: 0 };
  const m = sum(xs) / xs.length;
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    den += (x - m) ** 2;
    if (i > 0) num += (x - m) * (xs[i - 1]! - m);
  });
  return { r: den > 0 ? num / den : 0, weight: xs.length - 1 };
}

/**
 * AR(1) variance inflation of a sum of autocorrelated scores. Negative autocorrelation would
 * shrink the variance; it is ignored so that a dependence never makes a test bolder.
 */
function inflationOf(r: number): number {
  const c = Math.min(Math.max(r, 0), 0.99);
  return (1 + c) / (1 - c);
}

export interface RankTestResult {
  z: number;
  p: number;
  samples: [number, number];
  autocorrelation: number;
  effectiveSamples: number;
}

/**
 * Wilcoxon signed-rank test of paired differences (in time order) against a median of 0. Zeros
 * are dropped (Wilcoxon's rule); the variance is the sum of squared ranks, exact under ties.
 */
export function signedRankTest(differences: readonly number[]): RankTestResult {
  const nonzero = differences.filter((d) => d !== 0 && Number.isFinite(d));
  const { ranks } = rank(nonzero.map(Math.abs));
  const scores = nonzero.map((d, i) => Math.sign(d) * ranks[i]!);
  const { r } = lag1(scores);
  const inflation = inflationOf(r);
  const variance = sum(ranks.map((x) => x * x)) * inflation;
  const z = variance > 0 ? sum(scores) / Math.sqrt(variance) : 0;
  const n = nonzero.length;
  return { z, p: twoSided(z), samples: [n, n], autocorrelation: r, effectiveSamples: n / inflation };
}

/**
 * Mann-Whitney U test of two samples (each in time order); z > 0 when `b` tends to be higher.
 * The autocorrelation is that of each sample's ranks, pooled.
 */
export function mannWhitneyTest(a: readonly number[], b: readonly number[]): RankTestResult {
  const n1 = a.length;
  const n2 = b.length;
  const n = n1 + n2;
  const { ranks, ties } = rank([...a, ...b]);
  const u2 = sum(ranks.slice(n1)) - (n2 * (n2 + 1)) / 2;
  const tieTerm = n > 1 ? sum(ties.map((t) => t ** 3 - t)) / (n * (n - 1)) : 0;
  const ra = lag1(ranks.slice(0, n1));
  const rb = lag1(ranks.slice(n1));
  const weight = ra.weight + rb.weight;
  const r = weight > 0 ? (ra.r * ra.weight + rb.r * rb.weight) / weight : 0;
  const inflation = inflationOf(r);
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm) * inflation;
  const z = variance > 0 ? (u2 - (n1 * n2) / 2) / Math.sqrt(variance) : 0;
  return {
    z,
    p: twoSided(z),
    samples: [n1, n2],
    autocorrelation: r,
    effectiveSamples: Math.min(n1, n2) / inflation,
  };
}

/**
 * Two-proportion z-test with the pooled proportion: z = (p2 - p1) / sqrt(d p (1 - p) (1/n1 +
 * 1/n2)), d the overdispersion factor (1 for independent trials).
 */
export function twoProportionTest(
  x1: number,
  n1: number,
  x2: number,
  n2: number,
  dispersion = 1,
): { z: number; p: number } {
  const pooled = (x1 + x2) / (n1 + n2);
  const se = Math.sqrt(dispersion * pooled * (1 - pooled) * (1 / n1 + 1 / n2));
  const z = se > 0 ? (x2 / n2 - x1 / n1) / se : 0;
  return { z, p: twoSided(z) };
}

/** Pearson chi-square of per-interval counts against the run's own proportion, and its df. */
function pearson(x: readonly (number | null)[], n: readonly (number | null)[]): { chi2: number; df: number } {
  const cells: Array<{ x: number; n: number }> = [];
  x.forEach((xi, i) => {
    const ni = n[i];
    if (xi !== null && ni !== null && ni !== undefined && ni > 0) cells.push({ x: xi, n: ni });
  });
  const p = sum(cells.map((c) => c.x)) / sum(cells.map((c) => c.n));
  if (cells.length < 2 || !(p > 0 && p < 1)) return { chi2: 0, df: 0 };
  const chi2 = sum(cells.map((c) => (c.x - c.n * p) ** 2 / (c.n * p * (1 - p))));
  return { chi2, df: cells.length - 1 };
}

/** Holm's step-down adjustment: controls the chance of any false positive among all tests. */
function holm(ps: readonly number[]): number[] {
  const order = ps.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const adjusted = new Array<number>(ps.length).fill(1);
  let running = 0;
  order.forEach(({ p, i }, k) => {
    running = Math.max(running, Math.min(1, (ps.length - k) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

// ---------------------------------------------------------------------------------------------
// Reading the records

type Values = Array<number | null>;

function durationSeconds(r: RunRecord): number {
  return r.summary.state.testRunDurationMs / 1000;
}

function funnelCount(m: RunManifest, stage: string, outcome?: string): number {
  return sum(
    m.totals.funnel
      .filter((f) => f.stage === stage && (outcome === undefined || f.outcome === outcome))
      .map((f) => f.count),
  );
}

/** Element-wise sum of series; an interval is null only when every series is null there. */
function addSeries(all: readonly Values[]): Values | undefined {
  if (all.length === 0) return undefined;
  const length = Math.max(...all.map((v) => v.length));
  return Array.from({ length }, (_, i) => {
    const present = all.map((v) => v[i]).filter((x): x is number => x !== null && x !== undefined);
    return present.length ? sum(present) : null;
  });
}

function scaleSeries(v: Values | undefined, factor: number): Values | undefined {
  return v?.map((x) => (x === null ? null : x * factor));
}

/** stage_outcomes of a stage (any outcome, or the ones given), added up, in registrants per interval. */
function stageOutcomeCounts(
  ts: Timeseries,
  stage: string,
  keep: (outcome: string) => boolean,
): Values | undefined {
  const matching = ts.series
    .filter((s) => s.name === 'stage_outcomes' && s.labels.stage === stage && keep(s.labels.outcome ?? ''))
    .map((s) => s.values);
  return scaleSeries(addSeries(matching), ts.intervalSeconds);
}

function journeyEndings(ts: Timeseries): Values | undefined {
  const ends = ts.series
    .filter(
      (s) =>
        s.name === 'stage_outcomes' &&
        (s.labels.outcome !== 'continued' || s.labels.stage === STAGES[STAGES.length - 1]),
    )
    .map((s) => s.values);
  return scaleSeries(addSeries(ends), ts.intervalSeconds);
}

function bottleneckOf(ts: Timeseries): BottleneckSide | null {
  let best: BottleneckSide | null = null;
  for (const s of ts.series) {
    if (s.name !== 'dependency_utilisation' || !s.labels.dependency) continue;
    const present = s.values.filter((v): v is number => v !== null);
    if (!present.length) continue;
    const peak = Math.max(...present);
    if (best && best.peakUtilisation >= peak) continue;
    const first = s.values.findIndex((v) => v !== null && v >= 1);
    best = {
      dependency: s.labels.dependency,
      peakUtilisation: peak,
      saturatedAtSeconds: first >= 0 ? (ts.t[first] ?? null) : null,
    };
  }
  return best;
}

function runInfo(r: RunRecord): RunInfo {
  const replay = r.manifest.replay;
  return {
    runId: r.manifest.runId,
    dir: r.dir,
    scenario: r.manifest.scenario.name,
    engine: r.manifest.engine.name,
    startedAt: r.manifest.startedAt,
    durationSeconds: durationSeconds(r),
    intervalSeconds: r.timeseries.intervalSeconds,
    profile: replay?.profile ?? null,
    scale: replay?.scale ?? null,
    compress: replay?.compress ?? null,
    windowMinutes: replay?.windowMinutes ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// Comparability

function comparabilityWarnings(b: RunInfo, c: RunInfo): string[] {
  const w: string[] = [];
  const differ = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y))
      w.push(`not comparable: ${what} differs (baseline ${show(x)}, candidate ${show(y)})`);
  };
  differ('scenario', b.scenario, c.scenario);
  differ('engine', b.engine, c.engine);
  if ((b.profile === null) !== (c.profile === null)) {
    w.push(`not comparable: only the ${b.profile === null ? 'candidate' : 'baseline'} replays a profile`);
  } else {
    differ('replayed profile', b.profile, c.profile);
    differ('replay scale', b.scale, c.scale);
    differ('replay compression', b.compress, c.compress);
    differ('replay window (profile minutes)', b.windowMinutes, c.windowMinutes);
  }
  const longer = Math.max(b.durationSeconds, c.durationSeconds);
  if (longer > 0 && Math.abs(b.durationSeconds - c.durationSeconds) / longer > 0.1)
    w.push(
      `not comparable: test durations differ by more than 10 % (${b.durationSeconds.toFixed(1)} s, ${c.durationSeconds.toFixed(1)} s)`,
    );
  return w;
}

function show(x: unknown): string {
  return Array.isArray(x) ? `[${x.join(', ')})` : String(x);
}

function diffRecords(what: string, a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys
    .filter((k) => a[k] !== b[k])
    .map((k) => `${what} ${k}: ${a[k] ?? '(unset)'} → ${b[k] ?? '(unset)'}`);
}

function configChanges(b: RunManifest, c: RunManifest): string[] {
  const changes = [
    ...diffRecords('knob', b.stack.knobs, c.stack.knobs),
    ...diffRecords('env', b.scenario.env, c.scenario.env),
  ];
  if (JSON.stringify(b.stack.capacity) !== JSON.stringify(c.stack.capacity))
    changes.push('the mocks ran with different capacities (stack.capacity)');
  if (b.stack.target !== c.stack.target) changes.push(`target: ${b.stack.target} → ${c.stack.target}`);
  return changes;
}

/** Intervals pair up when both runs sample on the same grid from the same start. */
function gridsAlign(a: Timeseries, b: Timeseries): boolean {
  if (Math.abs(a.intervalSeconds - b.intervalSeconds) > 1e-9) return false;
  const ta = a.t[0];
  const tb = b.t[0];
  return ta === undefined || tb === undefined || Math.abs(ta - tb) < a.intervalSeconds / 2;
}

// ---------------------------------------------------------------------------------------------
// Metric assessments: what each metric knows before the verdicts (which need every p-value)

/** What a metric's evidence amounts to before the p-values are adjusted. */
type Evidence =
  | { kind: 'missing'; reason: string }
  | { kind: 'untestable'; reason: string; test: StatTest | null }
  | { kind: 'tested'; test: StatTest; note?: string }
  | { kind: 'decided'; verdict: Exclude<Verdict, 'not_comparable'>; reason: string };

interface Draft extends Omit<MetricComparison, 'verdict' | 'reason' | 'test' | 'gating'> {
  evidence: Evidence;
}

interface Context {
  baseline: RunRecord;
  candidate: RunRecord;
  paired: boolean;
  minSamples: number;
  minEffect: number;
}

function relativeChange(b: number | null, c: number | null): number | null {
  if (b === null || c === null || b === 0) return null;
  return (c - b) / Math.abs(b);
}

interface SeriesSource {
  /** how the series is named in a message: step_latency_ms{step=login, quantile=0.95} */
  name: string;
  values: (ts: Timeseries) => Values | undefined;
  /**
   * Added to both sides before the log ratio: 0 for latencies (an empty interval is null), half an
   * event per interval for rates, so that an interval with nothing on one side compares as a
   * large ratio rather than an infinite one.
   */
  floor: (ts: Timeseries) => number;
}

function missingSeries(ctx: Context, src: SeriesSource): Evidence | null {
  for (const side of ['baseline', 'candidate'] as const)
    if (!src.values(ctx[side].timeseries))
      return { kind: 'missing', reason: `the ${side}'s timeseries.json has no ${src.name}` };
  return null;
}

/** The paired or unpaired rank test of one series, or why it could not be run. */
function seriesEvidence(ctx: Context, src: SeriesSource): Evidence {
  const missing = missingSeries(ctx, src);
  if (missing) return missing;
  const b = src.values(ctx.baseline.timeseries)!;
  const c = src.values(ctx.candidate.timeseries)!;
  return ctx.paired
    ? pairedEvidence(ctx, b, c, src.floor(ctx.baseline.timeseries))
    : unpairedEvidence(ctx, b, c);
}

function pairedEvidence(ctx: Context, b: Values, c: Values, floor: number): Evidence {
  const diffs: number[] = [];
  for (let i = 0; i < Math.min(b.length, c.length); i++) {
    const x = b[i];
    const y = c[i];
    if (x === null || y === null || x === undefined || y === undefined) continue;
    if (x + floor > 0 && y + floor > 0) diffs.push(Math.log((y + floor) / (x + floor)));
  }
  if (diffs.length < ctx.minSamples)
    return {
      kind: 'untestable',
      reason: `too few samples: ${diffs.length} intervals with data in both runs (at least ${ctx.minSamples} needed)`,
      test: null,
    };
  return rankEvidence(ctx, 'wilcoxon_signed_rank', signedRankTest(diffs), 'intervals with data in both runs');
}

function unpairedEvidence(ctx: Context, b: Values, c: Values): Evidence {
  const xs = b.filter((v): v is number => v !== null);
  const ys = c.filter((v): v is number => v !== null);
  const fewer = Math.min(xs.length, ys.length);
  if (fewer < ctx.minSamples)
    return {
      kind: 'untestable',
      reason: `too few samples: ${fewer} intervals with data in one run (at least ${ctx.minSamples} needed)`,
      test: null,
    };
  return rankEvidence(ctx, 'mann_whitney_u', mannWhitneyTest(xs, ys), 'intervals with data in one run');
}

function rankEvidence(ctx: Context, method: StatTest['method'], r: RankTestResult, what: string): Evidence {
  const test: StatTest = {
    method,
    z: r.z,
    p: r.p,
    pAdjusted: r.p,
    samples: r.samples,
    autocorrelation: round(r.autocorrelation, 3),
    effectiveSamples: round(r.effectiveSamples, 1),
  };
  if (r.effectiveSamples < ctx.minSamples) {
    const n = Math.min(...r.samples);
    return {
      kind: 'untestable',
      reason: `too few independent samples: ${n} ${what}, about ${Math.floor(r.effectiveSamples)} independent after lag-1 autocorrelation ${r.autocorrelation.toFixed(2)} (at least ${ctx.minSamples} needed)`,
      test,
    };
  }
  return { kind: 'tested', test };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

interface ProportionSource {
  /** successes and trials over the whole run, or why the run has none */
  totals: (r: RunRecord) => { x: number; n: number } | string;
  /** per-interval successes and trials (counts), for the overdispersion; absent: assume independence */
  intervals?: (ts: Timeseries) => { x: Values; n: Values } | undefined;
  /** what the trials are, for the counts column: 'requests', 'registrants' */
  unit: string;
}

interface ProportionDraft {
  baseline: number | null;
  candidate: number | null;
  counts?: { baseline: string; candidate: string };
  evidence: Evidence;
}

const count = (x: number) => Math.round(x).toLocaleString('en-US');

function proportionEvidence(ctx: Context, src: ProportionSource): ProportionDraft {
  const tb = src.totals(ctx.baseline);
  const tc = src.totals(ctx.candidate);
  if (typeof tb === 'string' || typeof tc === 'string') {
    const [side, why] = typeof tb === 'string' ? ['baseline', tb] : ['candidate', tc as string];
    return {
      baseline: typeof tb === 'string' ? null : tb.x / tb.n,
      candidate: typeof tc === 'string' ? null : tc.x / tc.n,
      evidence: { kind: 'missing', reason: `the ${side} has ${why}` },
    };
  }
  const draft = {
    baseline: tb.x / tb.n,
    candidate: tc.x / tc.n,
    counts: { baseline: `${count(tb.x)} of ${count(tb.n)}`, candidate: `${count(tc.x)} of ${count(tc.n)}` },
  };
  if (tb.x + tc.x === 0 || tb.x + tc.x === tb.n + tc.n)
    return {
      ...draft,
      evidence: {
        kind: 'decided',
        verdict: 'within_noise',
        reason: `the same in every one of the ${src.unit}`,
      },
    };
  const dispersion = dispersionOf(ctx, src);
  const t = twoProportionTest(tb.x, tb.n, tc.x, tc.n, dispersion ?? 1);
  const test: StatTest = {
    method: 'two_proportion_z',
    z: t.z,
    p: t.p,
    pAdjusted: t.p,
    samples: [tb.n, tc.n],
    dispersion: round(dispersion ?? 1, 3),
  };
  const note =
    dispersion === null
      ? `no per-interval series: ${src.unit} assumed independent`
      : dispersion >= 1.5
        ? `variance ×${dispersion.toFixed(1)}: clustered in time`
        : undefined;
  return { ...draft, evidence: note ? { kind: 'tested', test, note } : { kind: 'tested', test } };
}

/** The pooled quasi-binomial dispersion of both runs, floored at 1; null with no series at all. */
function dispersionOf(ctx: Context, src: ProportionSource): number | null {
  if (!src.intervals) return null;
  let chi2 = 0;
  let df = 0;
  let seen = false;
  for (const r of [ctx.baseline, ctx.candidate]) {
    const counts = src.intervals(r.timeseries);
    if (!counts) continue;
    seen = true;
    const p = pearson(counts.x, counts.n);
    chi2 += p.chi2;
    df += p.df;
  }
  if (!seen) return null;
  return df > 0 ? Math.max(1, chi2 / df) : 1;
}

// ---------------------------------------------------------------------------------------------
// The metrics

const QUANTILES = [
  { kind: 'latency_p50', quantile: '0.5', field: 'p50Ms', label: 'p50' },
  { kind: 'latency_p95', quantile: '0.95', field: 'p95Ms', label: 'p95' },
  { kind: 'latency_p99', quantile: '0.99', field: 'p99Ms', label: 'p99' },
] as const;

/** Steps of either run, in journey order, then any the funnel module does not know. */
function stepsOf(ctx: Context): string[] {
  const seen = new Set([
    ...ctx.baseline.manifest.totals.steps.map((s) => s.step),
    ...ctx.candidate.manifest.totals.steps.map((s) => s.step),
  ]);
  const known = STEPS.filter((s) => seen.has(s)) as string[];
  return [...known, ...[...seen].filter((s) => !known.includes(s)).sort()];
}

function stepTotals(r: RunRecord, step: string) {
  return r.manifest.totals.steps.find((s) => s.step === step);
}

function latencyDrafts(ctx: Context): Draft[] {
  return stepsOf(ctx).flatMap((step) =>
    QUANTILES.map((q): Draft => {
      const b = stepTotals(ctx.baseline, step)?.[q.field] ?? null;
      const c = stepTotals(ctx.candidate, step)?.[q.field] ?? null;
      const base = {
        id: `latency.${step}.${q.label}`,
        section: 'latency' as const,
        kind: q.kind,
        label: `${q.label} ${step}`,
        unit: 'ms' as const,
        direction: 'lower_is_better' as const,
        baseline: b,
        candidate: c,
        change: relativeChange(b, c),
      };
      if (b === null || c === null)
        return {
          ...base,
          evidence: {
            kind: 'missing',
            reason: `the ${b === null ? 'baseline' : 'candidate'} has no ${q.label} for ${step}`,
          },
        };
      const src: SeriesSource = {
        name: `step_latency_ms{step=${step}, quantile=${q.quantile}}`,
        values: (ts) => seriesValues(ts, 'step_latency_ms', { step, quantile: q.quantile }),
        floor: () => 0,
      };
      return { ...base, evidence: seriesEvidence(ctx, src) };
    }),
  );
}

function errorDrafts(ctx: Context): Draft[] {
  return stepsOf(ctx).map((step): Draft => {
    const p = proportionEvidence(ctx, {
      unit: 'requests',
      totals: (r) => {
        const s = stepTotals(r, step);
        return s && s.requests > 0 ? { x: s.failed, n: s.requests } : `no ${step} requests`;
      },
      intervals: (ts) => {
        const requests = scaleSeries(seriesValues(ts, 'step_requests', { step }), ts.intervalSeconds);
        const ratio = seriesValues(ts, 'step_failed_ratio', { step });
        if (!requests || !ratio) return undefined;
        return { x: requests.map((n, i) => (n === null ? null : n * (ratio[i] ?? 0))), n: requests };
      },
    });
    return {
      id: `errors.${step}.error_rate`,
      section: 'errors',
      kind: 'error_rate',
      label: `error rate ${step}`,
      unit: 'share',
      direction: 'lower_is_better',
      change: relativeChange(p.baseline, p.candidate),
      ...p,
    };
  });
}

function hasFunnel(r: RunRecord): boolean {
  return r.manifest.totals.funnel.length > 0;
}

/** Stages either run's funnel reached, in order. */
function stagesOf(ctx: Context): Stage[] {
  const seen = new Set([
    ...ctx.baseline.manifest.totals.funnel.map((f) => f.stage),
    ...ctx.candidate.manifest.totals.funnel.map((f) => f.stage),
  ]);
  return STAGES.filter((s) => seen.has(s));
}

/**
 * A stage's conversion: its registrants who continued over those who reached the previous stage.
 * The first stage has none: there it is over the arrivals whose account creation ended (the sum
 * of its outcomes), since an iteration cut off by the end of the test records no outcome.
 */
function conversionTotals(r: RunRecord, stage: Stage): { x: number; n: number } | string {
  if (!hasFunnel(r)) return 'no funnel (totals.funnel is empty)';
  const i = STAGES.indexOf(stage);
  const n = i === 0 ? funnelCount(r.manifest, stage) : funnelCount(r.manifest, STAGES[i - 1]!, 'continued');
  if (n <= 0) return `nobody who reached ${i === 0 ? 'the funnel' : STAGES[i - 1]}`;
  return { x: funnelCount(r.manifest, stage, 'continued'), n };
}

function conversionDrafts(ctx: Context): Draft[] {
  return stagesOf(ctx).map((stage): Draft => {
    const p = proportionEvidence(ctx, {
      unit: 'registrants',
      totals: (r) => conversionTotals(r, stage),
      intervals: (ts) => {
        const x = stageOutcomeCounts(ts, stage, (o) => o === 'continued');
        const n = stageOutcomeCounts(ts, stage, () => true);
        return x && n ? { x, n } : undefined;
      },
    });
    return {
      id: `funnel.${stage}.conversion`,
      section: 'funnel',
      kind: 'conversion',
      label: `conversion to ${stage}`,
      unit: 'share',
      direction: 'higher_is_better',
      change: relativeChange(p.baseline, p.candidate),
      ...p,
    };
  });
}

/**
 * The share of registrants whose journey ended in a failure of the system (as opposed to a choice
 * or a rule): every journey ends once, with a non-continued outcome or by joining a wave.
 */
function systemFailureDraft(ctx: Context): Draft {
  const last = STAGES[STAGES.length - 1]!;
  const p = proportionEvidence(ctx, {
    unit: 'registrants',
    totals: (r) => {
      if (!hasFunnel(r)) return 'no funnel (totals.funnel is empty)';
      const ended = r.manifest.totals.funnel
        .filter((f) => f.outcome !== 'continued' || f.stage === last)
        .reduce((a, f) => a + f.count, 0);
      return ended > 0 ? { x: failedAll(r), n: ended } : 'no journey that ended';
    },
    intervals: (ts) => {
      const n = journeyEndings(ts);
      const x = scaleSeries(
        addSeries(
          ts.series
            .filter((s) => s.name === 'stage_outcomes' && s.labels.outcome === 'failed')
            .map((s) => s.values),
        ),
        ts.intervalSeconds,
      );
      return n ? { x: x ?? n.map((v) => (v === null ? null : 0)), n } : undefined;
    },
  });
  return {
    id: 'funnel.system_failure_share',
    section: 'funnel',
    kind: 'system_failure_share',
    label: 'registrants failed by the system',
    unit: 'share',
    direction: 'lower_is_better',
    change: relativeChange(p.baseline, p.candidate),
    ...p,
  };
}

function failedAll(r: RunRecord): number {
  return sum(r.manifest.totals.funnel.filter((f) => f.outcome === 'failed').map((f) => f.count));
}

function droppedDraft(ctx: Context): Draft {
  const p = proportionEvidence(ctx, {
    unit: 'scheduled arrivals',
    totals: (r) => {
      const scheduled = r.manifest.totals.arrivals + r.manifest.totals.droppedIterations;
      return scheduled > 0 ? { x: r.manifest.totals.droppedIterations, n: scheduled } : 'no arrivals';
    },
    intervals: (ts) => {
      const arrivals = seriesValues(ts, 'arrivals');
      const dropped = seriesValues(ts, 'dropped_iterations');
      if (!arrivals || !dropped) return undefined;
      const n = scaleSeries(addSeries([arrivals, dropped]), ts.intervalSeconds)!;
      return { x: scaleSeries(dropped, ts.intervalSeconds)!, n };
    },
  });
  return {
    id: 'throughput.dropped_iterations',
    section: 'throughput',
    kind: 'dropped_iterations',
    label: 'dropped iterations (share of scheduled arrivals)',
    unit: 'share',
    direction: 'lower_is_better',
    change: relativeChange(p.baseline, p.candidate),
    ...p,
  };
}

const halfAnEventPerInterval = (ts: Timeseries) => 0.5 / ts.intervalSeconds;

function throughputDrafts(ctx: Context): Draft[] {
  const last = STAGES[STAGES.length - 1]!;
  const perSecond = (r: RunRecord, events: number) => {
    const d = durationSeconds(r);
    return d > 0 ? events / d : null;
  };
  const completions = (r: RunRecord) =>
    hasFunnel(r) ? perSecond(r, funnelCount(r.manifest, last, 'continued')) : null;
  const requests = (r: RunRecord) => perSecond(r, sum(r.manifest.totals.steps.map((s) => s.requests)));
  const specs = [
    {
      id: 'throughput.completions_per_second',
      label: 'completed registrants / s',
      total: completions,
      src: {
        name: `stage_outcomes{stage=${last}, outcome=continued}`,
        values: (ts: Timeseries) => seriesValues(ts, 'stage_outcomes', { stage: last, outcome: 'continued' }),
        floor: halfAnEventPerInterval,
      },
    },
    {
      id: 'throughput.requests_per_second',
      label: 'requests / s',
      total: requests,
      src: {
        name: 'step_requests (any step)',
        values: (ts: Timeseries) =>
          addSeries(ts.series.filter((s) => s.name === 'step_requests').map((s) => s.values)),
        floor: halfAnEventPerInterval,
      },
    },
  ];
  return specs.map((s): Draft => {
    const b = s.total(ctx.baseline);
    const c = s.total(ctx.candidate);
    const base = {
      id: s.id,
      section: 'throughput' as const,
      kind: 'throughput' as const,
      label: s.label,
      unit: 'per_second' as const,
      direction: 'higher_is_better' as const,
      baseline: b,
      candidate: c,
      change: relativeChange(b, c),
    };
    if (b === null || c === null)
      return {
        ...base,
        evidence: {
          kind: 'missing',
          reason: `the ${b === null ? 'baseline' : 'candidate'} has no funnel or no duration`,
        },
      };
    return { ...base, evidence: seriesEvidence(ctx, s.src) };
  });
}

function dependenciesOf(ctx: Context): string[] {
  const deps = new Set<string>();
  for (const r of [ctx.baseline, ctx.candidate])
    for (const s of r.timeseries.series)
      if (s.name === 'dependency_utilisation' && s.labels.dependency) deps.add(s.labels.dependency);
  return [...deps].sort();
}

function utilisation(ts: Timeseries, dependency: string): Values | undefined {
  return seriesValues(ts, 'dependency_utilisation', { dependency });
}

function peakOf(v: Values | undefined): number | null {
  const present = v?.filter((x): x is number => x !== null) ?? [];
  return present.length ? Math.max(...present) : null;
}

function saturatedAt(ts: Timeseries, v: Values | undefined): number | null {
  const i = v?.findIndex((x) => x !== null && x >= 1) ?? -1;
  return i >= 0 ? (ts.t[i] ?? null) : null;
}

function bottleneckDrafts(ctx: Context): Draft[] {
  return [
    ...dependenciesOf(ctx).flatMap((dep) => [peakDraft(ctx, dep), saturationDraft(ctx, dep)]),
    ...processesOf(ctx).map((process) => cpuDraft(ctx, process)),
  ];
}

function processesOf(ctx: Context): string[] {
  const names = new Set<string>();
  for (const r of [ctx.baseline, ctx.candidate])
    for (const s of r.timeseries.series)
      if (s.name === 'process_cpu_cores' && s.labels.process) names.add(s.labels.process);
  return [...names].sort();
}

const cpuOf = (ts: Timeseries, process: string) => seriesValues(ts, 'process_cpu_cores', { process });

function meanOf(v: Values | undefined): number | null {
  const present = v?.filter((x): x is number => x !== null) ?? [];
  return present.length ? sum(present) / present.length : null;
}

/**
 * The CPU a process used, interval by interval: the cost an optimisation (a cheaper password
 * hash, mail from an outbox) should lower for the same offered load. Headline: the run's mean.
 */
function cpuDraft(ctx: Context, process: string): Draft {
  const b = meanOf(cpuOf(ctx.baseline.timeseries, process));
  const c = meanOf(cpuOf(ctx.candidate.timeseries, process));
  return {
    id: `cpu.${process}.cores`,
    section: 'bottleneck',
    kind: 'process_cpu',
    label: `${process} CPU (mean cores busy)`,
    unit: 'cores',
    direction: 'lower_is_better',
    baseline: b,
    candidate: c,
    change: relativeChange(b, c),
    evidence: seriesEvidence(ctx, {
      name: `process_cpu_cores{process=${process}}`,
      values: (ts) => cpuOf(ts, process),
      // An idle interval on both sides is a tie: a hundredth of a core.
      floor: () => 0.01,
    }),
  };
}

function peakDraft(ctx: Context, dep: string): Draft {
  const b = peakOf(utilisation(ctx.baseline.timeseries, dep));
  const c = peakOf(utilisation(ctx.candidate.timeseries, dep));
  return {
    id: `bottleneck.${dep}.peak_utilisation`,
    section: 'bottleneck',
    kind: 'bottleneck_utilisation',
    label: `${dep} peak utilisation`,
    unit: 'ratio',
    direction: 'lower_is_better',
    baseline: b,
    candidate: c,
    change: relativeChange(b, c),
    evidence: seriesEvidence(ctx, {
      name: `dependency_utilisation{dependency=${dep}}`,
      values: (ts) => utilisation(ts, dep),
      // An idle interval on both sides is a tie, not an infinite ratio: 1 % of capacity.
      floor: () => 0.01,
    }),
  };
}

/**
 * When a dependency first saturated is one event per run, not a sample: no test applies. The
 * sampling interval bounds its precision, so a shift counts when it exceeds two intervals and the
 * minimum effect of the run's duration; "never" against a time counts unless the run that never
 * saturated came within the minimum effect of it.
 */
function saturationDraft(ctx: Context, dep: string): Draft {
  const vb = utilisation(ctx.baseline.timeseries, dep);
  const vc = utilisation(ctx.candidate.timeseries, dep);
  const b = saturatedAt(ctx.baseline.timeseries, vb);
  const c = saturatedAt(ctx.candidate.timeseries, vc);
  const base = {
    id: `bottleneck.${dep}.saturated_at`,
    section: 'bottleneck' as const,
    kind: 'bottleneck_saturation' as const,
    label: `${dep} first saturated at`,
    unit: 'seconds' as const,
    direction: 'higher_is_better' as const,
    baseline: b,
    candidate: c,
    change: relativeChange(b, c),
  };
  if (!vb || !vc)
    return {
      ...base,
      evidence: {
        kind: 'missing',
        reason: `the ${vb ? 'candidate' : 'baseline'} has no dependency_utilisation{dependency=${dep}}`,
      },
    };
  return { ...base, evidence: saturationEvidence(ctx, { b, c, peakB: peakOf(vb), peakC: peakOf(vc) }) };
}

function saturationEvidence(
  ctx: Context,
  s: { b: number | null; c: number | null; peakB: number | null; peakC: number | null },
): Evidence {
  const decided = (verdict: 'better' | 'worse' | 'within_noise', reason: string): Evidence => ({
    kind: 'decided',
    verdict,
    reason,
  });
  if (s.b === null && s.c === null) return decided('within_noise', 'saturated in neither run');
  if (s.b === null || s.c === null) {
    const neverPeak = (s.b === null ? s.peakB : s.peakC) ?? 0;
    if (neverPeak >= 1 - ctx.minEffect)
      return decided(
        'within_noise',
        `the other run peaked at ${neverPeak.toFixed(2)}, within the minimum effect of saturating`,
      );
    return s.c === null
      ? decided('better', 'no longer saturates')
      : decided('worse', 'saturates now, and did not before');
  }
  const interval = ctx.baseline.timeseries.intervalSeconds;
  const tolerance = Math.max(2 * interval, ctx.minEffect * durationSeconds(ctx.baseline));
  if (Math.abs(s.c - s.b) <= tolerance)
    return decided(
      'within_noise',
      `shift within ${tolerance.toFixed(0)} s (two intervals or the minimum effect of the run)`,
    );
  return s.c > s.b ? decided('better', 'saturates later') : decided('worse', 'saturates earlier');
}

// ---------------------------------------------------------------------------------------------
// Verdicts

function verdictOf(
  d: Draft,
  o: Required<CompareOptions>,
): { verdict: Verdict; reason: string; test: StatTest | null } {
  const e = d.evidence;
  switch (e.kind) {
    case 'missing':
      return { verdict: 'not_comparable', reason: e.reason, test: null };
    case 'untestable':
      return { verdict: 'within_noise', reason: e.reason, test: e.test };
    case 'decided':
      return { verdict: e.verdict, reason: e.reason, test: null };
    case 'tested':
      return { ...testedVerdict(d, e.test, o), test: e.test };
  }
}

function testedVerdict(
  d: Draft,
  t: StatTest,
  o: Required<CompareOptions>,
): { verdict: Verdict; reason: string } {
  const p = formatP(t.pAdjusted);
  const note = d.evidence.kind === 'tested' && d.evidence.note ? `; ${d.evidence.note}` : '';
  if (t.pAdjusted >= 1 - o.confidence) return { verdict: 'within_noise', reason: `${p}${note}` };
  const up = d.baseline !== null && d.candidate !== null ? Math.sign(d.candidate - d.baseline) : 0;
  // A zero baseline has no relative change, yet anything from nothing exceeds any minimum effect.
  const size = d.change === null ? (up !== 0 ? Number.POSITIVE_INFINITY : 0) : Math.abs(d.change);
  if (size < o.minEffect)
    return {
      verdict: 'within_noise',
      reason: `change below the ${(o.minEffect * 100).toFixed(0)} % minimum effect (${p})${note}`,
    };
  if (up !== Math.sign(t.z))
    return { verdict: 'within_noise', reason: `the run totals and the per-interval samples disagree (${p})` };
  const better = up > 0 === (d.direction === 'higher_is_better');
  return { verdict: better ? 'better' : 'worse', reason: `${p}${note}` };
}

/** 'p=0.03', 'p<0.001' */
export function formatP(p: number): string {
  if (p < 0.001) return 'p<0.001';
  return `p=${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`;
}

function overallOf(metrics: readonly MetricComparison[]): Comparison['overall'] {
  const worse = metrics.filter((m) => m.verdict === 'worse');
  const better = metrics.filter((m) => m.verdict === 'better');
  const gatingWorse = worse.filter((m) => m.gating);
  const labels = (ms: readonly MetricComparison[]) => ms.map((m) => m.label).join(', ');
  let verdict: OverallVerdict;
  let headline: string;
  if (gatingWorse.length) {
    verdict = 'regression';
    headline = `${gatingWorse.length} gating metric${gatingWorse.length > 1 ? 's' : ''} worse: ${labels(gatingWorse)}`;
  } else if (!worse.length && better.length) {
    verdict = 'improvement';
    headline = `${better.length} metric${better.length > 1 ? 's' : ''} better, none worse: ${labels(better)}`;
  } else {
    verdict = 'no_change';
    headline = worse.length
      ? `no gating metric worse; ${better.length} better, ${worse.length} worse (not gating: ${labels(worse)})`
      : 'no change beyond run-to-run noise';
  }
  return {
    verdict,
    headline,
    worse: worse.map((m) => m.id),
    better: better.map((m) => m.id),
    gatingWorse: gatingWorse.map((m) => m.id),
  };
}

function resolveOptions(o: CompareOptions): Required<CompareOptions> {
  return {
    confidence: o.confidence ?? 0.95,
    minEffect: o.minEffect ?? 0.05,
    gate: [...(o.gate ?? DEFAULT_GATE)],
    minSamples: o.minSamples ?? 10,
    adjust: o.adjust ?? 'holm',
  };
}

/** Adjusts the p-values of every tested draft in place, over all of them. */
function adjustPValues(drafts: readonly Draft[], how: 'holm' | 'none'): number {
  const tested = drafts.flatMap((d) => (d.evidence.kind === 'tested' ? [d.evidence.test] : []));
  const adjusted = how === 'holm' ? holm(tested.map((t) => t.p)) : tested.map((t) => t.p);
  tested.forEach((t, i) => {
    t.pAdjusted = adjusted[i]!;
  });
  return tested.length;
}

export function compareRuns(
  baseline: RunRecord,
  candidate: RunRecord,
  options: CompareOptions = {},
): Comparison {
  const o = resolveOptions(options);
  const info = { baseline: runInfo(baseline), candidate: runInfo(candidate) };
  const comparability = comparabilityWarnings(info.baseline, info.candidate);
  const aligned = gridsAlign(baseline.timeseries, candidate.timeseries);
  // Interval i of both runs faced the same load only when they replayed the same thing.
  const paired = aligned && comparability.length === 0;
  const ctx: Context = { baseline, candidate, paired, minSamples: o.minSamples, minEffect: o.minEffect };
  const drafts = [
    ...throughputDrafts(ctx),
    droppedDraft(ctx),
    ...latencyDrafts(ctx),
    ...errorDrafts(ctx),
    ...conversionDrafts(ctx),
    systemFailureDraft(ctx),
    ...bottleneckDrafts(ctx),
  ];
  const tests = adjustPValues(drafts, o.adjust);
  const gate = new Set(o.gate);
  const metrics = drafts.map(
    ({ evidence: _, ...d }, i): MetricComparison => ({
      ...d,
      gating: gate.has(d.kind),
      ...verdictOf(drafts[i]!, o),
    }),
  );
  const warnings = [...comparability];
  if (baseline.manifest.runId === candidate.manifest.runId)
    warnings.push(`the baseline and the candidate are the same run (${baseline.manifest.runId})`);
  if (!aligned)
    warnings.push(
      `the sampling grids differ (every ${info.baseline.intervalSeconds} s vs ${info.candidate.intervalSeconds} s, or shifted): intervals are compared unpaired (Mann-Whitney), which is less sensitive`,
    );
  else if (!paired)
    warnings.push(
      'intervals are compared unpaired (Mann-Whitney): pairing them by time assumes both runs replayed the same load',
    );
  return {
    format: 'gelombang/comparison',
    version: 1,
    ...info,
    options: o,
    comparable: comparability.length === 0,
    warnings,
    configChanges: configChanges(baseline.manifest, candidate.manifest),
    pairing: paired ? 'paired' : 'unpaired',
    tests,
    overall: overallOf(metrics),
    bottleneck: {
      baseline: bottleneckOf(baseline.timeseries),
      candidate: bottleneckOf(candidate.timeseries),
    },
    metrics,
  };
}
