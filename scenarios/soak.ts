import exec from 'k6/execution';
import { DEFAULT_MODEL, expectedJourneySeconds } from '../model/behaviour.ts';
import { durationMs, vuBudget } from '../model/replay.ts';
import { stepThresholds } from '../model/slo.ts';
import { envNumber, envString } from './lib/env.ts';
import { arrive, registrantSetup } from './lib/registrant.ts';

/**
 * A steady arrival rate for a long time, to expose what only time shows: memory that grows with
 * each registration, a database or outbox that slows as it fills, connections that leak. The
 * registrants are the registration day's (same behaviour model, think times compressed by
 * COMPRESS), so every step keeps being exercised; a leak shows as rising latency over the run in
 * the report and as the services' resident memory on the dashboards.
 *
 * Knobs: RATE (registrants per second, default 2), DURATION (default 10m), COMPRESS (default 600),
 * GRACEFUL_STOP, and the registrant knobs of registration-day.
 */

const RATE = envNumber(__ENV, 'RATE', 2, { min: 0.001 });
const DURATION = envString(__ENV, 'DURATION', '10m');
const COMPRESS = envNumber(__ENV, 'COMPRESS', 600, { min: 1 });
function seconds(d: string): number {
  let s = Number.NaN;
  try {
    s = durationMs(d) / 1000;
  } catch {}
  if (!(s > 0))
    throw new Error(
      `environment variable DURATION: expected a k6 duration > 0 such as 10m or 1h30m, got '${d}'`,
    );
  return s;
}
const durationS = seconds(DURATION);
// Little's law with room for journeys that vary: nobody stays longer than the run.
const inSystem = RATE * Math.min(expectedJourneySeconds(DEFAULT_MODEL, COMPRESS), durationS + 30);
// k6 rates are whole arrivals per timeUnit: a thousand-second unit keeps fractional rates.
const perThousandSeconds = Math.round(RATE * 1000);

export const options = {
  scenarios: {
    soak: {
      executor: 'constant-arrival-rate',
      rate: perThousandSeconds,
      timeUnit: '1000s',
      duration: DURATION,
      ...vuBudget(inSystem),
      gracefulStop: envString(__ENV, 'GRACEFUL_STOP', '30s'),
    },
  },
  thresholds: stepThresholds(),
};

// PHOTO: where the KTP photo is, for a bundle whose files lie flat (a k6-operator ConfigMap has no folders).
const photo = open(envString(__ENV, 'PHOTO', './fixtures/ktp-medium.jpg'), 'b');
const registrant = registrantSetup(__ENV);

export default async function () {
  await arrive(registrant, {
    compress: COMPRESS,
    windowEndMs: exec.scenario.startTime + durationS * 1000,
    photo,
  });
}
