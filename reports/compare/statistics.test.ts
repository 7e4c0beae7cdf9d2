import { quantileSorted } from 'simple-statistics';
import { describe, expect, it } from 'vitest';
import { createRng, standardNormal } from '../../model/random.ts';
import {
  benjaminiHochberg,
  mannWhitneyTest,
  quantileInterval,
  signedRankTest,
  studentTwoSided,
  twoProportionTest,
  welchTest,
} from './statistics.ts';

/** The tests the comparison rests on, checked against figures worked out by hand. */

describe('the statistics', () => {
  it('two-proportion z-test, by hand: 50 of 1,000 against 30 of 1,000', () => {
    // pooled p = 80 / 2000 = 0.04; se = sqrt(0.04 * 0.96 * (1/1000 + 1/1000)) = sqrt(7.68e-5) = 0.0087636
    // z = (0.03 - 0.05) / 0.0087636 = -2.28218; two-sided p = 2 (1 - Phi(2.28218)) = 0.022479
    const t = twoProportionTest(50, 1000, 30, 1000);
    expect(t.z).toBeCloseTo(-2.28218, 4);
    expect(t.p).toBeCloseTo(0.022479, 5);
    // a dispersion of 4 doubles the standard error and halves z
    expect(twoProportionTest(50, 1000, 30, 1000, 4).z).toBeCloseTo(-2.28218 / 2, 4);
  });

  it('signed-rank test, by hand, with a tie and a zero', () => {
    // the zero is dropped; |d| = 4, 1, 3, 2, 3 -> ranks 5, 1, 3.5, 2, 3.5; scores 5, -1, 3.5, -2, 3.5
    // W = 9; var = 25 + 1 + 12.25 + 4 + 12.25 = 54.5; z = 9 / sqrt(54.5)
    // The scores alternate (negative lag-1 autocorrelation), which never narrows the test.
    const t = signedRankTest([4, -1, 3, 0, -2, 3]);
    expect(t.samples).toEqual([5, 5]);
    expect(t.autocorrelation).toBeLessThan(0);
    expect(t.z).toBeCloseTo(9 / Math.sqrt(54.5), 10);
    expect(t.effectiveSamples).toBe(5);
  });

  it('Mann-Whitney U, by hand, with ties', () => {
    // pooled 1 2 2 3 | 2 4 5 -> ranks a: 1, 3, 3, 5; b: 3, 6, 7 (three 2s share rank 3)
    // U_b = 16 - 3*4/2 = 10; mean 4*3/2 = 6; var = 4*3/12 * (8 - (27-3)/(7*6)) = 8 - 4/7
    // Neither sample's ranks are positively autocorrelated (1 3 3 5; 3 6 7): no inflation.
    const t = mannWhitneyTest([1, 2, 2, 3], [2, 4, 5]);
    expect(t.z).toBeCloseTo(4 / Math.sqrt(8 - 4 / 7), 10);
  });

  it('autocorrelated samples count as fewer independent ones', () => {
    const smooth = Array.from({ length: 40 }, (_, i) => Math.sin(i / 6) + 0.3);
    const t = signedRankTest(smooth);
    expect(t.autocorrelation).toBeGreaterThan(0.5);
    expect(t.effectiveSamples).toBeLessThan(40 / 3);
  });

  it("Student's t, against the tables: the two-sided 5 % and 1 % points", () => {
    // t(0.975; 10) = 2.228139, t(0.995; 4) = 4.604095, t(0.975; 1) = 12.706205; t = 0 gives p = 1
    expect(studentTwoSided(2.228139, 10)).toBeCloseTo(0.05, 6);
    expect(studentTwoSided(-4.604095, 4)).toBeCloseTo(0.01, 6);
    expect(studentTwoSided(12.706205, 1)).toBeCloseTo(0.05, 6);
    expect(studentTwoSided(0, 7)).toBe(1);
    // many degrees of freedom: the normal's 1.959964
    expect(studentTwoSided(1.959964, 1e6)).toBeCloseTo(0.05, 4);
  });

  it("Welch's t-test, by hand, on three runs a side", () => {
    // a = 10, 12, 14 (mean 12, var 4); b = 20, 21, 25 (mean 22, var 7)
    // se^2 = 4/3 + 7/3 = 11/3; t = 10 / sqrt(11/3) = 5.22233
    // df = (11/3)^2 / ((4/3)^2 / 2 + (7/3)^2 / 2) = 13.4444 / 3.61111 = 3.72308
    const w = welchTest([10, 12, 14], [20, 21, 25]);
    expect(w?.t).toBeCloseTo(5.22233, 4);
    expect(w?.df).toBeCloseTo(3.72308, 4);
    // between the two-sided 1 % point at 3 df (5.841) and at 4 df (4.604)
    expect(w?.p).toBeGreaterThan(0.005);
    expect(w?.p).toBeLessThan(0.01);
    expect(welchTest([10, 12, 14], [10, 12, 14])?.p).toBe(1);
    // no spread on either side: nothing to test against
    expect(welchTest([5, 5], [6, 6])).toBeNull();
    expect(welchTest([5], [6, 7])).toBeNull();
  });

  it('Benjamini-Hochberg, by hand', () => {
    // sorted 0.01, 0.02, 0.03, 0.5 of m = 4: p m / rank = 0.04, 0.04, 0.04, 0.5, then the running minimum from the top
    const adjusted = benjaminiHochberg([0.03, 0.5, 0.01, 0.02]);
    for (const [i, want] of [0.04, 0.5, 0.04, 0.04].entries()) expect(adjusted[i]).toBeCloseTo(want, 12);
    // one p-value alone is its own
    expect(benjaminiHochberg([0.2])).toEqual([0.2]);
  });

  it("a p95's interval from its order statistics covers the true p95 about as often as it says, and narrows with the samples", () => {
    // log-normal latencies, median 10 ms, sigma 0.8: the true p95 is 10 e^(0.8 x 1.6449)
    const truth = 10 * Math.exp(0.8 * 1.6448536);
    const rng = createRng(14);
    const widths = new Map<number, number[]>();
    let covered = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      for (const n of [100, 500]) {
        const xs = Array.from({ length: n }, () => 10 * Math.exp(0.8 * standardNormal(rng))).sort(
          (a, b) => a - b,
        );
        const known = ([0.5, 0.9, 0.95, 0.99] as const).map((l) => [l, quantileSorted(xs, l)] as const);
        const iv = quantileInterval(n, 0.95, known) as [number, number];
        expect(iv[0]).toBeLessThanOrEqual(quantileSorted(xs, 0.95));
        expect(iv[1]).toBeGreaterThanOrEqual(quantileSorted(xs, 0.95));
        widths.set(n, [...(widths.get(n) ?? []), iv[1] / iv[0]]);
        if (n === 500 && iv[0] <= truth && truth <= iv[1]) covered++;
      }
    }
    // 95 % nominal: 380 of 400 expected, binomial sd 4.4; the interpolation may move it a little
    expect(covered / trials).toBeGreaterThan(0.9);
    expect(covered / trials).toBeLessThan(0.99);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(widths.get(500) as number[])).toBeLessThan(mean(widths.get(100) as number[]));
  });

  it('a quantile interval needs two known quantiles', () => {
    expect(quantileInterval(500, 0.95, [[0.95, 40]])).toBeNull();
    expect(
      quantileInterval(500, 0.95, [
        [0.9, null],
        [0.95, 40],
      ]),
    ).toBeNull();
    expect(
      quantileInterval(500, 0.95, [
        [0.5, 10],
        [0.95, 40],
      ]),
    ).not.toBeNull();
    // 30 requests: the p95's upper rank, 28.5 + 1.96 sqrt(1.425) = 30.8, lies beyond the 30th
    const few = quantileInterval(30, 0.95, [
      [0.5, 10],
      [0.9, 25],
      [0.95, 40],
      [0.99, 80],
    ]) as [number, number];
    expect(few[1]).toBe(Number.POSITIVE_INFINITY);
    expect(few[0]).toBeGreaterThan(10);
    expect(few[0]).toBeLessThan(40);
  });
});
