import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeProfile, parseProfileCsv, profileCsv } from '../model/profile.ts';
import { CSV_PATH, PARAMETERS, registrationDay2020 } from './generate-profile.ts';

const csv = readFileSync(CSV_PATH, 'utf8');

describe('the 2020 registration-day profile', () => {
  it('has exactly 1,432,133 arrivals over 1,260 minutes and exactly 80,000 in its one peak minute', () => {
    const p = parseProfileCsv(csv);
    const d = describeProfile(p);
    expect(d).toMatchObject({ total: 1_432_133, peak: 80_000, buckets: 1260, peakMinute: 3 });
    expect(d.mean).toBeCloseTo(1136.6, 1);
    expect(p.arrivals.every((a) => Number.isInteger(a) && a >= 0)).toBe(true);
    expect(p.arrivals.filter((a) => a >= 80_000)).toHaveLength(1);
    expect(csv.split('\n')[0]).toBe('minute,arrivals');
  });

  it('is what the generator makes from its parameters (the CSV is not edited by hand)', () => {
    expect(profileCsv(registrationDay2020())).toBe(csv);
  });

  it('stays exact when the parameters change (exactness is by construction)', () => {
    for (const change of [
      { peakMinute: 5 },
      { surgeDecayMinutes: 4 },
      { nightFloor: 0.2, eveningWeight: 1 },
    ]) {
      const d = describeProfile(registrationDay2020({ ...PARAMETERS, ...change }));
      expect(d).toMatchObject({ total: 1_432_133, peak: 80_000, buckets: 1260 });
    }
    expect(() => registrationDay2020({ ...PARAMETERS, surgeDecayMinutes: 30 })).toThrow(
      /cannot meet both facts/,
    );
  });

  it('has an opening surge, an overnight trough and a daytime return', () => {
    const a = parseProfileCsv(csv).arrivals;
    const mean = (from: number, to: number) => a.slice(from, to).reduce((x, y) => x + y, 0) / (to - from);
    // minute 0 is 19:00 WIB: 01:00-04:00 is minutes 360-540, 09:00-12:00 is 840-1020
    const trough = mean(360, 540);
    const day = mean(840, 1020);
    expect(mean(0, 30)).toBeGreaterThan(10 * day);
    expect(trough).toBeLessThan(day / 2);
    expect(mean(1200, 1260)).toBeGreaterThan(trough);
  });
});
