import type { BehaviourModel, RetryPolicy } from '../model/behaviour.ts';
import type { Capacity, DependencyName } from '../model/capacity.ts';
import { faultedStation } from '../model/faults.ts';
import type { Profile } from '../model/profile.ts';
import type { Replay } from '../model/replay.ts';
import type { ServiceKnobs } from '../model/service-design.ts';
import { EVENT_LOOP, SMTP_POOL, WRITE_LOCK } from '../reports/record.ts';
import { Arrivals } from './arrivals.ts';
import type { Calibration } from './calibration.ts';
import type { CpuStretchOverTime } from './cpu.ts';
import { EventQueue } from './events.ts';
import type { SimFault, SimKill } from './faults.ts';
import { Recorder, type ResourceReading } from './metrics.ts';
import { Outbox } from './outbox.ts';
import { arrivalOf, Journeys, streamRng } from './registrant.ts';
import { NETWORK_LAG_MS, type RegistrationService } from './service.ts';
import { ServiceLife } from './service-life.ts';
import { SimStation } from './station.ts';

/**
 * One simulated run: the replay's arrivals, each a registrant (registrant.ts) against the service
 * (service.ts) and its dependencies' stations (station.ts), from the start of the window to its
 * end plus the graceful stop, when whoever is still on the way is cut off. The recorder closes an
 * interval every `intervalSeconds` and reads the resources four times per interval, as a
 * rehearsal's scrapes do.
 */

export interface DayOptions {
  profile: Profile;
  scale: number;
  compress: number;
  /** think times are the model's delays over this (the scenario's THINK_COMPRESS; default compress) */
  thinkCompress: number;
  /** the key of the random streams (the registrants', the dependencies', the service's), as a rehearsal's RUN_KEY (default 0) */
  runKey?: number;
  window?: { fromMinute: number; toMinute: number };
  capacity: Capacity;
  knobs: ServiceKnobs;
  /** the service's cores; a fraction (a scaled machine) is whole cores, each slower in proportion */
  cores: number;
  /** the database's commits a second (the capacity file's service.commitsPerSecond); absent: the calibration's commit time */
  commitsPerSecond?: number;
  calibration: Calibration;
  /** how much slower every CPU operation runs than on a machine of its own (1: not at all) */
  cpuStretch: number;
  /**
   * A measured run's machine interval by interval (validate): the cores the other processes left
   * the service, and its warm-up (a CPU operation started in interval i runs factors[i] times
   * slower than cpuStretch says). Absent, or past its end: `cores`, and 1.
   */
  cpuStretchOverTime?: CpuStretchOverTime;
  seed: number;
  /**
   * the seed of the system's draws (service times, hashes, delivery, retries' jitter) apart from
   * the registrants': another gives another day of the same registrants (validate's
   * replications); default `seed`
   */
  systemSeed?: number;
  model: BehaviourModel;
  retry: RetryPolicy;
  minorShare: number;
  ineligibleShare: number;
  mailWaitS: number;
  gracefulStopS: number;
  maxVUs: number;
  /** k6's preAllocatedVUs (default maxVUs): see JourneyOptions */
  preAllocatedVUs?: number;
  photoBytes: number;
  intervalSeconds: number;
  /**
   * dependency faults (faults.ts), each station faulted from its start to its end as its mock is by
   * a rehearsal's schedule; at most one at a time per dependency (loadFaults checks a schedule)
   */
  faults?: readonly SimFault[];
  /** the service killed and restarted (faults.ts SimKill), one at a time */
  kills?: readonly SimKill[];
  /** keep each step's latencies interval by interval (rec.latencyByInterval), as validate needs */
  keepLatencyByInterval?: boolean;
  /** keep in the service's queues the work that could only start after the end (a test's reference) */
  keepUnservable?: boolean;
  /** told of every sign-up the waiting room lets through (ADMISSION_RATE > 0): whose, its turn and when (ms) */
  onAdmitted?: (arrival: number, turnAtMs: number, atMs: number) => void;
  /** called every `progressEveryMs` of wall time with where the run is */
  onProgress?: (p: Progress) => void;
  progressEveryMs?: number;
}

export interface Progress {
  simulatedS: number;
  totalS: number;
  events: number;
  arrivals: number;
  inFlight: number;
}

export interface DayResult {
  rec: Recorder;
  plan: Replay;
  /** simulated seconds from the first arrival to the hard stop */
  durationS: number;
  events: number;
  /** the stations as simulated (the capacity file with the calibration's fitted values) */
  stations: Capacity;
  /** requests the service's queues did not keep, as they could only have started after the end */
  neverServed: number;
  /**
   * Each dependency's busy servers over its servers, the mean of the four readings of each
   * interval (rec.t's): a time-average, where the series' utilisation is the peak reading (a
   * station of a few servers reads 1 at some reading far more often than one of hundreds).
   */
  busyShare: Record<DependencyName, number[]>;
}

const DEPENDENCIES: readonly DependencyName[] = ['dukcapil', 'dapodik', 'dtks', 'email', 'upload'];
const STATION_STREAM = 0x57a;
const SERVICE_STREAM = 0x5e2;
const HASH_STREAM = 0x4a5;
const OUTBOX_STREAM = 0x0b0;

/** The capacity file with the calibration's fitted service times and effective concurrencies. */
function calibratedCapacity(capacity: Capacity, calibration: Calibration): Capacity {
  const out = structuredClone(capacity);
  for (const dep of DEPENDENCIES) {
    const fit = calibration.stations[dep];
    if (!fit) continue;
    if (fit.serviceTime) out[dep].serviceTime = fit.serviceTime;
    if (fit.concurrency) out[dep].concurrency = fit.concurrency;
  }
  return out;
}

export function simulateDay(o: DayOptions): DayResult {
  const q = new EventQueue();
  const arrivals = new Arrivals(o.profile, {
    scale: o.scale,
    compress: o.compress,
    ...(o.window ? { window: o.window } : {}),
  });
  const windowEndMs = arrivals.plan.durationSeconds * 1000;
  const hardStopMs = windowEndMs + o.gracefulStopS * 1000;
  const stationsCfg = calibratedCapacity(o.capacity, o.calibration);
  // The dependencies' and the service's draws, like the registrants', under the run's key: every
  // validation of a run with one seed drew the same service times otherwise (the photo store's p95
  // came out under its measured one in nine validations of nine runs), where the mocks draw anew
  // each run. Key 0 (simulate): no key, the streams as they always were.
  const runKey = o.runKey || undefined;
  const systemSeed = o.systemSeed ?? o.seed;
  const stations = Object.fromEntries(
    DEPENDENCIES.map((dep, i) => [
      dep,
      new SimStation(q, dep, stationsCfg[dep], streamRng(systemSeed, STATION_STREAM, i, runKey), {
        http: dep !== 'email',
        lagMs: dep === 'email' ? 0 : NETWORK_LAG_MS,
        ...(dep === 'upload'
          ? {
              link: {
                bytesPerSecond: stationsCfg.upload.bandwidthBytesPerSecond,
                maxObjectBytes: stationsCfg.upload.maxObjectBytes,
              },
            }
          : {}),
      }),
    ]),
  ) as Record<DependencyName, SimStation>;
  for (const f of o.faults ?? []) {
    const station = stations[f.entry.dependency];
    let before = station.cfg;
    q.schedule(
      f.startMs,
      () => {
        before = station.cfg;
        station.reconfigure(faultedStation(before, f.entry));
      },
      undefined,
    );
    if (Number.isFinite(f.endMs)) q.schedule(f.endMs, () => station.reconfigure(before), undefined);
  }
  // A scaled machine's cores are rarely whole (model/similitude.ts): whole cores, each slower in
  // proportion, are the same CPU.
  const cores = Math.max(1, Math.round(o.cores));
  const cpuStretch = (o.cpuStretch * cores) / o.cores;
  const design: ConstructorParameters<typeof RegistrationService>[1] = {
    knobs: o.knobs,
    cores,
    ...(o.commitsPerSecond !== undefined ? { commitsPerSecond: o.commitsPerSecond } : {}),
    calibration: o.calibration,
    capacity: stationsCfg,
    stations,
    photoBytes: o.photoBytes,
    cpuStretch,
    ...(o.cpuStretchOverTime ? { cpuStretchOverTime: o.cpuStretchOverTime } : {}),
    rng: streamRng(systemSeed, SERVICE_STREAM, runKey),
    hashRng: streamRng(systemSeed, HASH_STREAM, runKey),
    ...(o.keepUnservable ? {} : { untilMs: hardStopMs }),
    ...(o.onAdmitted ? { onAdmit: (a, at) => o.onAdmitted?.(arrivalOf(a), a.turnAt as number, at) } : {}),
  };
  const life = new ServiceLife(q, design, o.kills ?? [], (service) =>
    o.knobs.EMAIL_DELIVERY === 'outbox'
      ? new Outbox(
          q,
          service,
          o.knobs.EMAIL_SEND_RATE,
          o.knobs.EMAIL_MAX_ATTEMPTS,
          streamRng(systemSeed, OUTBOX_STREAM, runKey),
        )
      : undefined,
  );
  const rec = new Recorder(o.intervalSeconds, { keepLatencyByInterval: o.keepLatencyByInterval ?? false });
  const journeys = new Journeys(q, life, rec, {
    seed: o.seed,
    runKey: o.runKey ?? 0,
    model: o.model,
    thinkCompress: o.thinkCompress,
    retry: o.retry,
    minorShare: o.minorShare,
    ineligibleShare: o.ineligibleShare,
    windowEndMs,
    mailWaitS: o.mailWaitS,
    maxVUs: o.maxVUs,
    ...(o.preAllocatedVUs !== undefined ? { preAllocatedVUs: o.preAllocatedVUs } : {}),
    ...(o.knobs.PHOTO_UPLOAD === 'presigned'
      ? { presigned: { store: stations.upload, photoBytes: o.photoBytes } }
      : {}),
  });

  let arrival = 0;
  const onArrival = (): void => {
    journeys.arrive(arrival++);
    const t = arrivals.next();
    if (t !== undefined) q.schedule(t, onArrival, undefined);
  };
  const first = arrivals.next();
  if (first !== undefined) q.schedule(first, onArrival, undefined);

  // Resources are read four times an interval (the mocks' gauges are instantaneous, as scraped);
  // the service's own resources by their time-average, which is what "saturated" means for them.
  const intervalMs = o.intervalSeconds * 1000;
  const peakUtil = new Map<string, number>();
  const mailConnections = life.current.mailers.reduce((a, m) => a + m.servers, 0);
  const peakQueue = new Map<string, number>();
  const busySum = new Map<DependencyName, number>();
  const busyShare = Object.fromEntries(DEPENDENCIES.map((d) => [d, [] as number[]])) as Record<
    DependencyName,
    number[]
  >;
  const quarter = (): void => {
    for (const dep of DEPENDENCIES) {
      const s = stations[dep];
      busySum.set(dep, (busySum.get(dep) ?? 0) + s.busy / s.cfg.concurrency);
      peakUtil.set(dep, Math.max(peakUtil.get(dep) ?? 0, s.busy / s.cfg.concurrency));
      peakQueue.set(dep, Math.max(peakQueue.get(dep) ?? 0, s.cfg.queue > 0 ? s.queued / s.cfg.queue : 0));
    }
    // The service's SMTP connections are scraped as a gauge like the stations' (SMTP_POOL).
    peakUtil.set(SMTP_POOL, Math.max(peakUtil.get(SMTP_POOL) ?? 0, life.mailing() / mailConnections));
  };
  const tick = (): void => {
    const resources: ResourceReading[] = DEPENDENCIES.map((dep) => {
      const s = stations[dep];
      const rejections = { ...s.reasons };
      s.reasons = { queue_full: 0, timeout: 0, injected_error: 0 };
      return {
        name: dep,
        utilisation: peakUtil.get(dep) ?? 0,
        queueRatio: peakQueue.get(dep) ?? 0,
        rejections,
        serviceTimes: s.serviceTimes,
        callTimes: life.current.callTimesOf(dep),
      };
    });
    const smtpPool = peakUtil.get(SMTP_POOL) ?? 0;
    peakUtil.clear();
    peakQueue.clear();
    for (const dep of DEPENDENCIES) busyShare[dep].push((busySum.get(dep) ?? 0) / 4);
    busySum.clear();
    const busy = life.takeBusy();
    resources.push(
      { name: SMTP_POOL, utilisation: smtpPool, queueRatio: 0, rejections: {} },
      {
        name: WRITE_LOCK,
        utilisation: busy.lock / intervalMs,
        queueRatio: 0,
        rejections: {},
      },
      {
        name: EVENT_LOOP,
        utilisation: busy.loops / (intervalMs * life.current.loops.length),
        queueRatio: 0,
        rejections: {},
      },
    );
    rec.tick(Math.round(q.now) / 1000, {
      vus: journeys.inFlight,
      hashes: life.current.timing.hashes,
      // The cores' busy time is the CPU used times the stretch (validate's by interval is a fresh
      // service's warm-up: its own CPU). Dead for the whole interval: no process to read, as a
      // rehearsal's scrape finds none.
      cpuCores: life.downThrough(intervalMs) ? null : busy.cpu / intervalMs / cpuStretch,
      resources,
    });
  };
  // Whole intervals up to the hard stop, and a last (shorter) one ending there.
  const intervals = Math.ceil(hardStopMs / intervalMs);
  for (let k = 1; k <= intervals; k++) {
    for (let j = 1; j <= 4; j++) {
      const at = Math.min((k - 1 + j / 4) * intervalMs, hardStopMs);
      q.schedule(at, j === 4 ? closeInterval : quarter, undefined);
    }
  }
  function closeInterval(): void {
    quarter();
    tick();
  }

  const every = o.progressEveryMs ?? 5000;
  let lastReport = performance.now();
  while (q.nextTime() <= hardStopMs) {
    q.run(hardStopMs, 200_000);
    if (o.onProgress && performance.now() - lastReport >= every) {
      lastReport = performance.now();
      o.onProgress({
        simulatedS: q.now / 1000,
        totalS: hardStopMs / 1000,
        events: q.fired,
        arrivals: rec.arrivals,
        inFlight: journeys.inFlight,
      });
    }
  }
  journeys.cutOff();
  const neverServed = life.starts
    .flatMap((s) => [...s.loops, ...s.threads])
    .reduce((a, p) => a + p.neverServed, 0);
  return {
    rec,
    plan: arrivals.plan,
    durationS: hardStopMs / 1000,
    events: q.fired,
    stations: stationsCfg,
    neverServed,
    busyShare,
  };
}
