import { describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../index.ts';
import { range, scenario, simulate } from '../test-fixtures/executor-sim.ts';
import { quiet, script, useTarget, values } from '../test-fixtures/target.ts';
import { scenarioDuration, scenarioMaxVUs } from './common.ts';
import { constantArrivals, runConstantArrivalRate } from './constant-arrival-rate.ts';

/** constant-arrival-rate: when its iterations start, on which thread, and what happens when VUs run out. */

const target = useTarget();

describe('constant-arrival-rate schedule', () => {
  it('starts one iteration every timeUnit/rate from 0 through the end of the duration (R x D + 1)', () => {
    const at = [...constantArrivals(25, 1000, 2000)];
    expect(at).toHaveLength(51);
    expect(at[0]).toBe(0);
    expect(at[1]).toBe(40);
    expect(at.at(-1)).toBeCloseTo(2000, 9);
    // a period that does not divide the duration: nothing after it
    expect([...constantArrivals(3, 1000, 1000)].map(Math.round)).toEqual([0, 333, 667, 1000]);
    expect([...constantArrivals(2, 1000, 900)]).toEqual([0, 500]);
  });

  it('lasts its duration and has at most maxVUs (preAllocatedVUs when not given)', () => {
    const s = scenario({ executor: 'constant-arrival-rate', rate: 5, duration: '3s', preAllocatedVUs: 4 });
    expect(scenarioDuration(s)).toBe(3000);
    expect(scenarioMaxVUs(s)).toBe(4);
    const capped = scenario({
      executor: 'constant-arrival-rate',
      rate: 5,
      duration: '3s',
      preAllocatedVUs: 4,
      maxVUs: 9,
    });
    expect(scenarioMaxVUs(capped)).toBe(9);
  });
});

describe('constant-arrival-rate run loop (simulated threads, exact clock)', () => {
  it('runs arrival i on thread i mod W, at its time, on VUs of that thread', async () => {
    const s = scenario({ executor: 'constant-arrival-rate', rate: 10, duration: '1s', preAllocatedVUs: 4 });
    const r = await simulate(s, runConstantArrivalRate, { workers: 2, iterationMs: 10 });
    expect(r.total.iterations).toBe(11);
    expect(r.dropped).toBe(0);
    const byNumber = [...r.started].sort((a, b) => a.iterationInTest - b.iterationInTest);
    expect(byNumber.map((x) => x.iterationInTest)).toEqual(range(11));
    for (const x of byNumber) {
      expect(x.worker).toBe(x.iterationInTest % 2);
      expect(x.at).toBeCloseTo(x.iterationInTest * 100, 6);
      // thread w owns VUs w+1, w+1+W, ...
      expect((x.vu - 1) % 2).toBe(x.worker);
    }
    // 4 preallocated VUs dealt 2 and 2
    expect(r.progress.map((p) => p.initializedVUs)).toEqual([2, 2]);
  });

  it('drops an arrival that finds no free VU and adds a VU for later ones, up to maxVUs', async () => {
    const s = scenario({
      executor: 'constant-arrival-rate',
      rate: 10,
      duration: '1s',
      preAllocatedVUs: 1,
      maxVUs: 2,
    });
    // VU 1 is busy 0-950 ms; the arrival at 100 ms is dropped and makes VU 2, busy 200-1150 ms;
    // 300..900 find none free and no room for another; VU 1 is free again for the one at 1000 ms.
    const r = await simulate(s, runConstantArrivalRate, { workers: 1, iterationMs: 950 });
    expect(r.started.map((x) => [x.at, x.vu])).toEqual([
      [0, 1],
      [200, 2],
      [1000, 1],
    ]);
    expect(r.dropped).toBe(8);
    expect(r.total).toMatchObject({ iterations: 3, dropped: 8, initializedVUs: 2 });
  });
});

describe('constant-arrival-rate on the runner', () => {
  it('constant-arrival-rate starts R x D + 1 iterations, split over worker threads', async () => {
    // VUs to spare: with 2 per thread, a request slower than 160 ms on a loaded machine finds no
    // free VU and is dropped (seen in a run under load), which is the next test's subject, not this one's.
    const r = await runTest({
      ...quiet,
      script: script(`
        import http from 'k6/http';
        export const options = { scenarios: { s: { executor: 'constant-arrival-rate', rate: 25, timeUnit: '1s', duration: '2s', preAllocatedVUs: 20 } } };
        export default async function () { await http.asyncRequest('GET', __ENV.TARGET + '/hello'); }
      `),
      env: { TARGET: target.url },
    });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(values(r, 'iterations').count).toBe(51);
    expect(values(r, 'http_reqs').count).toBe(51);
    expect(r.summary?.metrics.dropped_iterations).toBeUndefined();
  });

  it('counts dropped_iterations when the rate is impossible for maxVUs', async () => {
    const r = await runTest({
      ...quiet,
      script: script(`
        import http from 'k6/http';
        export const options = { scenarios: { s: { executor: 'constant-arrival-rate', rate: 50, timeUnit: '1s', duration: '1s', preAllocatedVUs: 2, maxVUs: 2 } } };
        export default async function () { await http.asyncRequest('GET', __ENV.TARGET + '/slow'); }
      `),
      env: { TARGET: target.url },
    });
    const started = values(r, 'iterations').count ?? 0;
    const dropped = values(r, 'dropped_iterations').count ?? 0;
    expect(dropped).toBeGreaterThan(30);
    // every scheduled arrival (51) either ran, was dropped, or was cut by the graceful stop
    expect(started + dropped).toBeLessThanOrEqual(51);
    expect(started + dropped).toBeGreaterThanOrEqual(49);
  });
});
