import { runVuLoops, type ScenarioOf, type ScenarioRun } from './common.ts';

/** constant-vus: `vus` VUs run iterations back to back for the duration. */
export function runConstantVUs(run: ScenarioRun<ScenarioOf<'constant-vus'>>): Promise<void> {
  return runVuLoops(run, run.scenario.vus, () => run.claim());
}
