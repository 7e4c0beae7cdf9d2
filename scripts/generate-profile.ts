/**
 * The 2020 registration-day arrival profile, generated from named parameters, and the script that
 * writes it: `node --import tsx scripts/generate-profile.ts` (re)writes
 * scenarios/profiles/registration-day-2020.csv. The totals are facts; the shape between them is a
 * reasoned assumption, each parameter named with what it rests on. A test regenerates the CSV and
 * compares, so the file is never edited by hand.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeProfile, largestRemainder, type Profile, profileCsv } from '../model/profile.ts';

export const PARAMETERS = {
  /** docs/2020.md, "accounts registered": 1,432,133 in the window */
  total: 1_432_133,
  /** docs/2020.md, "peak": 80,000 registrants within one minute (seeds 000, 001, 002, 004) */
  peak: 80_000,
  /** docs/2020.md, "window": 21 hours after registration opened, to 16:00 WIB on Sunday 12 April */
  minutes: 21 * 60,
  /**
   * Derived, not published: "Minggu pukul 16.00 WIB, atau 21 jam setelah pendaftaran dibuka"
   * (seeds 001, 002) puts the opening at 19:00 WIB on Saturday 11 April. No seed states the hour.
   */
  openingHourWib: 19,
  /**
   * Assumption: the peak minute came minutes after the opening, from demand that had waited since
   * the site launched on 20 March (docs/2020.md, 2.4 million visitors by then); the first minutes ramp
   * up as the word "it is open" spreads. No source gives the peak's time.
   */
  peakMinute: 3,
  /**
   * Assumption: the opening surge decays with a 6-minute time constant. The facts force a short
   * one: the surge alone carries about peak x (decay + ramp) arrivals, so with 80,000 in the peak
   * minute a 25-minute decay would exceed the day's 1.43 million. The site's errors at the opening
   * (docs/2020.md, "What broke") are what spread the rest over the evening.
   */
  surgeDecayMinutes: 6,
  /**
   * Assumption: the news-driven evening interest (docs/2020.md: more than 1.1 million new visitors on
   * the opening day) fades over about 3 hours.
   */
  eveningDecayMinutes: 180,
  /** Assumption: the weight of that evening interest against the daily rhythm at its start */
  eveningWeight: 1.5,
  /** Assumption: the daily rhythm of a population on its phones peaks at 10:30 WIB... */
  dayPeakHourWib: 10.5,
  /** ...and bottoms out at 10 % of that level overnight (people asleep) */
  nightFloor: 0.1,
} as const;

export type ProfileParameters = { -readonly [K in keyof typeof PARAMETERS]: number };

/** Relative weight of each minute, before scaling to the facts: an opening surge and a base load. */
export function shape(p: ProfileParameters = PARAMETERS): { surge: number[]; base: number[] } {
  const surge: number[] = [];
  const base: number[] = [];
  for (let t = 0; t < p.minutes; t++) {
    surge.push(
      t < p.peakMinute ? (t + 1) / (p.peakMinute + 1) : Math.exp(-(t - p.peakMinute) / p.surgeDecayMinutes),
    );
    const hour = (p.openingHourWib + t / 60) % 24;
    const daily =
      p.nightFloor +
      (1 - p.nightFloor) * ((1 + Math.cos((2 * Math.PI * (hour - p.dayPeakHourWib)) / 24)) / 2) ** 2;
    base.push(daily + p.eveningWeight * Math.exp(-t / p.eveningDecayMinutes));
  }
  return { surge, base };
}

/**
 * Arrivals per minute: S x surge + B x base, with S and B solved (two linear equations) so that the
 * peak minute is exactly `peak` and the sum exactly `total`. Then integers by construction: the
 * peak minute is pinned to `peak` and the other minutes share `total - peak` by largest remainder.
 */
export function registrationDay2020(p: ProfileParameters = PARAMETERS): Profile {
  const { surge, base } = shape(p);
  const sumS = surge.reduce((a, b) => a + b, 0);
  const sumB = base.reduce((a, b) => a + b, 0);
  const sPeak = surge[p.peakMinute] as number;
  const bPeak = base[p.peakMinute] as number;
  // S*sPeak + B*bPeak = peak;  S*sumS + B*sumB = total
  const det = sPeak * sumB - bPeak * sumS;
  const S = (p.peak * sumB - bPeak * p.total) / det;
  const B = (sPeak * p.total - p.peak * sumS) / det;
  if (!(S > 0 && B > 0)) throw new Error(`the parameters cannot meet both facts (S=${S}, B=${B})`);
  const exact = surge.map((s, t) => S * s + B * (base[t] as number));
  const others = exact.filter((_, t) => t !== p.peakMinute);
  const rounded = largestRemainder(others, p.total - p.peak);
  const arrivals = [...rounded.slice(0, p.peakMinute), p.peak, ...rounded.slice(p.peakMinute)];
  if (arrivals.some((a, t) => t !== p.peakMinute && a >= p.peak)) {
    throw new Error('the parameters put another minute at or above the peak');
  }
  return { bucketSeconds: 60, arrivals };
}

export const CSV_PATH = fileURLToPath(
  new URL('../scenarios/profiles/registration-day-2020.csv', import.meta.url),
);

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const profile = registrationDay2020();
  writeFileSync(CSV_PATH, profileCsv(profile));
  const d = describeProfile(profile);
  console.log(
    `${CSV_PATH}: ${d.buckets} minutes, ${d.total} arrivals, peak ${d.peak} at minute ${d.peakBucket}, mean ${d.mean.toFixed(1)}/min`,
  );
}
