import type { Stage } from '../options/schema.ts';
import { runVuLoops, type ScenarioOf, type ScenarioRun, scenarioMaxVUs } from './common.ts';

/** ramping-vus: how many VUs should be active at time t (k6 ramps linearly, whole VUs). */
export function rampingVUsAt(startVUs: number, stages: readonly Stage[], t: number): number {
  let from = startVUs;
  let at = 0;
  for (const s of stages) {
    if (t < at + s.durationMs) {
      const frac = s.durationMs > 0 ? (t - at) / s.durationMs : 1;
      const v = from + (s.target - from) * frac;
      return s.target >= from ? Math.floor(v + 1e-9) : Math.ceil(v - 1e-9);
    }
    at += s.durationMs;
    from = s.target;
  }
  return from;
}

/**
 * ramping-vus: every VU the ramp ever needs exists from the start; VU g runs iterations while
 * g <= the ramp's VUs at that moment, and waits while it is above.
 */
export function runRampingVUs(run: ScenarioRun<ScenarioOf<'ramping-vus'>>): Promise<void> {
  const s = run.scenario;
  return runVuLoops(
    run,
    scenarioMaxVUs(s),
    () => run.claim(),
    (g) => g <= rampingVUsAt(s.startVUs, s.stages, Date.now() - run.startsAt),
  );
}
