import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CapacityFileError } from '../../model/capacity.ts';
import { personAt } from '../../model/population.ts';
import { serve } from '../../test/support/listen.ts';
import { loadCapacity, loadMockCapacity } from '../capacity.ts';
import { MOCK_LIMITS } from '../station/bounds.ts';
import { dapodikResponseSchema, dtksResponseSchema, dukcapilResponseSchema } from './api.ts';
import { createMinistryApp } from './server.ts';

let url: string;
let close: () => Promise<void>;
const token = 'test-admin';

beforeAll(async () => {
  const capacity = loadCapacity(new URL('../capacity.unlimited.json', import.meta.url));
  const { app } = createMinistryApp({ capacity, adminToken: token, seed: 2020 });
  ({ url, close } = await serve(app));
});
afterAll(() => close());

const verify = (body: unknown) =>
  fetch(`${url}/dukcapil/v1/nik-verifications`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('the ministry mock answers from the synthetic population', () => {
  it('verifies a known person and reports mismatches per field, in the contract shape', async () => {
    const p = personAt(2020, 11);
    const ok = dukcapilResponseSchema.parse(
      await (
        await verify({ nik: p.nik, fullName: p.registeredName.toLowerCase(), dateOfBirth: p.dateOfBirth })
      ).json(),
    );
    expect(ok).toEqual({
      nik: p.nik,
      found: p.inDukcapil,
      match: { fullName: p.inDukcapil, dateOfBirth: p.inDukcapil },
      citizen: p.inDukcapil && p.citizen,
    });
    const wrong = dukcapilResponseSchema.parse(
      await (await verify({ nik: p.nik, fullName: 'Budi Nobody', dateOfBirth: p.dateOfBirth })).json(),
    );
    expect(wrong.match.fullName).toBe(false);
  });

  it('does not know a NIK outside the population, nor the people it is told not to know', async () => {
    const p = personAt(2020, 5);
    const other = `${p.nik.slice(0, 6)}${p.nik.slice(6, 8) === '01' ? '02' : '01'}${p.nik.slice(8)}`;
    expect(
      dukcapilResponseSchema.parse(
        await (await verify({ nik: other, fullName: p.fullName, dateOfBirth: p.dateOfBirth })).json(),
      ).found,
    ).toBe(false);
    let unknown = 0;
    for (let i = 0; i < 300; i++) {
      const q = personAt(2020, i);
      const r = dukcapilResponseSchema.parse(
        await (await verify({ nik: q.nik, fullName: q.registeredName, dateOfBirth: q.dateOfBirth })).json(),
      );
      expect(r.found).toBe(q.inDukcapil);
      if (!r.found) unknown++;
    }
    // DEFAULT_SHARES.unknownNik is 3 %: between 1 and 25 of 300.
    expect(unknown).toBeGreaterThan(0);
    expect(unknown).toBeLessThan(25);
  });

  it('answers Dapodik and DTKS lookups as the population says', async () => {
    for (let i = 0; i < 60; i++) {
      const p = personAt(2020, i);
      const d = dapodikResponseSchema.parse(
        await (await fetch(`${url}/dapodik/v1/enrolments/${p.nik}`)).json(),
      );
      expect(d.enrolled).toBe(p.enrolledInEducation);
      const t = dtksResponseSchema.parse(await (await fetch(`${url}/dtks/v1/recipients/${p.nik}`)).json());
      expect(t.recipient).toBe(p.dtksRecipient);
    }
  });

  it('refuses bad requests with the field', async () => {
    const r = await verify({ nik: '123', fullName: 'x', dateOfBirth: '1990-01-01' });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: { code: 'invalid_field', field: 'nik' } });
    const extra = await verify({
      nik: '3171011501900001',
      fullName: 'x',
      dateOfBirth: '1990-01-01',
      income: 5,
    });
    expect(extra.status).toBe(400);
    const malformed = await fetch(`${url}/dukcapil/v1/nik-verifications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{',
    });
    expect(await malformed.json()).toMatchObject({ error: { code: 'malformed_json' } });
  });
});

describe('the admin endpoint', () => {
  const patch = (body: unknown, auth = `Bearer ${token}`) =>
    fetch(`${url}/admin/config`, {
      method: 'PATCH',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('needs the admin token', async () => {
    expect((await fetch(`${url}/admin/config`)).status).toBe(401);
    expect((await patch({ dukcapil: { queue: 1 } }, 'Bearer wrong')).status).toBe(403);
  });

  it('refuses invalid changes naming the field, and applies valid ones live', async () => {
    const bad = await patch({ dukcapil: { queue: -1 } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'invalid_field', field: 'dukcapil.queue' } });
    const unknown = await patch({ dukcapil: { speed: 'fast' } });
    expect(unknown.status).toBe(400);
    expect((await patch({ dtks: { errorRate: 1, errorStatus: 503 } })).status).toBe(200);
    const failing = await fetch(`${url}/dtks/v1/recipients/${personAt(2020, 1).nik}`);
    expect(failing.status).toBe(503);
    expect((await patch({ dtks: { errorRate: 0 } })).status).toBe(200);
    expect((await fetch(`${url}/dtks/v1/recipients/${personAt(2020, 1).nik}`)).status).toBe(200);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/station_config_changes_total\{dependency="dtks"\} [1-9]/);
    expect(metrics).toMatch(/station_rejections_total\{dependency="dtks",reason="injected_error"\} 1/);
  });
});

describe('the admin endpoint bounds every duration to what real timers can honour', () => {
  const patch = (body: unknown) =>
    fetch(`${url}/admin/config`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const config = async () =>
    (await fetch(`${url}/admin/config`, { headers: { authorization: `Bearer ${token}` } })).json();

  it.each([
    // Node's setTimeout would fire this after 1 ms: every call would time out at once.
    [
      'a timeout over the maximum',
      { dukcapil: { timeoutMs: 3_000_000_000 } },
      'dukcapil.timeoutMs',
      /maximum timeout of 600000 ms/,
    ],
    [
      'a service time over the maximum',
      {
        dapodik: {
          timeoutMs: 600_000,
          serviceTime: { distribution: 'lognormal', medianMs: 10, p99Ms: 700_000 },
        },
      },
      'dapodik.serviceTime.p99Ms',
      /maximum service time of 600000 ms/,
    ],
    [
      'a median service time beyond the timeout',
      { dtks: { timeoutMs: 5000, serviceTime: { distribution: 'lognormal', medianMs: 6000, p99Ms: 9000 } } },
      'dtks.serviceTime.medianMs',
      /6000 ms does not fit in timeoutMs \(5000 ms\)/,
    ],
    [
      'a constant service time equal to the timeout',
      { dukcapil: { timeoutMs: 400, serviceTime: { distribution: 'constant', ms: 400 } } },
      'dukcapil.serviceTime.ms',
      /every request would time out/,
    ],
  ])('refuses %s, naming the field, and changes nothing', async (_what, body, field, message) => {
    const before = await config();
    const r = await patch(body);
    expect(r.status).toBe(400);
    const error = ((await r.json()) as { error: { code: string; field: string; message: string } }).error;
    expect(error).toMatchObject({ code: 'invalid_field', field });
    expect(error.message).toMatch(message);
    expect(await config()).toEqual(before);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('accepts a slow tail beyond the timeout: a realistic fault, not an impossible station', async () => {
    const r = await patch({
      dtks: { timeoutMs: 5000, serviceTime: { distribution: 'lognormal', medianMs: 0, p99Ms: 8000 } },
    });
    expect(r.status).toBe(200);
    expect((await patch({ dtks: { serviceTime: { distribution: 'constant', ms: 0 } } })).status).toBe(200);
  });

  it('refuses the same at start: a capacity file out of bounds names the field', () => {
    const capacity = loadCapacity(new URL('../capacity.unlimited.json', import.meta.url));
    capacity.dukcapil.timeoutMs = MOCK_LIMITS.timeoutMs + 1;
    capacity.email.deliveryDelay = { distribution: 'constant', ms: MOCK_LIMITS.deliveryDelayMs + 1 };
    const file = join(mkdtempSync(join(tmpdir(), 'gelombang-bounds-')), 'capacity.json');
    writeFileSync(file, JSON.stringify(capacity));
    expect(() => loadMockCapacity(file)).toThrow(CapacityFileError);
    expect(() => loadMockCapacity(file)).toThrow(/dukcapil\.timeoutMs: .*email\.deliveryDelay\.ms: /);
  });

  it('answers bodies and paths that do not decode with a 4xx naming the problem', async () => {
    const send = (path: string, headers: Record<string, string>, body?: Buffer) =>
      new Promise<{ status: number; body: { error: { code: string; field?: string } } }>(
        (resolve, reject) => {
          const u = new URL(url);
          const req = request({ host: u.hostname, port: u.port, method: 'PATCH', path, headers }, (res) => {
            let text = '';
            res.on('data', (c) => {
              text += c;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          });
          req.on('error', reject);
          req.end(body);
        },
      );
    const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const plain = Buffer.from('{"dtks":{"errorRate":0}}');
    expect(await send('/admin/config', { ...h, 'content-encoding': 'gzip' }, plain)).toMatchObject({
      status: 400,
      body: { error: { code: 'malformed_body', field: 'content-encoding' } },
    });
    expect(await send('/admin/config', { ...h, 'content-encoding': 'x-snappy' }, plain)).toMatchObject({
      status: 415,
      body: { error: { code: 'unsupported_encoding', field: 'content-encoding' } },
    });
    expect((await send('/admin/config', { ...h, 'content-encoding': 'gzip' }, gzipSync(plain))).status).toBe(
      200,
    );
    const r = await fetch(`${url}/dapodik/v1/enrolments/%E0%A4%A`);
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: { code: 'malformed_path', field: 'path' } });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});

describe('the ministry process', () => {
  it('refuses invalid population shares at start, naming the variable', async () => {
    const { spawnSync } = await import('node:child_process');
    const { tsNodeArgs } = await import('../../scripts/node-ts.ts');
    const r = spawnSync(process.execPath, [...tsNodeArgs(), new URL('./main.ts', import.meta.url).pathname], {
      env: { ...process.env, PORT: '0', POPULATION_SHARES: '{"unknownNik":2}' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/POPULATION_SHARES\.unknownNik: Too big/);
  });
});
