import express, { type Request, type Response } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { serve } from '../../test/support/listen.ts';
import { MINISTRY_PATHS } from '../ministry/api.ts';
import { DependencyError, parseRetryAfter } from './dependency-error.ts';
import { createServiceMetrics } from './metrics.ts';
import { MinistryClient } from './ministry-client.ts';

/**
 * The ministry client against a scripted fake of the ministries' HTTP interface: each test queues
 * the answers the fake gives, then checks what the client made of them (and how often it asked).
 */

const NIK = '3171054506900001';
type Answer = (res: Response) => void;
let script: Answer[] = [];
let calls = 0;
let fake: { url: string; close: () => Promise<void> };

const ok =
  (body: unknown): Answer =>
  (res) =>
    void res.json(body);
const status =
  (code: number, headers: Record<string, string> = {}): Answer =>
  (res) =>
    void res
      .status(code)
      .set(headers)
      .json({ error: { code: 'busy', message: 'busy' } });
const dapodikOk = ok({ nik: NIK, enrolled: false, level: null });

beforeAll(async () => {
  const app = express();
  app.use(express.json());
  const answer = (_req: Request, res: Response) => {
    calls++;
    const next = script.shift();
    if (next) next(res);
    else res.status(500).json({ error: { code: 'unscripted', message: 'no answer scripted' } });
  };
  app.post(MINISTRY_PATHS.dukcapil, answer);
  app.get(MINISTRY_PATHS.dapodik, answer);
  app.get(MINISTRY_PATHS.dtks, answer);
  fake = await serve(app);
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(() => {
  script = [];
  calls = 0;
});

const client = (retries: number, timeoutMs = 2000) => {
  const metrics = createServiceMetrics();
  return { metrics, ministry: new MinistryClient({ baseUrl: fake.url, timeoutMs, retries, metrics }) };
};

async function outcomes(metrics: ReturnType<typeof createServiceMetrics>) {
  const m = await metrics.dependencyDuration.get();
  const counts: Record<string, number> = {};
  for (const v of m.values) {
    if (v.metricName?.endsWith('_count')) counts[`${v.labels.dependency}:${v.labels.outcome}`] = v.value;
  }
  return counts;
}

async function failure(p: Promise<unknown>): Promise<DependencyError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DependencyError);
  return err as DependencyError;
}

describe('MinistryClient', () => {
  it('parses each ministry answer with its schema', async () => {
    const { ministry, metrics } = client(0);
    script = [
      ok({ nik: NIK, found: true, match: { fullName: true, dateOfBirth: true }, citizen: true }),
      dapodikOk,
      ok({ nik: NIK, recipient: true, programmes: ['PKH'] }),
    ];
    expect((await ministry.verifyNik({ nik: NIK, fullName: 'Siti', dateOfBirth: '1990-06-05' })).found).toBe(
      true,
    );
    expect((await ministry.enrolment(NIK)).enrolled).toBe(false);
    expect((await ministry.recipient(NIK)).programmes).toEqual(['PKH']);
    expect(await outcomes(metrics)).toEqual({ 'dukcapil:ok': 1, 'dapodik:ok': 1, 'dtks:ok': 1 });
  });

  it('retries 429, 503 and 504 up to MINISTRY_RETRIES, waiting as Retry-After says', async () => {
    const { ministry, metrics } = client(3);
    script = [
      status(429, { 'retry-after': '1' }),
      status(503, { 'retry-after': '0' }),
      status(504),
      dapodikOk,
    ];
    const started = Date.now();
    expect(await ministry.enrolment(NIK)).toEqual({ nik: NIK, enrolled: false, level: null });
    expect(calls).toBe(4);
    // A lower bound only: Retry-After: 1 was honoured (the machine may be slower, never faster).
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(await outcomes(metrics)).toEqual({ 'dapodik:rejected': 2, 'dapodik:timeout': 1, 'dapodik:ok': 1 });
  });

  it('gives up after the retries, passing on the status and the Retry-After advice', async () => {
    const { ministry } = client(1);
    script = [status(503, { 'retry-after': '0' }), status(429, { 'retry-after': '7' })];
    const err = await failure(ministry.recipient(NIK));
    expect(calls).toBe(2);
    expect(err).toMatchObject({ dependency: 'dtks', outcome: 'rejected', status: 429, retryAfterS: 7 });
  });

  it('never retries without MINISTRY_RETRIES, and gives no Retry-After advice it did not get', async () => {
    const { ministry } = client(0);
    script = [status(503)];
    const err = await failure(ministry.enrolment(NIK));
    expect(calls).toBe(1);
    expect(err.retryAfterS).toBeUndefined();
  });

  it('does not retry a 500, a body that breaks the contract, or its own timeout', async () => {
    const { ministry, metrics } = client(3, 150);
    script = [status(500)];
    expect(await failure(ministry.enrolment(NIK))).toMatchObject({ outcome: 'error', status: 500 });
    expect(calls).toBe(1);

    script = [ok({ nik: NIK, enrolled: 'maybe' })];
    expect(await failure(ministry.enrolment(NIK))).toMatchObject({ outcome: 'error' });
    expect(calls).toBe(2);

    script = [(res) => void setTimeout(() => res.json({ nik: NIK, enrolled: false, level: null }), 1500)];
    const timedOut = await failure(ministry.enrolment(NIK));
    expect(timedOut).toMatchObject({ dependency: 'dapodik', outcome: 'timeout' });
    expect(timedOut.message).toContain('150 ms');
    expect(calls).toBe(3);
    expect(await outcomes(metrics)).toEqual({ 'dapodik:error': 2, 'dapodik:timeout': 1 });
  });

  it('answers "error" when the ministry cannot be reached at all', async () => {
    const metrics = createServiceMetrics();
    // Port 9 (discard) on loopback: nothing listens there in a test environment.
    const ministry = new MinistryClient({
      baseUrl: 'http://127.0.0.1:9',
      timeoutMs: 2000,
      retries: 2,
      metrics,
    });
    expect(await failure(ministry.recipient(NIK))).toMatchObject({ dependency: 'dtks', outcome: 'error' });
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2020-04-11T12:00:00Z');
  it.each([
    [null, undefined],
    ['', undefined],
    ['soon', undefined],
    ['-3', undefined],
    ['0', 0],
    [' 12 ', 12],
    ['Sat, 11 Apr 2020 12:00:30 GMT', 30],
    ['Sat, 11 Apr 2020 11:00:00 GMT', 0],
  ] as const)('%j -> %s', (header, seconds) => {
    expect(parseRetryAfter(header, now)).toBe(seconds);
  });
});
