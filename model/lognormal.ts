import { type Rng, standardNormal } from './random.ts';

/**
 * The log-normal distribution from a median and one upper quantile, the way people state latency
 * and delay ("half take under 80 ms, 99 % under 600 ms"). Behaviour delays and station service
 * times both use it, so that a fitted p90 or p99 means the same thing everywhere.
 */

/** z-scores of the standard normal distribution's 90th and 99th percentiles */
export const Z90 = 1.2815515655446004;
export const Z99 = 2.326347874040841;

export interface Lognormal {
  /** mean of the underlying normal (the log of the median) */
  mu: number;
  sigma: number;
}

/** The log-normal whose median is `median` and whose quantile of z-score `z` is `upper`. */
export function lognormalFromQuantile(median: number, upper: number, z: number): Lognormal {
  return { mu: Math.log(median), sigma: Math.log(upper / median) / z };
}

/** A log-normal's mean is its median times exp(sigma^2 / 2). */
export function lognormalMean(d: Lognormal): number {
  return Math.exp(d.mu + (d.sigma * d.sigma) / 2);
}

export function sampleLognormal(d: Lognormal, rng: Rng): number {
  return Math.exp(d.mu + d.sigma * standardNormal(rng));
}
