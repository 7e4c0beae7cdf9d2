import {
  COUNTS_2020,
  LATER_STAGES,
  type LaterStage,
  type Outcome,
  previousStage,
  STEP_OF_STAGE,
  type Stage,
  WINDOW_2020_MINUTES,
} from './funnel.ts';
import { type Lognormal, lognormalFromQuantile, lognormalMean, sampleLognormal, Z90 } from './lognormal.ts';
import type { Profile } from './profile.ts';
import type { Rng } from './random.ts';
import { SLOS } from './slo.ts';

/**
 * How registrants move through the funnel, one model for the scenarios (per-registrant decisions
 * from a seeded stream), the simulator and the reports (expected counts, computed exactly).
 *
 * On reaching a stage, a registrant either leaves by choice (probability `leave`) or, after a
 * delay (a floor plus a log-normal: reading the mail, typing the biodata, the ~15-minute test,
 * coming back the next morning), attempts the step into the next stage. The attempt is failed by
 * the system (`fail`), rejected by the rules (`reject`) or succeeds. A window that closes before
 * the attempt leaves the registrant "in progress": the 2020 counts were taken 21 hours after the
 * opening, so some of the loss between two stages was people who had simply not got there yet.
 *
 * The parameters are calibrated (see `calibrate`) so that the model, run over the 2020 arrival
 * profile, reproduces the docs/2020.md counts at hour 21 under a stated split of each stage's loss
 * between choice, in progress, system failure and rules. Pure: no k6, no Node.
 */

/** The time from reaching the previous stage to attempting this one, in real minutes. */
export interface Delay {
  /** the least time the step takes (the test itself is about 15 minutes) */
  minMinutes: number;
  /** median of the log-normal part, above the floor */
  median: number;
  /** 90th percentile of the log-normal part, above the floor */
  p90: number;
}

export interface StageModel {
  /** chance of leaving by choice on reaching the previous stage */
  leave: number;
  /** chance that the system fails the attempt, retries included (the 2020 system's rate) */
  fail: number;
  /** chance that the rules reject the attempt (too young, in education, NIK not verified) */
  reject: number;
  delay: Delay;
}

export type BehaviourModel = Record<LaterStage, StageModel>;

/**
 * How the loss between two stages at the window's end divides (shares that add up to 1): the
 * registrants who left by choice, those still on the way, those the system failed and those the
 * rules turned away. This is the knob of a rehearsal: "what if all the loss at email verification
 * was the system's fault" is `{ leftByChoice: 0, inProgress: 0.25, failed: 0.75, rejected: 0 }`,
 * and the calibrated `fail` is then the rate the mocks must produce for the 2020 counts to recur.
 */
export interface LossSplit {
  leftByChoice: number;
  inProgress: number;
  failed: number;
  rejected: number;
}

/**
 * The default split, stage by stage. None of it was published; each share is an assumption with
 * its reason, to be revisited when real logs are available.
 */
export const DEFAULT_SPLIT: Record<LaterStage, LossSplit> = {
  // 369,105 registered but not verified at hour 21. Email verification is the first thing the
  // government listed as broken (docs/2020.md, "What broke"): the largest share is the system's.
  // Registrations after midnight and mail that arrived late make a quarter still on the way; the
  // rest mistyped an address or never opened the mail.
  email_verified: { leftByChoice: 0.3, inProgress: 0.25, failed: 0.45, rejected: 0 },
  // 438,938 verified their email but not their NIK. The rules reject some (too young, in formal
  // education, NIK unknown to Dukcapil; docs/2020.md, "Eligibility"); the ministries' API capacity was
  // listed as broken (docs/2020.md): a third is the system's; the biodata form is long, so a quarter
  // were still on it or had put it off.
  biodata_verified: { leftByChoice: 0.2, inProgress: 0.25, failed: 0.35, rejected: 0.2 },
  // No published count. Photo upload was listed as broken ("could log in but failed to upload the
  // KTP photo", docs/2020.md): the largest share is the system's; the KTP photo needs the card at hand,
  // so many put it off.
  photo_uploaded: { leftByChoice: 0.15, inProgress: 0.4, failed: 0.45, rejected: 0 },
  // No published count. A 15-minute test (seed 001) that wave 1 gave until Thursday 16 April to
  // take (docs/2020.md, "wave 1 registration closed"): most of the loss is people who had not sat it
  // yet. The government's list of what broke (docs/2020.md, "What broke") does not name the test: none
  // of this loss is the system's.
  assessment_done: { leftByChoice: 0.25, inProgress: 0.75, failed: 0, rejected: 0 },
  // Joining is one click after the test, so the loss is small: most of it is people still reading
  // the result, the rest chose to wait for a later wave. Joining is not on the list of what broke
  // either: none of it is the system's.
  joined_wave: { leftByChoice: 0.35, inProgress: 0.65, failed: 0, rejected: 0 },
};

/**
 * The shape of each stage's delay: its floor and the spread of the log-normal (p90 / median). The
 * median is what calibration solves for. Assumptions, each with its reason.
 */
export const DELAY_SHAPE: Record<LaterStage, { minMinutes: number; p90ToMedian: number }> = {
  // the mail must arrive and be opened; some read it the next morning (long tail)
  email_verified: { minMinutes: 1, p90ToMedian: 8 },
  // name, place and date of birth, NIK, address: a few minutes of typing at least
  biodata_verified: { minMinutes: 3, p90ToMedian: 6 },
  // finding the KTP and taking its photo
  photo_uploaded: { minMinutes: 1, p90ToMedian: 8 },
  // "a motivation and basic-skills test of about 15 minutes" (docs/2020.md, journey step 4; seed 001)
  assessment_done: { minMinutes: 15, p90ToMedian: 6 },
  // one click after the test result
  joined_wave: { minMinutes: 0.5, p90ToMedian: 10 },
};

/**
 * The counts calibration aims at, at hour 21. Registered, email verified, NIK verified and joined
 * a batch are docs/2020.md (COUNTS_2020). Photo and test have no published count, so the model states
 * them: 40 % of the NIK-verified had uploaded their KTP photo (the upload was broken, and the card
 * must be at hand), and 35 % of those had finished the test (15 minutes, which wave 1 gave until
 * Thursday to take). Then joining, one click after the test, converts 89 % (77,834 / 87,373).
 */
export const ASSUMED_SHARE_2020 = { photo_uploaded: 0.4, assessment_done: 0.35 } as const;

function fact(stage: Stage): number {
  const n = COUNTS_2020[stage];
  if (n === null) throw new Error(`no published count for ${stage}`);
  return n;
}

export const TARGETS_2020: Record<Stage, number> = {
  registered: fact('registered'),
  email_verified: fact('email_verified'),
  biodata_verified: fact('biodata_verified'),
  photo_uploaded: Math.round(fact('biodata_verified') * ASSUMED_SHARE_2020.photo_uploaded),
  assessment_done: Math.round(
    Math.round(fact('biodata_verified') * ASSUMED_SHARE_2020.photo_uploaded) *
      ASSUMED_SHARE_2020.assessment_done,
  ),
  joined_wave: fact('joined_wave'),
};

/**
 * When the 2020 system failed each stage (FailureTiming), hour by hour from the opening: measured
 * on the simulated 2020 day (mock-services/capacity.2020.json, full scale, seed 2020;
 * `npm run bench -- similitude` measures it again and prints it beside this). Email verification
 * failed in the first two hours (the relay's backlog of the opening's mail), biodata in the first
 * seven (Dukcapil's queue full), the photo from hour 2 to the end, most in the evening. The
 * calibration needs it because it moves those who get past a stage later in the day: an evenly
 * failing system leaves fewer still on the way at hour 21 than 2020's did.
 */
export const FAILURE_TIMING_2020: FailureTiming = {
  email_verified: [0.355, 0.336, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  biodata_verified: [
    0.198, 0.511, 0.541, 0.451, 0.34, 0.204, 0.041, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.001, 0, 0, 0, 0,
  ],
  photo_uploaded: [
    0, 0, 0.102, 0.256, 0.343, 0.386, 0.424, 0.438, 0.424, 0.399, 0.37, 0.347, 0.342, 0.374, 0.399, 0.438,
    0.472, 0.502, 0.519, 0.529, 0.528,
  ],
};

/**
 * The calibrated default model: `calibrate(registration-day-2020, DEFAULT_SPLIT, DELAY_SHAPE,
 * TARGETS_2020, 1,260 minutes, FAILURE_TIMING_2020)`, rounded to four significant figures. Stored rather than computed
 * at import because every k6 VU imports this module; behaviour.test.ts recalibrates and compares,
 * and checks that these parameters reproduce the docs/2020.md counts within 0.5 %.
 */
export const DEFAULT_MODEL: BehaviourModel = {
  email_verified: {
    leave: 0.07732,
    fail: 0.1351,
    reject: 0,
    delay: { minMinutes: 1, median: 46.32, p90: 370.6 },
  },
  biodata_verified: {
    leave: 0.08258,
    fail: 0.1775,
    reject: 0.1014,
    delay: { minMinutes: 3, median: 76.16, p90: 457 },
  },
  photo_uploaded: { leave: 0.09, fail: 0.403, reject: 0, delay: { minMinutes: 1, median: 139.8, p90: 1118 } },
  assessment_done: {
    leave: 0.1625,
    fail: 0,
    reject: 0,
    delay: { minMinutes: 15, median: 645, p90: 3870 },
  },
  joined_wave: {
    leave: 0.03821,
    fail: 0,
    reject: 0,
    delay: { minMinutes: 0.5, median: 14.19, p90: 141.9 },
  },
};

/** The part of a delay above its minimum is log-normal, stated by its median and p90. */
function aboveMinimum(d: Delay): Lognormal {
  return lognormalFromQuantile(d.median, d.p90, Z90);
}

/** The standard normal CDF (Abramowitz and Stegun 7.1.26 for erf; absolute error below 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return z >= 0 ? (1 + y) / 2 : (1 - y) / 2;
}

/** P(delay <= minutes). */
export function delayCdf(d: Delay, minutes: number): number {
  const above = minutes - d.minMinutes;
  if (above <= 0) return 0;
  const { mu, sigma } = aboveMinimum(d);
  return normalCdf((Math.log(above) - mu) / sigma);
}

export function meanDelayMinutes(d: Delay): number {
  return d.minMinutes + lognormalMean(aboveMinimum(d));
}

/** A delay in real minutes, from the registrant's stream. */
export function sampleDelayMinutes(d: Delay, rng: Rng): number {
  return d.minMinutes + sampleLognormal(aboveMinimum(d), rng);
}

export type Decision =
  | { outcome: 'left_by_choice' }
  | { outcome: 'attempt'; delayMinutes: number; thinkSeconds: number };

/** A stage's decision with its delay's log-normal worked out. */
interface StageDraw {
  leave: number;
  minMinutes: number;
  above: Lognormal;
}

const stageDraw = (m: StageModel): StageDraw => ({
  leave: m.leave,
  minMinutes: m.delay.minMinutes,
  above: aboveMinimum(m.delay),
});

/**
 * The one place a decision is drawn: always three numbers (whether to leave, then the delay's
 * two), so later draws do not depend on this one's outcome; -1 for "leaves", else the delay in
 * real minutes.
 */
function drawDecision(p: StageDraw, rng: Rng): number {
  const u = rng();
  const delayMinutes = p.minMinutes + sampleLognormal(p.above, rng);
  return u < p.leave ? -1 : delayMinutes;
}

/**
 * What a registrant who has just reached the stage before `stage` does next: leave, or attempt
 * `stage` after a think time. Reproducible: the same stream gives the same decision. Whether the
 * attempt succeeds is the system's business against a real service; see `attemptOutcome` for a
 * simulator.
 */
export function decide(
  stage: LaterStage,
  rng: Rng,
  o: { model?: BehaviourModel; compress?: number } = {},
): Decision {
  const delayMinutes = drawDecision(stageDraw((o.model ?? DEFAULT_MODEL)[stage]), rng);
  if (delayMinutes < 0) return { outcome: 'left_by_choice' };
  return { outcome: 'attempt', delayMinutes, thinkSeconds: (delayMinutes * 60) / (o.compress ?? 1) };
}

/**
 * `decide` for a caller that decides millions of times (the simulator): each stage's log-normal
 * worked out once, and the think time in seconds returned, or -1 for "leaves". The same draw, so
 * the same stream makes the same choice as `decide`.
 */
export function thinkSampler(
  o: { model?: BehaviourModel; compress?: number } = {},
): (stage: LaterStage, rng: Rng) => number {
  const model = o.model ?? DEFAULT_MODEL;
  const compress = o.compress ?? 1;
  const by = Object.fromEntries(LATER_STAGES.map((stage) => [stage, stageDraw(model[stage])])) as Record<
    LaterStage,
    StageDraw
  >;
  return (stage, rng) => {
    const delayMinutes = drawDecision(by[stage], rng);
    return delayMinutes < 0 ? -1 : (delayMinutes * 60) / compress;
  };
}

/**
 * The 2020 system's answer to an attempt, for a simulator that has no system to ask: failed and
 * rejected at the model's rates. Against the reference service the service decides.
 */
export function attemptOutcome(
  stage: LaterStage,
  rng: Rng,
  model: BehaviourModel = DEFAULT_MODEL,
): 'continued' | 'failed' | 'rejected' {
  const m = model[stage];
  const u = rng();
  if (u < m.fail) return 'failed';
  if (u < m.fail + m.reject) return 'rejected';
  return 'continued';
}

/**
 * How real people retry a step that failed: they tap again after a few seconds, then give up.
 * Data, not code, so that a rehearsal can ask what a more (or less) patient crowd does. Backoffs
 * are not compressed with the day: they are set by the system's recovery time, which a compressed
 * replay does not shorten.
 */
export interface RetryPolicy {
  /** attempts in all, the first included */
  attempts: number;
  /** first backoff in seconds, doubled each retry, capped at maxBackoffS */
  baseBackoffS: number;
  maxBackoffS: number;
  /** full: uniform in [0, cap]; equal: cap/2 plus uniform in [0, cap/2]; none: cap */
  jitter: 'full' | 'equal' | 'none';
}

/**
 * Assumption: a registrant tries a step up to 4 times, waiting about 2, 4 then 8 s (the time to read
 * the error and tap again), jittered because a crowd does not retry in step.
 */
export const RETRY_POLICY: RetryPolicy = { attempts: 4, baseBackoffS: 2, maxBackoffS: 30, jitter: 'full' };

/** The wait before attempt `attempt` + 1 (attempt counts from 1), in seconds. */
export function backoffSeconds(policy: RetryPolicy, attempt: number, rng: Rng): number {
  const cap = Math.min(policy.maxBackoffS, policy.baseBackoffS * 2 ** (attempt - 1));
  if (policy.jitter === 'none') return cap;
  if (policy.jitter === 'equal') return cap / 2 + (rng() * cap) / 2;
  return rng() * cap;
}

/**
 * The expected time an iteration (one registrant) spends in a compressed replay, in seconds: each
 * stage's mean delay, compressed, plus its request at the SLO's p95, weighted by the chance of
 * getting that far. The registrants who never come back within the run are cut by the scenario's
 * end, so this overestimates, which is the safe side for sizing VUs.
 */
export function expectedJourneySeconds(model: BehaviourModel, compress: number): number {
  let reach = 1;
  let seconds = SLOS.create_account.p95Ms / 1000;
  for (const stage of LATER_STAGES) {
    const m = model[stage];
    const attempt = reach * (1 - m.leave);
    const requests = SLOS[STEP_OF_STAGE[stage]].p95Ms + (stage === 'biodata_verified' ? SLOS.login.p95Ms : 0);
    seconds += attempt * ((meanDelayMinutes(m.delay) * 60) / compress + requests / 1000);
    reach = attempt * (1 - m.fail - m.reject);
  }
  return seconds;
}

/** Arrivals per minute of a profile (a per-second profile is summed by minute). */
function minutesOf(profile: Profile): number[] {
  if (profile.bucketSeconds === 60) return profile.arrivals.slice();
  const out: number[] = [];
  profile.arrivals.forEach((a, i) => {
    const m = Math.floor(i / 60);
    out[m] = (out[m] ?? 0) + a;
  });
  return out;
}

/**
 * The delay as a distribution over whole minutes: mass m is P(m - 0.5 <= delay < m + 0.5), so that
 * someone who reached a stage during minute j attempts the next during minute j + m. Returns the
 * cumulative form, `cdf[m]` = P(delay < m + 0.5).
 */
function delayKernelCdf(d: Delay, length: number): Float64Array {
  const cdf = new Float64Array(length);
  for (let m = 0; m < length; m++) cdf[m] = delayCdf(d, m + 0.5);
  return cdf;
}

/** Attempts per minute: reach (per minute) convolved with the delay kernel, up to `length` minutes. */
function convolve(reach: Float64Array, cdf: Float64Array): Float64Array {
  const n = reach.length;
  const kernel = new Float64Array(n);
  for (let m = 0; m < n; m++) kernel[m] = (cdf[m] as number) - (m > 0 ? (cdf[m - 1] as number) : 0);
  const out = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const r = reach[j] as number;
    if (r === 0) continue;
    for (let m = 0; j + m < n; m++) out[j + m] = (out[j + m] as number) + r * (kernel[m] as number);
  }
  return out;
}

function sum(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return s;
}

/** The share of those in `reach` who have attempted by the end of the window (the window is reach's length). */
function attemptedShare(reach: Float64Array, cdf: Float64Array): number {
  const n = reach.length;
  let s = 0;
  for (let j = 0; j < n; j++) s += (reach[j] as number) * (cdf[n - 1 - j] as number);
  const total = sum(reach);
  return total > 0 ? s / total : 0;
}

export interface FunnelExpectation {
  windowMinutes: number;
  /** registrants who had reached each stage by the window's end */
  reached: Record<Stage, number>;
  /** what had happened, by the window's end, to those who reached the stage before each stage */
  outcomes: Record<LaterStage, Record<Outcome, number>>;
}

/**
 * When in the day the system failed a stage's attempts: for each hour of the window (hour 0 first)
 * the share of that hour's attempts it failed. Only the shape counts: a stage's `fail` is still the
 * share of all its attempts in the window, and the timing says which hours carry it. Without a
 * timing the share is the same at every hour, which an overload is not: it fails the peak's
 * registrants and lets the evening's through, so those who get past a stage are later in the day
 * than the arrivals, and more of them are still on the way at the window's end.
 */
export type FailureTiming = Partial<Record<LaterStage, readonly number[]>>;

/**
 * One stage's attempts per minute (`attempts`, after leaving) through the system: the failed share
 * per minute is `fail` over the whole window, shaped by `hours` (beyond the table, its last hour),
 * at most 1 - reject; `cut` says a shape too steep for its level was cut there, so the window's
 * share fell short of `fail`. Returns those who continue per minute and the failed count.
 */
function throughStage(
  attempts: Float64Array,
  fail: number,
  reject: number,
  hours: readonly number[] | undefined,
): { next: Float64Array; failed: number; cut: boolean } {
  const n = attempts.length;
  const rate = new Float64Array(n).fill(fail);
  let cut = false;
  if (hours?.length) {
    let attempted = 0;
    let weighted = 0;
    for (let j = 0; j < n; j++) {
      const w = hours[Math.min(Math.floor(j / 60), hours.length - 1)] as number;
      rate[j] = w;
      attempted += attempts[j] as number;
      weighted += (attempts[j] as number) * w;
    }
    const level = weighted > 0 ? (fail * attempted) / weighted : 0;
    for (let j = 0; j < n; j++) {
      const r = level * (rate[j] as number);
      if (r > 1 - reject && (attempts[j] as number) > 0) cut = true;
      rate[j] = Math.min(1 - reject, r);
    }
  }
  const next = new Float64Array(n);
  let failed = 0;
  for (let j = 0; j < n; j++) {
    const a = attempts[j] as number;
    next[j] = a * (1 - (rate[j] as number) - reject);
    failed += a * (rate[j] as number);
  }
  return { next, failed, cut };
}

function initialReach(profile: Profile, windowMinutes: number): Float64Array {
  if (!(Number.isInteger(windowMinutes) && windowMinutes >= 1)) {
    throw new Error(`windowMinutes: expected a whole number >= 1, got ${windowMinutes}`);
  }
  const minutes = minutesOf(profile);
  const reach = new Float64Array(windowMinutes);
  for (let j = 0; j < windowMinutes && j < minutes.length; j++) reach[j] = minutes[j] as number;
  return reach;
}

/**
 * The expected funnel at the end of a window: arrivals convolved, stage after stage, with each
 * stage's delay distribution, thinned by its leave, fail and reject chances. An exact computation
 * on a one-minute grid (registrants reach a stage within a minute; delays are binned to whole
 * minutes), not a Monte Carlo: the same inputs give the same numbers.
 */
export function expectedFunnel(
  profile: Profile,
  model: BehaviourModel,
  windowMinutes: number,
  timing: FailureTiming = {},
): FunnelExpectation {
  let reach = initialReach(profile, windowMinutes);
  const reached = { registered: sum(reach) } as Record<Stage, number>;
  const outcomes = {} as Record<LaterStage, Record<Outcome, number>>;
  for (const stage of LATER_STAGES) {
    const m = model[stage];
    const before = sum(reach);
    const cdf = delayKernelCdf(m.delay, windowMinutes);
    const attempts = convolve(reach, cdf);
    for (let j = 0; j < attempts.length; j++) attempts[j] = (attempts[j] as number) * (1 - m.leave);
    const attempted = sum(attempts);
    const { next, failed } = throughStage(attempts, m.fail, m.reject, timing[stage]);
    reached[stage] = sum(next);
    outcomes[stage] = {
      continued: reached[stage],
      left_by_choice: before * m.leave,
      in_progress: before * (1 - m.leave) - attempted,
      failed,
      rejected: attempted * m.reject,
    };
    reach = next;
  }
  return { windowMinutes, reached, outcomes };
}

export interface CalibrationInput {
  /** the counts to reproduce at the window's end, every stage (assumed where nothing was published) */
  targets: Record<Stage, number>;
  split: Record<LaterStage, LossSplit>;
  delayShape: Record<LaterStage, { minMinutes: number; p90ToMedian: number }>;
  windowMinutes: number;
  /** when in the window the system's failures fell (none: evenly) */
  failureTiming?: FailureTiming;
}

export const CALIBRATION_2020: CalibrationInput = {
  targets: TARGETS_2020,
  split: DEFAULT_SPLIT,
  delayShape: DELAY_SHAPE,
  windowMinutes: WINDOW_2020_MINUTES,
  failureTiming: FAILURE_TIMING_2020,
};

export class CalibrationError extends Error {
  override name = 'CalibrationError';
}

/**
 * Solves the model for a split, stage by stage. With C the count reached at the window's end of
 * the stage before, T the target and G = C - T the loss:
 *   leave = leftByChoice x G / C;
 *   the delay's median is found (bisection; the attempted share falls as the median grows) so that
 *   the still-in-progress are inProgress x G;
 *   fail and reject are failed x G and rejected x G over the attempts.
 * Then attempted - failed - rejected = C - G = T: the stage hits its target, and the next stage
 * starts from the reach-time distribution this one produced.
 */
export function calibrate(profile: Profile, input: CalibrationInput = CALIBRATION_2020): BehaviourModel {
  const W = input.windowMinutes;
  let reach = initialReach(profile, W);
  const arrived = sum(reach);
  if (Math.abs(arrived - input.targets.registered) > Math.max(1, input.targets.registered * 1e-9)) {
    throw new CalibrationError(
      `registered: the profile brings ${arrived} arrivals within ${W} minutes, the target is ${input.targets.registered}`,
    );
  }
  const model = {} as BehaviourModel;
  for (const stage of LATER_STAGES) {
    const split = input.split[stage];
    const shares = [split.leftByChoice, split.inProgress, split.failed, split.rejected];
    if (shares.some((s) => !(s >= 0 && s <= 1)) || Math.abs(shares.reduce((a, b) => a + b, 0) - 1) > 1e-9) {
      throw new CalibrationError(
        `${stage}: the split's shares must be in [0, 1] and add up to 1, got ${shares.join(', ')}`,
      );
    }
    const C = sum(reach);
    const T = input.targets[stage];
    const G = C - T;
    if (!(T > 0 && G >= 0)) {
      throw new CalibrationError(
        `${stage}: expected a target in (0, ${Math.round(C)}] (what reached ${previousStage(stage)}), got ${T}`,
      );
    }
    const leave = (split.leftByChoice * G) / C;
    const wantAttempted = 1 - (split.inProgress * G) / ((1 - leave) * C);
    const shape = input.delayShape[stage];
    const delayFor = (median: number): Delay => ({
      minMinutes: shape.minMinutes,
      median,
      p90: median * shape.p90ToMedian,
    });
    const share = (median: number) => attemptedShare(reach, delayKernelCdf(delayFor(median), W));
    let lo = 1e-3;
    let hi = 1e6;
    if (share(lo) < wantAttempted - 1e-12) {
      throw new CalibrationError(
        `${stage}: the split asks for ${(split.inProgress * 100).toFixed(1)} % of the loss in progress, but with a ` +
          `${shape.minMinutes}-minute floor on the delay more than that is unavoidably in progress; lower the floor or raise the share`,
      );
    }
    for (let i = 0; i < 100; i++) {
      const mid = Math.sqrt(lo * hi);
      if (share(mid) > wantAttempted) lo = mid;
      else hi = mid;
    }
    const delay = delayFor(Math.sqrt(lo * hi));
    const cdf = delayKernelCdf(delay, W);
    const attempted = (1 - leave) * C * attemptedShare(reach, cdf);
    const fail = attempted > 0 ? (split.failed * G) / attempted : 0;
    const reject = attempted > 0 ? (split.rejected * G) / attempted : 0;
    model[stage] = { leave, fail, reject, delay };
    const attempts = convolve(reach, cdf).map((a) => a * (1 - leave));
    const through = throughStage(attempts, fail, reject, input.failureTiming?.[stage]);
    if (through.cut) {
      throw new CalibrationError(
        `${stage}: the failure timing asks the system to fail every attempt in some hour; flatten it or lower the failed share`,
      );
    }
    reach = through.next;
  }
  return model;
}

/** Rounds a model's parameters to `digits` significant figures (for storing it as constants). */
export function roundModel(model: BehaviourModel, digits = 4): BehaviourModel {
  const r = (x: number) => (x === 0 ? 0 : Number(x.toPrecision(digits)));
  const out = {} as BehaviourModel;
  for (const stage of LATER_STAGES) {
    const m = model[stage];
    out[stage] = {
      leave: r(m.leave),
      fail: r(m.fail),
      reject: r(m.reject),
      delay: { minMinutes: m.delay.minMinutes, median: r(m.delay.median), p90: r(m.delay.p90) },
    };
  }
  return out;
}

/**
 * Reads a loss split from a rehearsal's knob (JSON): any subset of the stages, each a full split,
 * merged over `base`. `{"email_verified":{"leftByChoice":0,"inProgress":0.25,"failed":0.75,"rejected":0}}`
 * asks "what if all the loss at email verification was the system's fault". Errors name the stage
 * and the field.
 */
export function parseLossSplit(
  text: string,
  base: Record<LaterStage, LossSplit> = DEFAULT_SPLIT,
  source = 'LOSS_SPLIT',
): Record<LaterStage, LossSplit> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CalibrationError(`${source}: expected JSON, ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CalibrationError(`${source}: expected an object keyed by stage (${LATER_STAGES.join(', ')})`);
  }
  const out = { ...base };
  const fields: Array<keyof LossSplit> = ['leftByChoice', 'inProgress', 'failed', 'rejected'];
  for (const [stage, value] of Object.entries(json)) {
    if (!(LATER_STAGES as readonly string[]).includes(stage)) {
      throw new CalibrationError(
        `${source}: unknown stage '${stage}', expected one of ${LATER_STAGES.join(', ')}`,
      );
    }
    const v = value as Record<string, unknown>;
    const split = {} as LossSplit;
    for (const f of fields) {
      const x = v?.[f];
      if (typeof x !== 'number' || !(x >= 0 && x <= 1)) {
        throw new CalibrationError(
          `${source}: ${stage}.${f}: expected a share in [0, 1], got ${JSON.stringify(x)}`,
        );
      }
      split[f] = x;
    }
    const extra = Object.keys(v).filter((k) => !(fields as string[]).includes(k));
    if (extra.length) throw new CalibrationError(`${source}: ${stage}: unknown field '${extra[0]}'`);
    const total = fields.reduce((a, f) => a + split[f], 0);
    if (Math.abs(total - 1) > 1e-9) {
      throw new CalibrationError(`${source}: ${stage}: the shares must add up to 1, got ${total}`);
    }
    out[stage as LaterStage] = split;
  }
  return out;
}
