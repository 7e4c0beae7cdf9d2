import exec from 'k6/execution';
import { DEFAULT_MODEL, expectedJourneySeconds } from '../model/behaviour.ts';
import { describeProfile, openingSpike, parseProfileCsv } from '../model/profile.ts';
import { replay } from '../model/replay.ts';
import { stepThresholds } from '../model/slo.ts';
import { envNumber, envString } from './lib/env.ts';
import { arrive, registrantSetup } from './lib/registrant.ts';

/**
 * The peak minutes of the 2020 opening at their per-second shape: the minutes around the
 * 80,000-per-minute peak, each spread over its seconds with a burst at the top of the minute
 * (profile.ts openingSpike states the assumption), compressed 15 times by default: at 0.002 of the
 * population that is 0.03 of the day's arrival rate, at which the full-size capacity file
 * (mock-services/capacity.2020.json) gives the mail relay, the spike's dependency, two of its 60
 * connections (model/similitude.ts); Dukcapil's 7 servers run as one, slower (the run's similitude
 * note says so), which the few who reach it during the spike barely meet. Registrants behave as on the full day; most of them are still reading
 * their mail when the spike ends (counted in progress): the spike's load is sign-ups and the mail behind them,
 * as it was in 2020. THINK_COMPRESS shortens the think times alone, to bring the later steps into
 * the spike.
 *
 * OPENING picks the opening: `2020` (the default: registration-day-2020.csv, the minutes around
 * its peak) or `wave-9` (profiles/wave-9-opening.csv, the new sign-ups of the wave-9 opening in
 * September 2020, whose site failed at the opening: all its 30 minutes by default, so the replay
 * shows the opening and what follows). PROFILE replays another per-minute CSV instead, around its
 * peak.
 *
 * Knobs: OPENING, PROFILE, SCALE (default 0.002: 160 registrants in the 2020 peak minute),
 * COMPRESS (default 15), THINK_COMPRESS (default COMPRESS), FROM_MINUTE / TO_MINUTE (default: 2
 * minutes before the peak to 3 after; the whole profile for OPENING=wave-9), BURST_SHARE,
 * BURST_SECONDS, GRACEFUL_STOP, and the registrant knobs of registration-day (MINOR_SHARE,
 * INELIGIBLE_SHARE, WAVE, POPULATION_SEED, MAIL_WAIT_S).
 */

// Paths relative to this file, as k6's open() reads them (the bundle copies profiles/ beside it).
const OPENINGS: Record<string, { profile: string; whole: boolean }> = {
  '2020': { profile: './profiles/registration-day-2020.csv', whole: false },
  'wave-9': { profile: './profiles/wave-9-opening.csv', whole: true },
};
const OPENING = envString(__ENV, 'OPENING', '2020');
const opening = OPENINGS[OPENING];
if (!opening) {
  throw new Error(
    `environment variable OPENING: expected one of ${Object.keys(OPENINGS).join(', ')}, got '${OPENING}'`,
  );
}
if (__ENV.OPENING && __ENV.PROFILE) {
  throw new Error('environment variables OPENING and PROFILE: give one (OPENING names a profile of its own)');
}
const PROFILE = envString(__ENV, 'PROFILE', opening.profile);
const day = parseProfileCsv(open(PROFILE), PROFILE);
const { peakBucket } = describeProfile(day);
const spike = openingSpike(day, {
  fromMinute: envNumber(__ENV, 'FROM_MINUTE', opening.whole ? 0 : Math.max(0, peakBucket - 2), {
    integer: true,
    min: 0,
  }),
  toMinute: envNumber(
    __ENV,
    'TO_MINUTE',
    opening.whole ? day.arrivals.length : Math.min(day.arrivals.length, peakBucket + 3),
    { integer: true, min: 1 },
  ),
  burstShare: envNumber(__ENV, 'BURST_SHARE', 0.2, { min: 0, max: 1 }),
  burstSeconds: envNumber(__ENV, 'BURST_SECONDS', 10, { integer: true, min: 1, max: 60 }),
});
const COMPRESS = envNumber(__ENV, 'COMPRESS', 15, { min: 1 });
const THINK_COMPRESS = envNumber(__ENV, 'THINK_COMPRESS', COMPRESS, { min: 1 });
const spikeSeconds = spike.arrivals.length / COMPRESS;
const plan = replay(spike, {
  scale: envNumber(__ENV, 'SCALE', 0.002, { min: 0.000001, max: 1 }),
  compress: COMPRESS,
  journeySeconds: Math.min(expectedJourneySeconds(DEFAULT_MODEL, THINK_COMPRESS), spikeSeconds + 30),
});
// PHOTO: where the KTP photo is, for a bundle whose files lie flat (a k6-operator ConfigMap has no folders).
const photo = open(envString(__ENV, 'PHOTO', './fixtures/ktp-medium.jpg'), 'b');

export const options = {
  scenarios: {
    opening_spike: { ...plan.scenario, gracefulStop: envString(__ENV, 'GRACEFUL_STOP', '30s') },
  },
  thresholds: stepThresholds(),
};

const registrant = registrantSetup(__ENV);

export default async function () {
  await arrive(registrant, {
    compress: THINK_COMPRESS,
    windowEndMs: exec.scenario.startTime + plan.durationSeconds * 1000,
    photo,
  });
}
