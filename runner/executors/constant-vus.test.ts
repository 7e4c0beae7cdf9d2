import { describe, expect, it } from 'vitest';
import { runTest } from '../index.ts';
import { range, scenario, simulate } from '../test-fixtures/executor-sim.ts';
import { quiet, script, values } from '../test-fixtures/target.ts';
import { scenarioDuration, scenarioMaxVUs } from './common.ts';
import { runConstantVUs } from './constant-vus.ts';

/** constant-vus: a fixed number of VUs, each running iterations back to back for the duration. */

describe('constant-vus run loop (simulated threads, exact clock)', () => {
  it('keeps every VU busy until the duration is up, numbering iterations across threads', async () => {
    const s = scenario({ executor: 'constant-vus', vus: 2, duration: '1s' });
    expect(scenarioMaxVUs(s)).toBe(2);
    expect(scenarioDuration(s)).toBe(1000);
    const r = await simulate(s, runConstantVUs, { workers: 2, iterationMs: 100 });
    for (const g of [1, 2]) {
      expect(r.started.filter((x) => x.vu === g).map((x) => x.at)).toEqual(range(10).map((i) => i * 100));
    }
    expect(r.total.iterations).toBe(20);
    expect(r.started.map((x) => x.iterationInTest).sort((a, b) => a - b)).toEqual(range(20));
  });

  it('lets an iteration running at the end finish within gracefulStop, and interrupts it after', async () => {
    const graceful = scenario({ executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '1s' });
    const kept = await simulate(graceful, runConstantVUs, { workers: 1, iterationMs: 300 });
    // each VU starts at 0, 300, 600 and 900 ms; the last ends at 1200, within the graceful stop
    expect(kept.total).toMatchObject({ iterations: 8, interrupted: 0 });
    const abrupt = scenario({ executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '0s' });
    const cut = await simulate(abrupt, runConstantVUs, { workers: 1, iterationMs: 300 });
    expect(cut.total).toMatchObject({ iterations: 6, interrupted: 2 });
  });
});

describe('constant-vus on the runner', () => {
  it('constant-vus keeps its VUs busy for the duration', async () => {
    const r = await runTest({
      ...quiet,
      script: script(`
        import { sleep } from 'k6';
        export const options = { vus: 2, duration: '1s' };
        export default async function () { await sleep(0.1); }
      `),
    });
    // 2 VUs x ~10 iterations of 100 ms: generous bounds, no timing assertion beyond order of magnitude
    expect(values(r, 'iterations').count).toBeGreaterThan(6);
    expect(values(r, 'iterations').count).toBeLessThan(30);
    expect(values(r, 'vus_max').value).toBe(2);
  });
});
