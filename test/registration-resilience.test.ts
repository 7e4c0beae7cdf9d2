import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ErrorBody, RegistrantClient } from '../scripts/registrant-client.ts';
import { type RunningStack, startStack } from '../scripts/stack.ts';
import { people } from './support/population.ts';

/**
 * What must hold when things go wrong: the quota under a race between processes, an acknowledged
 * registration across SIGKILL, and a dependency failing (refused cleanly, nothing half-stored).
 */

const pool = people(2020, 200_000);
let n = 0;
const newClient = (stack: RunningStack) =>
  new RegistrantClient(stack.urls, `res${++n}.${Date.now()}@example.test`);

async function inBatches<T>(count: number, size: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i += size) {
    out.push(...(await Promise.all(Array.from({ length: Math.min(size, count - i) }, (_, j) => fn(i + j)))));
  }
  return out;
}

describe('the quota under concurrent joins (2 processes)', () => {
  let stack: RunningStack;
  beforeAll(async () => {
    stack = await startStack({
      ports: 'auto',
      capacityFile: 'mock-services/capacity.unlimited.json',
      env: { registration: { WORKERS: '2', SCRYPT_N: '1024' } },
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('accepts exactly the quota, tells every loser wave_full, and the metrics aggregate both processes', async () => {
    const registrants = 200;
    const quota = 50;
    const clients = await inBatches(registrants, 20, async () => {
      const c = newClient(stack);
      await c.throughAssessment(pool.take());
      return c;
    });
    const created = await fetch(`${stack.urls.registration}/admin/waves`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ number: 8, quota }),
    });
    expect(created.status).toBe(201);

    const answers = await Promise.all(clients.map((c) => c.joinWave(8)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(quota);
    const losers = answers.filter((a) => a.status !== 201);
    expect(losers).toHaveLength(registrants - quota);
    for (const l of losers)
      expect((l.body as ErrorBody).error).toMatchObject({ code: 'wave_full', field: 'waveNumber' });

    const db = new Database(join(stack.dataDir, 'registration.db'), { readonly: true });
    expect(
      (db.prepare('SELECT COUNT(*) AS n FROM wave_members WHERE wave_number = 8').get() as { n: number }).n,
    ).toBe(quota);
    expect(db.prepare('SELECT joined, quota FROM waves WHERE number = 8').get()).toEqual({
      joined: quota,
      quota,
    });
    db.close();

    // Both processes served: the aggregate counts every account created, whichever process served it.
    const metrics = await (await fetch(`${stack.urls.registration}/metrics`)).text();
    const created201 = Number(
      /gelombang_funnel_stage_reached_total\{stage="registered"\} (\d+)/.exec(metrics)?.[1],
    );
    expect(created201).toBe(registrants);
    expect(metrics).toMatch(new RegExp(`gelombang_wave_places\\{wave="8",state="joined"\\} ${quota}\\b`));
  }, 120_000);
});

describe('crashes and failing dependencies (outbox mail, parallel ministry calls, one retry)', () => {
  let stack: RunningStack;
  const admin = (svc: 'ministry' | 'email', patch: unknown) =>
    fetch(`${svc === 'email' ? stack.urls.email : stack.urls.ministry}/admin/config`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(patch),
    });
  beforeAll(async () => {
    stack = await startStack({
      ports: 'auto',
      capacityFile: 'mock-services/capacity.unlimited.json',
      env: {
        registration: {
          SCRYPT_N: '1024',
          EMAIL_DELIVERY: 'outbox',
          MINISTRY_CALLS: 'parallel',
          MINISTRY_RETRIES: '1',
        },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('keeps an acknowledged registration across SIGKILL of the service', async () => {
    const c = newClient(stack);
    const person = pool.take();
    expect((await c.createAccount()).status).toBe(201);
    await c.verifyEmail(await c.verificationToken());
    await c.login();
    expect((await c.submitBiodata(person)).status).toBe(200);
    // Acknowledged, then killed with no chance to flush anything.
    const late = newClient(stack);
    expect((await late.createAccount()).status).toBe(201);
    await stack.kill('registration', 'SIGKILL');
    await stack.restart('registration');

    expect((await c.status()).body).toMatchObject({ stage: 'biodata_verified' });
    // The account acknowledged just before the kill exists, and its queued mail still goes out.
    await late.verifyEmail(await late.verificationToken());
    expect((await late.login()).status).toBe(201);
    expect((await late.status()).body).toMatchObject({ stage: 'email_verified' });
  }, 60_000);

  it('acknowledges accounts while SMTP fails and delivers their mail once it recovers', async () => {
    expect((await admin('email', { email: { errorRate: 1 } })).status).toBe(200);
    const c = newClient(stack);
    const created = await c.createAccount();
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ emailVerification: 'queued' });
    await new Promise((r) => setTimeout(r, 500));
    const metrics = await (await fetch(`${stack.urls.registration}/metrics`)).text();
    expect(metrics).toMatch(
      /gelombang_dependency_request_duration_seconds_count\{dependency="email",outcome="rejected"\} [1-9]/,
    );
    expect((await admin('email', { email: { errorRate: 0 } })).status).toBe(200);
    const token = await c.verificationToken(30_000);
    expect((await c.verifyEmail(token)).status).toBe(200);
  }, 60_000);

  it('answers 503 naming Dukcapil when it fails after its retry, and stores nothing', async () => {
    const c = newClient(stack);
    await c.createAccount();
    await c.verifyEmail(await c.verificationToken());
    await c.login();
    expect((await admin('ministry', { dukcapil: { errorRate: 1, errorStatus: 503 } })).status).toBe(200);
    const person = pool.take();
    const r = await c.submitBiodata(person);
    expect(r.status).toBe(503);
    expect((r.body as ErrorBody).error).toMatchObject({
      code: 'dependency_unavailable',
      dependency: 'dukcapil',
    });
    expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await c.status()).body).toMatchObject({ stage: 'email_verified' });
    // The metrics start afresh at the restart above: this request alone asked Dukcapil twice (one
    // retry of its 503), and asked Dapodik and DTKS at the same time (parallel calls).
    const metrics = await (await fetch(`${stack.urls.registration}/metrics`)).text();
    const calls = (dependency: string, outcome: string) =>
      Number(
        new RegExp(
          `gelombang_dependency_request_duration_seconds_count\\{dependency="${dependency}",outcome="${outcome}"\\} (\\d+)`,
        ).exec(metrics)?.[1] ?? 0,
      );
    expect(calls('dukcapil', 'rejected')).toBe(2);
    expect(calls('dapodik', 'ok')).toBe(1);
    expect(calls('dtks', 'ok')).toBe(1);
    expect((await admin('ministry', { dukcapil: { errorRate: 0 } })).status).toBe(200);
    expect((await c.submitBiodata(person)).status).toBe(200);
  }, 60_000);
});
