import { runVuLoops, type ScenarioOf, type ScenarioRun } from './common.ts';

/**
 * shared-iterations: `iterations` in total, claimed one at a time by whichever VU is free, until
 * they are all claimed or maxDuration is up. The claim is an atomic counter in memory shared by
 * every thread, so the total is exact however the threads are loaded.
 */
export function runSharedIterations(run: ScenarioRun<ScenarioOf<'shared-iterations'>>): Promise<void> {
  const { iterations, vus } = run.scenario;
  return runVuLoops(run, vus, () => {
    const claimed = run.claim();
    return claimed < iterations ? claimed : undefined;
  });
}
