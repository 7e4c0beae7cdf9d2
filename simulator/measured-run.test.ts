import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, expectedJourneySeconds, RETRY_POLICY } from '../model/behaviour.ts';
import { parseCapacity } from '../model/capacity.ts';
import { GRACEFUL_STOP_S } from '../model/journey.ts';
import { constantProfile } from '../model/profile.ts';
import { replay } from '../model/replay.ts';
import { parseServiceKnobs, SERVICE_PROFILES } from '../model/service-design.ts';
import type { RunRecord } from '../reports/record.ts';
import { CALIBRATION_VERSION, type Calibration, COSTED_STEPS, loadCalibration } from './calibration.ts';
import { type DayOptions, type DayResult, simulateDay } from './day.ts';
import { LogHistogram } from './histogram.ts';
import {
  appliedWarmUp,
  dayOfRecord,
  fitOnReplay,
  LIGHT_STEPS,
  latencyQuantiles,
  overheadOverTime,
  poolLatencies,
  withRequestOverhead,
} from './measured-run.ts';
import { tableQuantile } from './quantile-table.ts';
import { simulatedRecord } from './record.ts';

/**
 * The replay fit on a run whose truth is known: a simulated run on 2 cores of which the service
 * effectively had TRUE_CORES, every request TRUE_OVERHEAD_MS slower than the simulator makes it
 * (what a loaded machine adds), relabelled as measured. The fit must give both back.
 */

const TRUE_CORES = 0.8;
const TRUE_OVERHEAD_MS = 25;

const { $comment: _, ...defaults } = JSON.parse(readFileSync('mock-services/capacity.default.json', 'utf8'));
const prior = loadCalibration();
const withCores = (c: Calibration, cores: number): Calibration => ({
  ...c,
  service: { ...c.service, effectiveCores: cores },
});

/** A measured-looking record of three minutes at 4 arrivals a second (by default), with the truth above. */
function measuredRun(
  trueCores = TRUE_CORES,
  load = { perMinute: 240, minutes: 3 },
  /** the machine's latency as an independent draw of these quantiles (default: TRUE_OVERHEAD_MS on every request) */
  spread?: { min: number; p50: number; p90: number; p95: number; p99: number },
): RunRecord {
  const first: DayOptions = {
    profile: constantProfile(load),
    scale: 1,
    compress: 1,
    thinkCompress: 2000,
    capacity: parseCapacity(structuredClone(defaults), 'capacity.default.json'),
    knobs: parseServiceKnobs({ ...SERVICE_PROFILES['2020'] }, 'test'),
    cores: 2,
    calibration: prior,
    cpuStretch: 1,
    seed: 2020,
    model: DEFAULT_MODEL,
    retry: RETRY_POLICY,
    minorShare: 0.02,
    ineligibleShare: 0.1,
    mailWaitS: 60,
    gracefulStopS: 30,
    maxVUs: Number.POSITIVE_INFINITY,
    photoBytes: 289_040,
    intervalSeconds: 5,
  };
  const inputs = {
    runId: 'truth',
    engineVersion: '0',
    profileFile: 'constant',
    serviceProfile: '2020',
    knobs: { ...SERVICE_PROFILES['2020'] },
    calibrationSource: 'default',
    overrides: {},
  };
  const skeleton = simulatedRecord({ ...inputs, day: first }, simulateDay(first));
  const r: RunRecord = {
    dir: '(truth)',
    ...skeleton,
    summary: skeleton.summary as never,
    manifest: {
      ...skeleton.manifest,
      engine: { name: 'gelombang', version: '0' },
      scenario: {
        ...skeleton.manifest.scenario,
        file: 'scenarios/registration-day.ts',
        env: { THINK_COMPRESS: '2000' },
      },
      machine: { cores: 2, cpu: 'test', node: 'test' },
    },
  };
  delete r.manifest.simulation;
  // The truth: the same replay as validate will see it, on TRUE_CORES, every request TRUE_OVERHEAD_MS later.
  const truth = simulateDay({ ...dayOfRecord(r, withCores(prior, trueCores)), keepLatencyByInterval: true });
  const later = (x: number | null) => (x === null ? null : x + TRUE_OVERHEAD_MS);
  r.manifest.totals.steps = r.manifest.totals.steps.map((s) => {
    const h = truth.rec.steps[s.step as keyof typeof truth.rec.steps].latency;
    const [p50Ms, p90Ms, p95Ms, p99Ms] = spread
      ? latencyQuantiles(h, spread, [0.5, 0.9, 0.95, 0.99])
      : [0.5, 0.9, 0.95, 0.99].map((q) => later(h.quantile(q)));
    return { ...s, requests: h.count, p50Ms, p90Ms, p95Ms, p99Ms } as typeof s;
  });
  // Interval by interval too, as the record's series show the steps.
  const dt = r.timeseries.intervalSeconds;
  r.timeseries.series = r.timeseries.series.filter(
    (s) => !(s.name === 'step_requests' || s.name === 'step_latency_ms'),
  );
  for (const [step, byInterval] of Object.entries(truth.rec.latencyByInterval ?? {})) {
    r.timeseries.series.push({
      name: 'step_requests',
      labels: { step },
      values: byInterval.map((h) => (h?.count ?? 0) / dt),
    });
    for (const q of [0.5, 0.95, 0.99])
      r.timeseries.series.push({
        name: 'step_latency_ms',
        labels: { step, quantile: String(q) },
        values: byInterval.map((h) =>
          !h ? null : spread ? (latencyQuantiles(h, spread, [q])[0] as number) : later(h.quantile(q)),
        ),
      });
  }
  for (const step of LIGHT_STEPS) {
    const h = truth.rec.steps[step].latency;
    const fastest = h.quantile(1 / h.count);
    r.summary.metrics[`http_req_duration{step:${step}}`] = {
      type: 'trend',
      contains: 'time',
      values: { min: spread && fastest !== null ? fastest + spread.min : later(fastest) },
    };
  }
  return r;
}

describe('validate fits what a replay of the run shows', () => {
  it('gives back the cores the service effectively had and the latency added to every request', () => {
    const r = measuredRun();
    const { calibration: c, simulations } = fitOnReplay(r, withCores(prior, 2));
    expect(simulations).toBeGreaterThan(2);
    // Within 5 %: the bisection is within 1 %, the medians within the histograms' 1 % buckets.
    expect(Math.abs((c.service.effectiveCores as number) - TRUE_CORES) / TRUE_CORES).toBeLessThan(0.05);
    const o = c.service.requestOverheadMs;
    expect(o).toBeDefined();
    for (const k of ['min', 'p50', 'p90', 'p95', 'p99'] as const)
      expect(Math.abs((o?.[k] ?? 0) - TRUE_OVERHEAD_MS), k).toBeLessThan(2);
    expect(c.reasons?.['service.effectiveCores']).toContain('replaying');
    expect(c.reasons?.['service.requestOverheadMs']).toContain(LIGHT_STEPS[0]);
    expect(c.version).toBe(CALIBRATION_VERSION);
  }, 120_000);

  it('past the knee, where the fewest cores answer no login at all, still finds the cores it had', () => {
    // 30 arrivals a second for a minute on 1.5 cores: logins take 22 s (median); on MIN_CORES
    // every sign-up times out, so no login is simulated, which is slower than any measured median.
    const r = measuredRun(1.5, { perMinute: 1800, minutes: 1 });
    const { calibration: c } = fitOnReplay(r, withCores(prior, 2));
    expect(Math.abs((c.service.effectiveCores as number) - 1.5) / 1.5).toBeLessThan(0.1);
  }, 120_000);

  it('fits an overhead that validate, adding it as an independent draw, gives back the light steps’ p50 and p95', () => {
    // The machine's latency spread out (a tail), drawn independently of the simulated latency. This
    // wide (its p95 4.5 times its median), the overhead fitted as the differences of quantiles
    // alone, added back as a draw, puts verify_email's p95 15 % under the run's (measured with the
    // stretch left out): the stretch is what this test holds.
    const spread = { min: 0.5, p50: 2, p90: 6, p95: 9, p99: 16 };
    const r = measuredRun(TRUE_CORES, undefined, spread);
    const { calibration: c } = fitOnReplay(r, withCores(prior, 2));
    const day = simulateDay(dayOfRecord(r, c));
    const predicted = withRequestOverhead(r.manifest.totals.steps, day, c);
    for (const step of LIGHT_STEPS) {
      const m = r.manifest.totals.steps.find((s) => s.step === step);
      const p = predicted.find((s) => s.step === step);
      const off = (k: 'p50Ms' | 'p95Ms' | 'p99Ms') => Math.abs((p?.[k] as number) / (m?.[k] as number) - 1);
      // The p95, which validate judges, and the p50 are what the fit meets; the p99 follows the spread.
      expect(off('p95Ms'), `${step} p95`).toBeLessThan(0.05);
      expect(off('p50Ms'), `${step} p50`).toBeLessThan(0.08);
      expect(off('p99Ms'), `${step} p99`).toBeLessThan(0.25);
    }
    const o = c.service.requestOverheadMs;
    expect(o?.p95).toBeGreaterThan(spread.p90);
  }, 120_000);

  it('adds the overhead to a step’s latencies as an independent draw, the same every time', () => {
    const o = { min: 1, p50: 5, p90: 40, p95: 100, p99: 300 };
    const day = simulateDay({ ...dayOfRecordless(), seed: 3 });
    const h = day.rec.steps.verify_email.latency;
    const [p50, p95] = latencyQuantiles(h, o, [0.5, 0.95]);
    const alone = h.quantile(0.5) as number;
    // The sum's median lies between the two medians added and each alone; its p95 above the overhead's.
    expect(p50).toBeGreaterThan(Math.max(alone, o.p50));
    expect(p50).toBeLessThanOrEqual(alone + o.p50 + (h.quantile(0.9) as number));
    expect(p95).toBeGreaterThanOrEqual(o.p95);
    expect(latencyQuantiles(h, o, [0.5, 0.95])).toEqual([p50, p95]);
    expect(latencyQuantiles(h, undefined, [0.5])).toEqual([alone]);
  }, 60_000);
});

describe("the machine's latency by interval", () => {
  it('adds to each request the overhead at the level of the interval it ended in', () => {
    const o = { min: 1, p50: 5, p90: 40, p95: 100, p99: 300 };
    const day = simulateDay({ ...dayOfRecordless(), seed: 3, keepLatencyByInterval: true });
    const h = day.rec.steps.verify_email.latency;
    const byInterval = day.rec.latencyByInterval?.verify_email ?? [];
    expect(byInterval.reduce((a, x) => a + (x?.count ?? 0), 0)).toBe(h.count);
    const n = byInterval.length;
    const half = Math.floor(n / 2);
    const ended = (from: number, to: number) =>
      byInterval.slice(from, to).reduce((a, x) => a + (x?.count ?? 0), 0);
    expect(ended(0, half)).toBeGreaterThan(0);
    expect(ended(half, n)).toBeGreaterThan(0);
    // Level 1 everywhere: the overhead of one level for the run, within the draws' steadiness.
    const flat = latencyQuantiles(h, o, [0.5, 0.95], { byInterval, levels: new Array(n).fill(1) });
    const untimed = latencyQuantiles(h, o, [0.5, 0.95]);
    for (const [i, x] of flat.entries())
      expect(Math.abs((x as number) / (untimed[i] as number) - 1)).toBeLessThan(0.03);
    // Three times the overhead in the first half of the intervals, none after.
    const early = latencyQuantiles(h, o, [0.5, 0.95], {
      byInterval,
      levels: Array.from({ length: n }, (_, i) => (i < half ? 3 : 0)),
    });
    // Its p95 is where the early share of requests (three times the overhead) leaves 5 % above:
    // three times the overhead's 1 - 0.05 / share quantile, plus a latency of the step's own;
    // within 1.5 points of probability, as the shuffle gives the early requests ~2,400 of the
    // 4,000 draws, whose tail share is steady to ~0.6 points.
    const share = ended(0, half) / h.count;
    const u = 1 - 0.05 / share;
    expect(early[1]).toBeGreaterThanOrEqual(3 * tableQuantile(o, u - 0.015));
    expect(early[1]).toBeLessThanOrEqual(3 * tableQuantile(o, u + 0.015) + (h.quantile(0.99) as number));
    expect(early[1]).toBeGreaterThan(1.5 * (flat[1] as number));
    expect(latencyQuantiles(h, o, [0.5, 0.95], { byInterval, levels: [3] })).toEqual(
      latencyQuantiles(h, o, [0.5, 0.95], { byInterval, levels: new Array(n).fill(3) }),
    );
  }, 60_000);

  it('reads the levels from the light steps’ measured p95 around each interval, over their mean', () => {
    const r = measuredRun();
    const dt = r.timeseries.intervalSeconds;
    const n = r.timeseries.t.length;
    // verify_email alone: 10 ms in the first 4 intervals, 40 ms after, two requests a second.
    r.timeseries.series = r.timeseries.series.filter(
      (s) => !(s.name === 'step_requests' || s.name === 'step_latency_ms'),
    );
    const at = (f: (i: number) => number | null) => Array.from({ length: n }, (_, i) => f(i));
    r.timeseries.series.push(
      { name: 'step_requests', labels: { step: 'verify_email' }, values: at((i) => (i === 6 ? 0 : 2)) },
      {
        name: 'step_latency_ms',
        labels: { step: 'verify_email', quantile: '0.95' },
        values: at((i) => (i === 6 ? null : i < 4 ? 10 : 40)),
      },
      // A step that is not light says nothing of the machine's latency.
      { name: 'step_requests', labels: { step: 'login' }, values: at(() => 5) },
      { name: 'step_latency_ms', labels: { step: 'login', quantile: '0.95' }, values: at(() => 900) },
    );
    const levels = overheadOverTime(r) ?? [];
    expect(levels).toHaveLength(n);
    // 5 s intervals: each interval is its own window; the one without requests takes its neighbours'.
    const counted = at((i) => (i === 6 ? 0 : 2 * dt)) as number[];
    const mean =
      counted.reduce((a, c, i) => a + c * (i < 4 ? 10 : 40), 0) / counted.reduce((a, c) => a + c, 0);
    expect(levels[0]).toBeCloseTo(10 / mean, 9);
    expect(levels[5]).toBeCloseTo(40 / mean, 9);
    expect(levels[6]).toBeCloseTo(40 / mean, 9);
    expect(
      counted.reduce((a, c, i) => a + c * (levels[i] as number), 0) / counted.reduce((a, c) => a + c, 0),
    ).toBeCloseTo(1, 9);
    // 1 s intervals: five of them around each.
    r.timeseries.intervalSeconds = 1;
    const fine = overheadOverTime(r) ?? [];
    const top = fine[9] as number;
    expect(fine[0] as number).toBeCloseTo(top / 4, 9);
    expect(fine[2] as number).toBeCloseTo(((4 * 10 + 40) / 5 / 40) * top, 9);
    // The window around interval 4 holds 2-6, of which 6 has no request.
    expect(fine[4] as number).toBeCloseTo(((2 * 10 + 2 * 40) / 4 / 40) * top, 9);
    const weights = at((i) => (i === 6 ? 0 : 2)) as number[];
    expect(
      weights.reduce((a, c, i) => a + c * (fine[i] as number), 0) / weights.reduce((a, c) => a + c, 0),
    ).toBeCloseTo(1, 9);
    // With a replay: what the measured p95 had above the simulated one (5 ms in every interval).
    const replayed = Array.from({ length: n }, () => {
      const h = new LogHistogram();
      for (let k = 0; k < 3; k++) h.record(5);
      return h;
    });
    const sim = { rec: { latencyByInterval: { verify_email: replayed } } } as unknown as DayResult;
    const less = overheadOverTime(r, sim) ?? [];
    expect((less[0] as number) / (less[9] as number)).toBeCloseTo((10 - 5) / (40 - 5), 2);
    r.timeseries.series = r.timeseries.series.filter((s) => s.labels.step !== 'verify_email');
    expect(overheadOverTime(r)).toBeUndefined();
  }, 60_000);
});

describe('a measured run as a simulation of it', () => {
  it("gives the simulation the VUs registration-day gave itself when the record's options do not say", () => {
    const r = measuredRun();
    r.manifest.scenario = { ...r.manifest.scenario, name: 'registration-day', options: {} };
    const m = r.manifest;
    const replayed = m.replay as NonNullable<typeof m.replay>;
    const day = dayOfRecord(r, prior);
    const windowSeconds = ((replayed.windowMinutes[1] - replayed.windowMinutes[0]) * 60) / replayed.compress;
    const budget = replay(day.profile, {
      scale: replayed.scale,
      compress: replayed.compress,
      window: { fromMinute: replayed.windowMinutes[0], toMinute: replayed.windowMinutes[1] },
      journeySeconds: Math.min(expectedJourneySeconds(DEFAULT_MODEL, 2000), windowSeconds + GRACEFUL_STOP_S),
    }).scenario;
    const expected = budget.maxVUs;
    expect(day.maxVUs).toBe(expected);
    expect(Number.isFinite(day.maxVUs)).toBe(true);
    // k6 starts with the pre-allocated VUs and makes the rest as arrivals find none free.
    expect(day.preAllocatedVUs).toBe(budget.preAllocatedVUs);
    expect(budget.preAllocatedVUs).toBeLessThan(budget.maxVUs);
    r.manifest.scenario.options = { scenarios: { day: { maxVUs: 90, preAllocatedVUs: 30 } } };
    expect([dayOfRecord(r, prior).preAllocatedVUs, dayOfRecord(r, prior).maxVUs]).toEqual([30, 90]);
    r.manifest.scenario.options = {};
    r.manifest.scenario.env.JOURNEY_SECONDS = '1';
    expect(dayOfRecord(r, prior).maxVUs).toBeLessThan(expected);
    r.manifest.scenario.name = 'soak';
    expect(dayOfRecord(r, prior).maxVUs).toBe(Number.POSITIVE_INFINITY);
  });

  it("gives the service, interval by interval, the cores the run's other processes left it", () => {
    const r = measuredRun();
    const ts = r.timeseries;
    const n = ts.t.length;
    // No other process's CPU in the record: the cores are the calibration's, all run long.
    expect(dayOfRecord(r, prior).cpuStretchOverTime).toBeUndefined();
    const busy = (i: number) =>
      ts.series.some((s) => s.name === 'step_requests' && ((s.values[i] ?? 0) as number) > 0);
    // The drain's last intervals have no requests: the average is not theirs (the load generator
    // idles there), but the factors cover them.
    expect(Array.from({ length: n }, (_, i) => i).filter((i) => !busy(i)).length).toBeGreaterThan(0);
    // The load generator takes 0.2 core, 0.6 in every third interval, 0.05 once idle; a mock 0.1,
    // unread once.
    const runner = Array.from({ length: n }, (_, i) => (!busy(i) ? 0.05 : i % 3 === 1 ? 0.6 : 0.2));
    const mock: Array<number | null> = Array.from({ length: n }, () => 0.1);
    mock[4] = null;
    ts.series.push(
      { name: 'process_cpu_cores', labels: { process: 'runner' }, values: runner },
      { name: 'process_cpu_cores', labels: { process: 'ministry' }, values: mock },
    );
    const left = runner.map((u, i) => (mock[i] === null ? null : 2 - u - 0.1));
    const counted = left.map((_, i) => i).filter((i) => left[i] !== null && busy(i));
    const mean = counted.reduce((a, i) => a + (left[i] as number), 0) / counted.length;
    const o = dayOfRecord(r, prior).cpuStretchOverTime;
    expect(o?.intervalMs).toBe(ts.intervalSeconds * 1000);
    expect(o?.cores).toHaveLength(n);
    o?.cores?.forEach((c, i) => {
      // An interval with a process unread: the average left.
      expect(c).toBeCloseTo(left[i] === null ? mean : (left[i] as number), 9);
    });
    expect(o?.cores?.[1]).toBeCloseTo(1.3, 9);
    expect(o?.cores?.[0]).toBeCloseTo(1.7, 9);
    // Taken from the cores, not from every run's speed.
    expect(o?.factors.every((f) => f === 1)).toBe(true);
  });

  it('gives a service backlogged on its own the CPU it used there, when less than the others left', () => {
    const r = measuredRun();
    const ts = r.timeseries;
    const n = ts.t.length;
    ts.series = ts.series.filter((s) => s.name !== 'process_cpu_cores');
    ts.series.push(
      { name: 'process_cpu_cores', labels: { process: 'runner' }, values: new Array(n).fill(0.3) },
      { name: 'process_cpu_cores', labels: { process: 'registration' }, values: new Array(n).fill(1.5) },
    );
    const login = ts.series.find(
      (s) => s.name === 'step_latency_ms' && s.labels.step === 'login' && s.labels.quantile === '0.5',
    );
    const biodata = ts.series.find(
      (s) =>
        s.name === 'step_latency_ms' && s.labels.step === 'submit_biodata' && s.labels.quantile === '0.5',
    );
    if (!login || !biodata) throw new Error('the fixture has login and biodata medians');
    const best = Math.min(...login.values.filter((v): v is number => v !== null && v > 0));
    // Interval 2: login's median 6 x its best (a backlog of the service's own); interval 3:
    // biodata's 50 x, login's as usual (a slow ministry, not the service's backlog).
    login.values[2] = Math.max(6 * best, 300);
    biodata.values[3] = Math.max(
      1000,
      50 * Math.min(...biodata.values.filter((v): v is number => v !== null && v > 0)),
    );
    const over = dayOfRecord(r, prior).cpuStretchOverTime;
    // 1.7 cores left everywhere; 1.5 where it was backlogged: what it got there.
    expect(over?.cores?.[0]).toBeCloseTo(1.7, 9);
    expect(over?.cores?.[2]).toBeCloseTo(1.5, 9);
    expect(over?.cores?.[3]).toBeCloseTo(1.7, 9);
    // The cores taken by others are not the service's work: no stretch without a warm-up.
    expect(over?.factors.every((x) => x === 1)).toBe(true);
  });

  it("slows a fresh service's work by its warm-up, where the rehearsal started the service", () => {
    const r = measuredRun();
    const dt = r.timeseries.intervalSeconds;
    const warm = { ...prior, service: { ...prior.service, warmUp: { extra: 0.25, tauS: 12 } } };
    // No other process's CPU in the record: the warm-up alone.
    const f = dayOfRecord(r, warm).cpuStretchOverTime?.factors ?? [];
    expect(f).toHaveLength(r.timeseries.t.length);
    f.forEach((x, i) => {
      expect(x).toBeCloseTo(1 + 0.25 * Math.exp(-((i + 0.5) * dt) / 12), 9);
    });
    expect(f[0]).toBeGreaterThan(1.2);
    // No other process's CPU read: the machine's cores throughout.
    expect(dayOfRecord(r, warm).cpuStretchOverTime?.cores).toBeUndefined();
    // A service the rehearsal did not start may have been warm; none fitted, none applied.
    r.manifest.stack.managed = false;
    expect(appliedWarmUp(r, warm)).toBeUndefined();
    expect(dayOfRecord(r, warm).cpuStretchOverTime).toBeUndefined();
    r.manifest.stack.managed = true;
    expect(
      dayOfRecord(r, { ...warm, service: { ...warm.service, warmUp: { extra: 0, tauS: 12 } } })
        .cpuStretchOverTime,
    ).toBeUndefined();
  });

  it('warms a killed service up again from its restart, and simulates the kill as the run applied it', () => {
    const r = measuredRun();
    const dt = r.timeseries.intervalSeconds;
    const warm = { ...prior, service: { ...prior.service, warmUp: { extra: 0.25, tauS: 12 } } };
    const n = r.timeseries.t.length;
    // Killed at a third of the run, answering again two intervals later.
    const restored = Math.round(n / 3 + 2) * dt;
    r.manifest.faults = [
      {
        origin: '--chaos kill-service@1',
        kind: 'kill',
        target: 'registration',
        description: 'registration killed (SIGKILL) and restarted',
        profileMinute: 1,
        profileSeconds: 0,
        plannedSeconds: restored - 2 * dt,
        plannedEndSeconds: restored - 2 * dt,
        appliedSeconds: restored - 2 * dt,
        restoredSeconds: restored,
        kill: { pidBefore: 1, pidAfter: 2, downtimeSeconds: 2 * dt },
      },
    ];
    const day = dayOfRecord(r, warm);
    const f = day.cpuStretchOverTime?.factors ?? [];
    const k = restored / dt;
    expect(f[k]).toBeCloseTo(f[0] as number, 9);
    expect(f[k - 1]).toBeLessThan(f[1] as number);
    expect(day.kills).toEqual([
      expect.objectContaining({ startMs: (restored - 2 * dt) * 1000, endMs: restored * 1000 }),
    ]);
  });

  it("keys the registrants' streams by the run's RUN_KEY, and refuses one that is not a key", () => {
    const r = measuredRun();
    expect(dayOfRecord(r, prior).runKey).toBe(0);
    r.manifest.scenario.env.RUN_KEY = '1796465514';
    const day = dayOfRecord(r, prior);
    expect(day.runKey).toBe(1796465514);
    // The key decides who leaves where: another key, other choices (the same in law).
    const left = (k: number) =>
      simulateDay({ ...day, runKey: k })
        .rec.funnel()
        .filter((f) => f.outcome === 'left_by_choice')
        .map((f) => `${f.stage} ${f.count}`);
    expect(left(1796465514)).toEqual(left(1796465514));
    expect(left(1796465514)).not.toEqual(left(7));
    r.manifest.scenario.env.RUN_KEY = '1.5';
    expect(() => dayOfRecord(r, prior)).toThrow(
      /scenario\.env\.RUN_KEY: expected a whole number >= 0, got '1\.5'/,
    );
  }, 60_000);
});

/** A small run of its own, for the overhead's arithmetic. */
function dayOfRecordless(): DayOptions {
  return {
    profile: constantProfile({ perMinute: 120, minutes: 2 }),
    scale: 1,
    compress: 1,
    thinkCompress: 2000,
    capacity: parseCapacity(structuredClone(defaults), 'capacity.default.json'),
    knobs: parseServiceKnobs({ SCRYPT_N: '1024' }, 'test'),
    cores: 2,
    calibration: prior,
    cpuStretch: 1,
    seed: 1,
    model: DEFAULT_MODEL,
    retry: RETRY_POLICY,
    minorShare: 0.02,
    ineligibleShare: 0.1,
    mailWaitS: 60,
    gracefulStopS: 30,
    maxVUs: Number.POSITIVE_INFINITY,
    photoBytes: 289_040,
    intervalSeconds: 5,
  };
}

describe('replications of a run pooled', () => {
  it("a step's latencies, whole and by interval, are every replication's, counts and funnel the first's", () => {
    const hist = (...ms: number[]) => {
      const h = new LogHistogram();
      for (const x of ms) h.record(x);
      return h;
    };
    const result = (whole: LogHistogram, byInterval: Array<LogHistogram | undefined>, requests: number) =>
      ({
        rec: {
          steps: Object.fromEntries(
            COSTED_STEPS.map((s) => [
              s,
              { step: s, requests, failed: 0, latency: s === 'login' ? whole : new LogHistogram() },
            ]),
          ),
          latencyByInterval: Object.fromEntries(
            COSTED_STEPS.map((s) => [s, s === 'login' ? byInterval : []]),
          ),
        },
      }) as unknown as DayResult;
    const a = result(hist(10, 20, 30), [hist(10), undefined, hist(20, 30)], 3);
    const b = result(hist(100, 200), [hist(100), hist(200)], 2);
    poolLatencies(a, b);
    const login = a.rec.steps.login;
    expect([login.latency.count, login.requests]).toEqual([5, 3]);
    expect(login.latency.max).toBe(200);
    expect(login.latency.quantile(1)).toBe(200);
    expect(login.latency.quantile(0.2)).toBeCloseTo(10, 0);
    expect(a.rec.latencyByInterval?.login.map((h) => h?.count)).toEqual([2, 1, 2]);
    // the second's interval copied, not shared: pooling more into it leaves the other alone
    expect(a.rec.latencyByInterval?.login[1]).not.toBe(b.rec.latencyByInterval?.login[1]);
  });
});
