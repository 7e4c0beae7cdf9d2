import { describe, expect, it } from 'vitest';
import { defineBuiltins, Store } from './store.ts';
import { metricsView } from './view.ts';

/** The read-only view that callers outside the runner get of its metrics. */

function storeWith(series: boolean) {
  const store = new Store({ series });
  defineBuiltins(store);
  store.define('funnel_stage', 'counter');
  return store;
}

describe('the metrics view', () => {
  it('lists the metrics defined, built-in first, and reads totals and gauges', () => {
    const store = storeWith(false);
    const view = metricsView(store);
    const names = view.definitions().map((d) => d.name);
    expect(names[0]).toBe('checks');
    expect(names.at(-1)).toBe('funnel_stage');
    expect(view.definitions().find((d) => d.name === 'http_req_duration')).toEqual({
      name: 'http_req_duration',
      type: 'trend',
      contains: 'time',
    });
    expect(view.has('funnel_stage')).toBe(true);
    expect(view.has('funnel_arrivals')).toBe(false);
    expect(view.gauge('vus')).toBeUndefined();
    store.add('vus', 4);
    store.add('vus', 7);
    store.add('http_reqs', 1, { step: 'a' });
    store.add('http_reqs', 1, { step: 'b' });
    expect(view.gauge('vus')).toBe(7);
    expect(view.counter('http_reqs')).toBe(2);
    // not a counter, or not there: nothing counted
    expect(view.counter('vus')).toBe(0);
    expect(view.counter('nope')).toBe(0);
  });

  it('breaks counters and rates down by tags, summing series that differ in other tags', () => {
    const store = storeWith(true);
    const view = metricsView(store);
    store.add('funnel_stage', 1, { stage: 'registered', outcome: 'continued', scenario: 'a' });
    store.add('funnel_stage', 1, { stage: 'registered', outcome: 'continued', scenario: 'b' });
    store.add('funnel_stage', 1, {
      stage: 'registered',
      outcome: 'failed',
      reason: 'timeout',
      scenario: 'a',
    });
    store.add('funnel_stage', 1, { scenario: 'a' });
    expect(view.counterBy('funnel_stage', ['stage', 'outcome'])).toEqual([
      { tags: { stage: 'registered', outcome: 'continued' }, value: 2 },
      { tags: { stage: 'registered', outcome: 'failed' }, value: 1 },
      { tags: {}, value: 1 },
    ]);
    expect(view.counterBy('funnel_stage', ['reason'])).toEqual([
      { tags: {}, value: 3 },
      { tags: { reason: 'timeout' }, value: 1 },
    ]);
    store.add('http_req_failed', 1, { step: 'a' });
    store.add('http_req_failed', 0, { step: 'a' });
    store.add('http_req_failed', 0, { step: 'b' });
    expect(view.rateBy('http_req_failed', ['step'])).toEqual([
      { tags: { step: 'a' }, value: { passes: 1, total: 2 } },
      { tags: { step: 'b' }, value: { passes: 0, total: 1 } },
    ]);
    expect(view.counterBy('nope', ['step'])).toEqual([]);
  });

  it('gives trend snapshots whose difference holds only the samples in between', () => {
    const store = storeWith(true);
    const view = metricsView(store);
    for (let v = 1; v <= 100; v++) store.add('http_req_duration', v, { step: 'a' });
    const [before] = view.trendBy('http_req_duration', ['step']);
    expect(before?.tags).toEqual({ step: 'a' });
    expect(before?.value.count).toBe(100);
    expect(before?.value.percentile(50)).toBeCloseTo(50, 0);
    for (let v = 1001; v <= 1100; v++) store.add('http_req_duration', v, { step: 'a' });
    // a snapshot is a copy: later samples do not change it
    expect(before?.value.count).toBe(100);
    const [after] = view.trendBy('http_req_duration', ['step']);
    const interval = after?.value.minus(before?.value);
    expect(interval?.count).toBe(100);
    expect(interval?.percentile(50)).toBeCloseTo(1050, -1);
    expect(interval?.percentile(1)).toBeGreaterThan(1000);
    // 1051-1100 are above 1050.5; the snapshot before held none of them
    expect(interval?.countAbove(1050.5)).toBe(50);
    expect(interval?.countAbove(1100)).toBe(0);
    expect(interval?.countAbove(0)).toBe(100);
    expect(after?.value.countAbove(50.5)).toBe(150);
    expect(after?.value.max).toBe(1100);
    expect(after?.value.minus(undefined).count).toBe(200);
    const [none] = metricsView(storeWith(true)).trendBy('http_req_duration', []);
    expect(none).toBeUndefined();
  });

  it('refuses a breakdown when the run kept no per-tag series, rather than answer with nothing', () => {
    const store = storeWith(false);
    store.add('http_reqs', 1, { step: 'a' });
    expect(() => metricsView(store).counterBy('http_reqs', ['step'])).toThrow(
      /kept no per-tag series of 'http_reqs'.*needs: \{ tagSeries: true \}/,
    );
  });
});
