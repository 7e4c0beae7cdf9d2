import { check, sleep } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import { BEHAVIOUR, proceeds, thinkSeconds } from './lib/behaviour.ts';
import { endpoints, envNumber, envString } from './lib/env.ts';
import type { Stage } from './lib/funnel.ts';
import {
  biodataOf,
  createAccount,
  joinWave,
  login,
  type RetryPolicy,
  type StepResult,
  sessionToken,
  submitAssessment,
  submitBiodata,
  uploadPhoto,
  verifyEmail,
} from './lib/journey.ts';
import { isEligible, personAt } from './lib/population.ts';
import { parseProfileCsv, toRampingArrivalRate } from './lib/profile.ts';
import { stepThresholds } from './lib/slo.ts';

/**
 * The registration day of April 2020 replayed: the 21-hour arrival profile (1,432,133 people,
 * 80,000 in the peak minute), scaled by SCALE and compressed by COMPRESS, each arrival a registrant
 * who goes as far as the behaviour model and the system let them. Funnel counters tell "left by
 * choice" from "failed by the system", per stage and reason.
 */

const PROFILE = envString(__ENV, 'PROFILE', './profiles/registration-day-2020.csv');
const SCALE = envNumber(__ENV, 'SCALE', 0.0005, { min: 0.000001, max: 1 });
const COMPRESS = envNumber(__ENV, 'COMPRESS', 252, { min: 1 });
const profile = parseProfileCsv(open(PROFILE), PROFILE);
const replay = toRampingArrivalRate(profile, {
  scale: SCALE,
  compress: COMPRESS,
  window: {
    fromBucket: envNumber(__ENV, 'WINDOW_FROM', 0, { integer: true, min: 0 }),
    toBucket: envNumber(__ENV, 'WINDOW_TO', profile.arrivals.length, { integer: true, min: 1 }),
  },
  journeySeconds: envNumber(__ENV, 'JOURNEY_SECONDS', 20, { min: 0.1 }),
});
const photo = open('./fixtures/ktp-medium.jpg', 'b');

export const options = {
  scenarios: {
    registration_day: { ...replay.scenario, gracefulStop: envString(__ENV, 'GRACEFUL_STOP', '30s') },
  },
  thresholds: stepThresholds(),
};

const funnel = new Counter('funnel_stage');
const arrivals = new Counter('funnel_arrivals');
const journey = new Trend('journey_duration', true);
const retry: RetryPolicy = { attempts: 3, baseBackoffS: 0.5, maxBackoffS: 5 };

function outcome(stage: Stage, r: StepResult): boolean {
  // A refusal by the rules is an answer; a failure (overload, timeout, dependency down) is not.
  check(r, { 'the system answered the step': (x) => x.outcome !== 'failed' });
  if (r.outcome === 'continued') {
    funnel.add(1, { stage, outcome: 'continued' });
    return true;
  }
  funnel.add(1, { stage, outcome: r.outcome === 'rejected' ? 'rejected' : 'failed', reason: r.reason });
  return false;
}

function leftByChoice(stage: Stage): void {
  funnel.add(1, { stage, outcome: 'left_by_choice' });
}

export default async function () {
  const api = endpoints(__ENV);
  arrivals.add(1);
  const t0 = Date.now();
  const seed = envNumber(__ENV, 'POPULATION_SEED', 2020, { integer: true, min: 0 });
  // A new person per arrival, and per run (the stack keeps its registrations).
  const runOffset = (Math.floor(exec.scenario.startTime / 1000) % 20_000) * 4000;
  let index = runOffset + exec.scenario.iterationInTest * 2;
  let person = personAt(seed, index);
  // MINOR_SHARE of the arrivals are under 18 (refused by the age rule before any ministry call);
  // INELIGIBLE_SHARE are others the rules refuse (unknown NIK, name mismatch, students).
  const u = Math.random();
  const minorShare = envNumber(__ENV, 'MINOR_SHARE', 0.02, { min: 0, max: 1 });
  const wanted =
    u < minorShare
      ? 'minor'
      : u < minorShare + envNumber(__ENV, 'INELIGIBLE_SHARE', 0.1, { min: 0, max: 1 })
        ? 'ineligible'
        : 'eligible';
  const kind = (p: typeof person) => (p.age < 18 ? 'minor' : isEligible(p) ? 'eligible' : 'ineligible');
  while (kind(person) !== wanted) person = personAt(seed, ++index);
  const email = `day.${person.nik}.${t0}@example.test`;
  const password = 'Rahasia-2020!';

  if (!outcome('registered', await createAccount(api, email, password, retry))) return;
  const steps: Array<[Exclude<Stage, 'registered'>, () => Promise<StepResult>]> = [];
  let token = '';
  steps.push(['email_verified', () => verifyEmail(api, email, retry, 60)]);
  steps.push([
    'biodata_verified',
    async () => {
      token = sessionToken(await login(api, email, password, retry));
      return submitBiodata(api, token, biodataOf(person, 'laid_off'), retry);
    },
  ]);
  steps.push(['photo_uploaded', () => uploadPhoto(api, token, photo, retry)]);
  steps.push([
    'assessment_done',
    () =>
      submitAssessment(
        api,
        token,
        {
          motivation: 'Saya ingin mendapatkan pelatihan kerja untuk bekerja kembali.',
          answers: new Array(20).fill(2),
        },
        retry,
      ),
  ]);
  steps.push([
    'joined_wave',
    () => joinWave(api, token, envNumber(__ENV, 'WAVE', 1, { integer: true, min: 1 }), retry),
  ]);
  for (const [stage, step] of steps) {
    const b = BEHAVIOUR[stage];
    if (!proceeds(b, Math.random())) {
      leftByChoice(stage);
      return;
    }
    await sleep(thinkSeconds(b, COMPRESS, Math.random(), Math.random()));
    if (!outcome(stage, await step())) return;
  }
  journey.add(Date.now() - t0);
}
