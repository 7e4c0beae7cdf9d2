import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personAt } from '../../model/population.ts';
import { serve } from '../../test/support/listen.ts';
import { loadCapacity } from '../capacity.ts';
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
