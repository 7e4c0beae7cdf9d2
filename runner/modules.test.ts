import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTest } from './index.ts';

/**
 * The k6 modules seen from a script: open() and SharedArray in the init context, k6's error codes
 * for refused connections and timeouts, responseType 'none', multipart bodies, and --out json.
 */

let server: Server;
let target = '';
let closedPort = 0;
let lastUpload = '';
const dir = mkdtempSync(join(tmpdir(), 'gelombang-modules-test-'));

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/slow') {
      setTimeout(() => res.end('late'), 3000).unref();
      return;
    }
    if (req.url === '/upload') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        lastUpload = `${req.headers['content-type']}\n${Buffer.concat(chunks).toString('latin1')}`;
        res.end('ok');
      });
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // a port nobody listens on: bind one, then close it
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  closedPort = (probe.address() as AddressInfo).port;
  probe.close();
  await once(probe, 'close');
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('k6 modules in a script', () => {
  it('open, SharedArray, error codes, responseType none, multipart, --out json', async () => {
    writeFileSync(join(dir, 'people.json'), JSON.stringify([{ name: 'Sari' }, { name: 'Budi' }]));
    writeFileSync(join(dir, 'ktp.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]));
    const file = join(dir, 'modules.ts');
    writeFileSync(
      file,
      `
      import { check } from 'k6';
      import http from 'k6/http';
      import { SharedArray } from 'k6/data';
      const people = new SharedArray('people', () => JSON.parse(open('./people.json')));
      const photo = open('./ktp.jpg', 'b');
      export const options = { scenarios: { once: { executor: 'per-vu-iterations', vus: 1, iterations: 1 } } };
      export default async function () {
        const refused = await http.asyncRequest('GET', 'http://127.0.0.1:${closedPort}/');
        const late = await http.asyncRequest('GET', __ENV.TARGET + '/slow', null, { timeout: '200ms' });
        const quiet = await http.asyncRequest('GET', __ENV.TARGET + '/', null, { responseType: 'none' });
        const upload = await http.asyncRequest('POST', __ENV.TARGET + '/upload', {
          field: 'x', photo: http.file(photo, 'ktp.jpg', 'image/jpeg'),
        });
        check(null, {
          'shared array': () => people.length === 2 && people[1].name === 'Budi',
          'refused 1212': () => refused.error_code === 1212 && refused.status === 0,
          'timeout 1050': () => late.error_code === 1050 && late.status === 0,
          'no body': () => quiet.status === 200 && quiet.body === null,
          'uploaded': () => upload.status === 200,
        });
      }
    `,
    );
    const out = join(dir, 'samples.jsonl');
    const r = await runTest({
      script: file,
      env: { TARGET: target },
      quiet: true,
      progress: 'none',
      workers: 1,
      outJson: out,
    });
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(0);
    const checks = r.summary?.metrics.checks?.values ?? {};
    expect({ passes: checks.passes, fails: checks.fails }).toEqual({ passes: 5, fails: 0 });
    // k6 counts the failed requests in http_req_failed: the refused and the timed-out one
    expect(r.summary?.metrics.http_req_failed?.values.passes).toBe(2);
    expect(lastUpload).toMatch(/^multipart\/form-data; boundary=/);
    expect(lastUpload).toContain('filename="ktp.jpg"');
    expect(lastUpload).toContain('Content-Type: image/jpeg');

    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; metric: string; data: { tags: Record<string, string> } });
    const reqs = lines.filter((l) => l.type === 'Point' && l.metric === 'http_reqs');
    expect(reqs).toHaveLength(4);
    expect(reqs.map((l) => l.data.tags.error_code ?? '').sort()).toEqual(['', '', '1050', '1212']);
  }, 30_000);
});
