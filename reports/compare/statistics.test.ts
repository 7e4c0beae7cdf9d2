import { describe, expect, it } from 'vitest';
import { mannWhitneyTest, signedRankTest, twoProportionTest } from './statistics.ts';

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
});
