import { describe, expect, it } from 'vitest';
import { SLOS } from '../../model/slo.ts';
import { seriesValues } from '../../reports/record.ts';
import { defineBuiltins, Store } from '../../runner/metrics/store.ts';
import { metricsView } from '../../runner/metrics/view.ts';
import { RunnerSampler } from './runner-sampler.ts';
import { SeriesBook } from './series-book.ts';

/** The runner's metrics turned into per-interval series, on the runner's own store. */

describe('the runner sampler', () => {
  it("counts each interval's requests slower than their step's p95 objective, the interval's own", () => {
    const store = new Store({ series: true });
    defineBuiltins(store);
    const view = metricsView(store);
    const book = new SeriesBook();
    const sampler = new RunnerSampler(book);
    const slo = SLOS.create_account.p95Ms;
    const request = (step: string, ms: number) => {
      store.add('http_reqs', 1, { step });
      store.add('http_req_failed', 0, { step });
      store.add('http_req_duration', ms, { step });
    };
    sampler.start();
    // first interval: 10 sign-ups, 3 of them slower than the objective (one exactly at it: not slower)
    for (const ms of [100, 200, 300, 400, 500, 600, slo, slo + 10, 2 * slo, 3 * slo])
      request('create_account', ms);
    request('read_mailbox', 10 * slo); // no objective: no series
    book.tick(1);
    sampler.sample(view, 1);
    // second: 4, all quick; the first interval's slow ones are not counted again
    for (const ms of [100, 100, 100, 100]) request('create_account', ms);
    book.tick(2);
    sampler.sample(view, 1);
    // third: none
    book.tick(3);
    sampler.sample(view, 1);
    const ts = book.build({ intervalSeconds: 1, startedAtMs: 0, sources: ['runner'] });
    expect(seriesValues(ts, 'step_slow_ratio', { step: 'create_account', above_ms: String(slo) })).toEqual([
      0.3,
      0,
      null,
    ]);
    expect(ts.series.filter((s) => s.name === 'step_slow_ratio').map((s) => s.labels.step)).toEqual([
      'create_account',
    ]);
  });
});
