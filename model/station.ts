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
    /** share of served requests that fail with errorStatus (injected faults) */
    errorRate: z.number().min(0).max(1).default(0),
    errorStatus: z.union([z.literal(500), z.literal(502), z.literal(503)]).default(500),
    /** status when the queue is full: 429 (rate limiting) or 503 (overload), always with Retry-After */
    rejectStatus: z.union([z.literal(429), z.literal(503)]).default(503),
    retryAfterSeconds: z.int().min(0).max(3600).default(1),
  })
  .strict();

export type ServiceTime = z.infer<typeof serviceTimeSchema>;
export type Station = z.infer<typeof stationSchema>;

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
