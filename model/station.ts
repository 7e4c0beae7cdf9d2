import { z } from 'zod';
import { type Lognormal, lognormalFromQuantile, lognormalMean, sampleLognormal, Z99 } from './lognormal.ts';
import type { Rng } from './random.ts';

/**
 * A "station" is the capacity model of one dependency: c servers, a bounded waiting room, a service
 * time distribution and injected faults. The mocks enforce it on real requests and the capacity
 * simulator models it as a queue, so one calibrated file drives both. Pure module: no I/O.
 */

const ms = z.number().finite().nonnegative();

export const serviceTimeSchema = z.discriminatedUnion('distribution', [
  z
    .object({
      distribution: z.literal('lognormal'),
      /** half of the requests take less than this */
      medianMs: ms,
      /** 99 % take less than this; must be >= medianMs */
      p99Ms: ms,
    })
    .strict()
    .refine((d) => d.p99Ms >= d.medianMs, { message: 'p99Ms must be >= medianMs', path: ['p99Ms'] }),
  z.object({ distribution: z.literal('constant'), ms }).strict(),
]);

export const stationSchema = z
  .object({
    /** requests served at once (the dependency's worker pool / connection limit) */
    concurrency: z.int().min(1).max(100_000),
    /** requests that may wait for a free server; one more is rejected at once */
    queue: z.int().min(0).max(1_000_000),
    serviceTime: serviceTimeSchema,
    /** a request that has waited + been served longer than this is answered 504 (the dependency's own timeout) */
    timeoutMs: z.number().finite().positive(),
    /**
     * share of served requests that fail with errorStatus (injected faults); 504 is a gateway in
     * front of the dependency giving up, which a service time beyond timeoutMs cannot stand for
     * (the mocks refuse that as a configuration)
     */
    errorRate: z.number().min(0).max(1).default(0),
    errorStatus: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]).default(500),
    /** status when the queue is full: 429 (rate limiting) or 503 (overload), always with Retry-After */
    rejectStatus: z.union([z.literal(429), z.literal(503)]).default(503),
    retryAfterSeconds: z.int().min(0).max(3600).default(1),
  })
  .strict();

export type ServiceTime = z.infer<typeof serviceTimeSchema>;
export type Station = z.infer<typeof stationSchema>;

/**
 * The service time's buckets, seconds (station_service_seconds; a simulated run bins its
 * dependency_service_buckets and dependency_call_buckets the same): 0.5 ms to 60 s, each 1.25 x
 * the one before (rounded to four digits). A bucket is a fifth of a typical station's log-spread (sigma 0.8-1), fine enough to fit
 * a log-normal from the counts alone (simulator/fit.ts), and wide enough that a station's
 * exposition stays a few dozen lines.
 */
export const SERVICE_BUCKETS_S = Array.from({ length: 53 }, (_, k) =>
  Number((0.0005 * 1.25 ** k).toPrecision(4)),
);

/** Log-normal parameters (mu, sigma of the underlying normal, in ln-ms) from a median and a p99. */
export function lognormalParams(medianMs: number, p99Ms: number): Lognormal {
  const median = Math.max(medianMs, 1e-3);
  return lognormalFromQuantile(median, Math.max(p99Ms, median), Z99);
}

/** Mean service time in ms, which the simulator needs for utilisation (rho = lambda * mean / c). */
export function meanServiceMs(st: ServiceTime): number {
  if (st.distribution === 'constant') return st.ms;
  return lognormalMean(lognormalParams(st.medianMs, st.p99Ms));
}

/** Draws one service time in ms. `random` returns uniform [0, 1), injectable for determinism. */
export function sampleServiceMs(st: ServiceTime, random: Rng = Math.random): number {
  if (st.distribution === 'constant') return st.ms;
  return sampleLognormal(lognormalParams(st.medianMs, st.p99Ms), random);
}

/**
 * When a dependency counts as saturated: one definition for the report, the comparison, the
 * dashboards and the alerts, so that none of them names a bottleneck another does not.
 *
 * - utilisation 0.95, not 1: utilisation is busy servers over servers as scrapes see it, and a
 *   scrape that lands between one request leaving and the next taking its server reads a pool
 *   that never idles as not quite full. Below 20 servers 0.95 is still every server busy; above,
 *   all but one in twenty, where a queue's waiting time already grows as 1 / (1 - utilisation).
 * - sustained for 10 s, never on one sample alone: a single busy sample (a burst at start-up, a GC
 *   pause, one late scrape) made two identical rehearsals name different bottlenecks. 10 s spans
 *   two scrapes of the dashboards' Prometheus (every 5 s) and ten intervals of a rehearsal (1 s),
 *   and is short beside a rehearsal of minutes.
 */
export const SATURATION = { utilisation: 0.95, sustainSeconds: 10 } as const;

/**
 * The consecutive samples, `intervalSeconds` apart, that a condition must hold in to have lasted
 * `seconds`: never fewer than two, so that one sample never decides.
 */
export function sustainedSamples(
  intervalSeconds: number,
  seconds: number = SATURATION.sustainSeconds,
): number {
  // The epsilon keeps 3 s / 0.1 s from rounding up to 31.
  return Math.max(2, Math.ceil(seconds / intervalSeconds - 1e-9));
}
