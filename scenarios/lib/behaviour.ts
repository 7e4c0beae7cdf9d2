import type { Stage } from './funnel.ts';

/**
 * How a registrant moves through the funnel: at each stage, the chance of going on by choice and
 * the think time before the next step (log-normal by median and p90, in real minutes, compressed
 * by the replay's factor). Pure: decisions take a random number from the caller.
 *
 * The default chances are the 2020 stage-to-stage conversions (FACTS.md counts), read as choice;
 * stages without a published count carry stated assumptions. This model does not yet separate
 * the 2020 losses into choice, still-in-progress at hour 21 and system failure, nor calibrate
 * against the censored 21-hour counts: that is open work (issue 7).
 */

export interface StageBehaviour {
  /** chance of attempting the step into this stage, given the previous one was reached */
  proceed: number;
  /** think time before the step, minutes (real time) */
  thinkMinutes: { median: number; p90: number };
  why: string;
}

export const BEHAVIOUR: Record<Exclude<Stage, 'registered'>, StageBehaviour> = {
  email_verified: {
    proceed: 1_063_028 / 1_432_133,
    thinkMinutes: { median: 5, p90: 60 },
    why: 'FACTS counts: 74.2 % verified by hour 21; reading the mail takes minutes to an hour',
  },
  biodata_verified: {
    proceed: 624_090 / 1_063_028,
    thinkMinutes: { median: 4, p90: 15 },
    why: 'FACTS counts: 58.7 % of the verified had their NIK verified; typing biodata takes minutes',
  },
  photo_uploaded: {
    proceed: 0.9,
    thinkMinutes: { median: 2, p90: 10 },
    why: 'assumption: no published count; most who pass NIK verification have their KTP at hand',
  },
  assessment_done: {
    proceed: 0.9,
    thinkMinutes: { median: 15, p90: 30 },
    why: 'assumption: no published count; the test takes about 15 minutes (FACTS, "journey")',
  },
  joined_wave: {
    proceed: 77_834 / 624_090 / (0.9 * 0.9),
    thinkMinutes: { median: 1, p90: 5 },
    why: 'FACTS counts: 12.5 % of the NIK-verified joined a batch by hour 21, over the two assumed 90 % stages',
  },
};

const Z90 = 1.2815515655446004;

/** A think time in seconds of the compressed replay, from two uniform random numbers. */
export function thinkSeconds(b: StageBehaviour, compress: number, u1: number, u2: number): number {
  const mu = Math.log(b.thinkMinutes.median);
  const sigma = Math.log(b.thinkMinutes.p90 / b.thinkMinutes.median) / Z90;
  const n = Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  return (Math.exp(mu + sigma * n) * 60) / compress;
}

export function proceeds(b: StageBehaviour, u: number): boolean {
  return u < b.proceed;
}
