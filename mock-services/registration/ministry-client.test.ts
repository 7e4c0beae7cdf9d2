import express, { type Request, type Response } from 'express';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRng } from '../../model/random.ts';
import { serve } from '../../test/support/listen.ts';
import { MINISTRY_PATHS } from '../ministry/api.ts';
import { DependencyError, parseRetryAfter } from './dependency-error.ts';
import { createServiceMetrics } from './metrics.ts';
import { MinistryClient, type MinistryClientOptions, RETRY_CAP_S, retryDelayS } from './ministry-client.ts';

/**
 * The ministry client against a scripted fake of the ministries' HTTP interface: each test queues
 * the answers the fake gives, then checks what the client made of them (and how often it asked).
 */

const NIK = '3171054506900001';
type Answer = (res: Response) => void;
let script: Answer[] = [];
let calls = 0;
/** requests the fake is answering now, and the most it ever answered at once */
let inFlight = 0;
let maxInFlight = 0;
/** requests the fake holds unanswered until the test answers them */
let held: Response[] = [];
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
const dtksOk = ok({ nik: NIK, recipient: false, programmes: [] });
const dukcapilOk = ok({ nik: NIK, found: true, match: { fullName: true, dateOfBirth: true }, citizen: true });
const hold: Answer = (res) => void held.push(res);

beforeAll(async () => {
  const app = express();
  app.use(express.json());
  const answer = (_req: Request, res: Response) => {
    calls++;
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    res.once('close', () => inFlight--);
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
  inFlight = 0;
  maxInFlight = 0;
  for (const res of held) res.status(500).end();
  held = [];
});

const client = (
  retries: number,
  timeoutMs = 2000,
  guard: Omit<Partial<MinistryClientOptions>, 'baseUrl' | 'timeoutMs' | 'retries' | 'metrics'> = {},
) => {
  const metrics = createServiceMetrics();
  return {
    metrics,
    ministry: new MinistryClient({ baseUrl: fake.url, timeoutMs, retries, metrics, ...guard }),
  };
};

/** Polls until `cond` holds; a generous deadline, so a loaded machine only makes it slower. */
async function until(cond: () => boolean, what: string, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Answers the oldest request the fake holds. */
function answerHeld(answer: Answer): void {
  const res = held.shift();
  if (!res) throw new Error('no request is held');
  answer(res);
}

async function counter(
  metric: { get: () => Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

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

describe('MinistryClient with MINISTRY_BULKHEAD', () => {
  it('keeps at most the limit in flight per ministry, queues the next, refuses the one beyond', async () => {
    const { ministry, metrics } = client(0, 10_000, { bulkhead: { limit: 2, queue: 1 } });
    script = [hold, hold];
    const calls4 = [1, 2, 3, 4].map(() => ministry.enrolment(NIK));
    // Two in flight, one waiting: the fourth is refused without waiting and without asking.
    const refused = await failure(calls4[3] as Promise<unknown>);
    expect(refused).toMatchObject({ dependency: 'dapodik', outcome: 'rejected', retryAfterS: 1 });
    expect(refused.message).toContain('bulkhead full');
    await until(() => held.length === 2, 'two calls are held');

    // Another ministry has its own bulkhead.
    script.push(dtksOk);
    expect((await ministry.recipient(NIK)).recipient).toBe(false);

    script.push(hold);
    answerHeld(dapodikOk);
    await until(() => held.length === 2, 'the waiting call took the freed slot');
    answerHeld(dapodikOk);
    answerHeld(dapodikOk);
    const answers = await Promise.all(calls4.slice(0, 3));
    expect(answers.map((a) => a.enrolled)).toEqual([false, false, false]);
    // three dapodik calls and one dtks call reached the fake, never more than two dapodik at once
    expect(calls).toBe(4);
    expect(maxInFlight).toBe(2);
    expect(await counter(metrics.ministryCallsShed, { dependency: 'dapodik', reason: 'bulkhead' })).toBe(1);
    expect(await outcomes(metrics)).toEqual({ 'dapodik:ok': 3, 'dtks:ok': 1 });
  });

  it('counts the wait for a slot against MINISTRY_TIMEOUT_MS', async () => {
    let t = 0;
    const { ministry, metrics } = client(2, 5000, { bulkhead: { limit: 1, queue: 5 }, now: () => t });
    script = [hold, dapodikOk];
    const first = ministry.enrolment(NIK);
    await until(() => held.length === 1, 'the first call is held');
    const second = ministry.enrolment(NIK).then(
      () => undefined,
      (e: unknown) => e,
    );
    // The second call has spent its whole time waiting for the slot when it gets it: it is not
    // sent at all, although the ministry would have answered it at once.
    t += 5000;
    answerHeld(dapodikOk);
    expect((await first).enrolled).toBe(false);
    const waited = await second;
    expect(waited).toBeInstanceOf(DependencyError);
    expect(waited).toMatchObject({ dependency: 'dapodik', outcome: 'timeout' });
    expect((waited as Error).message).toContain('5000 ms');
    // It never reached the ministry, and our own timeout is not retried.
    expect(calls).toBe(1);
    expect(await counter(metrics.ministryCallsShed, { dependency: 'dapodik', reason: 'bulkhead' })).toBe(1);
    // Its slot was given back.
    expect((await ministry.enrolment(NIK)).enrolled).toBe(false);
    expect(calls).toBe(2);
  });

  it('with MINISTRY_BULKHEAD_QUEUE=0 refuses at once any call beyond the limit', async () => {
    const { ministry } = client(0, 10_000, { bulkhead: { limit: 1, queue: 0 } });
    script = [hold];
    const first = ministry.recipient(NIK);
    expect(await failure(ministry.recipient(NIK))).toMatchObject({ dependency: 'dtks', outcome: 'rejected' });
    await until(() => held.length === 1, 'the first call is held');
    answerHeld(dtksOk);
    expect((await first).nik).toBe(NIK);
    expect(calls).toBe(1);
  });
});

describe('MinistryClient with MINISTRY_BREAKER=on', () => {
  let t = 0;
  const now = () => t;
  beforeEach(() => {
    t = 1_000_000;
  });
  const breakerGauge = async (metrics: ReturnType<typeof createServiceMetrics>, dependency: string) =>
    counter(metrics.ministryBreakerState, { dependency });

  it('opens after failures, fails fast without asking, lets one probe through after the open time, closes on its success', async () => {
    const { ministry, metrics } = client(0, 2000, { breaker: true, now });
    expect(await breakerGauge(metrics, 'dapodik')).toBe(0);
    script = Array.from({ length: 10 }, () => status(500));
    for (let i = 0; i < 9; i++) await failure(ministry.enrolment(NIK));
    // Nine of nine failed, but fewer than ten calls decide nothing.
    expect(ministry.breakerState('dapodik')).toBe('closed');
    await failure(ministry.enrolment(NIK));
    expect(ministry.breakerState('dapodik')).toBe('open');
    expect(await breakerGauge(metrics, 'dapodik')).toBe(2);
    expect(calls).toBe(10);

    const shed = await failure(ministry.enrolment(NIK));
    expect(shed).toMatchObject({ dependency: 'dapodik', outcome: 'rejected', retryAfterS: 5 });
    expect(shed.message).toContain('dapodik');
    expect(shed.message).toContain('circuit open');
    expect(calls).toBe(10);
    expect(await counter(metrics.ministryCallsShed, { dependency: 'dapodik', reason: 'breaker' })).toBe(1);
    // The shed call never reached the ministry, so it is not among its calls' outcomes.
    expect(await outcomes(metrics)).toEqual({ 'dapodik:error': 10 });

    // Each ministry has its own breaker.
    script = [dtksOk];
    expect((await ministry.recipient(NIK)).nik).toBe(NIK);

    t += 4_500;
    expect(await failure(ministry.enrolment(NIK))).toMatchObject({ outcome: 'rejected', retryAfterS: 1 });
    t += 500;
    expect(ministry.breakerState('dapodik')).toBe('half_open');
    expect(await breakerGauge(metrics, 'dapodik')).toBe(1);
    script = [hold];
    const probe = ministry.enrolment(NIK);
    await until(() => held.length === 1, 'the probe is held');
    // Only one probe: the others are still refused while it is under way.
    const meanwhile = await failure(ministry.enrolment(NIK));
    expect(meanwhile.message).toContain('half-open');
    expect(calls).toBe(12);
    answerHeld(dapodikOk);
    expect((await probe).enrolled).toBe(false);
    expect(ministry.breakerState('dapodik')).toBe('closed');
    expect(await breakerGauge(metrics, 'dapodik')).toBe(0);
    script = [dapodikOk];
    await ministry.enrolment(NIK);
    expect(calls).toBe(13);
  });

  it('opens again when the probe fails', async () => {
    const { ministry } = client(0, 2000, { breaker: true, now });
    script = Array.from({ length: 10 }, () => status(503));
    for (let i = 0; i < 10; i++)
      await failure(ministry.verifyNik({ nik: NIK, fullName: 'Siti', dateOfBirth: '1990-06-05' }));
    expect(ministry.breakerState('dukcapil')).toBe('open');
    t += 5_000;
    script = [status(504)];
    expect(
      await failure(ministry.verifyNik({ nik: NIK, fullName: 'Siti', dateOfBirth: '1990-06-05' })),
    ).toMatchObject({
      outcome: 'timeout',
      status: 504,
    });
    expect(ministry.breakerState('dukcapil')).toBe('open');
    expect(
      await failure(ministry.verifyNik({ nik: NIK, fullName: 'Siti', dateOfBirth: '1990-06-05' })),
    ).toMatchObject({ outcome: 'rejected', retryAfterS: 5 });
    expect(calls).toBe(11);
  });

  it('opens at half of the last 20 calls failed, and does not count answers that blame the request', async () => {
    const { ministry } = client(0, 2000, { breaker: true, now });
    // A 400 or 404 says our request was wrong, not that the ministry is unwell.
    script = Array.from({ length: 12 }, () => status(404));
    for (let i = 0; i < 12; i++) await failure(ministry.recipient(NIK));
    expect(ministry.breakerState('dtks')).toBe('closed');

    script = [...Array.from({ length: 20 }, () => dtksOk), ...Array.from({ length: 9 }, () => status(429))];
    for (let i = 0; i < 20; i++) await ministry.recipient(NIK);
    for (let i = 0; i < 9; i++) await failure(ministry.recipient(NIK));
    // 9 of the last 20 failed
    expect(ministry.breakerState('dtks')).toBe('closed');
    script = [status(502)];
    await failure(ministry.recipient(NIK));
    expect(ministry.breakerState('dtks')).toBe('open');
  });

  it('does not retry a call the breaker refused', async () => {
    const { ministry } = client(3, 2000, { breaker: true, now, sleep: async () => {} });
    // Each call is tried four times: ten failed attempts open the breaker in the third call.
    script = Array.from({ length: 12 }, () => status(503));
    await failure(ministry.enrolment(NIK));
    await failure(ministry.enrolment(NIK));
    const third = await failure(ministry.enrolment(NIK));
    expect(calls).toBe(10);
    expect(third).toMatchObject({ outcome: 'rejected' });
    expect(third.message).toContain('circuit open');
  });
});

describe('MinistryClient with MINISTRY_CACHE=on', () => {
  let t = 0;
  const now = () => t;
  const siti = { nik: NIK, fullName: 'Siti', dateOfBirth: '1990-06-05' };

  it('answers an identical question from the cache, and asks again for a different one', async () => {
    const { ministry, metrics } = client(0, 2000, { cache: true, now });
    script = [
      dukcapilOk,
      ok({ nik: NIK, found: true, match: { fullName: false, dateOfBirth: true }, citizen: true }),
    ];
    const first = await ministry.verifyNik(siti);
    expect(await ministry.verifyNik({ ...siti })).toEqual(first);
    expect(calls).toBe(1);
    // Dukcapil matches on the name too: the same NIK with another name is another question.
    expect((await ministry.verifyNik({ ...siti, fullName: 'Sri' })).match.fullName).toBe(false);
    expect(calls).toBe(2);
    // Dapodik and DTKS are keyed by NIK, each in its own right.
    script = [dapodikOk, dtksOk];
    await ministry.enrolment(NIK);
    await ministry.recipient(NIK);
    await ministry.enrolment(NIK);
    await ministry.recipient(NIK);
    expect(calls).toBe(4);
    expect(await counter(metrics.ministryCache, { dependency: 'dukcapil', result: 'hit' })).toBe(1);
    expect(await counter(metrics.ministryCache, { dependency: 'dukcapil', result: 'miss' })).toBe(2);
    expect(await counter(metrics.ministryCache, { result: 'hit' })).toBe(3);
  });

  it('never keeps a failure', async () => {
    const { ministry } = client(0, 2000, { cache: true, now });
    script = [status(503), ok({ nik: NIK, enrolled: 'maybe' }), dapodikOk];
    await failure(ministry.enrolment(NIK));
    await failure(ministry.enrolment(NIK));
    expect((await ministry.enrolment(NIK)).enrolled).toBe(false);
    expect((await ministry.enrolment(NIK)).enrolled).toBe(false);
    expect(calls).toBe(3);
  });

  it('forgets an answer after its TTL', async () => {
    t = 0;
    const { ministry } = client(0, 2000, { cache: { ttlMs: 60_000 }, now });
    script = [dtksOk, dtksOk];
    await ministry.recipient(NIK);
    t = 59_999;
    await ministry.recipient(NIK);
    expect(calls).toBe(1);
    t = 60_000;
    await ministry.recipient(NIK);
    expect(calls).toBe(2);
  });

  it('answers from the cache while the breaker is open', async () => {
    const { ministry } = client(0, 2000, { cache: true, breaker: true, now });
    script = [dapodikOk, ...Array.from({ length: 9 }, () => status(500))];
    await ministry.enrolment(NIK);
    // one success and nine failures among the last ten: open
    for (let i = 0; i < 9; i++) await failure(ministry.enrolment(`3171054506900${String(i + 100)}`));
    expect(ministry.breakerState('dapodik')).toBe('open');
    expect(await failure(ministry.enrolment('3171054506900200'))).toMatchObject({ outcome: 'rejected' });
    expect((await ministry.enrolment(NIK)).nik).toBe(NIK);
    expect(calls).toBe(10);
  });
});

describe('retry backoff', () => {
  it('is full jitter below the exponential bound, Retry-After a floor, 2 s a cap', () => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const bound = Math.min(RETRY_CAP_S, 0.2 * 2 ** attempt);
      expect(retryDelayS(attempt, undefined, () => 0)).toBe(0);
      expect(retryDelayS(attempt, undefined, () => 0.5)).toBeCloseTo(bound / 2, 10);
      expect(retryDelayS(attempt, undefined, () => 0.999999)).toBeLessThanOrEqual(bound);
      expect(retryDelayS(attempt, 1, () => 0)).toBe(1);
      expect(retryDelayS(attempt, 30, () => 0.5)).toBe(RETRY_CAP_S);
    }
  });

  it('spreads the retries of many registrants instead of sending them back together', async () => {
    const delays: number[][] = [[], [], []];
    let attemptOfCall = 0;
    const { ministry } = client(2, 2000, {
      random: createRng(2020),
      sleep: async (ms) => {
        delays[++attemptOfCall]?.push(ms);
      },
    });
    for (let registrant = 0; registrant < 12; registrant++) {
      attemptOfCall = 0;
      script = [status(503), status(429), dapodikOk];
      expect((await ministry.enrolment(NIK)).enrolled).toBe(false);
    }
    expect(calls).toBe(36);
    for (const attempt of [1, 2]) {
      const ms = delays[attempt] ?? [];
      expect(ms).toHaveLength(12);
      for (const d of ms) {
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(0.2 * 2 ** attempt * 1000);
      }
      // Not in lock-step: the twelve registrants' retries come back at (nearly) twelve different moments.
      expect(new Set(ms.map((d) => Math.round(d))).size).toBeGreaterThan(8);
    }
  });

  it('waits at least what Retry-After says, but at most 2 s', async () => {
    const waits: number[] = [];
    const { ministry } = client(2, 2000, {
      random: () => 0,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    script = [status(429, { 'retry-after': '1' }), status(503, { 'retry-after': '120' }), dapodikOk];
    await ministry.enrolment(NIK);
    expect(waits).toEqual([1000, 2000]);
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
