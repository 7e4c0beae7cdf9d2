import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { normalCdf } from '../../model/behaviour.ts';
import type { Capacity, ServiceSection } from '../../model/capacity.ts';
import { STEP_OF_STAGE, type Stage } from '../../model/funnel.ts';
import { mailWaitSeconds, WAITING_ROOM_PATIENCE } from '../../model/journey.ts';
import { ProfileError } from '../../model/profile.ts';
import { replay } from '../../model/replay.ts';
import { type ServiceKnobs, serviceProfileKnobs } from '../../model/service-design.ts';
import { rateFactor, scaleCapacityFile } from '../../model/similitude.ts';
import { SLOS } from '../../model/slo.ts';
import { lognormalParams, meanServiceMs, SATURATION, type ServiceTime } from '../../model/station.ts';
import { buildReport } from '../../reports/funnel-report.ts';
import {
  EVENT_LOOP,
  type RunRecord,
  SMTP_POOL,
  type Summary,
  seriesValues,
  WRITE_LOCK,
} from '../../reports/record.ts';
import { type DayOptions, simulateDay } from '../../simulator/day.ts';
import {
  describePoint,
  type Marginal,
  type PlanResource,
  type Point,
  type ProbeOutcome,
  type ProbeRecord,
  type SearchResult,
  search,
  type VerifyResult,
  verify,
} from '../../simulator/plan.ts';
import {
  ADMISSION,
  type AdmissionResult,
  type AdmissionSide,
  searchAdmission,
} from '../../simulator/plan-admission.ts';
import { plannedCapacityJson } from '../../simulator/plan-capacity.ts';
import { DELIVERY_WAIT_SHARE, deliveryBacklog } from '../../simulator/plan-delivery.ts';
import {
  busiestMinute,
  describeSearch,
  describeTarget,
  type PlanTarget,
  searchLoad,
} from '../../simulator/plan-target.ts';
import { simulatedRecord } from '../../simulator/record.ts';
import {
  calibrationOption,
  existingFile,
  keyValue,
  outputFile,
  profileWindow,
  REHEARSAL_DEFAULTS,
  type RehearsalAt,
  rehearsalAt,
  serviceProfileOption,
  wholeNumberIn,
} from './flags.ts';
import {
  admissionNote,
  autoInterval,
  BadInput,
  progressLine,
  SIMULATE_CAPACITY,
  type SimulateFlags,
  simulationInputs,
} from './simulate.ts';

/**
 * `gelombang plan`: the smallest capacity per resource with which a target load meets every
 * objective in the simulator, what each unit of it buys, and the result as a capacity file that
 * `simulate` (and, for its stations, `rehearse`) accepts. The search is simulator/plan.ts; here
 * are the flags, the resources as fields of the capacity file, and the judgement of one probe,
 * which is the report's own (reports/funnel-report.ts): the verdict held, and registrants failed
 * by the system within FAILED_TOLERANCE.
 */

const EXIT_BAD_INPUT = 2;
/** No capacity of the plan's resources met the objectives (or none was verified): nothing written. */
const EXIT_NOT_FOUND = 1;
const MIB = 1024 * 1024;
/**
 * Registrants failed by the system (the funnel's `failed` outcome: out of retries, a timeout, a
 * dependency) that a plan may leave, as a share of arrivals. Not 0: a dependency's injected
 * errors fail a registrant now and then whatever the capacity. The per-step error budgets of
 * model/slo.ts apply on top, through the verdict.
 */
export const FAILED_TOLERANCE = 0.001;
/** How many times a verification that broke may raise what saturated and verify again. */
const MAX_REPAIRS = 3;
/**
 * The rehearsal check (runPlan, on rehearsalDay): its seeds, how much a raise adds and how many raises it may
 * make. A rehearsal is one draw of the day at a small factor, so the check asks three; its
 * simulations are a thousandth of the day's, so it raises in small steps, many times.
 */
const REHEARSAL_SEEDS = 3;
const REHEARSAL_GROWTH = 1.25;
const REHEARSAL_REPAIRS = 12;
/** The WORKERS knob's largest value (model/service-design.ts). */
const MAX_WORKERS = 64;
/**
 * The write lock is beyond any capacity when the busiest minute's sign-ups alone need this much
 * more than it can commit: for a whole minute commits queue up faster than they clear, a backlog
 * of six seconds by its end at 1.1, against create_account's 1.5 s objective.
 */
const WRITE_LOCK_HOPELESS = 1.1;

const STATIONS = ['dukcapil', 'dapodik', 'dtks', 'email', 'upload'] as const;
/** The mail providers' delivery rate (simulator/plan-delivery.ts reads its backlog from a probe). */
const DELIVERY = 'email.deliveryPerSecond';
type StationName = (typeof STATIONS)[number];

/** What the plan can size, as fields of the capacity file (service.cores is its service section). */
export const PLAN_RESOURCES: readonly PlanResource[] = [
  { name: 'service.cores', unitName: 'core', unit: 1, min: 1, max: 100_000 },
  { name: 'dukcapil.concurrency', unitName: 'server', unit: 1, min: 1, max: 100_000 },
  { name: 'dapodik.concurrency', unitName: 'server', unit: 1, min: 1, max: 100_000 },
  { name: 'dtks.concurrency', unitName: 'server', unit: 1, min: 1, max: 100_000 },
  { name: 'email.concurrency', unitName: 'connection', unit: 1, min: 1, max: 100_000 },
  // The providers' pace: searched only when the capacity file has one (absent, there is no limit).
  { name: DELIVERY, unitName: 'mail/s', unit: 1, min: 1, max: 1_000_000 },
  { name: 'upload.concurrency', unitName: 'server', unit: 1, min: 1, max: 100_000 },
  { name: 'upload.bandwidthBytesPerSecond', unitName: 'MiB/s', unit: MIB, min: 1, max: 1_000_000 },
];
const RESOURCE_NAMES = PLAN_RESOURCES.map((r) => r.name);
/**
 * The waiting room's admission rate (ADMISSION_RATE), in sign-ups a second. Not a capacity: more
 * of it is not always better, so it is sized on its own (simulator/plan-admission.ts), the other
 * resources as given, and is never in the default list.
 */
export const ADMISSION_RESOURCE: PlanResource = {
  name: ADMISSION,
  unitName: 'sign-up/s',
  unit: 1,
  min: 1,
  max: 1_000_000,
};
const ALL_RESOURCES: readonly PlanResource[] = [...PLAN_RESOURCES, ADMISSION_RESOURCE];
const ALL_NAMES = ALL_RESOURCES.map((r) => r.name);

/** The resources each step's requests use (simulator/service.ts's call graph): what can fix its objectives. */
const STEP_RESOURCES: Record<string, readonly string[]> = {
  // Not the delivery rate: it delays the mail after the sign-up answered (the stage email_verified).
  create_account: ['service.cores', 'email.concurrency'],
  verify_email: ['service.cores'],
  login: ['service.cores'],
  submit_biodata: ['service.cores', 'dukcapil.concurrency', 'dapodik.concurrency', 'dtks.concurrency'],
  upload_photo: ['service.cores', 'upload.concurrency', 'upload.bandwidthBytesPerSecond'],
  submit_assessment: ['service.cores'],
  join_wave: ['service.cores'],
};

/**
 * The stations a step waits on whatever the design (a ministry call, the photo's PUT to the store),
 * each with the service's timeout on it: their own latency is a floor under the step's.
 */
const STEP_STATIONS: Record<string, ReadonlyArray<{ station: StationName; timeout: keyof ServiceKnobs }>> = {
  submit_biodata: [
    { station: 'dukcapil', timeout: 'MINISTRY_TIMEOUT_MS' },
    { station: 'dapodik', timeout: 'MINISTRY_TIMEOUT_MS' },
    { station: 'dtks', timeout: 'MINISTRY_TIMEOUT_MS' },
  ],
  upload_photo: [{ station: 'upload', timeout: 'UPLOAD_TIMEOUT_MS' }],
};

/** The standard normal's 95th percentile. */
const Z95 = 1.6448536269514722;

/** A service time's p95 and the share of it above `ms`, in ms. */
function serviceTimeAt(st: ServiceTime, ms: number): { p95Ms: number; above: number } {
  if (st.distribution === 'constant') return { p95Ms: st.ms, above: st.ms > ms ? 1 : 0 };
  const { mu, sigma } = lognormalParams(st.medianMs, st.p99Ms);
  return {
    p95Ms: Math.exp(mu + Z95 * sigma),
    above: sigma > 0 ? 1 - normalCdf((Math.log(ms) - mu) / sigma) : Math.exp(mu) > ms ? 1 : 0,
  };
}

/**
 * The broken objectives no capacity can mend: a station the step waits on answers slower by itself
 * (its service time, with no queue at all) than the step's p95 objective, or past the service's
 * timeout more often than the step's error budget allows (a timeout is not retried). More servers
 * shorten the queue, never the answer. One sentence per station, empty when none.
 */
export function latencyBeyondCapacity(
  broken: ReadonlyArray<{ step: string; objective: string }>,
  stations: Capacity,
  knobs: ServiceKnobs,
): string[] {
  const out: string[] = [];
  for (const step of new Set(broken.map((b) => b.step))) {
    const slo = SLOS[step as keyof typeof SLOS];
    for (const { station, timeout } of STEP_STATIONS[step] ?? []) {
      const st = stations[station].serviceTime;
      const limitMs = knobs[timeout] as number;
      const at = serviceTimeAt(st, limitMs);
      const slow = at.p95Ms >= slo.p95Ms;
      const timesOut = at.above >= slo.errorRate;
      if (!slow && !timesOut) continue;
      const shape =
        st.distribution === 'constant'
          ? `${fmt(st.ms)} ms`
          : `median ${fmt(st.medianMs)} ms, p99 ${fmt(st.p99Ms)} ms`;
      const why = [
        slow ? `a p95 of ${fmt(at.p95Ms)} ms against ${step}'s objective of ${fmt(slo.p95Ms)} ms` : '',
        timesOut
          ? `${(at.above * 100).toFixed(1)} % of its answers after ${timeout}=${fmt(limitMs)} ms against ${step}'s error budget of ${(slo.errorRate * 100).toFixed(0)} %`
          : '',
      ].filter((x) => x !== '');
      out.push(
        `${station} by itself (${station}.serviceTime: ${shape}) has ${why.join(', and ')}: latency, not capacity, which no number of servers changes`,
      );
    }
  }
  return out;
}

export interface PlanFlags {
  peak?: number;
  minutes?: number;
  profile?: string;
  window?: [number, number];
  capacity?: string;
  calibration?: string;
  serviceProfile: string;
  knob: Record<string, string>;
  set: Record<string, string>;
  seed: number;
  resources?: string[];
  maxProbes: number;
  /** the rehearsal the file is checked at (default REHEARSAL_DEFAULTS for a profile), null for none */
  rehearsal?: RehearsalAt | null;
  out?: string;
  quiet?: boolean;
}

/** `80000/min` or `1333/s`, as arrivals per minute. */
export function rate(flag: string) {
  return (v: string): number => {
    const m = /^(\d+(?:\.\d+)?)\/(min|s)$/.exec(v.trim());
    const perMinute = m ? Number(m[1]) * (m[2] === 's' ? 60 : 1) : Number.NaN;
    if (!(perMinute > 0 && perMinute <= 10_000_000))
      throw new InvalidArgumentError(
        `${flag}: expected arrivals per minute or per second, e.g. 80000/min or 1333/s, more than 0 and at most 10000000/min, got '${v}'`,
      );
    return perMinute;
  };
}

/** A comma-separated list of PLAN_RESOURCES names. */
function resourceList(flag: string) {
  return (v: string): string[] => {
    const names = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (names.length === 0) throw new InvalidArgumentError(`${flag}: expected resource names, got '${v}'`);
    for (const n of names) {
      if (ALL_NAMES.includes(n)) continue;
      const admission = /admission|front|waiting/i.test(n)
        ? ` (the waiting room's rate is '${ADMISSION}')`
        : '';
      throw new InvalidArgumentError(
        `${flag}: no resource '${n}'${admission}; expected some of ${RESOURCE_NAMES.join(', ')}, or ${ADMISSION} alone`,
      );
    }
    if (names.includes(ADMISSION) && names.length > 1)
      throw new InvalidArgumentError(
        `${flag}: ${ADMISSION} is sized alone, the other resources at the starting point (--capacity, --set); got '${v}'`,
      );
    return names;
  };
}

export interface PlanSetup {
  target: PlanTarget;
  /** the day a probe of the search replays, at the starting capacities */
  searchDay: DayOptions;
  /** the whole target, for the verification; null when the searched load is the whole target */
  verifyDay: DayOptions | null;
  searched: string[];
  start: Point;
  /** WORKERS was given (--knob, the service profile): the plan leaves it; else one per core, at most 64 */
  workersFixed: boolean;
  /** the stations and the service section the plan starts from */
  from: { capacity: Capacity; service: ServiceSection };
  knobs: Record<string, string>;
  profileFile: string;
  /** the capacity file the plan started from (before --set) */
  capacityFile: string;
  calibrationSource: string;
  /** the write lock's verdict on the target before any probe: why no capacity can do, or undefined */
  hopeless?: string;
  /**
   * a waiting room the plan keeps at the service profile's rate (not searched, not given): what it
   * admits against the target's arrivals (simulate's admissionNote)
   */
  admissionNote?: string;
  /** the rehearsal the planned file is checked at (runPlan, on rehearsalDay), or null */
  rehearsal: RehearsalAt | null;
  seed: number;
}

const workersFor = (cores: number) => Math.min(MAX_WORKERS, cores);

/**
 * Why no capacity can hold a target whose busiest minute brings `signUpsPerS` sign-ups a second,
 * each a commit under the one write lock, or undefined. The lock is held 1000/commitsPerSecond ms
 * when the capacity file states its database (service.commitsPerSecond), else the calibration's
 * commit time at DB_SYNCHRONOUS, as the simulator holds it (simulator/service.ts). A waiting room
 * being sized bounds the sign-ups itself: its search finds what the lock allows, so it is not asked.
 */
export function writeLockHopeless(day: DayOptions, signUpsPerS: number): string | undefined {
  const stated = day.commitsPerSecond;
  const writeMs =
    stated !== undefined ? 1000 / stated : day.calibration.service.writeMs[day.knobs.DB_SYNCHRONOUS];
  const commitsPerS = 1000 / writeMs;
  if (!(signUpsPerS > WRITE_LOCK_HOPELESS * commitsPerS)) return undefined;
  const busiest = `the target's busiest minute brings ${fmt(signUpsPerS)} sign-ups a second, each a commit`;
  return stated !== undefined
    ? `no capacity meets the objectives with this database: the capacity file's service.commitsPerSecond is ${fmt(stated)} commits a second (the write lock held ${Number(writeMs.toPrecision(3))} ms per commit), and ${busiest}. State a faster database (service.commitsPerSecond) or lower the target.`
    : `no capacity meets the objectives with this design: the SQLite write lock (one for every process) is held ${writeMs} ms per commit with DB_SYNCHRONOUS=${day.knobs.DB_SYNCHRONOUS}, at most ${fmt(commitsPerS)} commits a second, and ${busiest}. Change the design (--knob DB_SYNCHRONOUS=NORMAL holds it ${day.calibration.service.writeMs.NORMAL} ms) or lower the target.`;
}

/** Reads and checks every input; a bad one throws BadInput naming the flag or the file and field. */
export function planSetup(f: PlanFlags): PlanSetup {
  if (f.peak !== undefined && f.profile !== undefined)
    throw new BadInput('--peak and --profile: give one target, a peak or a profile');
  if (f.peak !== undefined && f.window !== undefined)
    throw new BadInput('--window: a window of the profile; with --peak the load is --minutes long');
  if (f.peak === undefined && f.minutes !== undefined)
    throw new BadInput('--minutes: how long --peak lasts; give --peak too');
  const flags: SimulateFlags = {
    scale: 1,
    compress: 1,
    ...(f.profile ? { profile: f.profile } : {}),
    // The 2020 dependencies at full size, and its service machine: the day the plan sizes for.
    capacity: f.capacity ?? SIMULATE_CAPACITY,
    ...(f.calibration ? { calibration: f.calibration } : {}),
    serviceProfile: f.serviceProfile,
    knob: f.knob,
    set: f.set,
    seed: f.seed,
    results: 'results',
  };
  let inputs: ReturnType<typeof simulationInputs>;
  try {
    inputs = simulationInputs(flags);
  } catch (err) {
    if (!(err instanceof BadInput)) throw err;
    const named = (
      [
        ['--capacity', f.capacity],
        ['--profile', f.profile],
        ['--calibration', f.calibration],
      ] as const
    ).find(([, file]) => file && err.message.startsWith(file));
    throw new BadInput(named ? `${named[0]}: ${err.message}` : err.message);
  }
  const whole = inputs.day;
  let target: PlanTarget;
  try {
    target =
      f.peak !== undefined
        ? { kind: 'peak', perMinute: f.peak, minutes: f.minutes ?? 30 }
        : {
            kind: 'profile',
            profile: whole.profile,
            file: inputs.profileFile,
            ...(f.window ? { window: { fromMinute: f.window[0], toMinute: f.window[1] } } : {}),
          };
    const load = searchLoad(target);
    const minutes = load.window
      ? load.window.toMinute - load.window.fromMinute
      : (load.profile.arrivals.length * load.profile.bucketSeconds) / 60;
    const profileMinutes = (whole.profile.arrivals.length * whole.profile.bucketSeconds) / 60;
    if (load.window) {
      if (load.window.toMinute > profileMinutes)
        throw new BadInput(
          `--window: ${load.window.fromMinute}-${load.window.toMinute} ends after the profile's ${profileMinutes} minutes`,
        );
      try {
        // The replay's own checks (whole buckets of the profile), before any probe.
        replay(load.profile, { scale: 1, compress: 1, window: load.window });
      } catch (err) {
        if (err instanceof ProfileError) throw new BadInput(`--window: ${err.message}`);
        throw err;
      }
    }
    // A window that is the whole profile leaves nothing more to verify on.
    const searchedAll =
      !load.window || (load.window.fromMinute === 0 && load.window.toMinute >= profileMinutes);
    const searchDay: DayOptions = {
      ...whole,
      profile: load.profile,
      intervalSeconds: autoInterval(minutes * 60 + whole.gracefulStopS),
    };
    if (load.window) searchDay.window = load.window;
    else delete searchDay.window;
    // What the calibration fitted, the simulator takes from it: the file's value would change nothing.
    const fitted = STATIONS.filter((s) => whole.calibration.stations[s]?.concurrency !== undefined).map(
      (s) => `${s}.concurrency`,
    );
    const named = f.resources?.find((r) => fitted.includes(r));
    if (named)
      throw new BadInput(
        `--resources ${named}: the calibration (${inputs.calibrationSource}) fixes it; a probe could not change it`,
      );
    const unlimited = whole.capacity.email.deliveryPerSecond === undefined;
    if (unlimited && f.resources?.includes(DELIVERY))
      throw new BadInput(
        `--resources ${DELIVERY}: the capacity file (${f.capacity ?? SIMULATE_CAPACITY}) has no email.deliveryPerSecond, so the providers take mail without limit and there is nothing to size; give the file one to start from`,
      );
    const searched = (f.resources ?? RESOURCE_NAMES).filter(
      (r) => !fitted.includes(r) && !(unlimited && r === DELIVERY),
    );
    const admission = searched.includes(ADMISSION);
    if (f.rehearsal && f.peak !== undefined)
      throw new BadInput(
        '--rehearsal: a rehearsal replays a profile, and --peak is none; give --profile, or --rehearsal none',
      );
    if (f.rehearsal && admission)
      throw new BadInput(
        `--rehearsal: ${ADMISSION} is sized on the capacities as given, which the check would raise; give --rehearsal none`,
      );
    const rehearsal =
      f.rehearsal === undefined
        ? f.peak === undefined && !admission
          ? { ...REHEARSAL_DEFAULTS }
          : null
        : f.rehearsal;
    const workersFixed = 'WORKERS' in f.knob || 'WORKERS' in serviceProfileKnobs(f.serviceProfile);
    const capacity = whole.capacity;
    const start: Point = {
      'service.cores': whole.cores,
      ...Object.fromEntries(STATIONS.map((s) => [`${s}.concurrency`, capacity[s].concurrency])),
      'upload.bandwidthBytesPerSecond': Math.max(1, Math.ceil(capacity.upload.bandwidthBytesPerSecond / MIB)),
      [DELIVERY]: Math.max(1, Math.ceil(capacity.email.deliveryPerSecond ?? 1)),
      [ADMISSION]: whole.knobs.ADMISSION_RATE,
    };
    const from = {
      capacity,
      service: {
        cores: whole.cores,
        workers: whole.knobs.WORKERS,
        ...(whole.knobs.ADMISSION_RATE > 0 ? { admissionRate: whole.knobs.ADMISSION_RATE } : {}),
        // Not a resource of the plan: the database the file states, written back as it was.
        ...(whole.commitsPerSecond !== undefined ? { commitsPerSecond: whole.commitsPerSecond } : {}),
      },
    };
    const hopeless = admission ? undefined : writeLockHopeless(whole, busiestMinute(target) / 60);
    const kept = admission ? undefined : admissionNote(flags, inputs.knobs, searchDay);
    return {
      target,
      searchDay,
      verifyDay: searchedAll ? null : whole,
      searched,
      start,
      workersFixed,
      from,
      knobs: inputs.knobs,
      profileFile: target.kind === 'peak' ? `(constant ${target.perMinute}/min)` : inputs.profileFile,
      capacityFile: flags.capacity as string,
      calibrationSource: inputs.calibrationSource,
      ...(hopeless ? { hopeless } : {}),
      ...(kept ? { admissionNote: kept } : {}),
      rehearsal,
      seed: f.seed,
    };
  } catch (err) {
    if (err instanceof ProfileError) throw new BadInput(err.message);
    throw err;
  }
}

/** The day at a point: the searched resources' fields set, the rest as the setup has them. */
export function dayAt(s: PlanSetup, base: DayOptions, p: Point): DayOptions {
  const capacity = structuredClone(base.capacity);
  for (const st of STATIONS) {
    const name = `${st}.concurrency`;
    if (s.searched.includes(name)) capacity[st].concurrency = p[name] as number;
  }
  if (s.searched.includes('upload.bandwidthBytesPerSecond'))
    capacity.upload.bandwidthBytesPerSecond = (p['upload.bandwidthBytesPerSecond'] as number) * MIB;
  const delivery = s.searched.includes(DELIVERY);
  if (delivery) capacity.email.deliveryPerSecond = p[DELIVERY] as number;
  const cores = s.searched.includes('service.cores') ? (p['service.cores'] as number) : base.cores;
  const knobs =
    s.workersFixed || !s.searched.includes('service.cores')
      ? base.knobs
      : { ...base.knobs, WORKERS: workersFor(cores) };
  if (!s.searched.includes(ADMISSION))
    return {
      ...base,
      capacity,
      cores,
      knobs,
      // Those still looking for the mail when the load ends are watched until it comes or their
      // patience ends: cut off as in progress after the usual 30 s, a delivery rate too low would
      // not show the give-ups of the load's last half hour.
      ...(delivery ? { gracefulStopS: Math.max(base.gracefulStopS, mailPatienceS(base) + 60) } : {}),
    };
  return {
    ...base,
    capacity,
    cores,
    knobs: { ...knobs, ADMISSION_RATE: p[ADMISSION] as number },
    // Those still in line when the load ends are watched until admitted or out of patience: cut
    // off as in progress after the usual 30 s, a rate too low would never show its give-ups.
    gracefulStopS: Math.max(base.gracefulStopS, WAITING_ROOM_PATIENCE.maxWaitS + 60),
  };
}

/**
 * The whole target as a rehearsal at `at` replays it, on the file planned at `p`: the file scaled
 * by the rehearsal's rate factor (model/similitude.ts), as `rehearse` and `simulate --scale
 * --compress` scale it. There the servers that pool at full size run as one or a few, whose queues
 * do not pool: a plan at its edge at full size may break in its own rehearsal.
 */
export function rehearsalDay(s: PlanSetup, p: Point, at: RehearsalAt, seed: number): DayOptions {
  const whole = s.verifyDay ?? s.searchDay;
  const scaled = scaleCapacityFile(plannedFile(s, p), rateFactor(at));
  const service = scaled.service as ServiceSection;
  const minutes = (whole.profile.arrivals.length * whole.profile.bucketSeconds) / 60;
  const day: DayOptions = {
    ...whole,
    scale: at.scale,
    compress: at.compress,
    // The target's think times, compressed as the rehearsal compresses them.
    thinkCompress: whole.thinkCompress * at.compress,
    capacity: scaled.capacity,
    cores: service.cores,
    knobs: service.workers === undefined ? whole.knobs : { ...whole.knobs, WORKERS: service.workers },
    seed,
    intervalSeconds: autoInterval((minutes * 60) / at.compress + whole.gracefulStopS),
  };
  if (service.commitsPerSecond !== undefined) day.commitsPerSecond = service.commitsPerSecond;
  else delete day.commitsPerSecond;
  delete day.window;
  return day;
}

/** The seeds of the rehearsal check: the plan's and the next ones. */
export const rehearsalSeeds = (seed: number) =>
  Array.from({ length: REHEARSAL_SEEDS }, (_, i) => (seed + i) % 2 ** 32);

/** The planned stations and service section, for the capacity file. */
function plannedFile(s: PlanSetup, p: Point): { capacity: Capacity; service: ServiceSection } {
  const d = dayAt(s, s.verifyDay ?? s.searchDay, p);
  return {
    capacity: d.capacity,
    service: {
      cores: d.cores,
      workers: d.knobs.WORKERS,
      ...(d.knobs.ADMISSION_RATE > 0 ? { admissionRate: d.knobs.ADMISSION_RATE } : {}),
      ...(s.from.service.commitsPerSecond !== undefined
        ? { commitsPerSecond: s.from.service.commitsPerSecond }
        : {}),
    },
  };
}

/** How long a registrant of this day looks for the mail, seconds (model/journey.ts). */
const mailPatienceS = (d: DayOptions) => mailWaitSeconds(d.mailWaitS, d.thinkCompress);

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

/** One simulation's verdict as the search needs it: the report's judgement, read for the plan's resources. */
export function judge(s: PlanSetup, day: DayOptions, n: number): ProbeOutcome {
  const result = simulateDay(day);
  const sim = simulatedRecord(
    {
      runId: `plan-probe-${n}`,
      engineVersion: 'plan',
      profileFile: s.profileFile,
      serviceProfile: 'plan',
      knobs: s.knobs,
      calibrationSource: s.calibrationSource,
      overrides: {},
      day,
    },
    result,
  );
  const record: RunRecord = {
    dir: `(plan probe ${n})`,
    manifest: sim.manifest,
    summary: sim.summary as Summary,
    timeseries: sim.timeseries,
  };
  const report = buildReport(record);
  const totals = sim.manifest.totals;
  const failed = totals.funnel.filter((x) => x.outcome === 'failed').reduce((a, x) => a + x.count, 0);
  const failedShare = totals.arrivals > 0 ? failed / totals.arrivals : 0;
  const gaveUp = totals.funnel
    .filter((x) => x.outcome === 'failed' && x.reason === 'waiting_room')
    .reduce((a, x) => a + x.count, 0);
  const gaveUpWaiting = totals.arrivals > 0 ? gaveUp / totals.arrivals : 0;
  const broke = report.verdict.slos
    .filter((x) => !x.held)
    .map((x) => `${x.step} ${x.objective === 'p95_ms' ? 'p95' : 'errors'}`);
  if (failedShare > FAILED_TOLERANCE)
    broke.push(
      `registrants failed ${pct(failedShare)}${gaveUp > 0 ? ` (${pct(gaveUpWaiting)} gave up in the waiting room)` : ''}`,
    );
  let worst: ProbeOutcome['worst'] = null;
  for (const st of totals.steps) {
    if (st.p95Ms === null) continue;
    const sloMs = SLOS[st.step as keyof typeof SLOS].p95Ms;
    if (!worst || st.p95Ms / sloMs > worst.p95Ms / worst.sloMs)
      worst = { step: st.step, p95Ms: st.p95Ms, sloMs };
  }

  // What saturated, earliest first, as plan resources (or the limits no resource relieves).
  const b = report.bottleneck;
  const uploadBytesPerS = peakUploadBytesPerS(record, day.photoBytes, 'received');
  // The store's servers are held while a photo waits for the link: a saturated store whose link
  // was offered nearly all it carries is short of bandwidth, not of servers.
  const linkBinds =
    peakUploadBytesPerS(record, day.photoBytes, 'offered') >=
    0.9 * day.capacity.upload.bandwidthBytesPerSecond;
  // The providers' backlog shows in no server's utilisation: it counts as saturated when registrants
  // gave up on the mail and the backlog's wait was a good part of their patience (plan-delivery.ts).
  const delivery = deliveryBacklog({
    t: record.timeseries.t,
    busyShare: result.busyShare.email,
    concurrency: result.stations.email.concurrency,
    meanServiceMs: meanServiceMs(result.stations.email.serviceTime),
    perSecond: day.capacity.email.deliveryPerSecond,
  });
  const mailNeverCame = totals.funnel
    .filter((x) => x.stage === 'email_verified' && x.outcome === 'failed' && x.reason === 'dependency:email')
    .reduce((a, x) => a + x.count, 0);
  const deliveryGaveUp = mailNeverCame > 0 && delivery.maxWaitS >= DELIVERY_WAIT_SHARE * mailPatienceS(day);
  const resourceOf = (name: string): string | { limit: string } => {
    if (name === 'cpu') return 'service.cores';
    if (name === EVENT_LOOP)
      return s.workersFixed || day.knobs.WORKERS >= MAX_WORKERS
        ? {
            limit: `the event loops (WORKERS=${day.knobs.WORKERS}${s.workersFixed ? ', as given' : ', the most'})`,
          }
        : 'service.cores';
    if (name === WRITE_LOCK)
      return {
        limit:
          day.commitsPerSecond !== undefined
            ? `the database's write lock (service.commitsPerSecond ${fmt(day.commitsPerSecond)}, as the capacity file states it)`
            : 'the SQLite write lock (a design limit: DB_SYNCHRONOUS)',
      };
    if (name === SMTP_POOL)
      return {
        limit: `the service's SMTP connections (EMAIL_CONNECTIONS=${day.knobs.EMAIL_CONNECTIONS} a process, ${day.knobs.WORKERS} processes: a design limit, --knob EMAIL_CONNECTIONS)`,
      };
    if (name === 'upload') return linkBinds ? 'upload.bandwidthBytesPerSecond' : 'upload.concurrency';
    return `${name}.concurrency`;
  };
  const saturated = [
    ...b.dependencies
      .filter((d) => d.saturatedAtSeconds !== null)
      .map((d) => ({ what: resourceOf(d.dependency), t: d.saturatedAtSeconds as number })),
    ...(b.cpu?.saturatedAtSeconds != null ? [{ what: resourceOf('cpu'), t: b.cpu.saturatedAtSeconds }] : []),
    ...(deliveryGaveUp ? [{ what: DELIVERY, t: delivery.startedAtS ?? 0 }] : []),
  ].sort((x, y) => x.t - y.t);
  const ours = saturated.filter((x): x is { what: string; t: number } => typeof x.what === 'string');
  // A resource at its edge may saturate without breaking its own steps (the mail server at the
  // sign-up peak while the ministries break an hour later): raise what bears on what broke.
  const bearing = new Set(
    report.verdict.slos.filter((x) => !x.held).flatMap((x) => STEP_RESOURCES[x.step] ?? []),
  );
  if (failedShare > FAILED_TOLERANCE)
    for (const x of totals.funnel.filter((y) => y.outcome === 'failed' && y.count > 0)) {
      // 'dependency:email' names its station; otherwise the resources of the step that failed them.
      const dep = x.reason?.startsWith('dependency:') ? x.reason.slice('dependency:'.length) : null;
      // The providers' rate bears only on the mail that never came; a sign-up that failed on the
      // mail (sent inline) failed at the relay.
      const of = dep
        ? RESOURCE_NAMES.filter(
            (r) => r.startsWith(`${dep}.`) && (r !== DELIVERY || x.stage === 'email_verified'),
          )
        : (STEP_RESOURCES[STEP_OF_STAGE[x.stage as Stage]] ?? []);
      for (const r of [...of, 'service.cores']) bearing.add(r);
    }
  const relevant = ours.filter((x) => bearing.has(x.what));
  const pool = relevant.length ? relevant : ours;
  const first = pool[0]?.t ?? 0;
  const grow = [...new Set(pool.filter((x) => x.t - first <= SATURATION.sustainSeconds).map((x) => x.what))];
  const limits = saturated
    .filter((x) => typeof x.what !== 'string')
    .map((x) => (x.what as { limit: string }).limit);
  const latency = latencyBeyondCapacity(
    report.verdict.slos.filter((x) => !x.held),
    result.stations,
    day.knobs,
  );
  const limit = limits.length
    ? `what saturated is beyond the plan's resources: ${[...new Set(limits)].join(', ')}`
    : latency.length
      ? `the objectives broke (${broke.join(', ')}) with nothing saturated, and ${latency.join('; ')}`
      : `the objectives broke (${broke.join(', ')}) with nothing saturated: not a capacity the plan sizes (a timeout, injected errors, the design)`;

  // Demand at the busiest reading, in each resource's units: where its search starts.
  const load: Record<string, number> = {};
  for (const d of b.dependencies) {
    if ((STATIONS as readonly string[]).includes(d.dependency))
      load[`${d.dependency}.concurrency`] =
        d.peakUtilisation * day.capacity[d.dependency as StationName].concurrency;
  }
  const cpu = b.cpu?.processes.reduce((a, x) => a + x.peakCores, 0);
  if (cpu !== undefined) load['service.cores'] = cpu;
  load['upload.bandwidthBytesPerSecond'] = uploadBytesPerS / MIB;
  load[DELIVERY] = delivery.peakAcceptedPerS;
  const held = report.verdict.held && failedShare <= FAILED_TOLERANCE;
  return {
    held,
    ...(gaveUp > 0
      ? {
          gaveUpWaiting,
          onlyWaiting: !held && report.verdict.held && failedShare - gaveUpWaiting <= FAILED_TOLERANCE,
        }
      : {}),
    grow,
    saturated: [...new Set(pool.map((x) => x.what))],
    ...(ours.length === 0 ? { limit } : {}),
    broke,
    worst,
    failedShare,
    load,
    requests: Object.fromEntries(totals.steps.map((x) => [x.step, x.requests])),
  };
}

/** The busiest interval's photos, received or sent (retries and failures too), in bytes per second. */
function peakUploadBytesPerS(r: RunRecord, photoBytes: number, which: 'received' | 'offered'): number {
  const reqs = seriesValues(r.timeseries, 'step_requests', { step: 'upload_photo' }) ?? [];
  const failed = seriesValues(r.timeseries, 'step_failed_ratio', { step: 'upload_photo' }) ?? [];
  const share = (i: number) => (which === 'offered' ? 1 : 1 - (failed[i] ?? 0));
  return Math.max(0, ...reqs.map((q, i) => (q ?? 0) * share(i) * photoBytes));
}

export interface PlanRun {
  result: SearchResult;
  verification: VerifyResult | null;
  /** the check at the setup's rehearsal, when the plan held and there is one */
  rehearsal: VerifyResult | null;
  /** the point to write: the search's, or the verification's when it raised something */
  point: Point;
  /** found, and verified where there was anything more to verify on */
  ok: boolean;
  cpuSeconds: number;
  simulations: number;
  /** the admission rate's search, when it was the resource sized */
  admission?: AdmissionResult;
}

/**
 * Above the busiest arrival rate by this much, the room keeps up: at exactly the arrival rate a
 * turn taken a moment late pushes every later one back (each turn is the previous one plus
 * 1/rate), so everyone would wait a second and come back.
 */
const NO_WAIT_HEADROOM = 1.1;

/** A broken probe of the admission rate: too low when only those who gave up waiting broke it. */
const admissionSide = (r: ProbeRecord): AdmissionSide =>
  r.outcome.held ? 'held' : r.outcome.onlyWaiting ? 'too_low' : 'too_high';

/** The search, then the verification on the whole target. `log` gets one line per simulation. */
export function runPlan(s: PlanSetup, o: { maxProbes: number; log?: (line: string) => void }): PlanRun {
  const resources = ALL_RESOURCES.filter((r) => s.searched.includes(r.name));
  let cpu = 0;
  let simulations = 0;
  const simulated = (dayOf: (p: Point) => DayOptions) => (p: Point, why: string, n: number) => {
    const before = process.cpuUsage();
    const day = dayOf(p);
    if (o.log) day.onProgress = (x) => o.log?.(`  ${progressLine(x)}`);
    const out = judge(s, day, n);
    simulations++;
    const used = process.cpuUsage(before);
    const seconds = (used.user + used.system) / 1e6;
    cpu += seconds;
    o.log?.(
      `probe ${n} (${why}): ${describePoint(p, resources)} -> ${out.held ? 'held' : `broke: ${out.broke.join(', ')}`}${
        !out.held && out.grow.length ? `; first saturated: ${out.grow.join(', ')}` : ''
      } [${seconds.toFixed(1)} s CPU]`,
    );
    return out;
  };
  const timed = (base: DayOptions) => simulated((p) => dayAt(s, base, p));
  if (s.searched.includes(ADMISSION)) {
    const admission = searchAdmission({
      noWaitRate: (busiestMinute(s.target) / 60) * NO_WAIT_HEADROOM,
      maxProbes: o.maxProbes,
      probe: timed(s.searchDay),
      side: admissionSide,
    });
    // Verified once: a rate that breaks on the whole profile is not lowered blindly, as either
    // side may be what broke.
    const checked =
      admission.status === 'found' && s.verifyDay
        ? verify({
            resources: [ADMISSION_RESOURCE],
            searched: s.searched,
            point: admission.point,
            maxRepairs: 0,
            verify: timed(s.verifyDay),
            firstN: admission.probes.length + 1,
          })
        : null;
    return {
      result: admission,
      verification: checked,
      point: admission.point,
      ok: admission.status === 'found' && (checked === null || checked.held),
      cpuSeconds: cpu,
      simulations,
      rehearsal: null,
      admission,
    };
  }
  const result = search({
    resources: PLAN_RESOURCES,
    searched: s.searched,
    start: s.start,
    maxProbes: o.maxProbes,
    probe: timed(s.searchDay),
  });
  let verification: VerifyResult | null = null;
  if (result.status === 'found' && s.verifyDay) {
    verification = verify({
      resources: PLAN_RESOURCES,
      searched: s.searched,
      point: result.point,
      maxRepairs: MAX_REPAIRS,
      verify: timed(s.verifyDay),
      firstN: result.probes.length + 1,
    });
  }
  const planned = verification?.point ?? result.point;
  const ok = result.status === 'found' && (verification === null || verification.held);
  let rehearsal: VerifyResult | null = null;
  const at = s.rehearsal;
  if (ok && at) {
    // Every seed must hold: a rehearsal is one draw, and the user runs one.
    const rehearsed = (p: Point, why: string, n: number): ProbeOutcome => {
      let last: ProbeOutcome | undefined;
      for (const seed of rehearsalSeeds(s.seed)) {
        last = simulated((q) => rehearsalDay(s, q, at, seed))(p, `${why}, seed ${seed}`, n);
        if (!last.held) return { ...last, broke: last.broke.map((b) => `${b} (seed ${seed})`) };
      }
      return last as ProbeOutcome;
    };
    rehearsal = verify({
      resources: PLAN_RESOURCES,
      searched: s.searched,
      point: planned,
      maxRepairs: REHEARSAL_REPAIRS,
      growth: REHEARSAL_GROWTH,
      label: 'rehearsal',
      verify: rehearsed,
      firstN: result.probes.length + (verification?.runs.length ?? 0) + 1,
    });
  }
  return {
    result,
    verification,
    rehearsal,
    // More of a resource never broke the full-size day (the search's premise): what the rehearsal
    // raised holds it too. One that still broke is left out: the full-size plan is written.
    point: rehearsal?.held ? rehearsal.point : planned,
    ok,
    cpuSeconds: cpu,
    simulations,
  };
}

// ---- what is printed

const fmt = (n: number) => Math.round(n).toLocaleString('en');

/** "≈ 56 lookups/s": what a station's servers serve at most, on its mean service time. */
function throughput(s: PlanSetup, r: PlanResource, units: number): string {
  const [station, field] = r.name.split('.') as [string, string];
  if (field === 'concurrency' && (STATIONS as readonly string[]).includes(station)) {
    const st =
      s.searchDay.calibration.stations[station as StationName]?.serviceTime ??
      s.searchDay.capacity[station as StationName].serviceTime;
    const perS = (units * 1000) / Math.max(meanServiceMs(st), 1e-3);
    const what = station === 'email' ? 'mails' : station === 'upload' ? 'photos' : 'lookups';
    return `≈ ${fmt(perS)} ${what}/s at most`;
  }
  if (r.name === 'upload.bandwidthBytesPerSecond')
    return `≈ ${fmt((units * MIB) / s.searchDay.photoBytes)} photos/s`;
  if (r.name === ADMISSION) return `${fmt(units * 60)} sign-ups/min at most`;
  if (r.name === DELIVERY) return `${fmt(units * 3600)} mails/h delivered at most`;
  return s.workersFixed ? '' : `${workersFor(units)} workers`;
}

function outcomeCells(rec: ProbeRecord): string[] {
  const o = rec.outcome;
  const worst = o.worst ? `${o.worst.step} ${fmt(o.worst.p95Ms)} / ${fmt(o.worst.sloMs)} ms` : 'no requests';
  return [o.held ? 'held' : 'broke', worst, pct(o.failedShare), o.held ? '' : o.broke.join(', ')];
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}

/** The admission rate's table: the plan, one more, the least that held and one less than that. */
export function admissionTable(a: AdmissionResult): string[] {
  const rows: string[][] = [['rate', 'result', 'worst p95 / SLO', 'failed', 'broke']];
  const rate = a.point[ADMISSION] as number;
  const at = a.marginals[0]?.at;
  const row = (label: string, rec: ProbeRecord | undefined | null) => {
    if (rec) rows.push([label, ...outcomeCells(rec)]);
  };
  row(`${rate}/s (plan${a.noWait ? ': keeps up with arrivals' : ''})`, at);
  row(`${rate + 1}/s (one more)`, a.oneMore?.point[ADMISSION] === rate + 1 ? a.oneMore : null);
  if (a.oneMore && a.oneMore.point[ADMISSION] !== rate + 1)
    row(`${a.oneMore.point[ADMISSION]}/s (the least that broke above)`, a.oneMore);
  if (a.least !== undefined && a.least !== rate) {
    const least = a.probes.find((p) => p.point[ADMISSION] === a.least);
    row(`${a.least}/s (the least that held)`, least);
  }
  if (a.least !== undefined)
    row(
      `${a.least - 1}/s (one less than that)`,
      a.probes.find((p) => p.point[ADMISSION] === (a.least as number) - 1),
    );
  return table(rows);
}

/** The per-resource table: the planned value, one unit less, and the search's step before. */
export function marginalTable(marginals: readonly Marginal[]): string[] {
  const rows: string[][] = [['resource', 'value', 'result', 'worst p95 / SLO', 'failed', 'broke']];
  for (const m of marginals) {
    const r = PLAN_RESOURCES.find((x) => x.name === m.resource) as PlanResource;
    const unit = (v: number) => `${v} ${r.unitName}${r.unitName.endsWith('/s') || v === 1 ? '' : 's'}`;
    rows.push([m.resource, unit(m.value), ...outcomeCells(m.at)]);
    if (m.less) rows.push(['', `${unit(m.value - 1)} (one less)`, ...outcomeCells(m.less)]);
    // No one-less probe: the field's least value, or the search ran out of --max-probes first.
    else
      rows.push([
        '',
        m.value > r.min
          ? '(one less: not probed, --max-probes reached)'
          : '(no less: the least the field takes)',
        '',
        '',
        '',
        '',
      ]);
    if (m.before)
      rows.push([
        '',
        `${unit(m.before.point[m.resource] as number)} (search step)`,
        ...outcomeCells(m.before),
      ]);
  }
  return table(rows);
}

/**
 * The steps the search loaded with under a quarter of their requests per minute on the whole
 * profile, once at the steps' own rate: 'upload_photo (3,251 of 388,000 requests, ...)'. A window
 * that holds the busiest hour of arrivals holds few of those who come back hours later.
 */
export function thinlySearched(
  searched: Readonly<Record<string, number>> | undefined,
  whole: Readonly<Record<string, number>> | undefined,
  share = THIN_SHARE,
): string[] {
  if (!searched || !whole) return [];
  const first = whole.create_account ?? 0;
  const searchedFirst = searched.create_account ?? 0;
  if (!(first > 0 && searchedFirst > 0)) return [];
  // The searched window's share of the sign-ups: each later step should carry about as much of its own.
  const expected = searchedFirst / first;
  return Object.entries(whole)
    .filter(([step, n]) => n > 0 && (searched[step] ?? 0) / n < share * expected)
    .map(([step, n]) => `${step} (${fmt(searched[step] ?? 0)} of ${fmt(n)} requests)`);
}
const THIN_SHARE = 0.25;

/** What the checks after the search raised, from the searched value, and which check did. */
function raisedBy(run: PlanRun): Map<string, { from: number; by: string[] }> {
  const out = new Map<string, { from: number; by: string[] }>();
  const add = (v: VerifyResult | null, by: string) => {
    for (const x of v?.raised ?? []) {
      const had = out.get(x.resource);
      out.set(x.resource, { from: had?.from ?? x.from, by: [...(had?.by ?? []), by] });
    }
  };
  add(run.verification, 'by the verification');
  if (run.rehearsal?.held) add(run.rehearsal, 'for the rehearsal');
  return out;
}

const describeRaised = (v: VerifyResult) =>
  v.raised.map((x) => `${x.resource} ${x.from} -> ${x.to}`).join(', ');

const isRehearseDefault = (at: RehearsalAt) =>
  at.scale === REHEARSAL_DEFAULTS.scale && at.compress === REHEARSAL_DEFAULTS.compress;

/** The rehearsal at which the file was checked, in words: 'scale 0.001 x compress 90 (1/11 of the day's rate)'. */
function describeRehearsal(at: RehearsalAt): string {
  const f = rateFactor(at);
  return `scale ${at.scale} x compress ${at.compress} (${isRehearseDefault(at) ? "rehearse's default, " : ''}1/${Number((1 / f).toPrecision(3))} of the day's arrival rate)`;
}

/** Where the rehearsal check ran: 'a rehearsal at scale 0.001 x compress 90 (...) runs it, simulated on seeds 2020, 2021, 2022'. */
const rehearsalWhere = (at: RehearsalAt, seed: number) =>
  `a rehearsal at ${describeRehearsal(at)} runs it, simulated on seeds ${rehearsalSeeds(seed).join(', ')}`;

/** The rehearsal check's verdict, one paragraph. */
export function rehearsalLine(s: PlanSetup, v: VerifyResult): string {
  const where = `the file as ${rehearsalWhere(s.rehearsal as RehearsalAt, s.seed)}`;
  if (v.held && v.raised.length === 0) return `rehearsal: held, ${where}.`;
  if (v.held)
    return `rehearsal: held after raising ${describeRaised(v)}, ${where}: at that factor the servers that pool at full size run as a few, whose queues do not pool, so the least at full size broke there.`;
  return `rehearsal: BROKE, ${where}: ${v.reason}. The file written holds the day at full size in the simulator, but a rehearsal at this factor would break: rehearse at a larger --scale or --compress (check it with --rehearsal SCALExCOMPRESS).`;
}

function resultTable(s: PlanSetup, run: PlanRun): string[] {
  const rows: string[][] = [['resource', 'from', 'plan', 'unit', '']];
  const raised = raisedBy(run);
  for (const r of ALL_RESOURCES.filter((x) => s.searched.includes(x.name))) {
    const v = run.point[r.name] as number;
    const up = raised.get(r.name);
    rows.push([
      r.name,
      String(s.start[r.name]),
      `${v}${up ? ` (searched ${up.from}, raised ${up.by.join(' and ')})` : ''}`,
      r.unitName,
      throughput(s, r, v),
    ]);
  }
  return table(rows);
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

export function planCommand(): Command {
  return new Command('plan')
    .description(
      "search the smallest capacity per resource (service cores, each ministry, the mail relay and the providers' delivery rate, upload) with which a peak or a profile meets every SLO in the simulator, print what each unit buys, and write it as a capacity file; or, with --resources admission, the highest waiting-room admission rate (ADMISSION_RATE) at which every SLO holds with the other capacities as given (too high and the service breaks, too low and registrants give up after 30 minutes in line)",
    )
    .option('--peak <rate>', 'the target: a constant arrival rate, e.g. 80000/min or 1333/s', rate('--peak'))
    .option('--minutes <n>', 'how long --peak lasts (default 30)', wholeNumberIn('--minutes', 1, 24 * 60))
    .option(
      '--profile <csv>',
      'the target: arrivals per minute (or second) over a day (default the 2020 profile)',
      existingFile('--profile'),
    )
    .option(
      '--window <from-to>',
      'the profile minutes the search probes, e.g. 0-60 (default its busiest hour); the result is verified on the whole profile',
      profileWindow('--window'),
    )
    .option(
      '--capacity <file>',
      'the starting point: stations, and the service section if any, at full size (default mock-services/capacity.2020.json, the 2020 dependencies and service machine)',
      existingFile('--capacity'),
    )
    .addOption(calibrationOption())
    .addOption(serviceProfileOption())
    .option(
      '--knob <KEY=VALUE>',
      'a service knob over the profile, e.g. DB_SYNCHRONOUS=NORMAL; WORKERS fixes the workers (else one per core, at most 64)',
      keyValue('--knob'),
      {},
    )
    .option(
      '--set <path=value>',
      'a starting capacity field or service.cores, e.g. dukcapil.concurrency=400 (repeatable)',
      keyValue('--set'),
      {},
    )
    .option(
      '--resources <list>',
      `the resources searched, comma-separated (default all: ${RESOURCE_NAMES.join(', ')}); the others stay at the starting point. '${ADMISSION}' (sign-ups admitted a second by the waiting room) is sized alone: the highest rate that holds, written as the service section's admissionRate`,
      resourceList('--resources'),
    )
    .option('--seed <n>', 'the seed of every random draw', wholeNumberIn('--seed', 0, 2 ** 32 - 1), 2020)
    .option(
      '--rehearsal <SCALExCOMPRESS>',
      `the rehearsal the planned file must hold in too, or 'none': the whole profile at that scale and compression, the file scaled by its rate factor, on ${REHEARSAL_SEEDS} seeds; what breaks there is raised in steps of ${Math.round((REHEARSAL_GROWTH - 1) * 100)} % (default ${REHEARSAL_DEFAULTS.scale}x${REHEARSAL_DEFAULTS.compress}, rehearse's own, for a profile; none for --peak)`,
      rehearsalAt('--rehearsal'),
    )
    .option(
      '--max-probes <n>',
      'the most simulations the search runs (the verification adds at most 4)',
      wholeNumberIn('--max-probes', 1, 10_000),
      60,
    )
    .option(
      '--out <file>',
      'the capacity file written (default results/plan-<time>.json); must not exist',
      outputFile('--out'),
    )
    .option('-q, --quiet', 'no progress')
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_INPUT);
    })
    .action((f: PlanFlags) => {
      const fail = (msg: string) => {
        console.error(`error: ${msg}`);
        process.exitCode = EXIT_BAD_INPUT;
      };
      const out = resolve(f.out ?? `results/plan-${stamp()}.json`);
      if (existsSync(out)) return fail(`--out: '${out}' exists; the plan never overwrites a file`);
      let s: PlanSetup;
      try {
        s = planSetup(f);
      } catch (err) {
        if (err instanceof BadInput) return fail(err.message);
        throw err;
      }
      if (s.searched.length === 0) return fail('--resources: nothing left to search');
      const slos = `every step's p95 and error rate within its SLO (model/slo.ts) and at most ${pct(FAILED_TOLERANCE)} of registrants failed by the system`;
      console.log(
        `PLAN for ${describeTarget(s.target)} (service profile ${f.serviceProfile}, calibration ${s.calibrationSource}, seed ${f.seed}): ${slos}.`,
      );
      if (s.hopeless) {
        console.log(`\nNOT FOUND: ${s.hopeless}\nnothing written.`);
        process.exitCode = EXIT_NOT_FOUND;
        return;
      }
      console.log(`searched: ${describeSearch(s.target)}; resources ${s.searched.join(', ')}.`);
      if (s.admissionNote) console.log(`note: ${s.admissionNote}`);
      const run = runPlan(s, {
        maxProbes: f.maxProbes,
        ...(f.quiet ? {} : { log: (l) => console.error(l) }),
      });
      const { result, verification } = run;
      const cpu = `CPU: ${run.cpuSeconds.toFixed(1)} s in ${run.simulations} simulations`;
      if (result.status !== 'found') {
        console.log(`\nNOT FOUND (${result.probes.length} probes): ${result.reason}.`);
        console.log(
          `last probed: ${describePoint(
            result.point,
            ALL_RESOURCES.filter((r) => s.searched.includes(r.name)),
          )}`,
        );
        console.log(`${cpu}\nnothing written.`);
        process.exitCode = EXIT_NOT_FOUND;
        return;
      }
      console.log(
        `${result.probes.length} probes${result.minimal ? '' : `; not shown to be the least: ${result.reason ?? 'a one-unit-less probe held'}`}.`,
      );
      console.log(
        verification === null
          ? 'verified: the searched load is the whole target.'
          : verification.held
            ? `verified on the whole profile (${fmt(s.verifyDay?.profile.arrivals.reduce((a, b) => a + b, 0) ?? 0)} arrivals): held${
                verification.raised.length
                  ? ` after raising ${describeRaised(verification)} (the least lies between)`
                  : ''
              }.`
            : `verified on the whole profile: BROKE: ${verification.reason}.`,
      );
      if (run.rehearsal) console.log(rehearsalLine(s, run.rehearsal));
      console.log('');
      for (const l of resultTable(s, run)) console.log(l);
      const at = result.marginals[0]?.at ?? result.probes[result.probes.length - 1];
      const requests = Object.entries(at?.outcome.requests ?? {});
      if (requests.length)
        console.log(
          `requests per step at the plan, on the searched load (a resource is sized for the requests that reached it): ${requests.map(([k, v]) => `${k} ${fmt(v)}`).join(', ')}`,
        );
      if (run.admission) {
        console.log(
          `\nthe admission rate (on the searched load, the other resources as given): the highest that held${
            run.admission.noWait
              ? `; at it the room keeps up with arrivals (the busiest minute brings ${fmt(busiestMinute(s.target) / 60)} a second; the rate is ${Math.round((NO_WAIT_HEADROOM - 1) * 100)} % above), so a higher rate changes little`
              : ''
          }:`,
        );
        for (const l of admissionTable(run.admission)) console.log(l);
      } else {
        console.log(
          '\nwhat each unit buys (on the searched load; each row changes that resource only, the others at their planned value):',
        );
        for (const l of marginalTable(result.marginals)) console.log(l);
      }
      console.log(`\n${cpu}`);
      if (!run.ok) {
        console.log('nothing written: the plan did not hold on the whole profile.');
        const thin = thinlySearched(at?.outcome.requests, verification?.runs.at(-1)?.outcome.requests);
        if (thin.length)
          console.log(
            `the searched load carried a small part of what the whole profile sends to ${thin.join(', ')}: registrants reach the later steps hours after they arrive, so search a wider --window, from the busiest hour to where those steps' load is in it.`,
          );
        process.exitCode = EXIT_NOT_FOUND;
        return;
      }
      const date = new Date().toISOString().slice(0, 10);
      const text = plannedCapacityJson(
        {
          from: s.from,
          to: plannedFile(s, run.point),
          summary: `gelombang plan, ${date}: ${run.admission ? 'the highest admission rate (service.admissionRate, the other capacities as given)' : run.rehearsal?.held && run.rehearsal.raised.length ? 'the least capacities (some raised for a rehearsal, as said below)' : 'the least capacities'} with which ${describeTarget(s.target)} met ${slos} in the simulator, starting from ${relative(process.cwd(), s.capacityFile) || s.capacityFile}${
            // A --set changes what the file says before the plan starts: the file written keeps it
            // with no comment of its own, so it is said here.
            Object.keys(f.set).length
              ? ` with --set ${Object.entries(f.set)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(' ')}`
              : ''
          } (calibration ${s.calibrationSource}, service profile ${f.serviceProfile}${
            Object.keys(f.knob).length
              ? `, --knob ${Object.entries(f.knob)
                  .map(([k, v]) => `${k}=${v}`)
                  .join(' ')}`
              : ''
          }, seed ${f.seed}); searched on ${describeSearch(s.target)}${
            verification
              ? `, verified on the whole profile${verification.raised.length ? ` after raising ${describeRaised(verification)}` : ''}`
              : ''
          }${result.minimal ? '' : ` (not shown to be the least: ${result.reason ?? 'a one-unit-less probe held'})`}${
            run.rehearsal && s.rehearsal
              ? `; checked as ${rehearsalWhere(s.rehearsal, f.seed)}: ${
                  run.rehearsal.held
                    ? `held${run.rehearsal.raised.length ? ` after raising ${describeRaised(run.rehearsal)} (servers that pool at full size run as a few there)` : ''}`
                    : `BROKE (${run.rehearsal.reason}): this file holds the day at full size, a rehearsal at that factor would break`
                }`
              : ''
          }. Resources searched: ${s.searched.join(', ')}. The service section is the simulator's: a rehearsal on a laptop cannot be given cores (pass --knob WORKERS${run.admission ? ' and --knob ADMISSION_RATE' : ''} to rehearse yourself).`,
          stamp: `gelombang plan for ${describeTarget(s.target)}, ${date}`,
        },
        out,
      );
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, text);
      console.log(
        `capacity file: ${out}\n  gelombang simulate --service-profile ${f.serviceProfile} --capacity ${out}`,
      );
      if (run.rehearsal?.held && s.rehearsal) {
        const at = s.rehearsal;
        const flags = isRehearseDefault(at) ? '' : ` --scale ${at.scale} --compress ${at.compress}`;
        console.log(`  gelombang rehearse --service-profile ${f.serviceProfile} --capacity ${out}${flags}`);
      }
      // rehearse reads the stations only: the service's knobs are its own flags.
      if (run.admission)
        console.log(
          `  gelombang rehearse --knob ADMISSION_RATE=${run.point[ADMISSION]} (rehearse reads no service section)`,
        );
    });
}
