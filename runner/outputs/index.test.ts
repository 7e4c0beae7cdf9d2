import { describe, expect, it } from 'vitest';
import { EXIT, type MetricsView, runTest } from '../index.ts';
import { quiet, script, useTarget, values } from '../test-fixtures/target.ts';
import type { Output } from './index.ts';

/** How runTest drives any output: started once the metrics are known, sampled as it runs, always stopped. */

const target = useTarget();

const hello = () =>
  script(`
    import http from 'k6/http';
    import { Counter } from 'k6/metrics';
    const greeted = new Counter('greeted');
    export const options = { scenarios: { s: { executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s', duration: '1s', preAllocatedVUs: 2 } } };
    export default async function () {
      await http.asyncRequest('GET', __ENV.TARGET + '/hello', null, { tags: { step: 'hello' } });
      greeted.add(1);
    }
  `);

function recorder(needs?: Output['needs']) {
  const calls: string[] = [];
  const samples: Array<{ elapsedMs: number; requests: number; byStep?: unknown }> = [];
  const out: Output = {
    description: 'recorder',
    needs,
    start(metrics) {
      calls.push(`start:${metrics.has('greeted')}`);
    },
    onSample(metrics: MetricsView, elapsedMs) {
      if (calls.at(-1) !== 'sample') calls.push('sample');
      samples.push({
        elapsedMs,
        requests: metrics.counter('http_reqs'),
        byStep: needs?.tagSeries ? metrics.counterBy('http_reqs', ['step']) : undefined,
      });
    },
    async stop() {
      calls.push('stop');
    },
  };
  return { out, calls, samples };
}

describe('outputs', () => {
  it('starts an output with the script metrics defined, samples it every 250 ms, stops it once', async () => {
    const rec = recorder({ tagSeries: true });
    const r = await runTest({ ...quiet, script: hello(), env: { TARGET: target.url }, outputs: [rec.out] });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(rec.calls).toEqual(['start:true', 'sample', 'stop']);
    // a 1 s scenario: a handful of samples, in order, counts never going back
    expect(rec.samples.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < rec.samples.length; i++) {
      expect(rec.samples[i]?.elapsedMs).toBeGreaterThan(rec.samples[i - 1]?.elapsedMs as number);
      expect(rec.samples[i]?.requests).toBeGreaterThanOrEqual(rec.samples[i - 1]?.requests as number);
    }
    expect(rec.samples.at(-1)?.byStep).toEqual([{ tags: { step: 'hello' }, value: 11 }]);
    // the final view agrees with the summary
    expect(r.metrics.counter('http_reqs')).toBe(values(r, 'http_reqs').count);
    expect(r.metrics.counterBy('greeted', [])).toEqual([{ tags: {}, value: 11 }]);
  });

  it("samples the workers' metrics as they are at the sample, so an even load counts evenly in every interval", async () => {
    // 40 iterations a second for 4 s on two worker threads, read in half-second intervals as the
    // rehearsal recorder reads them: each worker also sends its metrics every second on its own
    // clock, and sampled on that alone every other interval counted nothing and the next twice.
    const counts: number[] = [];
    let last = 0;
    let boundary = 500;
    const out: Output = {
      description: 'intervals',
      onSample(metrics: MetricsView, elapsedMs) {
        if (elapsedMs < boundary) return;
        boundary += 500;
        const now = metrics.counter('iterations');
        counts.push(now - last);
        last = now;
      },
    };
    const r = await runTest({
      ...quiet,
      script: script(`
        export const options = { scenarios: { s: { executor: 'constant-arrival-rate', rate: 40, timeUnit: '1s', duration: '4s', preAllocatedVUs: 4 } } };
        export default function () {}
      `),
      outputs: [out],
    });
    expect(r.exitCode).toBe(EXIT.ok);
    // The whole intervals of the load (not the first nor the last): 20 iterations each, give or take a tick.
    const inner = counts.slice(1, 7);
    expect(inner).toHaveLength(6);
    expect(
      inner.filter((n) => n === 0),
      `intervals: ${counts.join(', ')}`,
    ).toHaveLength(0);
  });

  it('keeps no per-tag series unless an output needs them', async () => {
    const rec = recorder();
    const r = await runTest({ ...quiet, script: hello(), env: { TARGET: target.url }, outputs: [rec.out] });
    expect(r.metrics.counter('http_reqs')).toBe(11);
    expect(() => r.metrics.counterBy('http_reqs', ['step'])).toThrow(/no per-tag series/);
  });

  it('stops the outputs of a test that ends early', async () => {
    const rec = recorder();
    const r = await runTest({
      ...quiet,
      script: script(`
        import exec from 'k6/execution';
        export const options = { vus: 1, duration: '20s' };
        export default async function () { exec.test.abort('enough'); }
      `),
      outputs: [rec.out],
    });
    expect(r.exitCode).toBe(EXIT.scriptAborted);
    expect(rec.calls.at(0)).toBe('start:false');
    expect(rec.calls.at(-1)).toBe('stop');
  });

  it('ends with exit code 104 naming the output when one cannot start, stopping those that did', async () => {
    const before = target.hits;
    const first = recorder();
    const broken: Output = {
      description: 'broken output',
      start() {
        throw new Error('no room');
      },
    };
    const r = await runTest({
      ...quiet,
      script: hello(),
      env: { TARGET: target.url },
      outputs: [first.out, broken],
    });
    expect(r.exitCode).toBe(EXIT.invalidConfig);
    expect(r.error).toBe('broken output: no room');
    expect(first.calls).toEqual(['start:true', 'stop']);
    expect(target.hits).toBe(before);
  });
});
