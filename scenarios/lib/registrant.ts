import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import {
  type BehaviourModel,
  DEFAULT_MODEL,
  decide,
  RETRY_POLICY,
  type RetryPolicy,
} from '../../model/behaviour.ts';
import type { LaterStage, Stage } from '../../model/funnel.ts';
import { ARRIVAL_MIX, MAIL_WAIT_S, mailWaitSeconds } from '../../model/journey.ts';
import { isEligible, MAX_POPULATION, type Person, personAt } from '../../model/population.ts';
import { type Rng, rngFor } from '../../model/random.ts';
import { endpoints, envNumber } from './env.ts';
import {
  biodataOf,
  createAccount,
  type Endpoints,
  joinWave,
  login,
  type PhotoUpload,
  photoUploadFromEnv,
  type StepResult,
  sessionToken,
  submitAssessment,
  submitBiodata,
  uploadPhoto,
  verifyEmail,
} from './journey.ts';

/**
 * One registrant's way through the funnel, shared by the scenarios that replay arrivals
 * (registration-day, opening-spike, soak, breakpoint): who they are, what they choose (the
 * behaviour model, drawn from their own seeded stream), what the system answers, and exactly one
 * funnel outcome per stage they reach.
 */

/** The funnel metrics; create them in the init context (k6 refuses new metrics in a VU). */
export interface FunnelMetrics {
  /** funnel_stage{stage, outcome, reason}: one count per registrant per stage reached */
  stage: Counter;
  /** one count per arrival */
  arrivals: Counter;
  /** from arrival to joining a wave, for those who got there */
  journey: Trend;
}

export function funnelMetrics(): FunnelMetrics {
  return {
    stage: new Counter('funnel_stage'),
    arrivals: new Counter('funnel_arrivals'),
    journey: new Trend('journey_duration', true),
  };
}

/** Who arrives: shares of the arrivals the rules refuse. */
export interface ArrivalMix {
  /** under 18: refused by the age rule before any ministry call */
  minorShare: number;
  /** others the rules refuse (NIK unknown to Dukcapil, name mismatch, in formal education) */
  ineligibleShare: number;
}

export function arrivalMixFromEnv(env: Record<string, string | undefined>): ArrivalMix {
  const minorShare = envNumber(env, 'MINOR_SHARE', ARRIVAL_MIX.minorShare, { min: 0, max: 1 });
  const ineligibleShare = envNumber(env, 'INELIGIBLE_SHARE', ARRIVAL_MIX.ineligibleShare, { min: 0, max: 1 });
  if (minorShare + ineligibleShare > 1) {
    throw new Error(
      `environment variables MINOR_SHARE + INELIGIBLE_SHARE: expected at most 1 together, got ${minorShare + ineligibleShare}`,
    );
  }
  return { minorShare, ineligibleShare };
}

type Kind = 'minor' | 'ineligible' | 'eligible';
const kindOf = (p: Person): Kind => (p.age < 18 ? 'minor' : isEligible(p) ? 'eligible' : 'ineligible');

/**
 * The person behind arrival `arrival`. A stack keeps its registrations between runs and a NIK
 * registers once, so each run walks the population from its own slot (one of 1,000, chosen by
 * `runKey`; two runs on one stack share a slot with odds of 1 in 1,000, and then some of the
 * second run's registrants are refused as already registered). Each arrival owns 8 consecutive
 * people and takes the first of the kind it drew; a slot holds 12,250 arrivals before it runs into
 * the next one.
 */
export function personFor(seed: number, runKey: number, arrival: number, mix: ArrivalMix, rng: Rng): Person {
  const u = rng();
  const wanted: Kind =
    u < mix.minorShare ? 'minor' : u < mix.minorShare + mix.ineligibleShare ? 'ineligible' : 'eligible';
  let index = ((runKey % 1000) * 98_000 + arrival * 8) % (MAX_POPULATION - 256);
  let person = personAt(seed, index);
  for (let tries = 0; kindOf(person) !== wanted && tries < 200; tries++) person = personAt(seed, ++index);
  return person;
}

export interface JourneyOptions {
  api: Endpoints;
  metrics: FunnelMetrics;
  /** the population and behaviour seed */
  seed: number;
  /** distinguishes runs against the same stack (e.g. the scenario's start time in seconds) */
  runKey: number;
  /** the arrival's number in the test (exec.scenario.iterationInTest) */
  arrival: number;
  mix: ArrivalMix;
  model?: BehaviourModel;
  /** the replay's time factor: think times are the model's delays divided by it */
  compress: number;
  /**
   * Epoch ms at which the replayed window closes: a registrant whose next attempt would come later
   * is counted `in_progress` (the 2020 counts were taken at hour 21 with people still on the way).
   */
  windowEndMs: number;
  photo: ArrayBuffer;
  /** through the service (default) or to the store with a presigned URL (PHOTO_UPLOAD) */
  photoUpload?: PhotoUpload;
  wave: number;
  retry?: RetryPolicy;
  /** how long a registrant looks for the verification mail, in seconds of the day (compressed as think times are) */
  mailWaitS?: number;
}

/** Runs one registrant; returns the last stage reached. */
export async function registrantJourney(o: JourneyOptions): Promise<Stage> {
  const t0 = Date.now();
  o.metrics.arrivals.add(1);
  const rng = rngFor(o.seed, o.runKey, o.arrival);
  const person = personFor(o.seed, o.runKey, o.arrival, o.mix, rng);
  const retry = o.retry ?? RETRY_POLICY;
  const email = `r.${person.nik}.${o.runKey}.${o.arrival}@example.test`;
  const password = 'Rahasia-2020!';
  const count = (stage: Stage, outcome: string, reason?: string) =>
    o.metrics.stage.add(1, reason === undefined ? { stage, outcome } : { stage, outcome, reason });
  const answered = (stage: Stage, r: StepResult): boolean => {
    // A refusal by the rules is an answer; a failure (overload, timeout, dependency down) is not.
    check(r, { 'the system answered the step': (x) => x.outcome !== 'failed' });
    if (r.outcome === 'continued') count(stage, 'continued');
    else count(stage, r.outcome, r.reason);
    return r.outcome === 'continued';
  };

  if (!answered('registered', await createAccount(o.api, email, password, retry))) return 'registered';
  let token = '';
  const steps: Record<LaterStage, () => Promise<StepResult>> = {
    email_verified: () =>
      verifyEmail(o.api, email, retry, mailWaitSeconds(o.mailWaitS ?? MAIL_WAIT_S, o.compress)),
    biodata_verified: async () => {
      const session = await login(o.api, email, password, retry);
      if (session.outcome !== 'continued') return session;
      token = sessionToken(session);
      return submitBiodata(o.api, token, biodataOf(person, 'laid_off'), retry);
    },
    photo_uploaded: () => uploadPhoto(o.api, token, o.photo, retry, o.photoUpload),
    assessment_done: () =>
      submitAssessment(
        o.api,
        token,
        {
          motivation: 'Saya ingin mendapatkan pelatihan kerja untuk bekerja kembali.',
          answers: new Array(20).fill(2),
        },
        retry,
      ),
    joined_wave: () => joinWave(o.api, token, o.wave, retry),
  };
  let reached: Stage = 'registered';
  for (const stage of Object.keys(steps) as LaterStage[]) {
    const d = decide(stage, rng, { model: o.model ?? DEFAULT_MODEL, compress: o.compress });
    if (d.outcome === 'left_by_choice') {
      count(stage, 'left_by_choice');
      return reached;
    }
    if (Date.now() + d.thinkSeconds * 1000 > o.windowEndMs) {
      count(stage, 'in_progress');
      return reached;
    }
    await sleep(d.thinkSeconds);
    if (!answered(stage, await steps[stage]())) return reached;
    reached = stage;
  }
  o.metrics.journey.add(Date.now() - t0);
  return reached;
}

/** What every arrival-replaying scenario reads once in its init context: where, who, and the funnel metrics. */
export type RegistrantSetup = Pick<
  JourneyOptions,
  'api' | 'metrics' | 'seed' | 'mix' | 'wave' | 'mailWaitS' | 'photoUpload'
> & {
  /**
   * RUN_KEY: the run's key, given by whoever starts the run (gelombang rehearse does, and records
   * it), so that a simulation of the run draws each registrant's choices from the same streams;
   * without it the scenario's start second.
   */
  runKey?: number;
};

/** The registrant knobs (BASE_URL, EMAIL_URL, MINOR_SHARE, INELIGIBLE_SHARE, POPULATION_SEED, WAVE, MAIL_WAIT_S, PHOTO_UPLOAD, RUN_KEY). */
export function registrantSetup(env: Record<string, string | undefined>): RegistrantSetup {
  return {
    api: endpoints(env),
    metrics: funnelMetrics(),
    mix: arrivalMixFromEnv(env),
    seed: envNumber(env, 'POPULATION_SEED', 2020, { integer: true, min: 0 }),
    wave: envNumber(env, 'WAVE', 1, { integer: true, min: 1 }),
    mailWaitS: envNumber(env, 'MAIL_WAIT_S', MAIL_WAIT_S, { min: 1 }),
    photoUpload: photoUploadFromEnv(env),
    ...(env.RUN_KEY ? { runKey: envNumber(env, 'RUN_KEY', 0, { integer: true, min: 0 }) } : {}),
  };
}

/** The current iteration's registrant, numbered by the scenario's arrival, keyed by its start second. */
export function arrive(
  setup: RegistrantSetup,
  o: Pick<JourneyOptions, 'compress' | 'windowEndMs' | 'photo' | 'model'>,
): Promise<Stage> {
  return registrantJourney({
    ...setup,
    ...o,
    runKey: setup.runKey ?? Math.floor(exec.scenario.startTime / 1000),
    arrival: exec.scenario.iterationInTest,
  });
}
