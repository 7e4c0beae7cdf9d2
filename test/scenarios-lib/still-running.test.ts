import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../../runner/index.ts';

/**
 * The journey's retry of a request the service is still running (IDEMPOTENCY=on answers a repeat
 * of a running request 409 request_in_progress, Retry-After 1): the registrant comes back for the
 * answer, where any other 409 is the rules' answer. Against a loopback server that plays the
 * service's two answers, on the embedded runner.
 */

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

const SCRIPT = `
import { check } from 'k6';
import { callStep } from '${here('../../scenarios/lib/journey.ts')}';
export const options = { iterations: 1, vus: 1 };
const retry = { attempts: 3, baseBackoffS: 0.05, maxBackoffS: 0.05, jitter: 'none' };
export default async function () {
  const call = (path) =>
    callStep({ step: 'join_wave', method: 'POST', url: __ENV.BASE_URL + path, ok: [201], answers: [409], retry });
  const running = await call('/still-running');
  const full = await call('/wave-full');
  check(null, {
    'still running: came back for the answer': () => running.outcome === 'continued' && running.attempts === 2,
    'wave full: the rules answered at once': () =>
      full.outcome === 'rejected' && full.reason === 'wave_full' && full.attempts === 1,
  });
}
`;

let server: Server;
const seen: Record<string, string[]> = {};

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '';
    const key = String(req.headers['idempotency-key'] ?? '');
    seen[path] = [...(seen[path] ?? []), key];
    const error = (code: string, retryAfter?: string) => {
      res.writeHead(409, {
        'content-type': 'application/json',
        ...(retryAfter ? { 'retry-after': retryAfter } : {}),
      });
      res.end(JSON.stringify({ error: { code, message: code } }));
    };
    if (path === '/wave-full') return error('wave_full');
    if ((seen[path] ?? []).length === 1) return error('request_in_progress', '1');
    res.writeHead(201, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
}, 10_000);
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
});

describe('a request the service is still running', () => {
  it('is asked again with the same key after its Retry-After, and another 409 is not', async () => {
    const script = join(mkdtempSync(join(tmpdir(), 'gelombang-still-running-')), 'still-running.js');
    writeFileSync(script, SCRIPT);
    const { port } = server.address() as AddressInfo;
    const r = await runTest({
      script,
      env: { BASE_URL: `http://127.0.0.1:${port}` },
      quiet: true,
      progress: 'none',
      workers: 1,
    });
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(EXIT.ok);
    const checks = r.summary?.root_group.checks ?? [];
    expect(checks.map((c) => [c.name, c.passes, c.fails])).toEqual([
      ['still running: came back for the answer', 1, 0],
      ['wave full: the rules answered at once', 1, 0],
    ]);
    // The same key both times: the service answers the first request's answer, never runs it twice.
    const keys = seen['/still-running'] ?? [];
    expect(keys).toHaveLength(2);
    expect(keys[0]).not.toBe('');
    expect(keys[1]).toBe(keys[0]);
  }, 30_000);
});
