/**
 * The wave-9 opening's arrival profile (September 2020), generated from named facts and
 * assumptions, and the script that writes it: `node --import tsx scripts/generate-wave-9-profile.ts`
 * (re)writes scenarios/profiles/wave-9-opening.csv. A test regenerates the CSV and compares, so the
 * file is never edited by hand.
 *
 * What it stands for: the new sign-ups at the opening, people who create an account then (the
 * arrivals opening-spike replays: each one starts the journey at the sign-up). The registrants of
 * earlier waves who were not accepted move on to the next wave without registering again
 * (../shared/FACTS.md, "The registration journey", 5): at the opening they log in and join, and
 * they are not in this profile (wave-opening.ts rehearses their race for the places).
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeProfile, largestRemainder, type Profile, profileCsv } from '../model/profile.ts';
import { PARAMETERS as DAY_2020, registrationDay2020 } from './generate-profile.ts';

export const WAVE_9 = {
  /** FACTS.md "Waves and quotas", wave 8: 4.7 million registrants (seed 003) ... */
  wave8Registrants: 4_700_000,
  /** ... for 800,000 places (seed 003); wave 9 had as many places (800,000) */
  wave8Places: 800_000,
  /** FACTS.md "Waves and quotas": 4.6 million accepted through wave 8 (seed 003) */
  acceptedThroughWave8: 4_600_000,
  /** waves 1 to 8 before wave 9 opened */
  wavesBefore: 8,
  /**
   * Assumption: the opening moment was announced (wave 9 followed eight openings since April), so
   * the crowd was waiting for it: no ramp while the word "it is open" spreads, as in April 2020
   * (registration-day-2020.csv peaks at its minute 3). The wave-9 profile starts at the 2020
   * profile's peak, so its opening minute is its busiest.
   */
  fromMinuteOf2020: DAY_2020.peakMinute,
  /**
   * Assumption: 30 minutes, enough for the opening surge (6-minute decay, generate-profile.ts) to
   * fall to about 2.4 % of the opening minute: a replay shows the errors at the opening and then
   * whether they go ("resolved within a short time", seed 003).
   */
  minutes: 30,
} as const;

export type Wave9Parameters = { -readonly [K in keyof typeof WAVE_9]: number };

export interface Wave9Derivation {
  /** wave 8's registrants not accepted: they carry over without signing up again (not in the profile) */
  carriedOver: number;
  /** at least this many signed up through wave 8: accepted through wave 7 plus wave 8's registrants */
  signUpsThroughWave8: number;
  /** new sign-ups a wave brings, on average over waves 1-8 (a lower bound), taken as wave 9's */
  newSignUps: number;
  /** wave 9's new sign-ups over 2020's first-day registrations: the factor on the 2020 minutes */
  factor: number;
}

/**
 * The figures behind the profile. A participant is accepted once and the others carry over, so
 * the people who had signed up by wave 8 include those accepted in waves 1-7 (4.6 million less
 * wave 8's 800,000) and wave 8's 4.7 million registrants, and more if some gave up on the way:
 * 8.5 million at least, 1,062,500 a wave on average. Assumption: wave 9 brought that average.
 */
export function wave9Derivation(
  p: Wave9Parameters = WAVE_9,
  day2020Total: number = DAY_2020.total,
): Wave9Derivation {
  const signUpsThroughWave8 = p.acceptedThroughWave8 - p.wave8Places + p.wave8Registrants;
  const newSignUps = signUpsThroughWave8 / p.wavesBefore;
  return {
    carriedOver: p.wave8Registrants - p.wave8Places,
    signUpsThroughWave8,
    newSignUps,
    factor: newSignUps / day2020Total,
  };
}

/**
 * Arrivals per minute from the opening: the 2020 registration day from its peak minute on, each
 * minute times the factor. Assumption: a wave's new sign-ups come at its opening as the first
 * day's did in April 2020 (the news of an opening brings them at once). Integers by largest
 * remainder, so the total is the factor times the 2020 minutes, rounded once.
 */
export function wave9Opening(p: Wave9Parameters = WAVE_9): Profile {
  const day = registrationDay2020().arrivals;
  const { factor } = wave9Derivation(p);
  const exact = day.slice(p.fromMinuteOf2020, p.fromMinuteOf2020 + p.minutes).map((a) => a * factor);
  const total = Math.round(exact.reduce((a, b) => a + b, 0));
  const arrivals = largestRemainder(exact, total);
  if (arrivals.some((a, t) => t > 0 && a >= (arrivals[0] as number))) {
    throw new Error('the parameters put a minute after the opening at or above the opening minute');
  }
  return { bucketSeconds: 60, arrivals };
}

export const CSV_PATH = fileURLToPath(new URL('../scenarios/profiles/wave-9-opening.csv', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const profile = wave9Opening();
  writeFileSync(CSV_PATH, profileCsv(profile));
  const d = describeProfile(profile);
  const w = wave9Derivation();
  console.log(
    `${CSV_PATH}: ${d.buckets} minutes, ${d.total} arrivals, opening minute ${d.peak} (factor ${w.factor.toFixed(4)} on 2020: ${w.newSignUps} new sign-ups; ${w.carriedOver} carried over, not in the profile)`,
  );
}
