import { describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../index.ts';
import { range, scenario, simulate } from '../test-fixtures/executor-sim.ts';
import { quiet, script, values } from '../test-fixtures/target.ts';
import { scenarioDuration, scenarioMaxVUs } from './common.ts';
import { runSharedIterations } from './shared-iterations.ts';

/** shared-iterations: an exact total across VUs and threads, claimed from one shared counter. */

describe('shared-iterations run loop (simulated threads, exact clock)', () => {
  it('runs exactly the total across the threads, each number once, on VUs dealt round-robin', async () => {
    const s = scenario({ executor: 'shared-iterations', vus: 3, iterations: 17 });
    expect(scenarioMaxVUs(s)).toBe(3);
    expect(scenarioDuration(s)).toBe(600_000);
    const r = await simulate(s, runSharedIterations, { workers: 2, iterationMs: 10 });
    expect(r.total.iterations).toBe(17);
    expect(r.started.map((x) => x.iterationInTest).sort((a, b) => a - b)).toEqual(range(17));
    expect(new Set(r.started.map((x) => x.vu))).toEqual(new Set([1, 2, 3]));
    for (const x of r.started) expect(x.worker).toBe((x.vu - 1) % 2);
    expect(r.progress.map((p) => p.initializedVUs)).toEqual([2, 1]);
  });

  it('stops claiming at maxDuration, leaving the rest undone', async () => {
    const s = scenario({ executor: 'shared-iterations', vus: 1, iterations: 100, maxDuration: '1s' });
    const r = await simulate(s, runSharedIterations, { workers: 1, iterationMs: 100 });
    expect(r.started.map((x) => x.at)).toEqual(range(10).map((i) => i * 100));
    expect(r.total.iterations).toBe(10);
  });
});

describe('shared-iterations on the runner', () => {
  it('shared-iterations runs exactly the total across VUs and threads; per-vu-iterations vus x iterations', async () => {
    const r = await runTest({
      ...quiet,
      script: script(`
        import exec from 'k6/execution';
        import { Counter } from 'k6/metrics';
        const seen = new Counter('seen');
        export const options = { scenarios: {
          shared: { executor: 'shared-iterations', vus: 3, iterations: 17 },
          pervu: { executor: 'per-vu-iterations', vus: 3, iterations: 4, exec: 'other' },
        } };
        export default async function () { seen.add(1, { scenario_name: exec.scenario.name }); }
        export async function other() { seen.add(1); }
      `),
    });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(values(r, 'iterations').count).toBe(17 + 12);
    expect(values(r, 'seen').count).toBe(29);
  });
});
