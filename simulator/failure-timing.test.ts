import { describe, expect, it } from 'vitest';
import type { Series } from '../reports/record.ts';
import { failureTiming } from './failure-timing.ts';

/** Per-minute rates (per second, as a record keeps them) of `perMinute` outcomes over `minutes`. */
function series(
  stage: string,
  outcome: string,
  perMinute: (minute: number) => number,
  minutes: number,
): Series {
  return {
    name: 'stage_outcomes',
    labels: { stage, outcome },
    values: Array.from({ length: minutes }, (_, m) => perMinute(m) / 60),
  } as Series;
}

describe('failureTiming', () => {
  const minutes = 180;
  const t = Array.from({ length: minutes }, (_, m) => (m + 1) * 60);

  it('is the failed share of each hour’s attempts, continued, failed and rejected', () => {
    const s = [
      series('biodata_verified', 'continued', (m) => (m < 60 ? 6 : 9), minutes),
      series('biodata_verified', 'failed', (m) => (m < 60 ? 3 : m < 120 ? 1 : 0), minutes),
      series('biodata_verified', 'rejected', () => 1, minutes),
      // in progress is not an attempt
      series('biodata_verified', 'in_progress', () => 50, minutes),
      series('email_verified', 'continued', () => 10, minutes),
    ];
    const timing = failureTiming(t, s, 60, 4);
    expect(timing.biodata_verified).toEqual([0.3, 0.091, 0, 0]);
    // a stage that never failed is left out; an hour with no attempts keeps the hour before's share
    expect(timing).not.toHaveProperty('email_verified');
  });
});
