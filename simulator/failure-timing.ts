import type { FailureTiming } from '../model/behaviour.ts';
import { LATER_STAGES } from '../model/funnel.ts';
import type { Series } from '../reports/record.ts';

/**
 * When a run's system failed each stage's attempts (model/behaviour.ts `FailureTiming`): for each
 * hour of the first `hours`, the share of that hour's attempts (continued, failed, rejected) that
 * failed, read from the record's `stage_outcomes` series. A stage the run never failed is left out
 * (evenly spread is then the same thing). An hour without attempts takes the hour before's share,
 * so the table has no holes for a calibration to fall into.
 */
export function failureTiming(
  t: readonly number[],
  series: readonly Series[],
  intervalSeconds: number,
  hours: number,
): FailureTiming {
  const perHour = (stage: string, outcome: string): number[] => {
    const out = new Array<number>(hours).fill(0);
    const s = series.find(
      (x) => x.name === 'stage_outcomes' && x.labels.stage === stage && x.labels.outcome === outcome,
    );
    if (!s) return out;
    s.values.forEach((v, i) => {
      // A value is a rate per second over the interval that ends at t[i].
      const h = Math.floor(((t[i] as number) - intervalSeconds) / 3600);
      if (h >= 0 && h < hours) out[h] = (out[h] as number) + (v ?? 0) * intervalSeconds;
    });
    return out;
  };
  const timing: FailureTiming = {};
  for (const stage of LATER_STAGES) {
    const failed = perHour(stage, 'failed');
    if (!failed.some((f) => f > 0)) continue;
    const continued = perHour(stage, 'continued');
    const rejected = perHour(stage, 'rejected');
    let last = 0;
    timing[stage] = failed.map((f, h) => {
      const attempts = f + (continued[h] as number) + (rejected[h] as number);
      if (attempts > 0) last = Math.round((f / attempts) * 1000) / 1000;
      return last;
    });
  }
  return timing;
}
