import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type RunRecord, readRunRecord } from './record.ts';
import type { FullScale, Report } from './report-model.ts';

/**
 * The run's "At full scale" prediction read beside it: a simulated run record in `full-scale/`
 * (written by scripts/full-scale.ts), or the reason there is none. Set against the naive estimate,
 * the run's counts times 1 / scale, which assumes nothing saturates at 1 / scale times the load.
 */

export const FULL_SCALE_DIR = 'full-scale';
export const FULL_SCALE_SKIPPED = 'full-scale-skipped.txt';

export type Prediction = RunRecord | { why: string };

/** The prediction stored beside a run directory, if any. */
export function readPrediction(runDir: string): Prediction | undefined {
  if (existsSync(join(runDir, FULL_SCALE_DIR, 'run.json')))
    return readRunRecord(join(runDir, FULL_SCALE_DIR));
  const skipped = join(runDir, FULL_SCALE_SKIPPED);
  if (existsSync(skipped)) return { why: readFileSync(skipped, 'utf8').trim() };
  return undefined;
}

/** The report's section data, from the run's report and the simulated run's own report. */
export function fullScaleOf(measured: Report, simulated: Report, sim: RunRecord): FullScale {
  const scale = measured.run.scale ?? 1;
  const failed = (r: Report) => r.losses.reduce((a, l) => a + l.outcomes.failed, 0);
  return {
    predicted: true,
    calibration: sim.manifest.simulation?.calibration ?? 'unknown',
    cores: sim.manifest.simulation?.cores ?? 0,
    notes: sim.manifest.simulation?.notes ?? [],
    held: simulated.verdict.held,
    headline: simulated.verdict.headline,
    funnel: simulated.funnel.map((f) => {
      const m = measured.funnel.find((x) => x.stage === f.stage);
      return {
        stage: f.stage,
        simulated: f.reached,
        naive: m?.fullScale ?? 0,
        count2020: f.count2020,
        ofRegistered: f.ofRegistered,
        ofRegistered2020: f.ofRegistered2020,
      };
    }),
    steps: simulated.steps.map((s) => {
      const m = measured.steps.find((x) => x.step === s.step);
      return {
        step: s.step,
        p95Ms: s.p95Ms,
        failedRatio: s.failedRatio,
        measuredP95Ms: m?.p95Ms ?? null,
        measuredFailedRatio: m?.failedRatio ?? null,
        sloP95Ms: s.sloP95Ms,
      };
    }),
    firstSaturated: simulated.bottleneck.firstSaturated,
    profileMinute: simulated.bottleneck.profileMinute,
    failedBySystem: { simulated: failed(simulated), naive: Math.round(failed(measured) / scale) },
  };
}
