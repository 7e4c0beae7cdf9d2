import { describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../index.ts';
import { scenario } from '../test-fixtures/executor-sim.ts';
import { quiet, script, values } from '../test-fixtures/target.ts';
import { scenarioProgress } from './common.ts';

/** exec.scenario.progress as k6 v0.47's executors compute it (their progressFn). */

describe('scenarioProgress', () => {
  const shared = scenario({ executor: 'shared-iterations', vus: 2, iterations: 8, maxDuration: '10s' });
  const perVu = scenario({ executor: 'per-vu-iterations', vus: 2, iterations: 5, maxDuration: '10s' });
  const constant = scenario({ executor: 'constant-vus', vus: 1, duration: '20s' });
  const ramping = scenario({
    executor: 'ramping-arrival-rate',
    preAllocatedVUs: 1,
    stages: [
      { target: 5, duration: '10s' },
      { target: 0, duration: '30s' },
    ],
  });

  it.each([
    ['shared-iterations: iterations done over the total', shared, 3000, 2, 0.25],
    ['shared-iterations: time does not count', shared, 60_000, 4, 0.5],
    ['per-vu-iterations: iterations done over vus x iterations', perVu, 1000, 5, 0.5],
    ['per-vu-iterations: 1 once maxDuration is over', perVu, 10_001, 5, 1],
    ['constant-vus: elapsed over the duration', constant, 5000, 99, 0.25],
    ['constant-vus: 1 at the end', constant, 20_000, 0, 1],
    ['ramping-arrival-rate: elapsed over the stages', ramping, 30_000, 0, 0.75],
    ['never below 0 before the start', constant, -500, 0, 0],
    ['never above 1', shared, 1000, 9, 1],
  ])('%s', (_what, s, elapsedMs, done, expected) => {
    expect(scenarioProgress(s, elapsedMs, done)).toBeCloseTo(expected, 9);
  });
});

describe('exec.scenario.progress in a script', () => {
  it('counts the iterations done across worker threads, and the time of a timed scenario', async () => {
    const r = await runTest({
      ...quiet,
      script: script(`
        import exec from 'k6/execution';
        import { sleep } from 'k6';
        import { Trend } from 'k6/metrics';
        const counted = new Trend('counted_progress');
        const timed = new Trend('timed_progress');
        export const options = { scenarios: {
          counted: { executor: 'shared-iterations', vus: 1, iterations: 4 },
          timed: { executor: 'constant-vus', vus: 1, duration: '1s', exec: 'timedIteration' },
        } };
        export default async function () { counted.add(exec.scenario.progress); await sleep(0.05); }
        export async function timedIteration() { timed.add(exec.scenario.progress); await sleep(0.2); }
      `),
    });
    expect(r.exitCode).toBe(EXIT.ok);
    // one VU: each iteration sees those before it done
    expect(values(r, 'counted_progress')).toMatchObject({ min: 0, max: 0.75, avg: 0.375 });
    const timed = values(r, 'timed_progress');
    expect(timed.min).toBeLessThan(0.2);
    expect(timed.max).toBeGreaterThan(0.5);
    expect(timed.max).toBeLessThanOrEqual(1);
  });
});
