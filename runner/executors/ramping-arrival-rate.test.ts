import { describe, expect, it } from 'vitest';
import { runTest } from '../index.ts';
import { range, scenario, simulate } from '../test-fixtures/executor-sim.ts';
import { quiet, script, values } from '../test-fixtures/target.ts';
import { scenarioDuration, scenarioMaxVUs } from './common.ts';
import { rampingArrivals, runRampingArrivalRate } from './ramping-arrival-rate.ts';

/** ramping-arrival-rate: iteration n starts when the area under the rate curve reaches n, as k6's `cal`. */

const STAGES = [
  { target: 20, durationMs: 1000 },
  { target: 20, durationMs: 1000 },
  { target: 0, durationMs: 1000 },
];

describe('ramping-arrival-rate schedule', () => {
  it('starts iteration n where the area under the rate reaches n, stage by stage', () => {
    const at = [...rampingArrivals(0, 1000, STAGES)];
    // 10 + 20 + 10 arrivals under the curve
    expect(at).toHaveLength(40);
    // rising from 0 to 20/s over 1 s the area is 10 t^2: arrival n at sqrt(n / 10) s, not at 0
    expect(at[0]).toBeCloseTo(1000 * Math.sqrt(1 / 10), 6);
    expect(at[9]).toBeCloseTo(1000, 6);
    // then 20/s: one every 50 ms
    expect(at[10]).toBeCloseTo(1050, 6);
    expect(at[29]).toBeCloseTo(2000, 6);
    // falling from 20/s to 0 over 1 s: the area after 2 s is 20 u - 10 u^2
    expect(at[30]).toBeCloseTo(2000 + 1000 * (1 - Math.sqrt(1 - 1 / 10)), 6);
    expect(at.at(-1)).toBeCloseTo(3000, 6);
    for (let i = 1; i < at.length; i++) expect(at[i]).toBeGreaterThan(at[i - 1] as number);
  });

  it('takes the rate per timeUnit and starts from startRate', () => {
    // 60 per minute for 2 s: one a second, the first after 1 s
    expect([...rampingArrivals(60, 60_000, [{ target: 60, durationMs: 2000 }])]).toEqual([1000, 2000]);
    expect([...rampingArrivals(0, 1000, [{ target: 0, durationMs: 5000 }])]).toEqual([]);
  });

  it('lasts its stages and has at most maxVUs', () => {
    const s = scenario({
      executor: 'ramping-arrival-rate',
      preAllocatedVUs: 2,
      maxVUs: 5,
      stages: [
        { target: 20, duration: '1s' },
        { target: 0, duration: '2s' },
      ],
    });
    expect(scenarioDuration(s)).toBe(3000);
    expect(scenarioMaxVUs(s)).toBe(5);
  });
});

describe('ramping-arrival-rate run loop (simulated threads, exact clock)', () => {
  it('starts every arrival at its time, on thread n mod W', async () => {
    const s = scenario({
      executor: 'ramping-arrival-rate',
      startRate: 0,
      preAllocatedVUs: 2,
      stages: [
        { target: 20, duration: '1s' },
        { target: 20, duration: '1s' },
        { target: 0, duration: '1s' },
      ],
    });
    const planned = [...rampingArrivals(0, 1000, STAGES)];
    const r = await simulate(s, runRampingArrivalRate, { workers: 2, iterationMs: 5 });
    expect(r.total.iterations).toBe(40);
    const byNumber = [...r.started].sort((a, b) => a.iterationInTest - b.iterationInTest);
    expect(byNumber.map((x) => x.iterationInTest)).toEqual(range(40));
    for (const x of byNumber) {
      expect(x.worker).toBe(x.iterationInTest % 2);
      // timers run on whole milliseconds
      expect(Math.abs(x.at - (planned[x.iterationInTest] as number))).toBeLessThanOrEqual(1);
    }
  });
});

describe('ramping-arrival-rate on the runner', () => {
  it('ramping-arrival-rate starts the integral of its rate', async () => {
    const r = await runTest({
      ...quiet,
      script: script(`
        export const options = { scenarios: { s: { executor: 'ramping-arrival-rate', startRate: 0, timeUnit: '1s', preAllocatedVUs: 2,
          stages: [{ target: 20, duration: '1s' }, { target: 20, duration: '1s' }, { target: 0, duration: '1s' }] } } };
        export default async function () {}
      `),
    });
    // 10 + 20 + 10 arrivals under the curve
    expect(values(r, 'iterations').count).toBe(40);
  });
});
