import { errorFunction, probit } from 'simple-statistics';

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

/** ln Γ(x), Lanczos (g = 7, nine terms; relative error below 1e-13 for x > 0). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let a = c[0] as number;
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += (c[i] as number) / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** The regularised incomplete beta I_x(a, b), by its continued fraction (modified Lentz). */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The fraction converges fast for x < (a + 1) / (a + b + 2); else by symmetry.
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front =
    Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x)) / a;
  const tiny = 1e-300;
  let f = 1;
  let c = 1;
  let d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    let numerator: number;
    if (i === 0) numerator = 1;
    else if (i % 2 === 0) numerator = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else numerator = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + numerator * d;
    d = Math.abs(d) < tiny ? tiny : d;
    d = 1 / d;
    c = 1 + numerator / c;
    c = Math.abs(c) < tiny ? tiny : c;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-14) break;
  }
  return front * (f - 1);
}

/** P(|T| >= |t|) for Student's t with `df` degrees of freedom (df need not be whole). */
export function studentTwoSided(t: number, df: number): number {
  if (!Number.isFinite(t)) return 0;
  return Math.min(1, Math.max(0, incompleteBeta(df / (df + t * t), df / 2, 0.5)));
}

/**
 * Welch's t-test of two small samples (a figure per run: a few rehearsals a side), without
 * assuming equal variances; t > 0 when `b` is higher. Null when a side has fewer than two values,
 * or neither side varies: no spread measured, no test (a utilisation of 5 servers in 8 in every
 * run of one side and 4 in every run of the other is not a certainty).
 */
export function welchTest(
  a: readonly number[],
  b: readonly number[],
): { t: number; df: number; p: number } | null {
  if (a.length < 2 || b.length < 2) return null;
  const mean = (xs: readonly number[]) => sum(xs) / xs.length;
  const variance = (xs: readonly number[], m: number) => sum(xs.map((x) => (x - m) ** 2)) / (xs.length - 1);
  const ma = mean(a);
  const mb = mean(b);
  const va = variance(a, ma) / a.length;
  const vb = variance(b, mb) / b.length;
  const se2 = va + vb;
  if (se2 === 0) return null;
  const t = (mb - ma) / Math.sqrt(se2);
  // Welch-Satterthwaite
  const df = se2 ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { t, df, p: studentTwoSided(t, df) };
}

/**
 * Benjamini-Hochberg's step-up adjustment: controls the expected share of false changes among
 * those called, and, when nothing changed at all, the chance of calling any (as Holm's does). It
 * is the adjustment over repeated runs (./replicates.ts), where a real change moves many metrics
 * together and Holm's, made for one real change among many, would ask a few runs for p-values
 * they cannot give.
 */
export function benjaminiHochberg(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => ({ p, i })).sort((a, b) => b.p - a.p);
  const adjusted = new Array<number>(m).fill(1);
  let running = 1;
  order.forEach(({ p, i }, k) => {
    const rank = m - k;
    running = Math.min(running, (p * m) / rank);
    adjusted[i] = Math.min(1, running);
  });
  return adjusted;
}

/**
 * An interval for a distribution's q-quantile measured on n samples, from its order statistics:
 * the samples ranked n q -/+ z sqrt(n q (1 - q)) (the binomial's normal approximation), their
 * values read off the quantiles known, as (level, value), by interpolating the log value against
 * the normal quantile of the level (a log-normal tail is a straight line there), past the last
 * known on the last two's slope; unbounded (0 or infinity) on a side whose rank lies beyond the
 * samples (a p95 of 30 requests has no upper bound at 95 %). Against the exact order statistics
 * of five knee rehearsals' requests (2026-12-06, 35 steps) its ends came within 12 % (median 2 %).
 * Independent samples assumed: requests that queue together are not, so the true interval is
 * wider. Null when fewer than two known quantiles are positive.
 */
export function quantileInterval(
  n: number,
  q: number,
  known: ReadonlyArray<readonly [level: number, value: number | null]>,
  confidence = 0.95,
): [number, number] | null {
  const k = known
    .filter((x): x is [number, number] => x[1] !== null && x[1] > 0 && x[0] > 0 && x[0] < 1)
    .map(([level, value]) => ({ z: probit(level), log: Math.log(value) }))
    .sort((a, b) => a.z - b.z);
  if (n < 1 || k.length < 2) return null;
  const half = probit(1 - (1 - confidence) / 2) * Math.sqrt(n * q * (1 - q));
  const lo = Math.floor(n * q - half);
  const hi = Math.ceil(n * q + half);
  const at = (u: number): number => {
    const z = probit(u);
    let i = 1;
    while (i < k.length - 1 && z > (k[i] as { z: number }).z) i++;
    const a = k[i - 1] as { z: number; log: number };
    const b = k[i] as { z: number; log: number };
    return Math.exp(a.log + ((z - a.z) / (b.z - a.z)) * (b.log - a.log));
  };
  // A rank beyond the samples: the samples do not bound the quantile on that side.
  return [lo < 1 ? 0 : at(lo / n), hi > n ? Number.POSITIVE_INFINITY : at(Math.min(hi / n, 1 - 0.5 / n))];
}
