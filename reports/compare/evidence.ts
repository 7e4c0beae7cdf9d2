import type { RunRecord, Timeseries } from '../record.ts';
import type { Values } from './run-figures.ts';
import {
  mannWhitneyTest,
  pearson,
  type RankTestResult,
  signedRankTest,
  twoProportionTest,
} from './statistics.ts';
import type { MetricComparison, StatTest, Verdict } from './types.ts';

/**
 * What a metric's evidence amounts to before the verdicts, which cannot be given one metric at a
 * time: they need every p-value of the comparison, to adjust them together.
 *
 * - Series (latency percentiles, throughput, utilisation, CPU): two comparable runs replay the
 *   same arrival profile, so interval i of one run faced the load of interval i of the other. The
 *   test is paired (Wilcoxon signed-rank on the log ratio per interval), which removes the
 *   profile's shape that would otherwise swamp the difference. When the intervals cannot be
 *   paired (./comparability.ts says when) it falls back to Mann-Whitney U over the two sets of
 *   intervals. Either needs `minSamples` effective samples once the autocorrelation is counted,
 *   else the metric is within noise with that reason.
 *
 * - Proportions (error rate, conversion, share failed by the system, share dropped) use the
 *   two-proportion z-test on the run's exact totals. Requests are not independent coin tosses,
 *   though: failures come in bursts (a dependency saturates and fails everything for 20 s), which
 *   makes the plain test wildly overconfident over thousands of requests. So the test's variance is
 *   inflated by the overdispersion seen between sampling intervals (quasi-binomial: Pearson
 *   chi-square / degrees of freedom of the per-interval counts, floored at 1). Where the load
 *   follows a profile the rate varies over time by design too, which this counts as noise:
 *   conservative, on purpose, for a gate.
 */

/** What a metric's evidence amounts to before the p-values are adjusted. */
export type Evidence =
  | { kind: 'missing'; reason: string }
  | { kind: 'untestable'; reason: string; test: StatTest | null }
  | { kind: 'tested'; test: StatTest; note?: string }
  | { kind: 'decided'; verdict: Exclude<Verdict, 'not_comparable'>; reason: string };

export interface Draft extends Omit<MetricComparison, 'verdict' | 'reason' | 'test' | 'gating'> {
  evidence: Evidence;
}

export interface Context {
  baseline: RunRecord;
  candidate: RunRecord;
  paired: boolean;
  minSamples: number;
  minEffect: number;
}

export function relativeChange(b: number | null, c: number | null): number | null {
  if (b === null || c === null || b === 0) return null;
  return (c - b) / Math.abs(b);
}

export interface SeriesSource {
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
export function seriesEvidence(ctx: Context, src: SeriesSource): Evidence {
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

export function proportionEvidence(ctx: Context, src: ProportionSource): ProportionDraft {
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
