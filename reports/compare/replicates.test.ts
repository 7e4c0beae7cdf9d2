import { describe, expect, it } from 'vitest';
import { makeRecord } from '../fixtures/make-record.ts';
import { compareReplicates } from './replicates.ts';

/** Repeated runs a side: the medians, Welch's test over the runs, and what keeps a side from a median. */

const runs = (seed: number, factors: readonly number[], scenario?: string) =>
  factors.map((f, i) =>
    makeRecord({
      seed: seed + i,
      runId: `r${seed + i}`,
      latencyFactor: f,
      ...(scenario ? { scenario } : {}),
    }),
  );

describe('compareReplicates', () => {
  it("shows each side's median of its runs' figures and tests over the runs", () => {
    const c = compareReplicates(runs(1, [1, 1.05, 0.95]), runs(10, [2, 2.1, 1.9]));
    const p95 = c.metrics.find((m) => m.id === 'latency.create_account.p95');
    expect(p95?.test).toMatchObject({ method: 'welch_t', samples: [3, 3] });
    expect(p95?.verdict).toBe('worse');
    expect(p95?.change).toBeGreaterThan(0.8);
    expect(c.replicates?.baseline.map((r) => r.runId)).toEqual(['r1', 'r2', 'r3']);
    expect(c.overall.verdict).toBe('regression');
  });

  it('a side whose runs replayed different scenarios has no median: not comparable, naming the runs', () => {
    const baseline = [...runs(1, [1, 1]), ...runs(3, [1], 'opening-spike')];
    const c = compareReplicates(baseline, runs(10, [1, 1.02, 0.98]));
    expect(c.comparable).toBe(false);
    expect(c.warnings).toContainEqual(
      expect.stringMatching(/^not comparable: the baseline runs .* scenario differs/),
    );
  });

  it('refuses fewer than two runs a side', () => {
    expect(() => compareReplicates(runs(1, [1]), runs(10, [1, 1]))).toThrow(
      'at least 2 runs a side (1 and 2 given)',
    );
  });
});
