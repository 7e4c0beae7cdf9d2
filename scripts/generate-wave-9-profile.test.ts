import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeProfile, parseProfileCsv, profileCsv } from '../model/profile.ts';
import { CSV_PATH, WAVE_9, wave9Derivation, wave9Opening } from './generate-wave-9-profile.ts';

const csv = readFileSync(CSV_PATH, 'utf8');

describe('the wave-9 opening profile', () => {
  it('rests on the wave 8 and acceptance figures: 3.9 million carried over, 1,062,500 new sign-ups', () => {
    const w = wave9Derivation();
    expect(w.carriedOver).toBe(3_900_000);
    expect(w.signUpsThroughWave8).toBe(8_500_000);
    expect(w.newSignUps).toBe(1_062_500);
    expect(w.factor).toBeCloseTo(1_062_500 / 1_432_133, 12);
  });

  it('is the 2020 day from its peak, times the factor: the opening minute the busiest, then falling', () => {
    const p = parseProfileCsv(csv);
    const d = describeProfile(p);
    expect(d).toMatchObject({ buckets: 30, bucketSeconds: 60, peakBucket: 0 });
    // 80,000 (2020's peak minute) x 1,062,500 / 1,432,133
    expect(d.peak).toBe(59_352);
    expect(p.arrivals.every((a) => Number.isInteger(a) && a >= 0)).toBe(true);
    for (let t = 1; t < p.arrivals.length; t++)
      expect(p.arrivals[t], `minute ${t}`).toBeLessThan(p.arrivals[t - 1] as number);
    // the surge is over by the end: the last minute is a small share of the opening minute
    expect((p.arrivals.at(-1) as number) / d.peak).toBeLessThan(0.05);
    expect(csv.split('\n')[0]).toBe('minute,arrivals');
  });

  it('is what the generator makes from its parameters (the CSV is not edited by hand)', () => {
    expect(profileCsv(wave9Opening())).toBe(csv);
  });

  it('refuses parameters that would put a later minute above the opening', () => {
    expect(() => wave9Opening({ ...WAVE_9, fromMinuteOf2020: 0 })).toThrow(/at or above the opening minute/);
  });
});
