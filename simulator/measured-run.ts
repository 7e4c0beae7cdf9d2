import { readFileSync } from 'node:fs';
import { DEFAULT_MODEL, expectedJourneySeconds, RETRY_POLICY } from '../model/behaviour.ts';
import { ARRIVAL_MIX, GRACEFUL_STOP_S, MAIL_WAIT_S } from '../model/journey.ts';
import { type Profile, parseProfileCsv } from '../model/profile.ts';
import { rngFor } from '../model/random.ts';
import { durationMs, replay } from '../model/replay.ts';
import { type RunRecord, seriesValues } from '../reports/record.ts';
import {
  type Calibration,
  COSTED_STEPS,
  type CostedStep,
  parseCalibration,
  restartsOf,
  warmUpFactor,
} from './calibration.ts';
import type { CpuStretchOverTime } from './cpu.ts';
import { type DayOptions, type DayResult, simulateDay } from './day.ts';
import { recordedFaults } from './faults.ts';
import { CALLERS, coresLeft, FitError, HASHING, photoBytes, recordedCapacity, recordedKnobs } from './fit.ts';
import type { LogHistogram } from './histogram.ts';
import { KNOTS, type QuantileTable, tableOf, tableQuantile } from './quantile-table.ts';

/**
 * A measured run as a simulation of it: the run's replay (profile, scale, compress, window),
 * knobs, capacity file, machine and scenario settings (run.json), for `gelombang validate`; and
 * what replaying it fits (fitOnReplay): the latency the machine added to each request and the
 * cores the service effectively had.
 */

/** the scenarios' POPULATION_SEED when the run set none (scenarios/lib/registrant.ts) */
const DEFAULT_SEED = 2020;

/** What the record's scenario ran with, as a simulation of it; a record that cannot say is refused naming the field. */
export function dayOfRecord(r: RunRecord, calibration: Calibration): DayOptions {
  const m = r.manifest;
  const where = `${r.dir}/run.json`;
  const envNum = (key: string, fallback: number, o: { whole?: boolean } = {}): number => {
    const v = m.scenario.env[key];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (o.whole && !(Number.isInteger(n) && n >= 0))
      throw new FitError(`${where} scenario.env.${key}: expected a whole number >= 0, got '${v}'`);
    if (!Number.isFinite(n))
      throw new FitError(`${where} scenario.env.${key}: expected a number, got '${v}'`);
    return n;
  };
  if (!m.replay) throw new FitError(`${where} replay: not a profile replay, nothing to simulate`);
  if (m.engine.name === 'simulator')
    throw new FitError(`${where} engine: a simulated run; validate needs a measured one`);
  const options = m.scenario.options as {
    scenarios?: Record<string, { maxVUs?: number; preAllocatedVUs?: number; gracefulStop?: string }>;
  };
  const scenario = Object.values(options?.scenarios ?? {})[0];
  const cores = m.machine?.cores;
  if (!cores) throw new FitError(`${where} machine.cores: the run did not record its machine`);
  let profile: Profile;
  try {
    profile = parseProfileCsv(readFileSync(m.replay.profile, 'utf8'), m.replay.profile);
  } catch {
    // The profile file moved: the record keeps the replayed minutes.
    const perMinute = m.replay.profilePerMinute;
    profile = {
      bucketSeconds: 60,
      arrivals: [...new Array(Math.floor(m.replay.windowMinutes[0])).fill(0), ...perMinute],
    };
  }
  const photo = photoBytes(r);
  if (photo === null)
    throw new FitError(
      `${where} scenario.env.PHOTO: the photo the run uploaded cannot be read (beside ${m.scenario.file}, or in scenarios/)`,
    );
  const stretch = cpuStretchOverTime(r, cores, appliedWarmUp(r, calibration));
  const { faults, kills } = recordedFaults(r);
  const thinkCompress = envNum('THINK_COMPRESS', m.replay.compress);
  const window = { fromMinute: m.replay.windowMinutes[0], toMinute: m.replay.windowMinutes[1] };
  const budget =
    scenario?.maxVUs !== undefined
      ? { maxVUs: scenario.maxVUs, preAllocatedVUs: scenario.preAllocatedVUs ?? scenario.maxVUs }
      : scenarioVUs(m, profile, window, thinkCompress, envNum);
  return {
    profile,
    scale: m.replay.scale,
    compress: m.replay.compress,
    thinkCompress,
    window,
    capacity: recordedCapacity(r),
    knobs: recordedKnobs(r),
    cores,
    calibration,
    cpuStretch: cpuStretchOf(cores, calibration),
    seed: envNum('POPULATION_SEED', DEFAULT_SEED),
    // The registrants' streams as the run keyed them (a record from before RUN_KEY: another key,
    // the same choices in law only).
    runKey: envNum('RUN_KEY', 0, { whole: true }),
    model: DEFAULT_MODEL,
    retry: RETRY_POLICY,
    minorShare: envNum('MINOR_SHARE', ARRIVAL_MIX.minorShare),
    ineligibleShare: envNum('INELIGIBLE_SHARE', ARRIVAL_MIX.ineligibleShare),
    mailWaitS: envNum('MAIL_WAIT_S', MAIL_WAIT_S),
    gracefulStopS: scenario?.gracefulStop ? durationMs(scenario.gracefulStop) / 1000 : GRACEFUL_STOP_S,
    ...budget,
    photoBytes: photo,
    intervalSeconds: r.timeseries.intervalSeconds,
    ...(stretch ? { cpuStretchOverTime: stretch } : {}),
    ...(faults.length > 0 ? { faults } : {}),
    ...(kills.length > 0 ? { kills } : {}),
  };
}

/** How much slower than on a core of its own the service runs its CPU work, with the cores the calibration says it had. */
const cpuStretchOf = (cores: number, c: Calibration): number => cores / (c.service.effectiveCores ?? cores);

/**
 * The same run under another calibration: what fitOnReplay varies between its replays, the rest
 * of the record read once.
 */
export function withCalibration(day: DayOptions, calibration: Calibration): DayOptions {
  return { ...day, calibration, cpuStretch: cpuStretchOf(day.cores, calibration) };
}

/** The calibration's warm-up, if the run's service was fresh at the load's start (the rehearsal started it). */
export function appliedWarmUp(r: RunRecord, c: Calibration): Calibration['service']['warmUp'] {
  return r.manifest.stack.managed && c.service.warmUp && c.service.warmUp.extra > 0
    ? c.service.warmUp
    : undefined;
}

/**
 * The cores the run's other processes (the load generator, the mocks) left the service, interval
 * by interval: the machine's cores less what the others used. An input of the run, measured, like
 * the machine itself; not something the simulation of the service predicts. A service at its knee
 * has no spare: an interval in which the load generator took 0.1 core more is one in which its
 * backlog grew. Where the service was backlogged on its own, the CPU it used if less (coresLeft's
 * whileBacklogged): at a knee it got 1.6 cores of the 1.66 the others left (2026-12-06), and the
 * simulation given 1.66 drained the backlog it measured at half the latency.
 *
 * They are the cores the simulated service's threads share (CpuShare), not a stretch of every run:
 * until 2026-12-07 they were, each interval's work stretched by the average left over the
 * interval's, on cores set by the replay's fit of effectiveCores. That fit rests on login's median,
 * which quiet seconds make, and it often reached the machine's cores: then the peak ran on the
 * machine's cores over the stretch (1.65 at a designs bench peak where the others left 1.38) and the
 * hashing steps' p95 came out under the measured in 26 of 28 such misses (simulator/README.md).
 *
 * And a fresh service's warm-up (appliedWarmUp): its CPU per unit of work above the settled level
 * the costs are fitted at, in the intervals the record has (past them it has faded), as a stretch
 * of the work. On the bench's 20 knee records of 2026-12-05 and 06 the knee's sign-up p95 came
 * out 0.90 of the measured on average (geometric) without it, 0.92 with it; given instead the CPU
 * per unit of work the run measured, interval by interval (an oracle, not a model), 0.97: what is
 * left is how that moved. Undefined when the record has neither.
 */
export function cpuStretchOverTime(
  r: RunRecord,
  cores: number,
  warmUp?: Calibration['service']['warmUp'],
): CpuStretchOverTime | undefined {
  const { left, others, mean } = coresLeft(r, cores, { whileBacklogged: true });
  const dt = r.timeseries.intervalSeconds;
  const warm = warmUp && warmUp.extra > 0 ? warmUp : undefined;
  const byOthers = others.length > 0 && mean !== undefined;
  if (!byOthers && !warm) return undefined;
  const restarts = restartsOf(r.manifest.faults);
  return {
    intervalMs: dt * 1000,
    factors: warm ? left.map((_, i) => warmUpFactor(warm, i, dt, restarts)) : [],
    // An interval in which one of the others was not read: the average they left.
    ...(byOthers ? { cores: left.map((l) => l ?? (mean as number)) } : {}),
  };
}

/**
 * The VUs registration-day gave itself when the record's options do not say (the embedded runner's
 * summary keeps no scenarios): its replay's budget, sized as the scenario sizes it
 * (scenarios/registration-day.ts: JOURNEY_SECONDS, else the model's expected journey at
 * THINK_COMPRESS, at most the window plus the graceful stop). k6 drops an arrival that finds no
 * free VU, the pre-allocated ones busy, even while it may still make more, and so does the
 * simulation. Another scenario: no limit.
 */
function scenarioVUs(
  m: RunRecord['manifest'],
  profile: Profile,
  window: { fromMinute: number; toMinute: number },
  thinkCompress: number,
  envNum: (key: string, fallback: number) => number,
): { maxVUs: number; preAllocatedVUs: number } {
  if (m.scenario.name !== 'registration-day' || !m.replay)
    return { maxVUs: Number.POSITIVE_INFINITY, preAllocatedVUs: Number.POSITIVE_INFINITY };
  const windowSeconds = ((window.toMinute - window.fromMinute) * 60) / m.replay.compress;
  const journeySeconds = envNum(
    'JOURNEY_SECONDS',
    Math.min(expectedJourneySeconds(DEFAULT_MODEL, thinkCompress), windowSeconds + GRACEFUL_STOP_S),
  );
  const { maxVUs, preAllocatedVUs } = replay(profile, {
    scale: m.replay.scale,
    compress: m.replay.compress,
    window,
    journeySeconds,
  }).scenario;
  return { maxVUs, preAllocatedVUs };
}

const MEASURED: Record<(typeof KNOTS)[number][0], 'minMs' | 'p50Ms' | 'p90Ms' | 'p95Ms' | 'p99Ms'> = {
  min: 'minMs',
  p50: 'p50Ms',
  p90: 'p90Ms',
  p95: 'p95Ms',
  p99: 'p99Ms',
};

/** fewer measured requests than this: a step says too little to fit on */
const MIN_FIT_REQUESTS = 30;
/** the range searched for the service's effective cores: from this to the machine's */
const MIN_CORES = 0.05;
/** bisections of the effective cores (on their logarithm): 3.7 / 2^9 of a factor e, under 1 % */
const BISECTIONS = 9;
/** draws of a step's latency with the overhead (stratified, so quantiles are steady to ~1/DRAWS) */
const DRAWS = 4000;
const OVERHEAD_STREAM = 0x0e7;

/**
 * The steps whose work in the model is only their own CPU and a commit: no scrypt, no dependency.
 * What their measured latency has beyond the simulated is the machine's, not the model's.
 */
export const LIGHT_STEPS: readonly CostedStep[] = COSTED_STEPS.filter(
  (s) => !HASHING.has(s) && !Object.values(CALLERS).includes(s),
);

/** A step's simulated latencies by the interval they ended in, and the overhead's level in each. */
export interface TimedLatency {
  byInterval: ReadonlyArray<LogHistogram | undefined>;
  /** by interval (past the end: the last) */
  levels: readonly number[];
}

/**
 * The q-quantiles of a step's simulated latencies plus the overhead, the two independent: DRAWS
 * stratified draws of each, paired in a seeded shuffle, so the answer is the same every time.
 * With `timed`, a draw of the step's latencies is taken in the interval it fell in, and the
 * overhead paired with it scaled by that interval's level (overheadOverTime).
 */
export function latencyQuantiles(
  h: LogHistogram,
  o: QuantileTable | undefined,
  qs: readonly number[],
  timed?: TimedLatency,
): Array<number | null> {
  if (h.count === 0) return qs.map(() => null);
  if (!o) return qs.map((q) => h.quantile(q));
  const d = Array.from({ length: DRAWS }, (_, i) => tableQuantile(o, (i + 0.5) / DRAWS));
  const rng = rngFor(OVERHEAD_STREAM);
  for (let i = DRAWS - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [d[i], d[j]] = [d[j] as number, d[i] as number];
  }
  const total = timed?.byInterval.reduce((a, x) => a + (x?.count ?? 0), 0) ?? 0;
  let sums: number[];
  if (timed && total > 0) {
    // Draw i is the request at rank (i + 0.5) / DRAWS of the step's, in the order of their intervals.
    const { byInterval, levels } = timed;
    sums = new Array<number>(DRAWS);
    let j = 0;
    let before = 0;
    for (let i = 0; i < DRAWS; i++) {
      const rank = ((i + 0.5) / DRAWS) * total;
      while (rank > before + (byInterval[j]?.count ?? 0)) before += byInterval[j++]?.count ?? 0;
      const here = byInterval[j] as LogHistogram;
      const level = levels[Math.min(j, levels.length - 1)] ?? 1;
      sums[i] = (here.quantile((rank - before) / here.count) as number) + level * (d[i] as number);
    }
  } else sums = d.map((x, i) => x + (h.quantile((i + 0.5) / DRAWS) as number));
  sums.sort((a, b) => a - b);
  return qs.map((q) => sums[Math.min(DRAWS - 1, Math.max(0, Math.ceil(q * DRAWS) - 1))] as number);
}

/**
 * How the machine's latency moved over a run: by interval, what the light steps' measured p95
 * had above the simulated one around it (LEVEL_WINDOW_S, request-weighted over the steps and
 * intervals in it), over the mean of that, weighted by the light steps' measured requests. An
 * input of the run, as the cores the other processes left it are (cpuStretchOverTime): the
 * requests' own work is the simulation's, what the machine added to them moved with everything
 * else on it. With one level for the whole run, the bench's point past the knee put the light
 * steps' p95 in one place: verify_email's under the measured, submit_assessment's and join_wave's
 * over it (123, 86 and 80 ms measured, 107 predicted for each, 2026-12-07), because verify_email
 * comes in the first seconds, when the machine added the most (its measured p95 118-549 ms in each
 * of the first 12 seconds, 7-159 in each after), and the others later. `sim`: the replay whose light
 * steps' latencies by interval (DayOptions.keepLatencyByInterval) come off; without, the measured
 * p95 itself. Undefined when the record has no light step's series, or they show nothing above
 * the simulation.
 */
export function overheadOverTime(r: RunRecord, sim?: DayResult): TimedLevels | undefined {
  const ts = r.timeseries;
  const n = ts.t.length;
  const dt = ts.intervalSeconds;
  const sum = new Float64Array(n);
  const weight = new Float64Array(n);
  const simulated = new Float64Array(n);
  const simWeight = new Float64Array(n);
  for (const step of LIGHT_STEPS) {
    const rate = seriesValues(ts, 'step_requests', { step });
    const p95 = seriesValues(ts, 'step_latency_ms', { step, quantile: '0.95' });
    const replayed = sim?.rec.latencyByInterval?.[step];
    for (let i = 0; i < n; i++) {
      const c = (rate?.[i] ?? 0) * dt;
      const v = p95?.[i];
      if (c > 0 && v !== null && v !== undefined) {
        sum[i] = (sum[i] as number) + c * v;
        weight[i] = (weight[i] as number) + c;
      }
      const h = replayed?.[i];
      if (h) {
        simulated[i] = (simulated[i] as number) + h.count * (h.quantile(0.95) as number);
        simWeight[i] = (simWeight[i] as number) + h.count;
      }
    }
  }
  // What the interval's measured p95 had above the simulated one (none simulated in it: all of it).
  for (let i = 0; i < n; i++) {
    const w = weight[i] as number;
    if (w === 0) continue;
    const s = (simWeight[i] as number) > 0 ? (simulated[i] as number) / (simWeight[i] as number) : 0;
    sum[i] = w * Math.max(0, (sum[i] as number) / w - s);
  }
  const half = Math.max(0, Math.round((LEVEL_WINDOW_S / dt - 1) / 2));
  // Running totals: any span's sums in two reads.
  const sums = new Float64Array(n + 1);
  const weights = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) {
    sums[i + 1] = (sums[i] as number) + (sum[i] as number);
    weights[i + 1] = (weights[i] as number) + (weight[i] as number);
  }
  const around = new Array<number>(n).fill(0);
  let mean = 0;
  let requests = 0;
  for (let i = 0; i < n; i++) {
    // An interval with none of their requests takes the nearest that has some.
    for (let w = half; w < n; w++) {
      const from = Math.max(0, i - w);
      const to = Math.min(n, i + w + 1);
      const c = (weights[to] as number) - (weights[from] as number);
      if (c > 0) {
        around[i] = ((sums[to] as number) - (sums[from] as number)) / c;
        break;
      }
    }
    mean += (weight[i] as number) * (around[i] as number);
    requests += weight[i] as number;
  }
  if (requests === 0 || mean <= 0) return undefined;
  mean /= requests;
  return around.map((x) => x / mean);
}

/**
 * The overhead's level by interval of a run (overheadOverTime): indexed by the record's interval,
 * which a simulation of the run shares (dayOfRecord).
 */
export type TimedLevels = readonly number[];

/**
 * the span over which overheadOverTime reads the light steps' p95 around an interval: one second
 * holds 5-30 of their requests at the bench's points, five 25-150
 */
const LEVEL_WINDOW_S = 5;

/** A step's latencies in a replay kept by interval (DayOptions.keepLatencyByInterval), with the run's levels; else undefined. */
function timedOf(res: DayResult, step: CostedStep, over: TimedLevels | undefined): TimedLatency | undefined {
  const byInterval = res.rec.latencyByInterval?.[step];
  return over && byInterval ? { byInterval, levels: over } : undefined;
}

/**
 * The light steps' measured quantiles less the simulated, weighted by their requests (the fastest
 * request: the summary's min, against the simulated lowest bucket); undefined when no light step
 * has enough requests.
 */
function overheadOf(
  r: RunRecord,
  sim: DayResult,
  over: TimedLevels | undefined,
): { overhead?: QuantileTable; steps: string[]; requests: number } {
  const minOf = (step: string) => r.summary.metrics[`http_req_duration{step:${step}}`]?.values.min ?? null;
  const steps = r.manifest.totals.steps
    .map((s) => ({ ...s, minMs: minOf(s.step) }))
    .filter(
      (s) =>
        (LIGHT_STEPS as readonly string[]).includes(s.step) &&
        s.requests >= MIN_FIT_REQUESTS &&
        KNOTS.every(([k]) => k === 'min' || s[MEASURED[k]] !== null) &&
        sim.rec.steps[s.step as CostedStep].latency.count > 0,
    );
  const requests = steps.reduce((a, s) => a + s.requests, 0);
  if (requests === 0) return { steps: [], requests: 0 };
  const o = { min: 0, p50: 0, p90: 0, p95: 0, p99: 0 };
  let floor = 0;
  for (const [key, q] of KNOTS) {
    // A record without the fastest request (a summary without min) says nothing of the floor.
    if (steps.some((s) => s[MEASURED[key]] === null)) continue;
    const v = steps.reduce((a, s) => {
      const h = sim.rec.steps[s.step as CostedStep].latency;
      const simulated = h.quantile(q === 0 ? 1 / h.count : q) as number;
      return a + s.requests * ((s[MEASURED[key]] as number) - simulated);
    }, 0);
    floor = Math.max(floor, v / requests, 0);
    o[key] = floor;
  }
  refineOverhead(
    o,
    {
      p50: steps.reduce((a, s) => a + s.requests * (s.p50Ms as number), 0) / requests,
      p95: steps.reduce((a, s) => a + s.requests * (s.p95Ms as number), 0) / requests,
    },
    steps.map((s) => ({
      h: sim.rec.steps[s.step as CostedStep].latency,
      timed: timedOf(sim, s.step as CostedStep, over),
      weight: s.requests / requests,
    })),
  );
  for (const [key] of KNOTS) o[key] = Math.round(o[key] * 100) / 100;
  return { overhead: o, steps: steps.map((s) => s.step), requests };
}

/** bisections of each of refineOverhead's stretches, between 1/64 and 4: under 1 % */
const STRETCH_BISECTIONS = 14;
/** rounds of refineOverhead's two stretches, each fitted with the other held */
const STRETCH_ROUNDS = 3;

/**
 * The differences of quantiles (overheadOf's start) are the overhead only if it were slowest
 * exactly when the simulated request is; validate adds it as an independent draw
 * (latencyQuantiles), and such a sum has a longer middle and a shorter tail than the quantiles
 * added: with the differences alone the light steps' p95 came out under their own measured one by
 * a sixth (38 ms measured, 31 predicted), and once the whole spread was stretched to meet it,
 * their p50 came out half again above the measured (13 ms against 8-10 at the knee, 2026-12-06).
 * So the shape the differences give is stretched twice, by bisection, until the light steps' p50
 * and p95 as validate computes them meet their measured ones (weighted by their requests): below
 * the median (its distance from the least) and above it (the tail's distance from the median).
 * Two factors, not a knot each: matching every knot of a tail of a few hundred requests bends the
 * shape (each knot moves the others' draws) without a better fit.
 */
function refineOverhead(
  o: QuantileTable,
  target: { p50: number; p95: number },
  steps: Array<{ h: LogHistogram; timed: TimedLatency | undefined; weight: number }>,
): void {
  const base = { ...o };
  const stretched = (below: number, above: number): QuantileTable => {
    const p50 = base.min + below * (base.p50 - base.min);
    return tableOf((key, q) =>
      q < 0.5 ? base[key] : q === 0.5 ? p50 : p50 + above * (base[key] - base.p50),
    );
  };
  const at = (q: number, o: QuantileTable) =>
    steps.reduce((a, { h, timed, weight }) => a + weight * (latencyQuantiles(h, o, [q], timed)[0] ?? 0), 0);
  // The factor in [lowest, 4] at which f (rising with it) meets the target, by bisection of its log.
  const solve = (f: (k: number) => number, goal: number, lowest: number): number => {
    let lo = Math.log(lowest);
    let hi = Math.log(4);
    if (f(Math.exp(lo)) >= goal) return Math.exp(lo);
    if (f(Math.exp(hi)) <= goal) return Math.exp(hi);
    for (let i = 0; i < STRETCH_BISECTIONS; i++) {
      const mid = (lo + hi) / 2;
      if (f(Math.exp(mid)) < goal) lo = mid;
      else hi = mid;
    }
    return Math.exp((lo + hi) / 2);
  };
  let below = 1;
  let above = 1;
  for (let round = 0; round < STRETCH_ROUNDS; round++) {
    above = solve((k) => at(0.95, stretched(below, k)), target.p95, 1 / 4);
    below = solve((k) => at(0.5, stretched(k, above)), target.p50, 1 / 64);
  }
  above = solve((k) => at(0.95, stretched(below, k)), target.p95, 1 / 4);
  Object.assign(o, stretched(below, above));
}

/**
 * What a replay of the run in the simulator can fit that the record's series cannot: the latency
 * the machine added to every request (service.requestOverheadMs, from the light steps: see
 * overheadOf), then the cores the service effectively had (service.effectiveCores): on a machine
 * shared with work the record does not see, a core runs the service's CPU slower than its own
 * cost, so the cores at which the simulated median of login (scrypt and its own CPU, with the
 * overhead added; create_account when logins are too few) meets the measured one are searched by
 * bisection between MIN_CORES and the machine's. The median only: the p95s, the throughput and
 * the funnel that `validate` judges are left to be predicted. A record without enough requests of
 * either keeps what fitCalibration gave, and says so.
 */
export function fitOnReplay(r: RunRecord, c: Calibration): { calibration: Calibration; simulations: number } {
  const cores = r.manifest.machine?.cores;
  if (!cores) throw new FitError(`${r.dir}/run.json machine.cores: the run did not record its machine`);
  const reasons: Record<string, string> = { ...c.reasons };
  let simulations = 0;
  const withCores = (e: number): Calibration => ({ ...c, service: { ...c.service, effectiveCores: e } });
  const day = { ...dayOfRecord(r, c), keepLatencyByInterval: true };
  const replay = (cal: Calibration) => {
    simulations++;
    return simulateDay(withCalibration(day, cal));
  };
  const start = c.service.effectiveCores ?? cores;
  let sim = replay(withCores(start));
  let over = overheadOverTime(r, sim);
  let fit = overheadOf(r, sim, over);
  const measured = new Map(r.manifest.totals.steps.map((s) => [s.step, s]));
  // login is scrypt and its own CPU; a sign-up also waits for its mail, which a saturated mail
  // station makes the larger part: it stands in only when logins are too few.
  const enough = (s: CostedStep) =>
    (measured.get(s)?.requests ?? 0) >= MIN_FIT_REQUESTS && Boolean(measured.get(s)?.p50Ms);
  const heavy = (['login', 'create_account'] as const).filter(enough).slice(0, 1);
  let effective = start;
  if (heavy.length > 0) {
    // A step the simulated service never answered (its sign-ups all timed out) is slower than any
    // measured median, not faster.
    const medians = (res: DayResult) =>
      heavy.map(
        (s) =>
          latencyQuantiles(res.rec.steps[s].latency, fit.overhead, [0.5], timedOf(res, s, over))[0] ??
          Number.POSITIVE_INFINITY,
      );
    // > 0: the simulated service is slower than the measured one, so it had more cores.
    const gap = (e: number) => {
      const m = medians(replay(withCores(e)));
      return (
        heavy.reduce(
          (a, s, i) => a + Math.log(Math.max(m[i] as number, 1e-3) / (measured.get(s)?.p50Ms as number)),
          0,
        ) / heavy.length
      );
    };
    let lo = Math.log(MIN_CORES);
    let hi = Math.log(cores);
    if (gap(cores) >= 0) effective = cores;
    else if (gap(MIN_CORES) <= 0) effective = MIN_CORES;
    else {
      for (let i = 0; i < BISECTIONS; i++) {
        const mid = (lo + hi) / 2;
        if (gap(Math.exp(mid)) > 0) lo = mid;
        else hi = mid;
      }
      effective = Math.round(Math.exp((lo + hi) / 2) * 1000) / 1000;
    }
    sim = replay(withCores(effective));
    const m = medians(sim);
    over = overheadOverTime(r, sim);
    fit = overheadOf(r, sim, over);
    reasons['service.effectiveCores'] =
      `Fitted by replaying ${r.dir} in the simulator: the cores at which the simulated median of ${heavy.join(' and ')} (with the request overhead) meets the measured one (${heavy.map((s, i) => `${s} ${Math.round(measured.get(s)?.p50Ms as number)} ms measured, ${Number.isFinite(m[i]) ? `${Math.round(m[i] as number)} ms simulated` : 'none answered in the simulation'}`).join('; ')}), by bisection between ${MIN_CORES} and the machine's ${cores}, from ${start}: ${c.reasons?.['service.effectiveCores'] ?? "the machine's cores"}`;
  } else {
    reasons['service.effectiveCores'] =
      `${c.reasons?.['service.effectiveCores'] ?? `the machine's ${cores} cores`} (not refitted on a replay: fewer than ${MIN_FIT_REQUESTS} measured requests of login or create_account)`;
  }
  const service: Calibration['service'] = { ...c.service, effectiveCores: effective };
  if (fit.overhead) {
    service.requestOverheadMs = fit.overhead;
    reasons['service.requestOverheadMs'] =
      `Fitted by replaying ${r.dir} in the simulator: the fastest request and the measured p50, p90, p95 and p99 of ${fit.steps.join(', ')} (${fit.requests} requests), steps whose work in the model is only their own CPU and a commit, less the simulated ones, weighted by requests, then its spread stretched below its median and above it until their p50 and p95, the overhead added as validate adds it (an independent draw, scaled by the level of the interval the request ended in: what the light steps' measured p95 had above the simulated there, over its mean${over ? `, ${Math.min(...over).toFixed(2)}-${Math.max(...over).toFixed(2)} on this run` : ', one level on this run: its series do not say'}), meet the measured ones: what the rehearsal machine added to each request (loopback HTTP through loaded event loops, the scheduler, the load generator), in an average second. validate adds it to every simulated request; simulate, plan and the full-scale prediction leave it out.`;
  } else {
    delete service.requestOverheadMs;
    reasons['service.requestOverheadMs'] =
      `Not fitted: ${r.dir} has no step among ${LIGHT_STEPS.join(', ')} with ${MIN_FIT_REQUESTS} requests or more.`;
  }
  return {
    calibration: parseCalibration({ ...c, service, reasons }, `${r.dir} (fitted calibration)`),
    simulations,
  };
}

type StepTotals = RunRecord['manifest']['totals']['steps'][number];

/**
 * A simulated run's per-step percentiles with the calibration's request overhead added to every
 * request (latencyQuantiles), as validate compares them; unchanged without an overhead.
 */
export function withRequestOverhead(
  steps: StepTotals[],
  result: DayResult,
  c: Calibration,
  over?: TimedLevels,
): StepTotals[] {
  const o = c.service.requestOverheadMs;
  if (!o) return steps;
  return steps.map((s) => {
    const h = result.rec.steps[s.step as CostedStep]?.latency;
    if (!h || h.count === 0) return s;
    const [p50Ms, p90Ms, p95Ms, p99Ms] = latencyQuantiles(
      h,
      o,
      [0.5, 0.9, 0.95, 0.99],
      timedOf(result, s.step as CostedStep, over),
    );
    return { ...s, p50Ms: p50Ms ?? null, p90Ms: p90Ms ?? null, p95Ms: p95Ms ?? null, p99Ms: p99Ms ?? null };
  });
}

/**
 * Pools into `into` the latencies of `other`, another replication of the same run (its registrants,
 * another draw of the system: DayOptions.systemSeed): each step's whole-run histogram and, where
 * kept, its histograms by interval. Counts and the funnel stay `into`'s.
 */
export function poolLatencies(into: DayResult, other: DayResult): void {
  for (const step of COSTED_STEPS) {
    into.rec.steps[step].latency.merge(other.rec.steps[step].latency);
    const mine = into.rec.latencyByInterval?.[step];
    const theirs = other.rec.latencyByInterval?.[step];
    if (!mine || !theirs) continue;
    theirs.forEach((h, i) => {
      if (!h) return;
      const at = mine[i];
      if (at) at.merge(h);
      else mine[i] = h.copy();
    });
  }
}
