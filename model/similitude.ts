import type { Capacity, CapacityFile, DependencyName, ServiceSection } from './capacity.ts';
import { DEPENDENCIES } from './capacity.ts';
import type { ServiceTime, Station } from './station.ts';

/**
 * Similitude: a capacity file states each dependency at full size; a run at `scale` of the
 * population, `compress` times faster, brings arrivals at `scale x compress` of the full day's rate
 * (the rate factor). For a dependency to be as busy in the run as on the full day, its capacity is
 * scaled by the same factor:
 *
 * - servers (concurrency) and the queue are multiplied by the factor, so utilisation (arrival rate
 *   x service time / servers) is the full day's, and so is the wait in a full queue (queue x service
 *   time / servers), which decides the timeouts: service times and timeouts stay real
 *   milliseconds, so a request in the run takes what it took on the day.
 * - servers are whole: rounded, at least one. The service time is then stretched (or shrunk) by
 *   rounded / exact servers, so that the capacity (servers / service time) is the exact share.
 *   Below one server the stretch is large and the station's latencies are no longer the day's: a
 *   note says so.
 * - the upload link's bandwidth and the mail's delivery rate are multiplied by the factor; the
 *   mail's delivery delay, the error rates and Retry-After are not capacities and stay as they are.
 *
 * The service's own machine follows the same rule (cores, worker processes, the database's
 * commits a second), for the simulator; a rehearsal's service runs on the laptop, whose cores stand
 * for cores / factor at full size. Pure: no k6, no Node.
 */

export interface RateFactor {
  scale: number;
  compress: number;
}

/** Arrivals in the run per arrival on the full day, per unit of the run's time. */
export function rateFactor(r: RateFactor): number {
  return r.scale * r.compress;
}

/** One dependency as the run enforces it, beside its full size. */
export interface ScaledStation {
  dependency: DependencyName;
  fullConcurrency: number;
  concurrency: number;
  fullQueue: number;
  queue: number;
  /** servers / service time, at full size and in the run, over the rate factor: 1 is exact */
  capacityRatio: number;
  /** the run's service time over the full day's (rounded servers made good) */
  serviceTimeStretch: number;
}

export interface ScaledCapacity {
  factor: number;
  capacity: Capacity;
  service?: ServiceSection;
  stations: ScaledStation[];
  /** what the scaling could not keep, for the run record and the report */
  notes: string[];
}

/** A stretch within this of 1 is left as 1: rounding noise, not a change. */
const EXACT = 1e-9;
/** Servers the run may have before it says the station's latencies are not the day's. */
const STRETCH_NOTE = 1.5;

function stretched(t: ServiceTime, k: number): ServiceTime {
  if (Math.abs(k - 1) < EXACT) return t;
  if (t.distribution === 'constant') return { distribution: 'constant', ms: t.ms * k };
  return { distribution: 'lognormal', medianMs: t.medianMs * k, p99Ms: t.p99Ms * k };
}

function scaledStation<S extends Station>(
  dependency: DependencyName,
  s: S,
  factor: number,
): { station: S; row: ScaledStation } {
  const exact = s.concurrency * factor;
  const concurrency = Math.max(1, Math.round(exact));
  const stretch = concurrency / exact;
  const queue = Math.round(s.queue * factor);
  return {
    station: { ...s, concurrency, queue, serviceTime: stretched(s.serviceTime, stretch) },
    row: {
      dependency,
      fullConcurrency: s.concurrency,
      concurrency,
      fullQueue: s.queue,
      queue,
      capacityRatio: concurrency / stretch / exact,
      serviceTimeStretch: Math.abs(stretch - 1) < EXACT ? 1 : stretch,
    },
  };
}

/** The capacity a run at this rate factor enforces, from the file at full size. */
export function scaleCapacity(full: Capacity, factor: number): Omit<ScaledCapacity, 'service'> {
  if (!(factor > 0 && factor <= 1)) throw new RangeError(`rate factor: expected (0, 1], got ${factor}`);
  const stations: ScaledStation[] = [];
  const notes: string[] = [];
  const out = {} as Record<DependencyName, Station>;
  for (const dependency of DEPENDENCIES) {
    const { station, row } = scaledStation(dependency, full[dependency], factor);
    out[dependency] = station;
    stations.push(row);
    if (row.serviceTimeStretch > STRETCH_NOTE || row.serviceTimeStretch < 1 / STRETCH_NOTE) {
      notes.push(
        `${dependency}: ${row.fullConcurrency} servers x ${fmt(factor)} = ${fmt(row.fullConcurrency * factor)} in this run, run as ${row.concurrency} with service times x${row.serviceTimeStretch.toFixed(2)}: its capacity is the day's share, its latencies are not the day's (a larger scale or compression keeps them)`,
      );
    }
    if (full[dependency].queue > 0 && row.queue === 0) {
      notes.push(
        `${dependency}: a queue of ${full[dependency].queue} x ${fmt(factor)} rounds to none: requests that would have waited are refused`,
      );
    }
  }
  const upload = full.upload;
  const capacity: Capacity = {
    ...(out as Omit<Capacity, 'email' | 'upload'>),
    email: {
      ...(out.email as Station),
      deliveryDelay: full.email.deliveryDelay,
      ...(full.email.deliveryPerSecond !== undefined
        ? { deliveryPerSecond: full.email.deliveryPerSecond * factor }
        : {}),
    },
    upload: {
      ...(out.upload as Station),
      bandwidthBytesPerSecond: Math.max(1024, Math.round(upload.bandwidthBytesPerSecond * factor)),
      maxObjectBytes: upload.maxObjectBytes,
    },
  };
  return { factor, capacity, stations, notes };
}

/** The service's machine at this rate factor, for the simulator: cores and commits in proportion. */
export function scaleServiceSection(service: ServiceSection, factor: number): ServiceSection {
  return {
    // Cores are a share of time, not servers: a fraction of a core is a slower machine.
    cores: service.cores * factor,
    ...(service.workers !== undefined ? { workers: Math.max(1, Math.round(service.workers * factor)) } : {}),
    ...(service.admissionRate !== undefined ? { admissionRate: service.admissionRate * factor } : {}),
    ...(service.commitsPerSecond !== undefined
      ? { commitsPerSecond: service.commitsPerSecond * factor }
      : {}),
  };
}

/** A capacity file at full size, as a run at this rate factor enforces it. */
export function scaleCapacityFile(file: CapacityFile, factor: number): ScaledCapacity {
  const scaled = scaleCapacity(file.capacity, factor);
  return file.service ? { ...scaled, service: scaleServiceSection(file.service, factor) } : scaled;
}

/** The cores at full size that a run's `cores` stand for: as many as the rate factor divides. */
export function fullSizeCores(cores: number, factor: number): number {
  return cores / factor;
}

function fmt(x: number): string {
  return x >= 100 ? x.toFixed(0) : Number(x.toPrecision(3)).toString();
}

/**
 * The service's CPU by the same rule. The laptop cannot be given cores, so what makes its service
 * as busy as the full-size service is the work per registrant: the password hash, the one cost
 * that a knob (SCRYPT_N) sets. With `journeyCpuMs(n)` the CPU one registrant's journey costs at
 * hash cost n, the run's `cores` are as busy as the full-size `fullSizeCores` when
 *
 *   factor x journeyCpuMs(run's n) / cores = journeyCpuMs(day's n) / fullSizeCores.
 */
export interface CpuSimilitude {
  /** the cores the run's service has (this machine's) */
  cores: number;
  factor: number;
  /** the hash cost the day's design had, and the full-size service's cores */
  fullSizeScryptN: number;
  fullSizeCores: number;
  /** one journey's CPU in ms at hash cost n (the calibration's step costs and scrypt) */
  journeyCpuMs: (n: number) => number;
}

/** The least hash cost SCRYPT_N takes, and the most a run may be given (the day's own). */
const MIN_SCRYPT_N = 1024;

/**
 * The hash cost that makes the run's service at least as idle as the day's: the largest power of
 * two, from 1024 to the day's own, whose journey costs no more than the rule allows. At 1024 the
 * rule may still ask for less (the steps' own CPU is not a knob): `standsForCores` then says how far.
 */
export function similarScryptN(s: CpuSimilitude): number {
  const allowed = (s.journeyCpuMs(s.fullSizeScryptN) * s.cores) / (s.factor * s.fullSizeCores);
  let n = s.fullSizeScryptN;
  while (n > MIN_SCRYPT_N && s.journeyCpuMs(n) > allowed) n /= 2;
  return n;
}

/** The full-size cores, at the day's hash cost, that the run's cores stand for at the run's hash cost. */
export function standsForCores(s: Omit<CpuSimilitude, 'fullSizeCores'>, scryptN: number): number {
  return (s.cores * s.journeyCpuMs(s.fullSizeScryptN)) / (s.journeyCpuMs(scryptN) * s.factor);
}

/**
 * The service's SMTP connections by the same rule: the full-size service holds `fullSizeWorkers`
 * x `perProcess` of them, and a run at `factor` gets that share, spread over its own `workers`
 * (whole, at least one a process). Without it a one-process rehearsal keeps one process's pool
 * against a relay scaled to the run's share: at a factor of 0.48 the 2020 relay's 60 servers are
 * 29 and the pool's 16 run out first, which the full-size service (64 processes, 1,024) never
 * does; at the default 0.09 the relay's 5 servers and 11 places can never be offered more than
 * the pool's 16 mails, so the refusals of the day's peak could not happen.
 */
export function similarConnections(o: {
  factor: number;
  fullSizeWorkers: number;
  perProcess: number;
  workers: number;
}): number {
  return Math.max(1, Math.round((o.factor * o.fullSizeWorkers * o.perProcess) / o.workers));
}
