import exec from 'k6/execution';
import { DEFAULT_MODEL, expectedJourneySeconds } from '../model/behaviour.ts';
import {
  breakpointResult,
  breakpointText,
  checkStaircase,
  levelAt,
  levelThresholds,
  rateOf,
  type Staircase,
  staircaseStages,
  TIME_UNIT_SECONDS,
} from '../model/breakpoint.ts';
import { STEPS } from '../model/funnel.ts';
import { vuBudget } from '../model/replay.ts';
import { stepThresholds } from '../model/slo.ts';
import { envNumber, envString } from './lib/env.ts';
import { arrive, registrantSetup } from './lib/registrant.ts';

/**
 * Raises the arrival rate level by level until the per-step SLOs break, then stops (abortOnFail)
 * and reports the highest rate that was sustained: every level's requests are tagged `level`, every
 * level has its own thresholds, and handleSummary names the top of the unbroken levels
 * (model/breakpoint.ts). Registrants behave as on the registration day, with think times compressed
 * by COMPRESS so that every step is loaded within a level.
 *
 * Knobs: START_RATE (registrants/s, default 1), STEP_RATE (default 1), LEVELS (default 10),
 * LEVEL_SECONDS (default 30), COMPRESS (default 3600), ABORT_DELAY (default: one level),
 * BREAKPOINT_OUT (a file for the JSON result; none by default), and the registrant knobs of
 * registration-day.
 */

const stairs: Staircase = checkStaircase({
  startRate: envNumber(__ENV, 'START_RATE', 1, { min: 0.01 }),
  stepRate: envNumber(__ENV, 'STEP_RATE', 1, { min: 0 }),
  levels: envNumber(__ENV, 'LEVELS', 10, { integer: true, min: 1, max: 100 }),
  levelSeconds: envNumber(__ENV, 'LEVEL_SECONDS', 30, { integer: true, min: 1 }),
});
const COMPRESS = envNumber(__ENV, 'COMPRESS', 3600, { min: 1 });
const testSeconds = stairs.levels * stairs.levelSeconds;
const peakRate = rateOf(stairs, stairs.levels - 1);
const inSystem = peakRate * Math.min(expectedJourneySeconds(DEFAULT_MODEL, COMPRESS), testSeconds + 30);
const JOURNEY_STEPS = STEPS.filter((s) => s !== 'read_status');

export const options = {
  scenarios: {
    breakpoint: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: `${TIME_UNIT_SECONDS}s`,
      stages: staircaseStages(stairs),
      ...vuBudget(inSystem),
      gracefulStop: envString(__ENV, 'GRACEFUL_STOP', '10s'),
    },
  },
  thresholds: {
    ...levelThresholds(stairs, JOURNEY_STEPS),
    // The stop: k6's breakpoint pattern. The per-level thresholds above say where it broke.
    ...stepThresholds({
      abortOnFail: true,
      delayAbortEval: envString(__ENV, 'ABORT_DELAY', `${stairs.levelSeconds}s`),
      steps: JOURNEY_STEPS,
    }),
  },
};

// PHOTO: where the KTP photo is, for a bundle whose files lie flat (a k6-operator ConfigMap has no folders).
const photo = open(envString(__ENV, 'PHOTO', './fixtures/ktp-medium.jpg'), 'b');
const registrant = registrantSetup(__ENV);
const OUT = envString(__ENV, 'BREAKPOINT_OUT', '');

export default async function () {
  // Every metric of this iteration carries the level its registrant arrived in.
  exec.vu.metrics.tags.level = String(levelAt(stairs, Date.now() - exec.scenario.startTime));
  await arrive(registrant, {
    compress: COMPRESS,
    windowEndMs: exec.scenario.startTime + testSeconds * 1000,
    photo,
  });
}

// biome-ignore lint/suspicious/noExplicitAny: k6's summary data is untyped in @types/k6
export function handleSummary(data: any) {
  const result = breakpointResult(stairs, JOURNEY_STEPS, data);
  const out: Record<string, string> = { stdout: breakpointText(result) };
  if (OUT) out[OUT] = JSON.stringify({ staircase: stairs, ...result }, null, 2);
  return out;
}
