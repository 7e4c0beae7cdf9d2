import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Capacity, parseCapacity } from '../model/capacity.ts';
import { createRng } from '../model/random.ts';
import { parseServiceKnobs } from '../model/service-design.ts';
import {
  type Calibration,
  type CostedStep,
  loadCalibration,
  photoCpuMs,
  scryptCpuMs,
} from './calibration.ts';
import type { CpuStretchOverTime } from './cpu.ts';
import { EventQueue } from './events.ts';
import { tableMean } from './quantile-table.ts';
import { type Account, type Answer, PHOTO_CONFIRM, PHOTO_URL, RegistrationService, ROW } from './service.ts';
import { SimStation } from './station.ts';

const calibration = loadCalibration();
const { $comment: _, ...defaults } = JSON.parse(
  readFileSync(new URL('../mock-services/capacity.default.json', import.meta.url), 'utf8'),
);

function build(
  o: {
    knobs?: Record<string, string>;
    cores?: number;
    capacity?: (c: Capacity) => void;
    cpuStretchOverTime?: CpuStretchOverTime;
    calibration?: Calibration;
    killable?: boolean;
  } = {},
) {
  const q = new EventQueue();
  const capacity = parseCapacity(structuredClone(defaults), 'capacity.default.json');
  o.capacity?.(capacity);
  const stations = Object.fromEntries(
    (['dukcapil', 'dapodik', 'dtks', 'email', 'upload'] as const).map((d, i) => [
      d,
      new SimStation(q, d, capacity[d], createRng(i), { http: d !== 'email' }),
    ]),
  ) as ConstructorParameters<typeof RegistrationService>[1]['stations'];
  const design: ConstructorParameters<typeof RegistrationService>[1] = {
    knobs: parseServiceKnobs(o.knobs ?? {}, 'test'),
    cores: o.cores ?? 2,
    calibration: o.calibration ?? calibration,
    capacity,
    stations,
    photoBytes: 289_040,
    cpuStretch: 1,
    ...(o.cpuStretchOverTime ? { cpuStretchOverTime: o.cpuStretchOverTime } : {}),
    rng: createRng(9),
    hashRng: createRng(10),
    ...(o.killable ? { killable: true } : {}),
  };
  const service = new RegistrationService(q, design);
  let current = service;
  const answers: Array<{ t: number; token: number; a: Answer }> = [];
  const sink = {
    onAnswer: (_acct: Account, token: number, a: Answer) => answers.push({ t: q.now, token, a }),
  };
  const send = (step: CostedStep, acct: Account, token: number) => current.handle(step, acct, sink, token);
  /** A new start of the service after `current` was killed, finding what it left (day.ts). */
  const restart = () => {
    current = new RegistrationService(q, {
      ...design,
      durable: current.durable,
      timing: current.timing,
      generation: 1,
    });
    return current;
  };
  return { q, service, stations, answers, send, restart };
}

const account = (rows = 0, kind: Account['kind'] = 'eligible'): Account => ({
  rows,
  mailAt: Number.POSITIVE_INFINITY,
  kind,
});

describe('the registration service in simulated time', () => {
  it("serialises writes on SQLite's one write lock, whatever the processes and cores", () => {
    const { q, send, answers } = build({ knobs: { WORKERS: '8' }, cores: 8 });
    for (let i = 0; i < 20; i++) send('verify_email', account(ROW.account), i);
    q.run();
    const cpu = calibration.service.stepCpuMs.verify_email;
    const commit = calibration.service.writeMs.FULL;
    const times = answers.map((x) => x.t).sort((a, b) => a - b);
    expect(answers.every((x) => x.a.status === 200)).toBe(true);
    // Eight processes run their CPU part at once; the commits then follow one another.
    times.forEach((t, k) => {
      expect(t).toBeCloseTo(cpu + (k + 1) * commit, 6);
    });
  });

  it('IDEMPOTENCY=on: a keyed request commits twice more (its claim, then its answer), a log-in does not', () => {
    const commit = calibration.service.writeMs.FULL;
    const alone = (knobs: Record<string, string>, step: CostedStep, rows: number) => {
      const { q, send, answers } = build({ knobs });
      send(step, account(rows), 0);
      q.run();
      expect(answers.map((x) => x.a.status)).toEqual([step === 'login' ? 201 : 200]);
      return answers[0]?.t as number;
    };
    const verified = ROW.account;
    expect(
      alone({ IDEMPOTENCY: 'on' }, 'verify_email', verified) - alone({}, 'verify_email', verified),
    ).toBeCloseTo(2 * commit, 6);
    const login = ROW.account | ROW.verified;
    expect(alone({ IDEMPOTENCY: 'on' }, 'login', login)).toBeCloseTo(alone({}, 'login', login), 6);
  });

  it('IDEMPOTENCY=on: a repeat of a running request is told to come back, a repeat of a finished one gets its answer', () => {
    const run = (knobs: Record<string, string>) => {
      const { q, send, answers } = build({ knobs });
      const acct = account();
      send('create_account', acct, 0);
      // While the first hashes, and after it answered.
      q.schedule(5, () => send('create_account', acct, 1), undefined);
      q.schedule(10_000, () => send('create_account', acct, 2), undefined);
      q.run();
      return [0, 1, 2].map((token) => {
        const a = answers.find((x) => x.token === token)?.a;
        return [a?.status, a?.code, a?.retryAfterS];
      });
    };
    expect(run({ IDEMPOTENCY: 'on' })).toEqual([
      [201, '', undefined],
      [409, 'request_in_progress', 1],
      [201, '', undefined],
    ]);
    // Without keys the repeat runs again, a second hash: whichever commits first makes the account,
    // and the account's unique email refuses the others.
    const without = run({});
    expect(without.map((a) => a[1]).sort()).toEqual(['', 'duplicate_email', 'duplicate_email']);
    expect(without[2]).toEqual([409, 'duplicate_email', undefined]);
  });

  it("IDEMPOTENCY=on: a repeat answered from its key holds its event loop for the lightest step's CPU, its route never run", () => {
    const { q, send, answers, service } = build({ knobs: { IDEMPOTENCY: 'on' } });
    const acct = account();
    send('create_account', acct, 0);
    q.run();
    service.cores.takeBusyArea();
    // Once the first has answered and every timer of its has run out.
    const again = q.now + 1000;
    q.schedule(again, () => send('create_account', acct, 1), undefined);
    q.run();
    const lightest = Math.min(...Object.values(calibration.service.stepCpuMs));
    expect(answers[1]?.a.status).toBe(201);
    expect((answers[1]?.t as number) - again).toBeCloseTo(lightest, 6);
    expect(service.cores.takeBusyArea()).toBeCloseTo(lightest, 6);
  });

  it("IDEMPOTENCY=on: a 5xx or a waiting room's 429 frees the key, so that the retry runs", () => {
    const { q, send, answers } = build({ knobs: { IDEMPOTENCY: 'on', ADMISSION_RATE: '1' } });
    // The first takes the turn at once; the second is given one a second later and told to come back.
    send('create_account', account(), 0);
    const second = account();
    q.schedule(1, () => send('create_account', second, 1), undefined);
    q.schedule(1500, () => send('create_account', second, 2), undefined);
    q.run();
    const of = (token: number) => answers.find((x) => x.token === token)?.a;
    expect(of(1)).toMatchObject({ status: 429, code: 'waiting_room' });
    expect(of(2)).toMatchObject({ status: 201 });
  });

  it('PHOTO_UPLOAD=presigned: the URL and the confirmation each take half a photo, and a commit; the confirmation records it once', () => {
    const { q, service, answers } = build({ knobs: { PHOTO_UPLOAD: 'presigned' } });
    const sink = {
      onAnswer: (_a: Account, token: number, a: Answer) => answers.push({ t: q.now, token, a }),
    };
    const acct = account(ROW.account | ROW.verified | ROW.biodata);
    service.handleStep(PHOTO_URL, acct, sink, 0);
    q.run();
    const half = photoCpuMs(calibration) / 2;
    const commit = calibration.service.writeMs.FULL;
    expect(answers[0]).toMatchObject({ token: 0, a: { status: 201 } });
    expect(answers[0]?.t).toBeCloseTo(half + commit, 6);
    expect(acct.rows & ROW.photo).toBe(0);
    const at = q.now;
    service.handleStep(PHOTO_CONFIRM, acct, sink, 1);
    q.run();
    expect(acct.rows & ROW.photo).toBe(ROW.photo);
    expect(answers.find((x) => x.token === 1)?.t).toBeCloseTo(at + half + commit, 6);
    service.handleStep(PHOTO_CONFIRM, acct, sink, 2);
    q.run();
    expect(answers.filter((x) => x.token > 0).map((x) => [x.a.status, x.a.code])).toEqual([
      [201, ''],
      [409, 'already_uploaded'],
    ]);
  });

  it('refuses a photo over PHOTO_MAX_BYTES with 413, through the service or when asked for a URL', () => {
    const designs: Record<string, string>[] = [
      { PHOTO_MAX_BYTES: '100000' },
      { PHOTO_MAX_BYTES: '100000', PHOTO_UPLOAD: 'presigned' },
    ];
    for (const knobs of designs) {
      const { q, service, answers, stations } = build({ knobs });
      const sink = {
        onAnswer: (_a: Account, token: number, a: Answer) => answers.push({ t: q.now, token, a }),
      };
      const acct = account(ROW.account | ROW.verified | ROW.biodata);
      if (knobs.PHOTO_UPLOAD) service.handleStep(PHOTO_URL, acct, sink, 0);
      else service.handle('upload_photo', acct, sink, 0);
      q.run();
      expect(answers.map((x) => [x.a.status, x.a.code])).toEqual([[413, 'photo_too_large']]);
      expect(stations.upload.served).toBe(0);
    }
  });

  it('runs a CPU operation as slowly as the cores left in the interval it starts in (cpuStretchOverTime)', () => {
    // join_wave is its CPU and a commit; one at t=0 (interval 0, factor 1) and one at t=1.5 s
    // (interval 1, factor 3); past the factors' end, 1 again.
    const { q, send, answers } = build({ cpuStretchOverTime: { intervalMs: 1000, factors: [1, 3] } });
    const acct = () => account(ROW.account | ROW.verified | ROW.biodata | ROW.photo | ROW.assessment);
    send('join_wave', acct(), 0);
    q.schedule(1500, () => send('join_wave', acct(), 1), undefined);
    q.schedule(2500, () => send('join_wave', acct(), 2), undefined);
    q.run();
    const cpu = calibration.service.stepCpuMs.join_wave;
    const commit = calibration.service.writeMs.FULL;
    const took = (token: number, from: number) =>
      (answers.find((x) => x.token === token)?.t as number) - from;
    expect(took(0, 0)).toBeCloseTo(cpu + commit, 6);
    expect(took(1, 1500)).toBeCloseTo(3 * cpu + commit, 6);
    expect(took(2, 2500)).toBeCloseTo(cpu + commit, 6);
  });

  it("holds each hash on its path for a draw from the calibration's spread, the rest of its CPU spent off the path (scryptSpread)", () => {
    // Logins a second apart, so no two share a core: each one's latency is its own CPU, a hash and
    // a commit; the hash's draw is all that differs from the same login without a spread. The
    // table's mean is 0.8: a fifth of each hash's CPU is spent beside it, not on its path.
    const shape = { min: 0.85, p50: 0.93, p90: 1.2, p95: 1.35, p99: 1.7 };
    const norm = tableMean(shape) / 0.8;
    const scryptSpread = Object.fromEntries(
      Object.entries(shape).map(([k, v]) => [k, v / norm]),
    ) as typeof shape;
    const logins = (c: Calibration) => {
      const { q, send, answers, service } = build({ calibration: c });
      const n = 4000;
      for (let i = 0; i < n; i++)
        q.schedule(i * 1000, () => send('login', account(ROW.account | ROW.verified), i), undefined);
      q.run();
      return {
        took: answers.map((x) => x.t - x.token * 1000).sort((a, b) => a - b),
        cpu: service.cores.takeBusyArea(),
      };
    };
    const fixed = logins(calibration);
    expect(new Set(fixed.took.map((t) => t.toFixed(6))).size).toBe(1);
    const drawn = logins({ ...calibration, service: { ...calibration.service, scryptSpread } });
    const hash = scryptCpuMs(calibration, parseServiceKnobs({}, 'test').SCRYPT_N);
    const rest = (fixed.took[0] as number) - hash;
    const ratio = (t: number) => (t - rest) / hash;
    const at = (p: number) => ratio(drawn.took[Math.floor(p * (drawn.took.length - 1))] as number);
    expect(drawn.took.reduce((a, t) => a + ratio(t), 0) / drawn.took.length).toBeCloseTo(0.8, 2);
    for (const [p, key] of [
      [0.5, 'p50'],
      [0.95, 'p95'],
    ] as const)
      expect(at(p)).toBeCloseTo(scryptSpread[key], 1);
    expect(ratio(drawn.took[0] as number)).toBeGreaterThanOrEqual(scryptSpread.min - 1e-9);
    // The same CPU in all: each hash's whole cost, on its path or beside it.
    expect(drawn.cpu / fixed.cpu).toBeCloseTo(1, 2);
  });

  it('answers 503 naming a ministry that does not answer within MINISTRY_TIMEOUT_MS, and the registrant a retry in 1 s', () => {
    const { q, send, answers, stations } = build({
      knobs: { MINISTRY_TIMEOUT_MS: '1000' },
      capacity: (c) => {
        c.dukcapil.serviceTime = { distribution: 'constant', ms: 4000 };
      },
    });
    send('submit_biodata', account(ROW.account | ROW.verified), 1);
    q.run();
    expect(answers).toHaveLength(1);
    const [x] = answers;
    expect(x?.a).toMatchObject({ status: 503, dependency: 'dukcapil', retryAfterS: 1 });
    expect(x?.t).toBeGreaterThanOrEqual(1000);
    expect(x?.t).toBeLessThan(1010);
    // The station's own deadline (5 s) answers 504 to nobody: the service gave up first, and the server is free.
    expect(stations.dukcapil.busy).toBe(0);
  });

  it("passes a ministry's queue-full refusal on as 503 with the ministry's Retry-After, after MINISTRY_RETRIES more tries", () => {
    const { q, send, answers, stations } = build({
      knobs: { MINISTRY_RETRIES: '2' },
      capacity: (c) => {
        c.dukcapil = { ...c.dukcapil, concurrency: 1, queue: 0, retryAfterSeconds: 3, rejectStatus: 429 };
        c.dukcapil.serviceTime = { distribution: 'constant', ms: 60_000 };
        c.dukcapil.timeoutMs = 120_000;
      },
    });
    send('submit_biodata', account(ROW.account | ROW.verified), 1);
    send('submit_biodata', account(ROW.account | ROW.verified), 2);
    q.run();
    const refused = answers.find((x) => x.token === 2);
    expect(refused?.a).toMatchObject({ status: 503, dependency: 'dukcapil', retryAfterS: 3 });
    // Two retries, each after Retry-After capped at 2 s.
    expect(refused?.t).toBeGreaterThanOrEqual(4000);
    expect(refused?.t).toBeLessThan(4100);
    expect(stations.dukcapil.reasons.queue_full).toBe(3);
  });

  it('refuses a minor before any ministry call, and a NIK Dukcapil refuses before Dapodik and DTKS', () => {
    const { q, send, answers, stations } = build();
    send('submit_biodata', account(ROW.account | ROW.verified, 'minor'), 1);
    send('submit_biodata', account(ROW.account | ROW.verified, 'refused_by_dukcapil'), 2);
    q.run();
    expect(answers.map((x) => [x.token, x.a.status, x.a.code])).toEqual(
      expect.arrayContaining([
        [1, 422, 'too_young'],
        [2, 422, 'nik_not_verified'],
      ]),
    );
    expect(stations.dukcapil.served).toBe(1);
    expect(stations.dapodik.served).toBe(0);
  });

  it('sends the mail inside create_account (inline) before the insert, and never creates an account twice', () => {
    const { q, send, answers, stations } = build();
    const a = account();
    send('create_account', a, 1);
    send('create_account', a, 2);
    q.run();
    expect(answers.map((x) => x.a.status).sort()).toEqual([201, 409]);
    expect(stations.email.served).toBe(2);
    expect(Number.isFinite(a.mailAt)).toBe(true);
  });

  it("holds a mail's caller and its connection for the SMTP exchange beyond the relay's service (smtpExchangeMs)", () => {
    // The same draws with and without: the sign-up answers 14 ms later, the pool held as long.
    const signUp = (smtpExchangeMs?: number) => {
      const cal = { ...calibration, service: { ...calibration.service, smtpExchangeMs } };
      const { q, send, answers, service } = build({ calibration: cal });
      send('create_account', account(), 1);
      let heldUntil = 0;
      const mailers = service.mailers[0];
      const probe = () => {
        if (mailers && mailers.busy > 0) heldUntil = q.now;
        if (q.now < 1000) q.schedule(q.now + 0.5, probe, undefined);
      };
      probe();
      q.run();
      return { at: answers[0]?.t as number, status: answers[0]?.a.status, heldUntil };
    };
    const plain = signUp();
    const slow = signUp(14);
    expect(plain.status).toBe(201);
    expect(slow.status).toBe(201);
    expect(slow.at - plain.at).toBeCloseTo(14, 6);
    expect(slow.heldUntil - plain.heldUntil).toBeGreaterThanOrEqual(13.5);
  });

  it('killed, ends every request whose answer had not left with its connection, keeps what it committed and nothing it had not', () => {
    const { q, send, answers, service } = build({ killable: true });
    const commit = calibration.service.writeMs.FULL;
    const cpu = calibration.service.stepCpuMs.verify_email;
    // Two verifications: the first answered (its CPU, then its commit), the second in its commit
    // (the write lock's queue) when the kill comes.
    const first = account(ROW.account);
    const second = account(ROW.account);
    send('verify_email', first, 1);
    send('verify_email', second, 2);
    // A sign-up hashing meanwhile.
    const signUp = account();
    send('create_account', signUp, 3);
    const killAt = cpu + commit + commit / 2;
    q.schedule(killAt, () => service.kill(), undefined);
    q.run();
    expect(answers.map((x) => [x.token, x.a.status, x.t])).toEqual([
      [1, 200, cpu + commit],
      [2, 0, killAt],
      [3, 0, killAt],
    ]);
    expect(first.rows & ROW.verified).toBe(ROW.verified);
    expect(second.rows & ROW.verified).toBe(0);
    expect(signUp.rows).toBe(0);
    // Nothing after: no answer, no mail, no hash's account.
    expect(signUp.mailAt).toBe(Number.POSITIVE_INFINITY);
  });

  it('killed, serves nothing that waited in its queues: the CPU it spends after is what was running', () => {
    const { q, send, service } = build({ killable: true });
    // Fifty sign-ups at once on one event loop: one runs its CPU part, the others wait for the loop.
    for (let i = 0; i < 50; i++) send('create_account', account(), i);
    q.schedule(0.5, () => service.kill(), undefined);
    q.run(0.5);
    service.cores.takeBusyArea();
    q.run();
    expect(service.cores.takeBusyArea()).toBeLessThanOrEqual(calibration.service.stepCpuMs.create_account);
  });

  it('killed, times nothing its processes had under way: a hash cut short is in no histogram', () => {
    const { q, send, service } = build({ killable: true });
    // A sign-up hashing (58 ms at N=16384) when the kill comes at 10 ms; another done before.
    send('create_account', account(), 1);
    q.run();
    expect(service.timing.hashes.hash.count).toBe(1);
    const at = q.now + 1000;
    q.schedule(at, () => send('create_account', account(), 2), undefined);
    q.schedule(at + 10, () => service.kill(), undefined);
    q.run();
    expect(service.timing.hashes.hash.count).toBe(1);
  });

  it('killed, closes its calls under way: an HTTP dependency frees its server at once, the relay ends its send', () => {
    const { q, send, answers, service, stations } = build({
      killable: true,
      knobs: { SCRYPT_N: '1024' },
      capacity: (c) => {
        c.dukcapil = { ...c.dukcapil, serviceTime: { distribution: 'constant', ms: 1000 } };
        c.email = { ...c.email, serviceTime: { distribution: 'constant', ms: 1000 } };
      },
    });
    send('submit_biodata', account(ROW.account | ROW.verified), 1);
    send('create_account', account(), 2);
    let busy: number[] = [];
    q.schedule(
      500,
      () => {
        service.kill();
        busy = [stations.dukcapil.busy, stations.email.busy];
      },
      undefined,
    );
    q.run();
    expect(busy).toEqual([0, 1]);
    expect(stations.email.busy).toBe(0);
    expect(answers.map((x) => [x.token, x.a.status])).toEqual([
      [1, 0],
      [2, 0],
    ]);
  });

  it('restarted, finds the wave as the killed one left it: a quota is never oversold across a restart', () => {
    const { q, send, answers, service, restart } = build({ killable: true, knobs: { WAVE_QUOTA: '1' } });
    const ready = ROW.account | ROW.verified | ROW.biodata | ROW.photo | ROW.assessment;
    send('join_wave', account(ready), 1);
    q.run();
    service.kill();
    restart();
    send('join_wave', account(ready), 2);
    q.run();
    expect(answers.map((x) => [x.token, x.a.status, x.a.code])).toEqual([
      [1, 201, ''],
      [2, 409, 'wave_full'],
    ]);
  });

  it("restarted, runs a keyed request whose claim the kill cut short: the claim's transaction never committed (IDEMPOTENCY)", () => {
    const { q, send, answers, service, restart } = build({ killable: true, knobs: { IDEMPOTENCY: 'on' } });
    const a = account(ROW.account);
    send('verify_email', a, 1);
    // The key's claim holds the write lock from t=0 for one commit; the kill comes halfway through it.
    q.schedule(calibration.service.writeMs.FULL / 2, () => service.kill(), undefined);
    q.run();
    restart();
    send('verify_email', a, 2);
    q.run();
    expect(answers.map((x) => [x.token, x.a.status, x.a.code])).toEqual([
      [1, 0, ''],
      [2, 200, ''],
    ]);
    expect(a.rows & ROW.verified).toBe(ROW.verified);
  });

  it('restarted, asks the ministries again: a killed process took its answer cache with it (MINISTRY_CACHE)', () => {
    const { q, send, stations, service, restart } = build({
      killable: true,
      knobs: { MINISTRY_CACHE: 'on', MINISTRY_CALLS: 'parallel' },
    });
    const a = account(ROW.account | ROW.verified);
    send('submit_biodata', a, 1);
    q.run();
    a.rows &= ~ROW.biodata;
    send('submit_biodata', a, 2);
    q.run();
    // The second asked nobody: every answer was in the process's cache.
    expect(stations.dukcapil.served).toBe(1);
    service.kill();
    restart();
    a.rows &= ~ROW.biodata;
    send('submit_biodata', a, 3);
    q.run();
    expect(stations.dukcapil.served).toBe(2);
  });

  it("delivers the mail at the providers' rate, first come first delivered (email.deliveryPerSecond)", () => {
    const { q, send, answers } = build({
      knobs: { WORKERS: '4' },
      cores: 8,
      capacity: (c) => {
        c.email.deliveryDelay = { distribution: 'constant', ms: 0 };
        c.email.deliveryPerSecond = 2;
      },
    });
    const accounts = Array.from({ length: 4 }, () => account());
    for (const [i, a] of accounts.entries()) send('create_account', a, i);
    q.run();
    expect(answers.map((x) => x.a.status)).toEqual([201, 201, 201, 201]);
    // one mail every 500 ms from the first acceptance: whatever order SMTP took them in
    const at = accounts.map((a) => a.mailAt).sort((x, y) => x - y);
    const first = at[0] as number;
    expect(at.map((t) => t - first)).toEqual([0, 500, 1000, 1500]);
    // the accounts were created long before their mail came
    expect(Math.max(...answers.map((x) => x.t))).toBeLessThan(first + 1000);
  });
});
