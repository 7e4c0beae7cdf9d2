import { describe, expect, it } from 'vitest';
import type { ObjectiveMiss } from '../report-model.ts';
import { missedWindows } from './verdict.ts';

const miss = (fromSeconds: number, toSeconds: number, worst: number): ObjectiveMiss => ({
  step: 'submit_biodata',
  objective: 'error_rate',
  fromSeconds,
  toSeconds,
  intervals: 2,
  worst,
});
const pct = (w: ObjectiveMiss) => `${w.worst * 100} %`;

describe('the windows an objective was missed in', () => {
  it('names up to three, and sums up more: how many, the span, the time in all, the longest and the worst', () => {
    expect(missedWindows([miss(10, 14, 0.5)], pct)).toBe(
      'missed from 10 s to 14 s into the run (up to 50 %)',
    );
    const many = [miss(10, 14, 0.5), miss(20, 30, 0.6), miss(40, 42, 0.9), miss(50, 54, 0.3)];
    expect(missedWindows(many, pct)).toBe(
      'missed in 4 windows between 10 s and 54 s into the run, 20 s in all; the longest from 20 s to 30 s into the run (up to 60 %), the worst from 40 s to 42 s into the run (up to 90 %)',
    );
  });

  it('of windows equally bad, names the longest once as the longest and worst', () => {
    const allFailed = [miss(10, 12, 1), miss(20, 30, 1), miss(40, 42, 1), miss(50, 54, 0.3)];
    expect(missedWindows(allFailed, pct)).toBe(
      'missed in 4 windows between 10 s and 54 s into the run, 18 s in all; the longest and worst from 20 s to 30 s into the run (up to 100 %)',
    );
  });
});
