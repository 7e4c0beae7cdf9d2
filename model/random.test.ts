import { describe, expect, it } from 'vitest';
import { createRng, rngFor, standardNormal } from './random.ts';

describe('seeded randomness', () => {
  it('gives the same stream for the same seed and keys, a different one otherwise', () => {
    const take = (r: () => number) => Array.from({ length: 5 }, r);
    expect(take(rngFor(2020, 41))).toEqual(take(rngFor(2020, 41)));
    expect(take(rngFor(2020, 41))).not.toEqual(take(rngFor(2020, 42)));
    expect(take(rngFor(2020, 41))).not.toEqual(take(rngFor(2021, 41)));
    expect(take(rngFor(1, 5, 2 ** 33))).not.toEqual(take(rngFor(1, 5, 2 ** 34)));
    expect(take(createRng(7))).toEqual(take(createRng(7)));
  });

  it('is uniform in [0, 1) and its normals have mean 0 and variance 1', () => {
    const r = createRng(12345);
    const n = 20_000;
    const bins = new Array(10).fill(0);
    for (let i = 0; i < n; i++) {
      const u = r();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      bins[Math.floor(u * 10)]++;
    }
    // each decile within 10 % of n/10 (4 standard deviations and more)
    for (const b of bins) expect(Math.abs(b - n / 10)).toBeLessThan(n / 100);
    const z = Array.from({ length: n }, () => standardNormal(r));
    const mean = z.reduce((a, b) => a + b, 0) / n;
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});
