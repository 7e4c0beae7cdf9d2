import type { Stage } from '../options/schema.ts';
import { runArrivals, type ScenarioOf, type ScenarioRun } from './common.ts';

/**
 * ramping-arrival-rate: iteration n (1-based) starts when the area under the rate curve (linear
 * between stage targets) reaches n, exactly as k6's `cal` computes it; the first iteration is
 * therefore not at t=0 unless the rate starts high enough.
 */
export function* rampingArrivals(
  startRate: number,
  timeUnitMs: number,
  stages: readonly Stage[],
): Generator<number> {
  let from = startRate / timeUnitMs;
  let stageStart = 0;
  let doneSoFar = 0;
  let endCount = 0;
  let i = 1;
  for (const stage of stages) {
    const to = stage.target / timeUnitMs;
    const dur = stage.durationMs;
    if (from !== to) {
      endCount += dur * ((to - from) / 2 + from);
      for (; i <= endCount + 1e-9; i++) {
        const disc = dur * (from * from * dur + 2 * (i - doneSoFar) * (to - from));
        const x = (from * dur - Math.sqrt(Math.max(0, disc))) / (from - to);
        yield stageStart + x;
      }
    } else {
      endCount += dur * to;
      for (; i <= endCount + 1e-9; i++) yield stageStart + (i - doneSoFar) / to;
    }
    doneSoFar = endCount;
    from = to;
    stageStart += dur;
  }
}

export function runRampingArrivalRate(run: ScenarioRun<ScenarioOf<'ramping-arrival-rate'>>): Promise<void> {
  const s = run.scenario;
  return runArrivals(run, rampingArrivals(s.startRate, s.timeUnitMs, s.stages));
}
