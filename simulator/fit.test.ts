import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HASH_BUCKETS_S } from '../mock-services/registration/metrics.ts';
import { sampleLognormal } from '../model/lognormal.ts';
import { type Rng, rngFor } from '../model/random.ts';
import { lognormalParams, type ServiceTime } from '../model/station.ts';
import { makeRecord } from '../reports/fixtures/make-record.ts';
import type { FaultRecord, RunRecord } from '../reports/record.ts';
import { withServiceTimes } from '../test/support/service-times.ts';
import {
  CALIBRATION_VERSION,
  COSTED_STEPS,
  type CostedStep,
  loadCalibration,
  parseCalibration,
  photoCpuMs,
  restartDurationMs,
  scryptCpuMs,
  warmUpFactor,
} from './calibration.ts';
import {
  coresLeft,
  FitError,
  fitCalibration,
  fitLognormalBins,
  fitRestart,
  fitScryptSpread,
  fitSmtpExchange,
  photoBytes,
  serviceBins,
  WARM_UP_TAU_S,
} from './fit.ts';
import { type QuantileTable, tableMean } from './quantile-table.ts';

const { $comment: _, ...capacity } = JSON.parse(readFileSync('mock-services/capacity.default.json', 'utf8'));
const prior = loadCalibration();

/** Costs the fit should find: each step's CPU besides scrypt, and scrypt's, far from the prior's. */
const TRUE_STEP_MS: Record<CostedStep, number> = {
  create_account: 4,
  verify_email: 1.2,
  login: 2.5,
  submit_biodata: 6,
  upload_photo: 9,
  submit_assessment: 0.9,
  join_wave: 1.1,
};
const TRUE_SCRYPT_MS = 80;

/** A measured-looking record whose registration CPU is exactly what those costs give its requests. */
function recordWithCosts(
  o: {
    others?: number;
    cores?: number;
    idleCores?: number;
    warmUp?: { extra: number; tauS: number };
    /**
     * the share of interval i's sign-ups that hash (the others turned away before it); with it,
     * the service's count of its hashes is in the record
     */
    signUpsHashed?: (i: number) => number;
  } = {},
): RunRecord {
  const r = makeRecord({
    seed: 3,
    durationSeconds: 120,
    arrivalsPerSecond: 40,
    machineCores: o.cores ?? 4,
    cpuCores: { runner: o.others ?? 0.5 },
  });
  r.manifest.stack.capacity = capacity;
  r.manifest.stack.knobs = { SCRYPT_N: '16384' };
  const ts = r.timeseries;
  // Requests per step that vary independently (in a journey login and submit_biodata come in
  // pairs, and no fit can tell their costs apart: the ridge splits them as the prior does).
  const rng = rngFor(5);
  for (const s of ts.series) {
    if (s.name === 'step_requests') s.values = s.values.map(() => Math.round(rng() * 40) / 2);
  }
  const req = (step: string, i: number) =>
    ts.series.find((s) => s.name === 'step_requests' && s.labels.step === step)?.values[i] ?? 0;
  const hashed = (s: CostedStep, i: number) =>
    s === 'login' ? 1 : s === 'create_account' ? (o.signUpsHashed?.(i) ?? 1) : 0;
  const cpu = ts.t.map(
    (_, i) =>
      (COSTED_STEPS.reduce((a, s) => a + req(s, i) * (TRUE_STEP_MS[s] + hashed(s, i) * TRUE_SCRYPT_MS), 0) /
        1000) *
        (o.warmUp ? warmUpFactor(o.warmUp, i, ts.intervalSeconds) : 1) +
      (o.idleCores ?? 0),
  );
  ts.series = ts.series.filter(
    (s) => !(s.name === 'process_cpu_cores' && s.labels.process === 'registration'),
  );
  ts.series.push({ name: 'process_cpu_cores', labels: { process: 'registration' }, values: cpu });
  if (o.signUpsHashed !== undefined)
    for (const [step, operation] of [
      ['create_account', 'hash'],
      ['login', 'verify'],
    ] as const)
      ts.series.push({
        name: 'password_hash_buckets',
        labels: { operation, gt: '0', le: '100' },
        values: ts.t.map((_, i) => req(step, i) * hashed(step, i)),
      });
  return r;
}

describe('calibrate fits a measured run', () => {
  it("recovers each step's CPU and scrypt's from the registration process's CPU per interval", () => {
    const { calibration: c, perRequestCpuMs } = fitCalibration(recordWithCosts(), prior);
    // Each step's whole cost is identified; how much of a sign-up is scrypt is not (see fit.ts).
    const whole = (s: CostedStep) =>
      c.service.stepCpuMs[s] + (s === 'create_account' || s === 'login' ? scryptCpuMs(c, 16384) : 0);
    for (const s of COSTED_STEPS) {
      const truth = TRUE_STEP_MS[s] + (s === 'create_account' || s === 'login' ? TRUE_SCRYPT_MS : 0);
      expect(Math.abs(perRequestCpuMs[s] - truth) / truth, s).toBeLessThan(0.02);
      expect(Math.abs(whole(s) - perRequestCpuMs[s]), s).toBeLessThan(0.01);
    }
    expect(c.source).toContain('fixture');
  });

  it("counts the hashes the service ran, not the hashing steps' requests (a sign-up turned away hashes nothing)", () => {
    // The waiting room answers 10 to 70 % of the sign-ups "come back later", before the hash.
    const share = (i: number) => 0.3 + (0.6 * ((i * 7) % 10)) / 10;
    const r = recordWithCosts({ signUpsHashed: share });
    const { calibration: c, perRequestCpuMs } = fitCalibration(r, prior);
    expect(Math.abs(scryptCpuMs(c, 16384) / TRUE_SCRYPT_MS - 1)).toBeLessThan(0.02);
    const ts = r.timeseries;
    const total = (step: string, f: (i: number) => number = () => 1) =>
      ts.series
        .find((x) => x.name === 'step_requests' && x.labels.step === step)
        ?.values.reduce<number>((a, v, i) => a + (v ?? 0) * f(i), 0) ?? 0;
    // A sign-up's cost on average: its own, and the run's share of scrypt's.
    const signUpShare = total('create_account', share) / total('create_account');
    const signUp = TRUE_STEP_MS.create_account + signUpShare * TRUE_SCRYPT_MS;
    expect(Math.abs(perRequestCpuMs.create_account / signUp - 1)).toBeLessThan(0.02);
    const login = TRUE_STEP_MS.login + TRUE_SCRYPT_MS;
    expect(Math.abs(perRequestCpuMs.login / login - 1)).toBeLessThan(0.02);
    // Without the service's count, every sign-up is taken for a hash: scrypt's cost reads low.
    r.timeseries.series = r.timeseries.series.filter((x) => x.name !== 'password_hash_buckets');
    const uncounted = scryptCpuMs(fitCalibration(r, prior).calibration, 16384);
    expect(uncounted / TRUE_SCRYPT_MS).toBeLessThan(0.9);
  });

  it('on a presigned run, says the photo cost is per request of three a photo, and the photo costs the same', () => {
    const r = recordWithCosts();
    r.manifest.stack.knobs = { SCRYPT_N: '16384', PHOTO_UPLOAD: 'presigned' };
    const { calibration: c, perRequestCpuMs } = fitCalibration(r, prior);
    // The CPU is the record's whatever the design: the counted requests' costs are recovered.
    expect(
      Math.abs(perRequestCpuMs.upload_photo - TRUE_STEP_MS.upload_photo) / TRUE_STEP_MS.upload_photo,
    ).toBeLessThan(0.02);
    expect(c.service.photoUpload).toBe('presigned');
    expect(c.reasons?.['service.photoUpload']).toContain('3 a photo');
    expect(photoCpuMs(c)).toBeCloseTo(3 * c.service.stepCpuMs.upload_photo, 9);
    // Through the service, a photo is one request: the same cost per counted request is a third of the photo's.
    const plain = fitCalibration(recordWithCosts(), prior).calibration;
    expect(plain.service.photoUpload).toBeUndefined();
    expect(photoCpuMs(plain)).toBeCloseTo(plain.service.stepCpuMs.upload_photo, 9);
  });

  it("takes the service's idle CPU, as the rehearsal probed it, off before fitting the requests' costs", () => {
    // 0.3 cores with no request: 36 s of CPU over the run, which left in would fall on the requests.
    const r = recordWithCosts({ idleCores: 0.3 });
    const sure = (fit: ReturnType<typeof fitCalibration>) =>
      COSTED_STEPS.every((s) => {
        const truth = TRUE_STEP_MS[s] + (s === 'create_account' || s === 'login' ? TRUE_SCRYPT_MS : 0);
        return Math.abs(fit.perRequestCpuMs[s] - truth) / truth < 0.02;
      });
    const unprobed = fitCalibration(r, prior);
    expect(sure(unprobed)).toBe(false);
    expect(unprobed.calibration.reasons?.['service.stepCpuMs']).toContain('no idle level probed');
    if (!r.manifest.machine) throw new Error('the fixture has a machine');
    r.manifest.machine.serviceIdleCores = 0.3;
    const probed = fitCalibration(r, prior);
    expect(sure(probed)).toBe(true);
    expect(probed.calibration.reasons?.['service.stepCpuMs']).toContain('less its idle level (0.3 cores');
  });

  it("fits a fresh service's warm-up, and each step's cost at the level it settles at", () => {
    // The CPU per request 30 % above its settled level at the load's start, fading in 12 s.
    const r = recordWithCosts({ warmUp: { extra: 0.3, tauS: WARM_UP_TAU_S } });
    const off = (fit: ReturnType<typeof fitCalibration>) =>
      Math.max(
        ...COSTED_STEPS.map((s) => {
          const truth = TRUE_STEP_MS[s] + (s === 'create_account' || s === 'login' ? TRUE_SCRYPT_MS : 0);
          return Math.abs(fit.perRequestCpuMs[s] - truth) / truth;
        }),
      );
    const fresh = fitCalibration(r, prior);
    expect(fresh.calibration.service.warmUp?.tauS).toBe(WARM_UP_TAU_S);
    expect(fresh.calibration.service.warmUp?.extra).toBeCloseTo(0.3, 2);
    expect(off(fresh)).toBeLessThan(0.02);
    expect(fresh.calibration.reasons?.['service.warmUp']).toContain('extra 0.3 with 0 left the least');
    // Against a service it did not start the rehearsal cannot say the service was fresh: no
    // warm-up is fitted, and the costs take the run's average.
    r.manifest.stack.managed = false;
    const target = fitCalibration(r, prior);
    expect(target.calibration.service.warmUp).toBeUndefined();
    expect(target.calibration.reasons?.['service.warmUp']).toContain('did not start');
    expect(off(target)).toBeGreaterThan(0.02);
    // A run without one finds none.
    expect(fitCalibration(recordWithCosts(), prior).calibration.service.warmUp?.extra).toBe(0);
  });

  it("takes the write lock's hold from the run's own commit probe, the prior's when it has none", () => {
    const r = recordWithCosts();
    const without = fitCalibration(r, prior).calibration;
    expect(without.service.writeMs).toEqual(prior.service.writeMs);
    expect(without.reasons?.['service.writeMs']).toContain('measured no commit');
    if (!r.manifest.machine) throw new Error('the fixture has a machine');
    r.manifest.machine.commitMs = { FULL: 0.213, NORMAL: 0.047 };
    const probed = fitCalibration(r, prior).calibration;
    expect(probed.service.writeMs).toEqual({ FULL: 0.213, NORMAL: 0.047 });
    expect(probed.service.writeMs).not.toEqual(prior.service.writeMs);
    expect(probed.reasons?.['service.writeMs']).toContain('machine.commitMs');
  });

  it("drops a version 4 prior's pool and its reason: the knob EMAIL_CONNECTIONS holds it now", () => {
    const v4 = {
      ...prior,
      version: 4 as const,
      service: { ...prior.service, mailerConnections: 16 },
      reasons: { ...prior.reasons, 'service.mailerConnections': 'nodemailer pool of 16' },
    };
    const { calibration: c } = fitCalibration(recordWithCosts(), v4);
    expect(c.version).toBe(CALIBRATION_VERSION);
    expect(c.service).not.toHaveProperty('mailerConnections');
    expect(c.reasons).not.toHaveProperty(['service.mailerConnections']);
    expect(c.reasons?.['service.writeMs']).toBeDefined();
  });

  it("leaves out a version 8 file's effective cores, which counted the others' cores too", () => {
    const v8 = { ...prior, version: 8 as const, service: { ...prior.service, effectiveCores: 1.7 } };
    const read = parseCalibration(v8, 'old.json');
    expect(read.service.effectiveCores).toBeUndefined();
    expect(read.reasons?.['service.effectiveCores']).toContain('Left out of old.json: a version 8 file');
    const v9 = parseCalibration({ ...v8, version: 9 }, 'new.json');
    expect(v9.service.effectiveCores).toBe(1.7);
  });

  it("starts the service on the machine's cores where the others' CPU is read, which a replay takes interval by interval", () => {
    const r = recordWithCosts({ cores: 4, others: 1.5 });
    const { calibration: c } = fitCalibration(r, prior);
    expect(c.service.effectiveCores).toBe(4);
    // The fixture's runner CPU peaks at 1.5 under the surge and is lower elsewhere.
    const { mean } = coresLeft(r, 4);
    expect(4 - (mean as number)).toBeGreaterThan(0);
    expect(4 - (mean as number)).toBeLessThanOrEqual(1.5);
    expect(c.reasons?.['service.effectiveCores']).toContain(
      `runner used ${Math.round((4 - (mean as number)) * 1000) / 1000} on average`,
    );
  });

  it("takes the cores the service got where it was backlogged on its own, when no other process's CPU is read", () => {
    const r = recordWithCosts({ cores: 4 });
    r.timeseries.series = r.timeseries.series.filter(
      (s) => s.name !== 'process_cpu_cores' || s.labels.process === 'registration',
    );
    expect(fitCalibration(r, prior).calibration.service.effectiveCores).toBe(4);
    // Login's median ten times its best in six intervals, the service using 1.2 cores there.
    const login = r.timeseries.series.find(
      (s) => s.name === 'step_latency_ms' && s.labels.step === 'login' && s.labels.quantile === '0.5',
    );
    const cpu = r.timeseries.series.find(
      (s) => s.name === 'process_cpu_cores' && s.labels.process === 'registration',
    );
    if (!login || !cpu) throw new Error('the fixture has login medians and the service CPU');
    const best = Math.min(...login.values.filter((v): v is number => v !== null && v > 0));
    // No dependency saturated: the wait was the service's own.
    for (const s of r.timeseries.series)
      if (s.name === 'dependency_utilisation') s.values = s.values.map(() => 0.3);
    for (let i = 1; i <= 6; i++) {
      login.values[i] = Math.max(10 * best, 300);
      cpu.values[i] = 1.2;
    }
    const { calibration: c } = fitCalibration(r, prior);
    expect(c.service.effectiveCores).toBeCloseTo(1.2, 6);
    expect(c.reasons?.['service.effectiveCores']).toContain('while backlogged (6 intervals');
  });

  it('counts an interval in which another process was not read as unknown, not idle', () => {
    const r = recordWithCosts({ cores: 4 });
    const runner = r.timeseries.series.find(
      (s) => s.name === 'process_cpu_cores' && s.labels.process === 'runner',
    );
    if (!runner) throw new Error('the fixture has the runner CPU');
    // 3.5 cores where it was read, unread in the first half: 0.5 left, not 4 - 3.5 / 2.
    const half = Math.floor(runner.values.length / 2);
    runner.values = runner.values.map((_, i) => (i < half ? null : 3.5));
    const c = coresLeft(r, 4);
    expect(c.mean).toBeCloseTo(0.5, 9);
    expect(c.intervals).toBeLessThanOrEqual(runner.values.length - half);
    expect(c.left.slice(0, half).every((l) => l === null)).toBe(true);
    expect(fitCalibration(r, prior).calibration.reasons?.['service.effectiveCores']).toContain(
      `runner used 3.5 on average while requests came (${c.intervals} intervals)`,
    );
  });

  it('refuses a record without the capacity file it ran with, naming the field', () => {
    const r = recordWithCosts();
    r.manifest.stack.capacity = null;
    expect(() => fitCalibration(r, prior)).toThrow(FitError);
    expect(() => fitCalibration(r, prior)).toThrow('stack.capacity');
  });
});

describe("calibrate fits each station's service time from the mocks' histogram", () => {
  // Within 5 % on the median and 10 % on the p99 from 10,000 services. Their standard errors
  // there: the median's about 1.2 % (sigma 0.97 over sqrt(n), times 1.25 for a median); the p99's,
  // from the median and the mean, about 3 % (the mean of a log-normal this wide is known within
  // 1.3 %, which moves sigma by 0.014); by maximum likelihood, about 2 %.
  const TRUTH = { medianMs: 95, p99Ms: 900 };
  const within = (st: ServiceTime | undefined) => {
    if (st?.distribution !== 'lognormal') throw new Error('no log-normal fitted');
    const { medianMs, p99Ms } = st;
    expect(Math.abs(medianMs - TRUTH.medianMs) / TRUTH.medianMs).toBeLessThan(0.05);
    expect(Math.abs(p99Ms - TRUTH.p99Ms) / TRUTH.p99Ms).toBeLessThan(0.1);
  };

  it('gives back the median and p99 of the log-normal the services were drawn from', () => {
    const r = recordWithCosts();
    withServiceTimes(r, 'dukcapil', TRUTH, 10_000);
    const c = fitCalibration(r, prior).calibration;
    within(c.stations.dukcapil?.serviceTime);
    expect(c.reasons?.['stations.dukcapil']).toContain('median');
  });

  it('keeps the drawn service time when the measured holds are shorter on average: the services cut short are missing', () => {
    // capacity.default.json's Dukcapil draws a median of 80 ms, p99 600 (a mean of 116 ms); the
    // mock measured a median of 60, p99 400 (a mean of 83): held shorter than drawn, which a mock
    // cannot do, so the long services (their caller gave up) are not in the measure.
    const r = recordWithCosts();
    withServiceTimes(r, 'dukcapil', { medianMs: 60, p99Ms: 400 }, 10_000);
    const c = fitCalibration(r, prior).calibration;
    expect(c.stations.dukcapil?.serviceTime).toBeUndefined();
    expect(c.reasons?.['stations.dukcapil']).toMatch(
      /^dukcapil: service time as configured \(median 80 ms, p99 600 ms\): the one fitted on 10000 services/,
    );
    expect(c.reasons?.['stations.dukcapil']).toContain(
      'the services whose caller gave up are not in the measure',
    );
  });

  it('by maximum likelihood on the buckets alone when the record has no mean', () => {
    const r = recordWithCosts();
    withServiceTimes(r, 'dapodik', TRUTH, 10_000, { mean: false });
    const c = fitCalibration(r, prior).calibration;
    within(c.stations.dapodik?.serviceTime);
    expect(c.reasons?.['stations.dapodik']).toContain('no mean recorded');
  });

  it('is exact on a bin-by-bin likelihood: a constant time is found inside its bucket', () => {
    const d = fitLognormalBins([{ gtMs: 80.78, leMs: 100.98, count: 500 }]);
    expect(Math.exp(d?.mu ?? 0)).toBeGreaterThan(80.78);
    expect(Math.exp(d?.mu ?? 0)).toBeLessThan(100.98);
    expect(d?.sigma).toBeLessThan(0.01);
  });

  it("takes the photo's passage through the store's link off the upload's holds", () => {
    const r = recordWithCosts();
    const bytes = photoBytes(r) as number;
    expect(bytes).toBeGreaterThan(0);
    const linkMs = (bytes / capacity.upload.bandwidthBytesPerSecond) * 1000;
    withServiceTimes(r, 'upload', TRUTH, 10_000, { plusMs: linkMs });
    within(fitCalibration(r, prior).calibration.stations.upload?.serviceTime);
  });

  it('keeps the configured service time with too few services, and says so', () => {
    const r = recordWithCosts();
    withServiceTimes(r, 'dtks', TRUTH, 39);
    expect(serviceBins(r, 'dtks').reduce((a, b) => a + b.count, 0)).toBe(39);
    const c = fitCalibration(r, prior).calibration;
    expect(c.stations.dtks?.serviceTime).toBeUndefined();
    expect(c.reasons?.['stations.dtks']).toContain('fewer than 40');
  });

  it('refuses a bucket whose bounds are not bounds, naming the series', () => {
    const r = recordWithCosts();
    r.timeseries.series.push({
      name: 'dependency_service_buckets',
      labels: { dependency: 'email', gt: '20', le: '10' },
      values: r.timeseries.t.map(() => 1),
    });
    expect(() => fitCalibration(r, prior)).toThrow(/dependency_service_buckets\{dependency="email"\}/);
  });
});

/**
 * Hashes as the service's histogram counted them (password_hash_buckets, password_hash_ms):
 * `perSecond(i)` in interval i, each `ms(rng, i)` long.
 */
function withHashTimes(
  r: RunRecord,
  perSecond: (i: number) => number,
  ms: (rng: Rng, i: number) => number,
): void {
  const ts = r.timeseries;
  const bounds = [
    0,
    ...HASH_BUCKETS_S.map((s) => Number((s * 1000).toPrecision(6))),
    Number.POSITIVE_INFINITY,
  ];
  const rng = rngFor(17);
  const counts = new Map<number, Array<number | null>>();
  const mean = ts.t.map((_, i) => {
    const n = perSecond(i) * ts.intervalSeconds;
    let sum = 0;
    for (let k = 0; k < n; k++) {
      const v = ms(rng, i);
      sum += v;
      const b = bounds.findIndex((le, j) => j > 0 && v <= le);
      const c = counts.get(b) ?? new Array<number | null>(ts.t.length).fill(null);
      c[i] = (c[i] ?? 0) + 1 / ts.intervalSeconds;
      counts.set(b, c);
    }
    return n > 0 ? sum / n : null;
  });
  ts.series.push({ name: 'password_hash_ms', labels: { operation: 'hash' }, values: mean });
  for (const [b, values] of counts) {
    const le = bounds[b] as number;
    ts.series.push({
      name: 'password_hash_buckets',
      labels: { operation: 'hash', gt: String(bounds[b - 1]), le: Number.isFinite(le) ? String(le) : '+Inf' },
      values,
    });
  }
}

describe("calibrate fits what a mail's SMTP exchange adds to the relay's service", () => {
  // 60 intervals of 2 s, 5 sends a second: the relay serves in 30 ms on average; the service
  // times each send 14 ms more while the relay has servers free, 500 ms more from interval 40 on,
  // where the relay queues (a wait that is the station's to simulate, not the exchange's).
  const record = (withCalls = true) => {
    const r = recordWithCosts();
    const ts = r.timeseries;
    const mine = new Set([
      'dependency_call_ms',
      'dependency_call_buckets',
      'dependency_service_ms',
      'dependency_utilisation',
      'dependency_queue_ratio',
    ]);
    ts.series = ts.series.filter((x) => !(mine.has(x.name) && x.labels.dependency === 'email'));
    const served = ts.t.map((_, i) => 30 + (i % 7));
    const email = { dependency: 'email' };
    ts.series.push(
      { name: 'dependency_service_ms', labels: email, values: served },
      { name: 'dependency_utilisation', labels: email, values: ts.t.map((_, i) => (i < 40 ? 0.4 : 1)) },
      { name: 'dependency_queue_ratio', labels: email, values: ts.t.map((_, i) => (i < 40 ? 0 : 0.5)) },
    );
    if (withCalls)
      ts.series.push(
        {
          name: 'dependency_call_ms',
          labels: email,
          values: served.map((m, i) => m + (i < 40 ? 14 : 500)),
        },
        {
          name: 'dependency_call_buckets',
          labels: { ...email, gt: '25', le: '50' },
          values: ts.t.map(() => 5),
        },
      );
    return r;
  };

  it('the service’s time for a send less the relay’s, where the relay queued nothing', () => {
    const { ms, reason } = fitSmtpExchange(record());
    expect(ms).toBeCloseTo(14, 6);
    expect(reason).toContain('400 sends in 40 intervals of 2 s');
    const c = fitCalibration(record(), prior).calibration;
    expect(c.service.smtpExchangeMs).toBeCloseTo(14, 6);
    expect(c.version).toBe(CALIBRATION_VERSION);
  });

  it('none from a record without the service’s own timing, and the calibration says why', () => {
    const c = fitCalibration(record(false), prior).calibration;
    expect(c.service.smtpExchangeMs).toBeUndefined();
    expect(c.reasons?.['service.smtpExchangeMs']).toContain("no service's own timing of its sends");
  });
});

describe("calibrate fits a hash's time on its request's path from the service's histogram", () => {
  // 40 quiet intervals of 2 s at 5 hashes a second (0.2 at once), then 20 with 30 a second held
  // 400 ms and more by the pool's queue (12 at once): the second must not count.
  const TRUTH = lognormalParams(37, 65);
  const z95 = 1.6449;
  const p95 = 37 * Math.exp(z95 * TRUTH.sigma);
  const record = (quietIntervals = 40) => {
    const r = recordWithCosts();
    withHashTimes(
      r,
      (i) => (i < quietIntervals ? 5 : i >= 40 ? 30 : 0),
      (rng, i) => (i >= 40 ? 400 + 50 * rng() : sampleLognormal(TRUTH, rng)),
    );
    return r;
  };

  it('reads the quantiles off the quiet intervals, over the CPU per hash; the rest is off the path', () => {
    const r = record();
    const { spread, reason } = fitScryptSpread(r, 45);
    if (!spread) throw new Error(reason);
    // 400 hashes: the median is known within about 5 %, the p95 within about 8 % (its order statistic's spread).
    expect(Math.abs((spread.p50 * 45) / 37 - 1)).toBeLessThan(0.05);
    expect(Math.abs((spread.p95 * 45) / p95 - 1)).toBeLessThan(0.08);
    const mean = 37 * Math.exp(TRUTH.sigma ** 2 / 2);
    expect(Math.abs((tableMean(spread) * 45) / mean - 1)).toBeLessThan(0.05);
    expect(reason).toContain('400 hashes in 40 intervals of 2 s');
    expect(reason).toContain('off the requests');
  });

  it('where the quiet intervals hold too few, takes the next quietest, never one with a hash queued', () => {
    // 6 quiet intervals (60 hashes), then 34 at 15 a second (0.7 at once), then the pool's queue.
    const r = recordWithCosts();
    withHashTimes(
      r,
      (i) => (i < 6 ? 5 : i < 40 ? 15 : 30),
      (rng, i) => (i >= 40 ? 400 + 50 * rng() : sampleLognormal(TRUTH, rng)),
    );
    const { spread, reason } = fitScryptSpread(r, 45);
    if (!spread) throw new Error(reason);
    const [, hashes, intervals, atOnce] = reason.match(
      /(\d+) hashes in (\d+) intervals of 2 s with at most ([\d.]+) hashes at once/,
    ) ?? [null, '0', '0', '99'];
    // The quietest of the busier intervals until 100 hashes: two or three of 30.
    expect(Number(hashes)).toBeGreaterThanOrEqual(100);
    expect(Number(hashes)).toBeLessThan(160);
    expect(Number(intervals)).toBeLessThanOrEqual(10);
    expect(Number(atOnce)).toBeGreaterThan(0.25);
    expect(Number(atOnce)).toBeLessThanOrEqual(1);
    // About 120 hashes: the median within about 10 %; a queued hash (400 ms, 9 times it) would show in the p95.
    expect(Math.abs((spread.p50 * 45) / 37 - 1)).toBeLessThan(0.1);
    expect((spread.p95 * 45) / p95).toBeLessThan(1.5);
  });

  it('scales a table whose mean would exceed the CPU per hash to mean 1', () => {
    const { spread } = fitScryptSpread(record(), 30);
    expect(tableMean(spread as QuantileTable)).toBeCloseTo(1, 2);
  });

  it('fits none with fewer than 100 quiet hashes, and the calibration says why', () => {
    const r = record(7);
    expect(fitScryptSpread(r, 45).spread).toBeUndefined();
    const c = fitCalibration(r, prior).calibration;
    expect(c.service.scryptSpread).toBeUndefined();
    expect(c.reasons?.['service.scryptSpread']).toContain('70 hashes in 7 intervals');
    const fitted = fitCalibration(record(), prior).calibration;
    expect(fitted.service.scryptSpread?.p50).toBeGreaterThan(0);
  });
});

describe("calibrate fits a killed service's restart", () => {
  const kill = (o: { planned: number; wait: number; downtime: number | null }): FaultRecord => ({
    origin: '--chaos kill-service@20',
    kind: 'kill',
    target: 'registration',
    description: 'registration killed (SIGKILL) and restarted',
    profileMinute: 20,
    profileSeconds: o.wait * 60,
    plannedSeconds: o.planned,
    plannedEndSeconds: o.planned + o.wait,
    appliedSeconds: o.planned + 0.1,
    restoredSeconds: o.downtime === null ? null : o.planned + 0.1 + o.downtime,
    kill: { pidBefore: 1, pidAfter: o.downtime === null ? null : 2, downtimeSeconds: o.downtime },
  });

  it("from each restart's downtime less the schedule's wait before it, averaged", () => {
    const r = recordWithCosts();
    r.manifest.faults = [
      kill({ planned: 20, wait: 0, downtime: 0.7 }),
      kill({ planned: 40, wait: 2, downtime: 3.1 }),
      // Never restarted: nothing to read of a restart.
      kill({ planned: 60, wait: 0, downtime: null }),
    ];
    const { restartMs, workerStartMs, reason } = fitRestart(r, prior.service);
    expect(restartMs).toBeCloseTo(900, 6);
    expect(workerStartMs).toBeUndefined();
    expect(reason).toContain('2 restarts');
    expect(fitCalibration(r, prior).calibration.service.restartMs).toBeCloseTo(900, 6);
  });

  it("of a cluster, each worker's start: the downtime less one process's start, over the workers' share of the cores", () => {
    const r = recordWithCosts({ cores: 2 });
    r.manifest.stack.knobs = { ...r.manifest.stack.knobs, WORKERS: '4' };
    r.manifest.faults = [kill({ planned: 20, wait: 0, downtime: 2.5 })];
    const withRestart = { ...prior, service: { ...prior.service, restartMs: 700 } };
    // 2,500 ms down, 700 of them the primary's start; four workers on two cores: two workers' starts.
    const fitted = fitRestart(r, withRestart.service);
    expect(fitted).toMatchObject({
      workerStartMs: 900,
      reason: expect.stringContaining('WORKERS=4 on 2 cores'),
    });
    expect(fitted.restartMs).toBeUndefined();
    const c = fitCalibration(r, withRestart).calibration;
    expect([c.service.restartMs, c.service.workerStartMs]).toEqual([700, 900]);
    expect(c.reasons?.['service.restartMs']).toContain('fitted service.workerStartMs');
    // The duration the simulator then gives that cluster's restart is the run's.
    expect(restartDurationMs(c.service, 4, 2)).toBeCloseTo(2500, 6);
    expect(restartDurationMs(c.service, 1, 2)).toBe(700);
    expect(restartDurationMs(c.service, 2, 2)).toBe(1600);
    expect(restartDurationMs(c.service, 2, 16)).toBe(1600);
  });

  it("keeps the prior's from a run whose schedule killed nothing, and says so", () => {
    const withRestart = { ...prior, service: { ...prior.service, restartMs: 1234 } };
    const c = fitCalibration(recordWithCosts(), withRestart).calibration;
    expect(c.service.restartMs).toBe(1234);
    expect(c.reasons?.['service.restartMs']).toContain('restarted no killed service');
  });
});
