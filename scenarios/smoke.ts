import { check } from 'k6';
import exec from 'k6/execution';
import { isEligible, personAt } from '../model/population.ts';
import { endpoints, envNumber, envString } from './lib/env.ts';
import {
  createAccount,
  joinWave,
  login,
  type RetryPolicy,
  readStatus,
  type StepResult,
  sessionToken,
  submitAssessment,
  submitBiodata,
  uploadPhoto,
  verifyEmail,
} from './lib/journey.ts';

/**
 * One registrant through all eight steps; every check must pass. The first thing to run against a
 * new deployment, and the scenario the tests use to prove the stack works end to end.
 */

// PHOTO: where the KTP photo is, for a bundle whose files lie flat (a k6-operator ConfigMap has no folders).
const photo = open(envString(__ENV, 'PHOTO', './fixtures/ktp-medium.jpg'), 'b');

export const options = {
  scenarios: {
    smoke: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '1m' },
  },
  thresholds: {
    checks: ['rate==1'],
    http_req_failed: ['rate==0'],
  },
};

// A registrant does not retry in a smoke test: the first error is the finding.
const noRetry: RetryPolicy = { attempts: 1, baseBackoffS: 0, maxBackoffS: 0, jitter: 'none' };

function continued(name: string, r: StepResult): boolean {
  return check(r, { [`${name} succeeded`]: (x) => x.outcome === 'continued' });
}

export default async function () {
  const api = endpoints(__ENV);
  const seed = envNumber(__ENV, 'POPULATION_SEED', 2020, { integer: true, min: 0 });
  const index = envNumber(__ENV, 'PERSON_INDEX', -1, { integer: true, min: -1 });
  // A person no earlier run used: a stack keeps its registrations, and a NIK registers once.
  const person =
    index >= 0
      ? personAt(seed, index)
      : firstEligible(seed, runOffset() + exec.vu.idInTest * 1000 + exec.vu.iterationInScenario);
  const email = `smoke.${person.nik}.${Date.now()}.${exec.vu.idInTest}@example.test`;
  const password = 'Rahasia-2020!';

  if (!continued('create_account', await createAccount(api, email, password, noRetry))) return;
  if (!continued('verify_email', await verifyEmail(api, email, noRetry, 20))) return;
  const session = await login(api, email, password, noRetry);
  if (!continued('login', session)) return;
  const token = sessionToken(session);
  const bio = await submitBiodata(
    api,
    token,
    {
      fullName: person.fullName,
      placeOfBirth: person.placeOfBirth,
      dateOfBirth: person.dateOfBirth,
      gender: person.gender,
      nik: person.nik,
      address: person.address,
      occupationStatus: 'laid_off',
    },
    noRetry,
  );
  if (!continued('submit_biodata', bio)) return;
  if (!continued('upload_photo', await uploadPhoto(api, token, photo, noRetry))) return;
  const answers = {
    motivation: 'Saya ingin belajar keterampilan digital agar dapat bekerja kembali setelah pandemi.',
    answers: [0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3],
  };
  if (!continued('submit_assessment', await submitAssessment(api, token, answers, noRetry))) return;
  if (
    !continued(
      'join_wave',
      await joinWave(api, token, envNumber(__ENV, 'WAVE', 1, { integer: true, min: 1 }), noRetry),
    )
  )
    return;
  const status = await readStatus(api, token, noRetry);
  check(status, {
    'status is joined_wave': (s) =>
      s.outcome === 'continued' && (s.res.json() as { stage?: string } | null)?.stage === 'joined_wave',
  });
}

function firstEligible(seed: number, from: number) {
  for (let i = from; i < from + 1000; i++) {
    const p = personAt(seed, i);
    if (isEligible(p)) return p;
  }
  throw new Error(`no eligible person among 1,000 from index ${from}`);
}

/**
 * Where in the population this registrant starts: a random slot of 2,000 people among 40,000, so
 * that reruns pick new people. It came from the clock's second, and two runs within one second
 * (a test's, once processes started faster) met the same people: duplicate_nik.
 */
function runOffset(): number {
  return Math.floor(Math.random() * 40_000) * 2000;
}
