import { describe, expect, it } from 'vitest';
import { range, scenario, simulate } from '../test-fixtures/executor-sim.ts';
import { scenarioDuration, scenarioMaxVUs } from './common.ts';
import { rampingVUsAt, runRampingVUs } from './ramping-vus.ts';

/** ramping-vus: the active VUs follow the stages linearly, in whole VUs. */

describe('ramping-vus schedule', () => {
  it('ramps linearly between stage targets, flooring on the way up and ceiling on the way down', () => {
    const stages = [
      { target: 10, durationMs: 10_000 },
      { target: 0, durationMs: 10_000 },
    ];
    expect([0, 999, 1000, 5000, 9999, 10_000].map((t) => rampingVUsAt(0, stages, t))).toEqual([
      0, 0, 1, 5, 9, 10,
    ]);
    expect([10_001, 15_000, 19_999, 20_000, 30_000].map((t) => rampingVUsAt(0, stages, t))).toEqual([
      10, 5, 1, 0, 0,
    ]);
    // a zero-length stage jumps to its target
    expect(rampingVUsAt(2, [{ target: 7, durationMs: 0 }], 0)).toBe(7);
  });

  it('has as many VUs as the highest of startVUs and the targets, and lasts its stages', () => {
    const down = scenario({ executor: 'ramping-vus', startVUs: 8, stages: [{ target: 3, duration: '2s' }] });
    expect(scenarioMaxVUs(down)).toBe(8);
    expect(scenarioDuration(down)).toBe(2000);
    const up = scenario({
      executor: 'ramping-vus',
      startVUs: 1,
      stages: [
        { target: 6, duration: '1s' },
        { target: 2, duration: '1s' },
      ],
    });
    expect(scenarioMaxVUs(up)).toBe(6);
    expect(scenarioDuration(up)).toBe(2000);
  });
});

describe('ramping-vus run loop (simulated threads, exact clock)', () => {
  it('makes every VU at the start and lets VU g iterate only while the ramp is at g or above', async () => {
    const s = scenario({ executor: 'ramping-vus', startVUs: 1, stages: [{ target: 3, duration: '1s' }] });
    const r = await simulate(s, runRampingVUs, { workers: 2, iterationMs: 100 });
    expect(r.total.initializedVUs).toBe(3);
    // VU 2 joins when the ramp reaches 2 (at 500 ms); VU 3 would at the end, when it is over
    expect(r.started.filter((x) => x.vu === 1).map((x) => x.at)).toEqual(range(10).map((i) => i * 100));
    expect(r.started.filter((x) => x.vu === 2).map((x) => x.at)).toEqual([500, 600, 700, 800, 900]);
    expect(r.started.filter((x) => x.vu === 3)).toEqual([]);
    // a waiting VU takes no iteration number: they run 0..n-1 without gaps
    expect(r.started.map((x) => x.iterationInTest).sort((a, b) => a - b)).toEqual(range(15));
  });
});
