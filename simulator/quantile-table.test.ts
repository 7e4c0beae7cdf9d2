import { describe, expect, it } from 'vitest';
import { tableMean, tableQuantile } from './quantile-table.ts';

describe('a distribution given by its quantiles', () => {
  const o = { min: 1, p50: 5, p90: 40, p95: 100, p99: 300 };

  it('is linear in the probability between the knots, then on with the last slope', () => {
    expect(tableQuantile(o, 0)).toBe(1);
    expect(tableQuantile(o, 0.25)).toBe(3);
    expect(tableQuantile(o, 0.95)).toBe(100);
    expect(tableQuantile(o, 1)).toBeCloseTo(350, 9);
  });

  it('has the mean of its draws', () => {
    const n = 1_000_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += tableQuantile(o, (i + 0.5) / n);
    expect(tableMean(o)).toBeCloseTo(sum / n, 6);
    // By hand: 0.5 x 3 + 0.4 x 22.5 + 0.05 x 70 + 0.04 x 200 + 0.01 x 325.
    expect(tableMean(o)).toBeCloseTo(1.5 + 9 + 3.5 + 8 + 3.25, 9);
  });
});
