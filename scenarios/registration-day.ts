import exec from 'k6/execution';
import {
  type BehaviourModel,
  CALIBRATION_2020,
  calibrate,
  DEFAULT_MODEL,
  expectedJourneySeconds,
  parseLossSplit,
} from '../model/behaviour.ts';
import { GRACEFUL_STOP_S } from '../model/journey.ts';
import { parseProfileCsv } from '../model/profile.ts';
import { REPLAY_DEFAULTS, replay } from '../model/replay.ts';
import { stepThresholds } from '../model/slo.ts';
import { envNumber, envString } from './lib/env.ts';
import { arrive, registrantSetup } from './lib/registrant.ts';

/**
 * The registration day of April 2020 replayed: the 21-hour arrival profile (1,432,133 people,
 * 80,000 in the peak minute), scaled by SCALE and compressed by COMPRESS, each arrival a registrant
 * who goes as far as the calibrated behaviour model and the system let them. Think times are the
 * model's delays compressed by the same factor; a registrant whose next step would come after the
 * window closes is counted in progress, as the 2020 counts at hour 21 were. Funnel counters tell
 * "left by choice" from "failed by the system", per stage and reason.
 *
 * Knobs (-e NAME=value): PROFILE (a CSV of arrivals per minute or second), SCALE, COMPRESS,
 * WINDOW_FROM / WINDOW_TO (profile minutes), THINK_COMPRESS (default COMPRESS), LOSS_SPLIT (JSON, see behaviour.ts parseLossSplit),
 * JOURNEY_SECONDS (VU sizing), GRACEFUL_STOP, MINOR_SHARE, INELIGIBLE_SHARE, WAVE, POPULATION_SEED,
 * MAIL_WAIT_S, BASE_URL, EMAIL_URL.
 */

const PROFILE = envString(__ENV, 'PROFILE', './profiles/registration-day-2020.csv');
const SCALE = envNumber(__ENV, 'SCALE', REPLAY_DEFAULTS.scale, { min: 0.000001, max: 1 });
const COMPRESS = envNumber(__ENV, 'COMPRESS', REPLAY_DEFAULTS.compress, { min: 1 });
// Think times are compressed with the day by default; a rehearsal of a short window can compress
// them further to bring the later steps into it (a stated distortion of the funnel's timing).
const THINK_COMPRESS = envNumber(__ENV, 'THINK_COMPRESS', COMPRESS, { min: 1 });
const profile = parseProfileCsv(open(PROFILE), PROFILE);
const profileMinutes = (profile.arrivals.length * profile.bucketSeconds) / 60;
const windowFrom = envNumber(__ENV, 'WINDOW_FROM', 0, { min: 0 });
const windowTo = envNumber(__ENV, 'WINDOW_TO', profileMinutes, { min: 0 });

// The split is the knob; the model follows from it by calibration against the 2020 day.
const LOSS_SPLIT = envString(__ENV, 'LOSS_SPLIT', '');
const model: BehaviourModel = LOSS_SPLIT
  ? calibrate(parseProfileCsv(open('./profiles/registration-day-2020.csv'), 'registration-day-2020'), {
      ...CALIBRATION_2020,
      split: parseLossSplit(LOSS_SPLIT),
    })
  : DEFAULT_MODEL;

// Nobody stays longer than the window (they are cut off as in progress), so VUs are sized for the
// shorter of the two.
const windowSeconds = ((windowTo - windowFrom) * 60) / COMPRESS;
const plan = replay(profile, {
  scale: SCALE,
  compress: COMPRESS,
  window: { fromMinute: windowFrom, toMinute: windowTo },
  journeySeconds: envNumber(
    __ENV,
    'JOURNEY_SECONDS',
    Math.min(expectedJourneySeconds(model, THINK_COMPRESS), windowSeconds + GRACEFUL_STOP_S),
    { min: 0.1 },
  ),
});
// PHOTO: where the KTP photo is, for a bundle whose files lie flat (a k6-operator ConfigMap has no folders).
const photo = open(envString(__ENV, 'PHOTO', './fixtures/ktp-medium.jpg'), 'b');

export const options = {
  scenarios: {
    registration_day: {
      ...plan.scenario,
      gracefulStop: envString(__ENV, 'GRACEFUL_STOP', `${GRACEFUL_STOP_S}s`),
    },
  },
  thresholds: stepThresholds(),
};

const registrant = registrantSetup(__ENV);

export default async function () {
  await arrive(registrant, {
    model,
    compress: THINK_COMPRESS,
    windowEndMs: exec.scenario.startTime + plan.durationSeconds * 1000,
    photo,
  });
}
