import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runTest } from '../index.ts';
import { connectionCountingServer, perVuScript } from '../test-fixtures/connections.ts';
import { selfSignedCert } from '../test-fixtures/self-signed.ts';

/**
 * k6/http's request phases and byte counters as a script and the summary see them, through the
 * runner's own client: https handshakes, duration = sending + waiting + receiving, real bytes.
 */

const dir = mkdtempSync(join(tmpdir(), 'gelombang-http-test-'));
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

function script(name: string, body: string): string {
  const file = join(dir, `${name}.ts`);
  writeFileSync(file, body);
  return file;
}

const run = (file: string, target: string) =>
  runTest({ script: file, env: { TARGET: target }, quiet: true, progress: 'none', workers: 1 });

describe('k6/http timings and data', () => {
  it('https: tls_handshaking on the first request of a connection only; duration is the sum of three phases', async () => {
    const { key, cert } = selfSignedCert();
    const port = await listen(createHttpsServer({ key, cert }, (_req, res) => res.end('secure')));
    const r = await run(
      script(
        'https',
        `
        import { check } from 'k6';
        import http from 'k6/http';
        export const options = {
          insecureSkipTLSVerify: true,
          scenarios: { once: { executor: 'per-vu-iterations', vus: 1, iterations: 1 } },
        };
        export default async function () {
          const a = await http.asyncRequest('GET', __ENV.TARGET);
          const b = await http.asyncRequest('GET', __ENV.TARGET);
          const sum = (t) => t.sending + t.waiting + t.receiving;
          check(null, {
            'bodies': () => a.body === 'secure' && b.body === 'secure',
            'status_text as k6 gives it': () => a.status_text === '200 OK',
            'first: connect and handshake': () => a.timings.connecting > 0 && a.timings.tls_handshaking > 0,
            'second: reused': () => b.timings.connecting === 0 && b.timings.tls_handshaking === 0,
            'duration': () => a.timings.duration === sum(a.timings) && b.timings.duration === sum(b.timings),
          });
        }
      `,
      ),
      `https://127.0.0.1:${port}/`,
    );
    expect(r.error).toBeUndefined();
    const checks = r.summary?.metrics.checks?.values ?? {};
    expect({ passes: checks.passes, fails: checks.fails }).toEqual({ passes: 5, fails: 0 });
    const tls = r.summary?.metrics.http_req_tls_handshaking?.values ?? {};
    expect(tls.max).toBeGreaterThan(0);
    expect(tls.min).toBe(0);
  });

  it('an untrusted certificate fails with k6 code 1310 unless insecureSkipTLSVerify', async () => {
    const { key, cert } = selfSignedCert();
    const port = await listen(createHttpsServer({ key, cert }, (_req, res) => res.end('secure')));
    const r = await run(
      script(
        'untrusted',
        `
        import { check } from 'k6';
        import http from 'k6/http';
        export const options = { iterations: 1 };
        export default async function () {
          const res = await http.asyncRequest('GET', __ENV.TARGET);
          check(res, { 'x509 unknown authority': (x) => x.status === 0 && x.error_code === 1310 });
        }
      `,
      ),
      `https://127.0.0.1:${port}/`,
    );
    expect(r.summary?.metrics.checks?.values.passes).toBe(1);
  });

  it('data_sent and data_received are the bytes on the wire', async () => {
    const seen = { in: 0, out: 0 };
    const response =
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{"hello":"world"}';
    const port = await listen(
      createServer((socket) => {
        let pending = Buffer.alloc(0);
        socket.on('data', (d: Buffer) => {
          seen.in += d.length;
          pending = Buffer.concat([pending, d]);
          for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
            const length = Number(
              /\r\ncontent-length: *(\d+)/i.exec(pending.subarray(0, end).toString())?.[1] ?? 0,
            );
            if (pending.length < end + 4 + length) return;
            pending = pending.subarray(end + 4 + length);
            socket.write(response);
            seen.out += response.length;
          }
        });
      }),
    );
    const r = await run(
      script(
        'bytes',
        `
        import http from 'k6/http';
        export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 2, iterations: 3 } } };
        export default async function () {
          await http.asyncRequest('GET', __ENV.TARGET + '/hello?x=1', null, { headers: { 'X-Step': 'hello' } });
          await http.asyncRequest('POST', __ENV.TARGET + '/form', { nik: '3174', name: 'Sari Dewi' });
        }
      `,
      ),
      `http://127.0.0.1:${port}`,
    );
    expect(r.error).toBeUndefined();
    expect(r.summary?.metrics.http_reqs?.values.count).toBe(12);
    expect(r.summary?.metrics.data_sent?.values.count).toBe(seen.in);
    expect(r.summary?.metrics.data_received?.values.count).toBe(seen.out);
  });

  it("each VU keeps its own connections, as k6's Transport per VU: reused across its iterations, never another VU's", async () => {
    const counting = await connectionCountingServer();
    servers.push(counting.server);
    const r = await run(perVuScript(dir), counting.url);
    expect(r.error).toBeUndefined();
    expect(r.summary?.metrics.http_reqs?.values.count).toBe(12);
    expect(r.summary?.metrics.checks?.values).toMatchObject({ passes: 6, fails: 0 });
    expect(counting.connections()).toBe(2);
  });
});
