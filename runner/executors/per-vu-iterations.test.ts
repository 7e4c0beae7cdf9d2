import { describe, expect, it } from 'vitest';
import { range, scenario, simulate } from '../test-fixtures/executor-sim.ts';
import { scenarioDuration, scenarioMaxVUs } from './common.ts';
import { runPerVuIterations } from './per-vu-iterations.ts';

/**
 * per-vu-iterations: every VU its own number of iterations. (Its count on the runner, beside
 * shared-iterations', is in shared-iterations.test.ts.)
 */

describe('per-vu-iterations run loop (simulated threads, exact clock)', () => {
  it('runs vus x iterations, VU g numbering its iterations (g - 1) x iterations + i', async () => {
    const s = scenario({ executor: 'per-vu-iterations', vus: 3, iterations: 4 });
    expect(scenarioMaxVUs(s)).toBe(3);
    expect(scenarioDuration(s)).toBe(600_000);
    // VUs of different speeds must not take each other's iterations, as shared-iterations would
    const r = await simulate(s, runPerVuIterations, { workers: 2, iterationMs: 10 });
    expect(r.total.iterations).toBe(12);
    for (const g of [1, 2, 3]) {
      const mine = r.started.filter((x) => x.vu === g);
      expect(mine.map((x) => x.iterationInTest)).toEqual(range(4).map((i) => (g - 1) * 4 + i));
      expect(mine.map((x) => x.at)).toEqual([0, 10, 20, 30]);
      expect(mine.every((x) => x.worker === (g - 1) % 2)).toBe(true);
    }
  });

  it('stops a VU at maxDuration, its remaining iterations undone', async () => {
    const s = scenario({ executor: 'per-vu-iterations', vus: 2, iterations: 50, maxDuration: '1s' });
    const r = await simulate(s, runPerVuIterations, { workers: 1, iterationMs: 250 });
    expect(r.total.iterations).toBe(8);
    expect(r.started.filter((x) => x.vu === 2).map((x) => x.at)).toEqual([0, 250, 500, 750]);
  });
});
