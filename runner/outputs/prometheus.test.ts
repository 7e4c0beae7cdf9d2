import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../index.ts';
import { quiet, script, useTarget } from '../test-fixtures/target.ts';
import { PrometheusOutput } from './prometheus.ts';

/** `-o prometheus`: the live /metrics endpoint, with k6 remote-write names, kept up a while after the test. */

const target = useTarget();

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as { port: number };
  s.close();
  await once(s, 'close');
  return port;
}

describe('the prometheus output', () => {
  it('serves the exposition on /metrics only, and keeps serving it for lingerMs after the test', async () => {
    let text = 'k6_x_total 1\n';
    const out = new PrometheusOutput({ host: '127.0.0.1', port: 0, lingerMs: 300 }, () => text);
    expect(out.needs.tagSeries).toBe(true);
    await out.start();
    const url = out.url as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(out.description).toBe(`prometheus (${url})`);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4');
    expect(await res.text()).toBe('k6_x_total 1\n');
    expect((await fetch(url.replace('/metrics', '/'))).status).toBe(404);
    const stopped = out.stop();
    text = 'k6_x_total 2\n';
    expect(await (await fetch(url)).text()).toBe('k6_x_total 2\n');
    await stopped;
    await expect(fetch(url)).rejects.toThrow();
  });

  it('exposes live metrics with the names of k6 remote write', async () => {
    const port = await freePort();
    let last = '';
    let running = true;
    const scraping = (async () => {
      while (running) {
        try {
          last = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        } catch {
          // not up yet, or closed
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const r = await runTest({
      ...quiet,
      script: script(`
        import http from 'k6/http';
        export const options = { iterations: 3 };
        export default async function () { await http.asyncRequest('GET', __ENV.TARGET + '/hello', null, { tags: { step: 'hello' } }); }
      `),
      env: { TARGET: target.url },
      // the last scrapes, during the linger, see the final values
      prometheus: { host: '127.0.0.1', port, lingerMs: 2000 },
    });
    running = false;
    await scraping;
    expect(r.exitCode).toBe(EXIT.ok);
    const text = last;
    expect(text).toMatch(/^k6_http_reqs_total\{.*step="hello".*\} 3$/m);
    expect(text).toMatch(/^k6_http_req_duration_p99\{.*step="hello".*\} 0\.\d+/m);
    expect(text).toMatch(/^k6_http_req_failed_rate\{.*\} 0$/m);
    expect(text).toMatch(/^k6_vus_max 1$/m);
    expect(text).not.toMatch(/url="/);
  });

  it('refuses an address in use with exit code 104, naming it, before any request', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    const before = target.hits;
    try {
      const r = await runTest({
        ...quiet,
        script: script(`
          import http from 'k6/http';
          export const options = { iterations: 1 };
          export default async function () { await http.asyncRequest('GET', __ENV.TARGET); }
        `),
        env: { TARGET: target.url },
        prometheus: { host: '127.0.0.1', port },
      });
      expect(r.exitCode).toBe(EXIT.invalidConfig);
      expect(r.error).toContain(`prometheus (127.0.0.1:${port})`);
      expect(r.error).toMatch(/EADDRINUSE/);
      expect(target.hits).toBe(before);
    } finally {
      taken.close();
    }
  });
});
