import { runArrivals, type ScenarioOf, type ScenarioRun } from './common.ts';

/**
 * constant-arrival-rate: iteration i starts at i x period from t=0 while t <= duration. k6 starts
 * them on a timer racing the end of the duration, so its count is R x D or R x D + 1 when the
 * period divides the duration; we start the one at t=D, as the "plus one at the end".
 */
export function* constantArrivals(rate: number, timeUnitMs: number, durationMs: number): Generator<number> {
  const period = timeUnitMs / rate;
  const eps = period * 1e-9;
  for (let i = 0; ; i++) {
    const t = i * period;
    if (t > durationMs + eps) return;
    yield t;
  }
}

export function runConstantArrivalRate(run: ScenarioRun<ScenarioOf<'constant-arrival-rate'>>): Promise<void> {
  const s = run.scenario;
  return runArrivals(run, constantArrivals(s.rate, s.timeUnitMs, s.durationMs));
}
