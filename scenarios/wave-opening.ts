import { check, fail } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { isEligible, personAt } from '../model/population.ts';
import { endpoints, envNumber, envString } from './lib/env.ts';
import {
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

/**
 * The opening of a wave: registrants who already finished the journey log in at the same moment
 * and race for a quota. In 2020 wave 8 had 4.7 million registrants for 800,000 places (docs/2020.md):
 * 17 % of them could get in. Scaled down, REGISTRANTS race for QUOTA places (default 17 %).
 * What must hold: never more accepted than the quota, and every loser told clearly why.
 */

const photo = open('./fixtures/ktp-small.jpg', 'b');

const REGISTRANTS = envNumber(__ENV, 'REGISTRANTS', 60, { integer: true, min: 1, max: 100000 });
const QUOTA = envNumber(__ENV, 'QUOTA', Math.max(1, Math.round((REGISTRANTS * 800000) / 4700000)), {
  integer: true,
  min: 1,
});
const WAVE = envNumber(__ENV, 'WAVE', 8, { integer: true, min: 2 });

export const options = {
  scenarios: {
    wave_opening: {
      executor: 'shared-iterations',
      vus: Math.min(REGISTRANTS, envNumber(__ENV, 'VUS', 50, { integer: true, min: 1 })),
      iterations: REGISTRANTS,
      maxDuration: envString(__ENV, 'MAX_DURATION', '2m'),
    },
  },
  thresholds: {
    // The quota is never oversold: a threshold, so the run fails (exit 99) if it ever is.
    wave_join_accepted: [`count<=${QUOTA}`],
    // Every answer is either a place or a clear "full": no 5xx, no silent failure.
    wave_join_unclear: ['count==0'],
  },
  setupTimeout: '5m',
};

const accepted = new Counter('wave_join_accepted');
const refusedFull = new Counter('wave_join_full');
const unclear = new Counter('wave_join_unclear');

const patient: RetryPolicy = { attempts: 5, baseBackoffS: 0.2, maxBackoffS: 2, jitter: 'full' };

interface Account {
  email: string;
  password: string;
}

/** Brings REGISTRANTS people through the journey up to the assessment, and opens the wave. */
export async function setup(): Promise<{ accounts: Account[] }> {
  const api = endpoints(__ENV);
  const adminToken = envString(__ENV, 'ADMIN_TOKEN', 'gelombang-admin');
  const seed = envNumber(__ENV, 'POPULATION_SEED', 2020, { integer: true, min: 0 });
  const runTag = `${Date.now()}`;
  const accounts: Account[] = [];
  // A random slot of 2,000 people by default, so that reruns against the same stack pick new
  // people (from the clock's second, two runs within one second met the same: duplicate_nik).
  let index = envNumber(__ENV, 'PERSON_OFFSET', Math.floor(Math.random() * 40_000) * 2000 + 1000, {
    integer: true,
    min: 0,
  });
  const batch = 10;
  while (accounts.length < REGISTRANTS) {
    const people = [];
    while (people.length < batch && accounts.length + people.length < REGISTRANTS) {
      const p = personAt(seed, index++);
      if (isEligible(p)) people.push(p);
    }
    const done = await Promise.all(
      people.map(async (p): Promise<Account | string> => {
        const email = `wave.${runTag}.${p.nik}@example.test`;
        const password = 'Rahasia-2020!';
        // Why a registrant stopped: the step and its outcome, so that an unhealthy stack says where.
        const stopped = (step: string, r: StepResult) =>
          r.outcome === 'continued'
            ? undefined
            : `${step} ${r.outcome} (${r.reason}) after ${r.attempts} attempt(s)`;
        let why = stopped('create_account', await createAccount(api, email, password, patient));
        if (why) return why;
        why = stopped('verify_email', await verifyEmail(api, email, patient, 30));
        if (why) return why;
        const session = await login(api, email, password, patient);
        why = stopped('login', session);
        if (why) return why;
        const token = sessionToken(session);
        const bio = {
          fullName: p.fullName,
          placeOfBirth: p.placeOfBirth,
          dateOfBirth: p.dateOfBirth,
          gender: p.gender,
          nik: p.nik,
          address: p.address,
          occupationStatus: 'other' as const,
        };
        why = stopped('submit_biodata', await submitBiodata(api, token, bio, patient));
        if (why) return why;
        why = stopped('upload_photo', await uploadPhoto(api, token, photo, patient));
        if (why) return why;
        const answers = {
          motivation: 'Saya ingin mengikuti pelatihan untuk meningkatkan keterampilan kerja saya.',
          answers: new Array(20).fill(1),
        };
        why = stopped('submit_assessment', await submitAssessment(api, token, answers, patient));
        if (why) return why;
        return { email, password };
      }),
    );
    for (const a of done) {
      if (typeof a === 'string')
        fail(
          `setup: a registrant could not finish the journey (${a}); the stack is not healthy enough to race a wave`,
        );
      accounts.push(a);
    }
  }
  const res = await http.asyncRequest(
    'POST',
    `${api.registration}/admin/waves`,
    JSON.stringify({ number: WAVE, quota: QUOTA }),
    {
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${adminToken}` },
    },
  );
  if (res.status !== 201)
    fail(`setup: could not open wave ${WAVE} (HTTP ${res.status}: ${String(res.body)})`);
  return { accounts };
}

export default async function (data: { accounts: Account[] }) {
  const api = endpoints(__ENV);
  const account = data.accounts[exec.scenario.iterationInTest];
  if (!account) fail(`no account for iteration ${exec.scenario.iterationInTest}`);
  const token = sessionToken(await login(api, account.email, account.password, patient));
  // One attempt: a retried join could only ever be 'already_joined' or 'wave_full'.
  const r = await joinWave(api, token, WAVE, {
    attempts: 1,
    baseBackoffS: 0,
    maxBackoffS: 0,
    jitter: 'none',
  });
  if (r.outcome === 'continued') {
    accepted.add(1);
  } else if (r.outcome === 'rejected' && r.reason === 'wave_full') {
    refusedFull.add(1);
  } else {
    unclear.add(1);
  }
  check(r, {
    'the answer is a place or a clear wave_full': (x) =>
      x.outcome === 'continued' || (x.outcome === 'rejected' && x.reason === 'wave_full'),
  });
}

export async function teardown() {
  const api = endpoints(__ENV);
  const res = await http.asyncRequest('GET', `${api.registration}/api/v1/waves`);
  const waves = (res.json() as Array<{ number: number; joined: number; quota: number }> | null) ?? [];
  const wave = waves.find((w) => w.number === WAVE);
  check(wave, {
    'the service reports no more joined than the quota': (w) => w !== undefined && w.joined <= w.quota,
    'every place was taken (more registrants than places)': (w) =>
      w !== undefined && (REGISTRANTS < QUOTA || w.joined === QUOTA),
  });
}
