import { resolve } from 'node:path';
import { type RehearsalOptions, type RehearsalResult, runRehearsal } from '../scripts/rehearsal.ts';

/**
 * A registration-day rehearsal as the benches run it: quiet, sampled every second, no full-scale
 * prediction, nothing logged, against the laptop-sized stations of capacity.default.json as they
 * are (the benches' tables were measured on them; `rehearse` scales the 2020 file instead). Each
 * bench gives what it varies.
 */
export function benchRehearsal(
  o: Pick<
    RehearsalOptions,
    'scale' | 'compress' | 'window' | 'knobs' | 'serviceProfile' | 'resultsDir' | 'runId'
  > &
    Partial<Pick<RehearsalOptions, 'env' | 'faults' | 'capacityFile' | 'absoluteCapacity'>>,
): Promise<RehearsalResult> {
  return runRehearsal({
    scenario: 'registration-day',
    scenarioFile: resolve('scenarios/registration-day.ts'),
    env: {},
    intervalSeconds: 1,
    quiet: true,
    fullScale: false,
    log: () => {},
    capacityFile: resolve('mock-services/capacity.default.json'),
    absoluteCapacity: true,
    ...o,
  });
}
