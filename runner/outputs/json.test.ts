import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../index.ts';
import { defineBuiltins, Store } from '../metrics/store.ts';
import { metricsView } from '../metrics/view.ts';
import { quiet, script, scriptDir, useTarget } from '../test-fixtures/target.ts';
import { jsonOutput } from './json.ts';

/** `-o json=FILE`: k6's JSON lines, written as the samples arrive. */

const target = useTarget();

const lines = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l));

describe('the json output', () => {
  it('writes a Metric line per metric, then each batch of points as it comes, not at the end', async () => {
    const file = join(scriptDir, 'unit.jsonl');
    const store = new Store();
    defineBuiltins(store);
    store.define('greeted', 'counter');
    const out = jsonOutput(file);
    expect(out.needs?.points).toBe(true);
    await out.start?.(metricsView(store));
    out.onPoints?.([{ metric: 'greeted', time: Date.UTC(2020, 3, 11, 1, 2, 3), value: 1, tags: { a: 'b' } }]);
    // on disk before the output stops
    const deadline = Date.now() + 10_000;
    while (!readFileSync(file, 'utf8').includes('"Point"') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    expect(lines(file).at(-1)).toEqual({
      metric: 'greeted',
      type: 'Point',
      data: { time: '2020-04-11T01:02:03.000Z', value: 1, tags: { a: 'b' } },
    });
    out.onPoints?.([{ metric: 'http_reqs', time: 0, value: 1, tags: {} }]);
    await out.stop?.();
    const all = lines(file);
    const metrics = all.filter((l) => l.type === 'Metric');
    expect(metrics.map((l) => l.metric)).toEqual([...store.metrics.keys()]);
    expect(metrics.at(-1)).toEqual({
      type: 'Metric',
      data: { name: 'greeted', type: 'counter', contains: 'default', thresholds: [], submetrics: null },
      metric: 'greeted',
    });
    expect(all.slice(metrics.length).map((l) => l.metric)).toEqual(['greeted', 'http_reqs']);
  });

  it('records every sample of a run, tags included', async () => {
    const file = join(scriptDir, 'run.jsonl');
    const r = await runTest({
      ...quiet,
      outJson: file,
      script: script(`
        import http from 'k6/http';
        import { Counter } from 'k6/metrics';
        const greeted = new Counter('greeted');
        export const options = { iterations: 3 };
        export default async function () {
          await http.asyncRequest('GET', __ENV.TARGET + '/hello', null, { tags: { step: 'hello' } });
          greeted.add(1, { who: 'world' });
        }
      `),
      env: { TARGET: target.url },
    });
    expect(r.exitCode).toBe(EXIT.ok);
    const all = lines(file);
    const names = all.filter((l) => l.type === 'Metric').map((l) => l.metric);
    expect(names).toContain('http_req_duration');
    expect(names).toContain('greeted');
    const points = (metric: string) => all.filter((l) => l.type === 'Point' && l.metric === metric);
    expect(points('http_reqs')).toHaveLength(3);
    expect(points('greeted')).toHaveLength(3);
    expect(points('greeted')[0].data.tags).toMatchObject({ who: 'world', scenario: 'default' });
    expect(points('http_req_duration')[0].data.tags).toMatchObject({ step: 'hello', status: '200' });
    expect(Date.parse(points('http_reqs')[0].data.time)).toBeGreaterThan(Date.now() - 120_000);
  });

  it("has vus and vus_max once a second with the test's tags, as k6's scheduler emits them", async () => {
    const file = join(scriptDir, 'vus.jsonl');
    const r = await runTest({
      ...quiet,
      outJson: file,
      tags: { testid: 'vus-points' },
      script: script(`
        import { sleep } from 'k6';
        export const options = { vus: 3, duration: '2500ms', tags: { team: 'sre' } };
        export default async function () { await sleep(0.1); }
      `),
    });
    expect(r.exitCode).toBe(EXIT.ok);
    const all = lines(file);
    for (const metric of ['vus', 'vus_max']) {
      const points = all.filter((l) => l.type === 'Point' && l.metric === metric);
      // seconds 1 and 2 of a 2.5 s test, and the tick it ends in may make 3
      expect(points.length, metric).toBeGreaterThanOrEqual(2);
      expect(points.length, metric).toBeLessThanOrEqual(3);
      expect(points[0].data.value, metric).toBe(3);
      // the command line's tags in place of the script's, as k6 v0.47 tags them
      expect(points[0].data.tags, metric).toEqual({ testid: 'vus-points' });
    }
  });

  it('refuses a file it cannot create with exit code 104, naming it, before any request', async () => {
    const before = target.hits;
    const file = join(scriptDir, 'no-such-folder', 'out.jsonl');
    const r = await runTest({
      ...quiet,
      outJson: file,
      script: script(`
        import http from 'k6/http';
        export const options = { iterations: 1 };
        export default async function () { await http.asyncRequest('GET', __ENV.TARGET); }
      `),
      env: { TARGET: target.url },
    });
    expect(r.exitCode).toBe(EXIT.invalidConfig);
    expect(r.error).toContain(`json (${file})`);
    expect(r.error).toMatch(/ENOENT/);
    expect(target.hits).toBe(before);
    expect(existsSync(file)).toBe(false);
  });
});
