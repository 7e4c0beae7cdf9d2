import { runVuLoops, type ScenarioOf, type ScenarioRun } from './common.ts';

/**
 * per-vu-iterations: each VU runs `iterations` iterations, or fewer if maxDuration is up first.
 * VU g's i-th is the test's iteration (g - 1) x iterations + i, so no counter is shared.
 */
export function runPerVuIterations(run: ScenarioRun<ScenarioOf<'per-vu-iterations'>>): Promise<void> {
  const { iterations, vus } = run.scenario;
  return runVuLoops(run, vus, (g, done) => (done < iterations ? (g - 1) * iterations + done : undefined));
}
