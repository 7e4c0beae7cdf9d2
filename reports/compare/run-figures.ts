import { STAGES } from '../../model/funnel.ts';
import type { RunManifest, RunRecord, Timeseries } from '../record.ts';
import { sum } from './statistics.ts';

/**
 * What the comparison reads from a run record, in the units its metrics count in: totals, and
 * series turned from per-second rates into counts per interval, since the proportion tests count
 * registrants and requests, not rates.
 */

export type Values = Array<number | null>;

export function durationSeconds(r: RunRecord): number {
  return r.summary.state.testRunDurationMs / 1000;
}

export function funnelCount(m: RunManifest, stage: string, outcome?: string): number {
  return sum(
    m.totals.funnel
      .filter((f) => f.stage === stage && (outcome === undefined || f.outcome === outcome))
      .map((f) => f.count),
  );
}

export function hasFunnel(r: RunRecord): boolean {
  return r.manifest.totals.funnel.length > 0;
}

/** Element-wise sum of series; an interval is null only when every series is null there. */
export function addSeries(all: readonly Values[]): Values | undefined {
  if (all.length === 0) return undefined;
  const length = Math.max(...all.map((v) => v.length));
  // Loops, not an array per interval: a comparison adds some thirty series, and the false-alarm
  // test runs hundreds of comparisons.
  const out: Values = new Array(length).fill(null);
  for (let i = 0; i < length; i++) {
    let total = 0;
    let present = false;
    for (const v of all) {
      const x = v[i];
      if (x === null || x === undefined) continue;
      total += x;
      present = true;
    }
    if (present) out[i] = total;
  }
  return out;
}

export function scaleSeries(v: Values | undefined, factor: number): Values | undefined {
  return v?.map((x) => (x === null ? null : x * factor));
}

/** stage_outcomes of a stage (any outcome, or the ones given), added up, in registrants per interval. */
export function stageOutcomeCounts(
  ts: Timeseries,
  stage: string,
  keep: (outcome: string) => boolean,
): Values | undefined {
  const matching = ts.series
    .filter((s) => s.name === 'stage_outcomes' && s.labels.stage === stage && keep(s.labels.outcome ?? ''))
    .map((s) => s.values);
  return scaleSeries(addSeries(matching), ts.intervalSeconds);
}

export function journeyEndings(ts: Timeseries): Values | undefined {
  const ends = ts.series
    .filter(
      (s) =>
        s.name === 'stage_outcomes' &&
        (s.labels.outcome !== 'continued' || s.labels.stage === STAGES[STAGES.length - 1]),
    )
    .map((s) => s.values);
  return scaleSeries(addSeries(ends), ts.intervalSeconds);
}
