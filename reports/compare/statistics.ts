import { errorFunction } from 'simple-statistics';

/**
 * The tests the comparison rests on, all with the normal approximation: two rank tests (so that a
 * latency spike of 30 s does not dominate), with the tie correction, and the two-proportion z-test.
 *
 * Consecutive intervals are not independent (a queue that builds up lasts). Both rank tests
 * inflate their variance by (1 + r) / (1 - r), r being the lag-1 autocorrelation of the scores
 * they sum (the AR(1) variance inflation), and report the samples that leaves as independent,
 * n (1 - r) / (1 + r), for the caller to require enough of them.
 */

/** P(|Z| >= |z|) for a standard normal Z. */
function twoSided(z: number): number {
  return Math.min(1, Math.max(0, 1 - errorFunction(Math.abs(z) / Math.SQRT2)));
}

export const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

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
export function pearson(
  x: readonly (number | null)[],
  n: readonly (number | null)[],
): { chi2: number; df: number } {
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
export function holm(ps: readonly number[]): number[] {
  const order = ps.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p);
  const adjusted = new Array<number>(ps.length).fill(1);
  let running = 0;
  order.forEach(({ p, i }, k) => {
    running = Math.max(running, Math.min(1, (ps.length - k) * p));
    adjusted[i] = running;
  });
  return adjusted;
}
