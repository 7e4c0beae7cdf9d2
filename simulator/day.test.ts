import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, RETRY_POLICY } from '../model/behaviour.ts';
import { type Capacity, parseCapacity } from '../model/capacity.ts';
import { constantProfile } from '../model/profile.ts';
import { createRng, rngFor } from '../model/random.ts';
import { parseServiceKnobs } from '../model/service-design.ts';
import { SLOS } from '../model/slo.ts';
import { lognormalParams } from '../model/station.ts';
import { bottleneck } from '../reports/bottleneck.ts';
import { bucketRates, type RunRecord, runMean, SMTP_POOL, seriesValues } from '../reports/record.ts';
import { COSTED_STEPS, loadCalibration, scryptCpuMs } from './calibration.ts';
import { type DayOptions, simulateDay } from './day.ts';
import type { SimKill } from './faults.ts';
import { fitLognormalBins, fitScryptSpread, serviceBins } from './fit.ts';
import { simulatedRecord } from './record.ts';
import { streamRng, streamState } from './registrant.ts';

const { $comment: _, ...defaults } = JSON.parse(
  readFileSync(new URL('../mock-services/capacity.default.json', import.meta.url), 'utf8'),
);

/** Five minutes of 600 arrivals a minute, think times compressed so registrants reach every step. */
function options(
  o: { seed?: number; capacity?: (c: Capacity) => void; knobs?: Record<string, string> } = {},
): DayOptions {
  const capacity = parseCapacity(structuredClone(defaults), 'capacity.default.json');
  o.capacity?.(capacity);
  return {
    profile: constantProfile({ perMinute: 600, minutes: 5 }),
    scale: 1,
    compress: 1,
    thinkCompress: 2000,
    capacity,
    knobs: parseServiceKnobs({ SCRYPT_N: '1024', ...o.knobs }, 'test'),
    cores: 8,
    calibration: loadCalibration(),
    cpuStretch: 1,
    seed: o.seed ?? 7,
    model: DEFAULT_MODEL,
    retry: RETRY_POLICY,
    minorShare: 0.02,
    ineligibleShare: 0.1,
    mailWaitS: 60,
    gracefulStopS: 30,
    maxVUs: Number.POSITIVE_INFINITY,
    photoBytes: 289_040,
    intervalSeconds: 10,
  };
}

const record = (day: DayOptions, result = simulateDay(day)) =>
  simulatedRecord(
    {
      runId: 'test',
      engineVersion: '0',
      profileFile: 'constant',
      serviceProfile: '2020',
      knobs: {},
      calibrationSource: 'default',
      overrides: {},
      day,
    },
    result,
  );

/** What the report reads a record as: the simulator's, from nowhere on disk. */
const asRun = (r: ReturnType<typeof record>): RunRecord => ({
  dir: '(simulated)',
  ...r,
  summary: r.summary as RunRecord['summary'],
});

/**
 * Sign-ups whose mail holds one of the service's `connections` SMTP connections (EMAIL_CONNECTIONS)
 * for about 400 ms, at a relay of 100 servers that never queues: 10 sign-ups a second keep 4 busy.
 */
const mailDay = (connections: string) =>
  record(
    options({
      knobs: { EMAIL_CONNECTIONS: connections },
      capacity: (c) => {
        c.email = {
          ...c.email,
          concurrency: 100,
          queue: 100,
          serviceTime: { distribution: 'lognormal', medianMs: 400, p99Ms: 600 },
        };
      },
    }),
  );

const count = (r: ReturnType<typeof record>, stage: string, outcome: string, reason?: string) =>
  r.manifest.totals.funnel
    .filter(
      (f) => f.stage === stage && f.outcome === outcome && (reason === undefined || f.reason === reason),
    )
    .reduce((a, f) => a + f.count, 0);

const rejections = (r: ReturnType<typeof record>, dependency: string, reason: string) =>
  r.timeseries.series
    .filter(
      (s) =>
        s.name === 'dependency_rejections' &&
        s.labels.dependency === dependency &&
        s.labels.reason === reason,
    )
    .reduce((a, s) => a + s.values.reduce<number>((b, v) => b + (v ?? 0), 0), 0);

describe("the simulator's random streams", () => {
  it('are the streams of model/random.ts, number for number, keys beyond 32 bits included', () => {
    const keys: Array<[number, number, number?, number?]> = [
      [2020, 0, 0],
      [2020, 0, 1_432_132],
      [7, 0x5e7, 41, 3],
      [0, 0x9e5, 5_000_000_000],
      [4294967295, 0x57a, 4],
      [11, 0x5e2],
    ];
    for (const [seed, ...k] of keys) {
      const model = rngFor(seed, ...(k.filter((x) => x !== undefined) as number[]));
      const ours = streamRng(seed, k[0], k[1], k[2]);
      const fromState = createRng(streamState(seed, k[0], k[1], k[2]));
      for (let i = 0; i < 50; i++) {
        const x = model();
        expect(ours()).toBe(x);
        expect(fromState()).toBe(x);
      }
    }
  });
});

describe('a simulated day', () => {
  it('puts every arrival through the funnel: one outcome per stage reached, counts that add up', () => {
    const r = record(options());
    expect(r.manifest.totals.arrivals).toBe(3000);
    const ended = r.manifest.totals.funnel
      .filter((f) => f.stage === 'registered')
      .reduce((a, f) => a + f.count, 0);
    expect(ended).toBe(3000);
    expect(count(r, 'joined_wave', 'continued')).toBeGreaterThan(0);
    expect(count(r, 'biodata_verified', 'rejected', 'too_young')).toBeGreaterThan(0);
  });

  it('a full waiting room refuses with Retry-After, the service says 503, and registrants retry until they give up', () => {
    const r = record(
      options({
        capacity: (c) => {
          c.dukcapil = { ...c.dukcapil, concurrency: 1, queue: 0, retryAfterSeconds: 2, errorRate: 0 };
        },
      }),
    );
    expect(rejections(r, 'dukcapil', 'queue_full')).toBeGreaterThan(0);
    const biodata = r.manifest.totals.steps.find((s) => s.step === 'submit_biodata');
    const attempted = r.manifest.totals.funnel
      .filter(
        (f) =>
          f.stage === 'biodata_verified' && f.outcome !== 'left_by_choice' && f.outcome !== 'in_progress',
      )
      .reduce((a, f) => a + f.count, 0);
    // Retries: more requests than registrants who tried, and some failed after all their tries.
    expect(biodata?.requests).toBeGreaterThan(attempted);
    expect(count(r, 'biodata_verified', 'failed', 'dependency:dukcapil')).toBeGreaterThan(0);
  });

  it('a dependency slower than its timeout answers 504, which the service passes on as a failure naming it', () => {
    const r = record(
      options({
        knobs: { MINISTRY_TIMEOUT_MS: '8000' },
        capacity: (c) => {
          c.dtks = { ...c.dtks, serviceTime: { distribution: 'constant', ms: 6000 }, timeoutMs: 5000 };
        },
      }),
    );
    expect(rejections(r, 'dtks', 'timeout')).toBeGreaterThan(0);
    expect(count(r, 'biodata_verified', 'failed', 'dependency:dtks')).toBeGreaterThan(0);
    expect(count(r, 'biodata_verified', 'continued')).toBe(0);
  });

  it('faults a station as its mock is, and the breaker (MINISTRY_BREAKER) stops asking a ministry that is down', () => {
    // Dukcapil down (503 to every request, after its service time) from 60 s to 180 s of the five minutes.
    const down = (knobs: Record<string, string> = {}) => {
      const day = options({ knobs });
      day.faults = [
        {
          entry: { kind: 'down', dependency: 'dukcapil', at: 1, origin: 'test', forSeconds: 120 },
          startMs: 60_000,
          endMs: 180_000,
        },
      ];
      return record(day);
    };
    const off = down();
    const on = down({ MINISTRY_BREAKER: 'on' });
    const biodata = (r: ReturnType<typeof record>) =>
      r.manifest.totals.steps.find((x) => x.step === 'submit_biodata') as {
        requests: number;
        failed: number;
      };
    // Without the breaker every check in the two minutes reaches Dukcapil and fails there.
    const injected = rejections(off, 'dukcapil', 'injected_error');
    expect(injected).toBeGreaterThan(100);
    expect(count(off, 'biodata_verified', 'continued')).toBeGreaterThan(0);
    // With it, a few calls a process open it and it asks again once every 5 s: Dukcapil is asked a
    // fraction as often (34 calls failed there against 3,802, 2026-12-07), the registrants are
    // refused at once (submit_biodata's p50 1.5 ms against 113, most of its requests then being
    // refusals) and come back after the fault.
    const p50 = (r: ReturnType<typeof record>) =>
      r.manifest.totals.steps.find((x) => x.step === 'submit_biodata')?.p50Ms as number;
    expect(p50(on)).toBeLessThan(p50(off) / 10);
    expect(rejections(on, 'dukcapil', 'injected_error')).toBeLessThan(injected / 4);
    expect(biodata(on).failed).toBeGreaterThan(0);
    expect(count(on, 'biodata_verified', 'continued')).toBeGreaterThan(
      0.8 * count(off, 'biodata_verified', 'continued'),
    );
  });

  it('with a bulkhead (MINISTRY_BULKHEAD), a slow ministry is asked at most so many at once, the rest shed or timed out at once', () => {
    // Dukcapil takes 1.5 s a call with room for everyone; 10 checks a second in 2 processes ask it.
    const slow = (knobs: Record<string, string> = {}) =>
      record(
        options({
          knobs: { WORKERS: '2', MINISTRY_TIMEOUT_MS: '4000', ...knobs },
          capacity: (c) => {
            c.dukcapil = {
              ...c.dukcapil,
              concurrency: 1000,
              queue: 1000,
              serviceTime: { distribution: 'constant', ms: 1500 },
            };
          },
        }),
      );
    const utilisation = (r: ReturnType<typeof record>) =>
      Math.max(
        ...(
          r.timeseries.series.find(
            (s) => s.name === 'dependency_utilisation' && s.labels.dependency === 'dukcapil',
          )?.values ?? []
        ).map((v) => v ?? 0),
      );
    const open = slow();
    const guarded = slow({ MINISTRY_BULKHEAD: '3', MINISTRY_BULKHEAD_QUEUE: '2' });
    // Unguarded, some 15 calls at once (10 a second x 1.5 s), all answered.
    expect(utilisation(open)).toBeGreaterThan(10 / 1000);
    expect(count(open, 'biodata_verified', 'failed')).toBe(0);
    // Guarded: at most 3 per process in flight, 2 waiting (each waiting up to 1.5 s of its 4 s);
    // the rest refused at once, failing their check, which the registrants try again.
    expect(utilisation(guarded)).toBeLessThanOrEqual(6 / 1000);
    expect(utilisation(guarded)).toBeGreaterThan(0);
    expect(count(guarded, 'biodata_verified', 'failed', 'dependency:dukcapil')).toBeGreaterThan(0);
    const biodata = (r: ReturnType<typeof record>) =>
      r.manifest.totals.steps.find((x) => x.step === 'submit_biodata') as { p50Ms: number; failed: number };
    expect(biodata(guarded).failed).toBeGreaterThan(0);
  });

  it('with the answer cache (MINISTRY_CACHE), a registrant who tries again is not asked of Dukcapil twice', () => {
    // DTKS fails half its calls (500: the service does not retry it), after Dukcapil and Dapodik
    // answered (sequential): each registrant tries the check again. Dukcapil fails a tenth of its
    // calls, so its failures count its calls.
    const run = (knobs: Record<string, string> = {}) =>
      record(
        options({
          knobs,
          capacity: (c) => {
            c.dtks = { ...c.dtks, errorRate: 0.5, errorStatus: 500 };
            c.dukcapil = { ...c.dukcapil, errorRate: 0.1, errorStatus: 500 };
          },
        }),
      );
    const plain = run();
    const cached = run({ MINISTRY_CACHE: 'on' });
    const asked = (r: ReturnType<typeof record>) => rejections(r, 'dukcapil', 'injected_error');
    const biodata = (r: ReturnType<typeof record>) =>
      r.manifest.totals.steps.find((x) => x.step === 'submit_biodata') as { requests: number };
    // As many checks either way (within the draws'), about half the calls to Dukcapil with the
    // cache (263 of its failures against 518, 2026-12-07): the tries after a DTKS failure get
    // Dukcapil's answer from it.
    expect(Math.abs(biodata(cached).requests / biodata(plain).requests - 1)).toBeLessThan(0.1);
    expect(asked(cached)).toBeLessThan(0.8 * asked(plain));
    expect(asked(cached)).toBeGreaterThan(0);
  });

  it('with idempotency keys (IDEMPOTENCY), a sign-up that timed out and is tried again is not refused as a duplicate', () => {
    // Full-cost hashes on one core at half speed: sign-ups queue past the registrants' 30 s
    // timeout, they try again, and the first sign-up commits meanwhile.
    const run = (knobs: Record<string, string> = {}) =>
      record({
        ...options({ knobs: { SCRYPT_N: '16384', ...knobs } }),
        cores: 1,
        cpuStretch: 2,
        profile: constantProfile({ perMinute: 600, minutes: 3 }),
      });
    const plain = run();
    const keyed = run({ IDEMPOTENCY: 'on' });
    // Without keys the retry runs again and the first's account refuses it: counted as the rules'.
    expect(count(plain, 'registered', 'rejected', 'duplicate_email')).toBeGreaterThan(0);
    // With them it is told the first still runs, and tries again; those who run out of tries while
    // it does are the system's failures, never the rules'.
    expect(count(keyed, 'registered', 'rejected')).toBe(0);
    expect(count(keyed, 'registered', 'failed', 'request_in_progress')).toBeGreaterThan(0);
  });

  it('with presigned uploads (PHOTO_UPLOAD), a photo is three requests, its PUT to the store retried on a 5xx', () => {
    const steps = (r: ReturnType<typeof record>) =>
      r.manifest.totals.steps.find((x) => x.step === 'upload_photo') as { requests: number; failed: number };
    const through = record(options());
    const presigned = record(options({ knobs: { PHOTO_UPLOAD: 'presigned' } }));
    const uploaded = (r: ReturnType<typeof record>) => count(r, 'photo_uploaded', 'continued');
    expect(uploaded(presigned)).toBeGreaterThan(0);
    // The URL, the PUT, the confirmation: three requests a photo (a retried one a few more).
    expect(steps(presigned).requests).toBeGreaterThanOrEqual(3 * uploaded(presigned));
    expect(steps(presigned).requests).toBeLessThan(3.1 * uploaded(presigned));
    expect(steps(through).requests).toBeLessThan(1.1 * uploaded(through));
    // The store failing half its PUTs with a 500: each is tried again, up to four times, and those
    // that never got through fail the step on the store.
    const failing = record(
      options({
        knobs: { PHOTO_UPLOAD: 'presigned' },
        capacity: (c) => {
          c.upload = { ...c.upload, errorRate: 0.5, errorStatus: 500 };
        },
      }),
    );
    expect(steps(failing).failed).toBeGreaterThan(0.3 * uploaded(failing));
    expect(count(failing, 'photo_uploaded', 'failed', 'dependency:upload')).toBeGreaterThan(0);
    expect(count(failing, 'photo_uploaded', 'failed', 'dependency:upload')).toBeLessThan(
      0.2 * uploaded(failing),
    );
  });

  it("names the service's own SMTP connections when they run out before the relay's servers", () => {
    const tight = mailDay('2');
    const pool = seriesValues(tight.timeseries, 'dependency_utilisation', { dependency: SMTP_POOL }) ?? [];
    expect(Math.max(...pool.map((v) => v ?? 0))).toBe(1);
    const relay = seriesValues(tight.timeseries, 'dependency_utilisation', { dependency: 'email' }) ?? [];
    expect(Math.max(...relay.map((v) => v ?? 0))).toBeLessThanOrEqual(0.02);
    expect(bottleneck(asRun(tight)).firstSaturated.map((s) => s.name)).toEqual([SMTP_POOL]);
    const roomy = mailDay('16');
    expect(
      bottleneck(asRun(roomy)).dependencies.find((d) => d.dependency === SMTP_POOL)?.saturatedAtSeconds,
    ).toBeNull();
  });

  it('another system seed draws the system anew for the same registrants (validate pools such replications)', () => {
    const day = options();
    const a = simulateDay(day);
    const b = simulateDay({ ...day, systemSeed: day.seed + 1 });
    const again = simulateDay({ ...day, systemSeed: day.seed });
    // The registrants decide alike: the same arrivals and, where the system served them alike (every
    // sign-up here), the same choices at the next stage; later, who reaches a stage is the system's doing.
    expect(b.rec.arrivals).toBe(a.rec.arrivals);
    const at = (r: typeof a, stage: string) => r.rec.funnel().filter((f) => f.stage === stage);
    expect(at(b, 'registered')).toEqual(at(a, 'registered'));
    expect(at(b, 'email_verified').find((f) => f.outcome === 'left_by_choice')).toEqual(
      at(a, 'email_verified').find((f) => f.outcome === 'left_by_choice'),
    );
    // The system draws anew: the services' times differ; the seed itself as the system seed, nothing.
    const p95 = (r: typeof a) => COSTED_STEPS.map((s) => r.rec.steps[s].latency.quantile(0.95));
    expect(p95(b)).not.toEqual(p95(a));
    expect(p95(again)).toEqual(p95(a));
  });

  it("counts each interval's requests slower than their step's p95 objective, as its p95 says", () => {
    // submit_biodata about its objective (3 s): DTKS alone takes a median of 2 s, its p99 3.5 s
    const r = record(
      options({
        capacity: (c) => {
          c.dtks = {
            ...c.dtks,
            concurrency: 1000,
            serviceTime: { distribution: 'lognormal', medianMs: 2000, p99Ms: 3500 },
            timeoutMs: 20_000,
          };
        },
      }),
    );
    const slo = SLOS.submit_biodata.p95Ms;
    const step = 'submit_biodata';
    const shares = seriesValues(r.timeseries, 'step_slow_ratio', { step, above_ms: String(slo) }) ?? [];
    const p95s = seriesValues(r.timeseries, 'step_latency_ms', { step, quantile: '0.95' }) ?? [];
    const reqs = seriesValues(r.timeseries, 'step_requests', { step }) ?? [];
    let over = 0;
    let under = 0;
    for (const [i, perSecond] of reqs.entries()) {
      const n = Math.round((perSecond ?? 0) * r.timeseries.intervalSeconds);
      const share = shares[i] ?? null;
      const p95 = p95s[i] ?? null;
      if (n === 0) {
        expect(share).toBeNull();
        continue;
      }
      if (share === null || p95 === null) throw new Error(`interval ${i}: ${n} requests and no share or p95`);
      // the p95 is the latency of rank ceil(0.95 n), within the histogram's 1 % buckets
      const atOrAbove = n - Math.ceil(0.95 * n) + 1;
      if (p95 > slo * 1.01) {
        over++;
        expect(share * n).toBeGreaterThanOrEqual(atOrAbove - 0.5);
      } else if (p95 < slo / 1.01) {
        under++;
        expect(share * n).toBeLessThan(atOrAbove - 0.5);
      }
    }
    // both kinds of interval were there to check
    expect(over).toBeGreaterThan(0);
    expect(under).toBeGreaterThan(0);
  });

  it('is deterministic: the same seed gives the same record, byte for byte; another seed another', () => {
    const a = JSON.stringify(record(options({ seed: 11 })));
    const b = JSON.stringify(record(options({ seed: 11 })));
    const c = JSON.stringify(record(options({ seed: 12 })));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('keeps no work that could only start after the end, and the record is byte for byte the one that kept it all', () => {
    // One core, scrypt at N=16384: sign-ups pile up at the thread pool far beyond what the run can serve.
    const day: DayOptions = {
      ...options({ knobs: { SCRYPT_N: '16384' } }),
      cores: 1,
      profile: constantProfile({ perMinute: 3000, minutes: 3 }),
    };
    const kept = simulateDay({ ...day, keepUnservable: true });
    const dropped = simulateDay(day);
    expect(kept.neverServed).toBe(0);
    expect(dropped.neverServed).toBeGreaterThan(1000);
    expect(JSON.stringify(record(day, dropped))).toBe(JSON.stringify(record(day, kept)));
  });

  it("records the service's CPU, not the cores the others took, and with a fresh service's warm-up", () => {
    // Far from saturation (8 cores): the same work, so the same CPU, on whatever cores were left;
    // a warm-up is CPU spent on top.
    const cpu = (day: DayOptions) =>
      (
        record(day).timeseries.series.find(
          (x) => x.name === 'process_cpu_cores' && x.labels.process === 'registration',
        )?.values ?? []
      ).reduce((a: number, v) => a + (v ?? 0), 0);
    const byInterval = (factor: number, cores: number): DayOptions['cpuStretchOverTime'] => ({
      intervalMs: 1000,
      factors: Array.from({ length: 600 }, () => factor),
      cores: Array.from({ length: 600 }, () => cores),
    });
    const plain = cpu(options());
    expect(plain).toBeGreaterThan(0);
    expect(cpu({ ...options(), cpuStretchOverTime: byInterval(1, 4) }) / plain).toBeCloseTo(1, 1);
    expect(cpu({ ...options(), cpuStretchOverTime: byInterval(1.5, 4) }) / plain).toBeCloseTo(1.5, 1);
  });

  it('queues the service behind the cores the others left it, interval by interval', () => {
    // The same day on 2 cores, and on 2 cores of which the others leave 0.6 from the 60th second to
    // the 120th: the sign-ups there wait, the rest do not.
    const day: DayOptions = {
      ...options({ knobs: { SCRYPT_N: '16384' } }),
      cores: 2,
      profile: constantProfile({ perMinute: 600, minutes: 3 }),
      intervalSeconds: 1,
    };
    const p95 = (d: DayOptions, from: number, to: number) => {
      const byInterval =
        simulateDay({ ...d, keepLatencyByInterval: true }).rec.latencyByInterval?.create_account ?? [];
      const qs = byInterval.slice(from, to).map((h) => h?.quantile(0.95) ?? 0);
      return qs.reduce((a, b) => a + b, 0) / qs.length;
    };
    const left: DayOptions = {
      ...day,
      cpuStretchOverTime: {
        intervalMs: 1000,
        factors: [],
        cores: Array.from({ length: 240 }, (_, i) => (i >= 60 && i < 120 ? 0.6 : 2)),
      },
    };
    expect(p95(left, 80, 120)).toBeGreaterThan(3 * p95(day, 80, 120));
    expect(p95(left, 20, 60)).toBeCloseTo(p95(day, 20, 60), 6);
  });
});

describe("a simulated record's timing of the dependencies, as a rehearsal's record has it", () => {
  const mean = (r: ReturnType<typeof record>, m: 'service' | 'call', dep: string) =>
    runMean(
      r.timeseries,
      m === 'service' ? 'dependency_service_ms' : 'dependency_call_ms',
      m === 'service' ? 'dependency_service_buckets' : 'dependency_call_buckets',
      'dependency',
      dep,
    );

  it("bins each station's services as its mock does, so that the fit reads its service time back", () => {
    const r = record(options());
    // Dapodik's default capacity (median 40 ms, p99 300 ms) never queues at these 10 arrivals a second.
    const { serviceTime } = defaults.dapodik as { serviceTime: { medianMs: number; p99Ms: number } };
    const fitted = fitLognormalBins(serviceBins(asRun(r), 'dapodik'));
    if (!fitted) throw new Error('no service times of dapodik in the record');
    const truth = lognormalParams(serviceTime.medianMs, serviceTime.p99Ms);
    expect(Math.exp(fitted.mu) / Math.exp(truth.mu)).toBeGreaterThan(0.95);
    expect(Math.exp(fitted.mu) / Math.exp(truth.mu)).toBeLessThan(1.05);
    expect(fitted.sigma / truth.sigma).toBeGreaterThan(0.93);
    expect(fitted.sigma / truth.sigma).toBeLessThan(1.07);
    // A bucket is null in an interval it counted nothing in, as the scraper writes it.
    const buckets = r.timeseries.series.filter((s) => s.name === 'dependency_service_buckets');
    expect(buckets.every((s) => s.values.length === r.timeseries.t.length)).toBe(true);
    expect(buckets.flatMap((s) => s.values).some((v) => v === 0)).toBe(false);
    expect(buckets.flatMap((s) => s.values).some((v) => v === null)).toBe(true);
  });

  it("times a call from the service's side: its service where nothing queues, the queue too where it does", () => {
    const light = record(options());
    const served = mean(light, 'service', 'dapodik') as number;
    expect(served).toBeGreaterThan(0);
    expect((mean(light, 'call', 'dapodik') as number) / served).toBeCloseTo(1, 2);
    // Dukcapil with one server for more calls than it serves: a queue.
    const queued = record(
      options({ capacity: (c) => void Object.assign(c.dukcapil, { concurrency: 1, queue: 1000 }) }),
    );
    expect(mean(queued, 'call', 'dukcapil') as number).toBeGreaterThan(
      3 * (mean(queued, 'service', 'dukcapil') as number),
    );
    const report = bottleneck(asRun(queued)).dependencies.find((d) => d.dependency === 'dukcapil');
    expect(report?.meanServiceMs).toBeCloseTo(mean(queued, 'service', 'dukcapil') as number, 0);
    expect(report?.meanCallMs).toBeCloseTo(mean(queued, 'call', 'dukcapil') as number, 0);
  });

  it('counts a call the service gave up on until its timeout, and no service for the mock that was left', () => {
    const r = record(
      options({
        knobs: { MINISTRY_TIMEOUT_MS: '1000' },
        capacity: (c) => {
          c.dtks = { ...c.dtks, serviceTime: { distribution: 'constant', ms: 3000 } };
        },
      }),
    );
    expect(mean(r, 'call', 'dtks')).toBeCloseTo(1000, 0);
    expect(serviceBins(asRun(r), 'dtks')).toEqual([]);
  });

  it("counts a send's wait for one of the service's SMTP connections in its time", () => {
    const roomy = mailDay('16');
    expect(
      (mean(roomy, 'call', 'email') as number) / (mean(roomy, 'service', 'email') as number),
    ).toBeCloseTo(1, 2);
    const tight = mailDay('2');
    expect(mean(tight, 'call', 'email') as number).toBeGreaterThan(
      2 * (mean(tight, 'service', 'email') as number),
    );
  });
});

describe("a simulated record's timing of the hashes", () => {
  it("bins each hash's time as the service's histogram does, so that calibrate reads back the spread it was drawn from", () => {
    // A hash's time on its path, over its CPU, as the calibration says it is drawn.
    const spread = { min: 0.9, p50: 0.95, p90: 1.1, p95: 1.2, p99: 1.4 };
    const base = options();
    const calibration = {
      ...base.calibration,
      service: { ...base.calibration.service, scryptSpread: spread },
    };
    const r = record({ ...base, calibration });
    const hashes = (op: string) =>
      (bucketRates(r.timeseries, 'password_hash_buckets', 'operation', op) ?? []).reduce(
        (a, v) => a + v * 10,
        0,
      );
    // One hash a sign-up that got past its checks (a few may still be hashing at the end).
    const signUps = r.manifest.totals.steps.find((x) => x.step === 'create_account')?.requests ?? 0;
    expect(Math.abs(hashes('hash') - signUps)).toBeLessThanOrEqual(2);
    expect(hashes('verify')).toBeGreaterThan(0);
    const fitted = fitScryptSpread(asRun(r), scryptCpuMs(calibration, 1024)).spread;
    if (!fitted) throw new Error('no spread fitted on the simulated record');
    // Read off buckets 1.1 x wide: each quantile within one bucket's width of the truth.
    for (const k of ['p50', 'p90', 'p95', 'p99'] as const) {
      expect(fitted[k] / spread[k]).toBeGreaterThan(0.95);
      expect(fitted[k] / spread[k]).toBeLessThan(1.05);
    }
  });
});

describe('a simulated day whose service is killed', () => {
  const killed = (startS: number, downS: number): SimKill => ({
    entry: { kind: 'kill', at: 0, origin: 'test', service: 'registration', restartAfterSeconds: 0 },
    startMs: startS * 1000,
    restartMs: startS * 1000,
    endMs: (startS + downS) * 1000,
  });

  it('refuses every request while it is down, and a registrant whose tries run out fails on the connection', () => {
    const day = { ...options(), kills: [killed(60, 20)] };
    const r = record(day);
    const ended = r.manifest.totals.funnel
      .filter((f) => f.stage === 'registered')
      .reduce((a, f) => a + f.count, 0);
    expect(ended).toBe(3000);
    // Four tries over at most 2 + 4 + 8 s of backoff: a sign-up sent in the first 6 s of the 20 is out of them.
    expect(count(r, 'registered', 'failed', 'connection')).toBeGreaterThan(0);
    expect(count(record(options()), 'registered', 'failed', 'connection')).toBe(0);
    const t = r.timeseries.t;
    const failed = seriesValues(r.timeseries, 'step_failed_ratio', { step: 'create_account' }) ?? [];
    const cpu = seriesValues(r.timeseries, 'process_cpu_cores', { process: 'registration' }) ?? [];
    const down = t.flatMap((end, i) => (end - 10 >= 60 && end <= 80 ? [i] : []));
    expect(down).toHaveLength(2);
    for (const i of down) {
      expect(failed[i]).toBe(1);
      expect(cpu[i]).toBeNull();
    }
    const after = t.findIndex((end) => end - 10 >= 90);
    expect(failed[after] ?? 1).toBeLessThan(0.1);
    expect(cpu[after]).toBeGreaterThan(0);
    expect(r.manifest.faults).toEqual([
      expect.objectContaining({
        kind: 'kill',
        target: 'registration',
        appliedSeconds: 60,
        restoredSeconds: 80,
        kill: { pidBefore: null, pidAfter: null, downtimeSeconds: 20 },
      }),
    ]);
  });

  it('loses no account it acknowledged, and its restart finds the wave as it was (WAVE_QUOTA)', () => {
    const quota = 40;
    const day = {
      ...options({ knobs: { WAVE_QUOTA: String(quota) } }),
      kills: [killed(100, 5), killed(200, 5)],
    };
    const r = record(day);
    expect(count(r, 'joined_wave', 'continued')).toBe(quota);
    expect(count(r, 'joined_wave', 'rejected', 'wave_full')).toBeGreaterThan(0);
  });
});

describe("the VU budget, as k6's arrival-rate executors keep it", () => {
  // Nobody finishes in the first 20 s: each sign-up's hash takes an hour of CPU (it times out at
  // 30 s), so every admitted registrant holds a VU. 10 arrivals a second, evenly spaced.
  const busy = (vus: { maxVUs: number; preAllocatedVUs?: number }): DayOptions => ({
    ...options(),
    cpuStretch: 1e6,
    intervalSeconds: 1,
    ...vus,
  });
  const series = (day: DayOptions, name: string) =>
    (record(day).timeseries.series.find((s) => s.name === name)?.values ?? []).map((v) => v ?? 0);

  it('drops the arrival that finds every VU busy below maxVUs, and makes one VU more for the next', () => {
    const day = busy({ preAllocatedVUs: 20, maxVUs: 60 });
    const admitted = series(day, 'arrivals');
    const dropped = series(day, 'dropped_iterations');
    // Arrivals 1-20 take the 20 VUs; then every other one is dropped (a VU is made) and the next
    // takes that VU, until the 60th VU: arrival 100. After it every arrival is dropped.
    const rule = (offered: number) =>
      offered <= 20 ? offered : offered <= 100 ? 20 + Math.floor((offered - 20) / 2) : 60;
    let offered = 0;
    let taken = 0;
    for (let i = 0; i < 20; i++) {
      offered += (admitted[i] as number) + (dropped[i] as number);
      taken += admitted[i] as number;
      expect(taken, `admitted by the end of second ${i + 1}, of ${offered} arrivals`).toBe(rule(offered));
    }
    expect(offered).toBeGreaterThan(150);
    // Every VU made at the start: none dropped until all 60 are busy.
    const whole = busy({ maxVUs: 60 });
    const wholeAdmitted = series(whole, 'arrivals');
    const wholeDropped = series(whole, 'dropped_iterations');
    offered = 0;
    taken = 0;
    for (let i = 0; i < 20; i++) {
      offered += (wholeAdmitted[i] as number) + (wholeDropped[i] as number);
      taken += wholeAdmitted[i] as number;
      expect(taken).toBe(Math.min(offered, 60));
    }
  });

  it('with preAllocatedVUs equal to maxVUs, or not given, is the same budget', () => {
    const a = record(busy({ maxVUs: 60 }));
    const b = record(busy({ maxVUs: 60, preAllocatedVUs: 60 }));
    expect(JSON.stringify(b.timeseries)).toBe(JSON.stringify(a.timeseries));
  });
});

describe("the dependencies' draws", () => {
  it("follow the run's key, as the mocks draw anew each run (one stream for every key gave every validation the same service times)", () => {
    // Registrants made alike (nobody leaves, is refused or waits more than a set minute), so that
    // the key can change nothing but the dependencies' and the service's draws.
    const alike = { leave: 0, fail: 0, reject: 0, delay: { minMinutes: 1, median: 0.001, p90: 0.0011 } };
    const model = Object.fromEntries(
      Object.keys(DEFAULT_MODEL).map((stage) => [stage, alike]),
    ) as typeof DEFAULT_MODEL;
    const day = (runKey?: number): DayOptions => ({
      ...options({
        capacity: (c) => {
          for (const dep of Object.values(c)) dep.errorRate = 0;
        },
      }),
      model,
      minorShare: 0,
      ineligibleShare: 0,
      ...(runKey === undefined ? {} : { runKey }),
    });
    // Whole ms: the same draws give the same p95 to well under a ms whatever tiny think times were drawn.
    const p95 = (runKey?: number) =>
      JSON.stringify(
        record(day(runKey)).manifest.totals.steps.map((s) => [s.step, Math.round(s.p95Ms ?? 0)]),
      );
    expect(p95(0)).toBe(p95());
    expect(p95(1)).not.toBe(p95(2));
  }, 60_000);
});
