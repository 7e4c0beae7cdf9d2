import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { registrationDay2020 } from '../profiles/registration-day-2020.ts';
import { COUNTS_2020, conversions } from './funnel.ts';
import {
  describeProfile,
  ProfileError,
  parseProfileCsv,
  profileCsv,
  stagesIntegral,
  toRampingArrivalRate,
} from './profile.ts';
import { stepThresholds } from './slo.ts';

const csv = readFileSync(new URL('../profiles/registration-day-2020.csv', import.meta.url), 'utf8');

describe('the 2020 registration-day profile', () => {
  it('has exactly 1,432,133 arrivals over 1,260 minutes and exactly 80,000 in the peak minute', () => {
    const d = describeProfile(parseProfileCsv(csv));
    expect(d).toMatchObject({ total: 1_432_133, peak: 80_000, buckets: 1260 });
    expect(d.mean).toBeCloseTo(1136.6, 1);
  });

  it('is what the generator makes from its parameters (the CSV is not edited by hand)', () => {
    expect(profileCsv(registrationDay2020())).toBe(csv);
  });

  it('has an overnight trough below the daytime level', () => {
    const a = parseProfileCsv(csv).arrivals;
    const mean = (from: number, to: number) => a.slice(from, to).reduce((x, y) => x + y, 0) / (to - from);
    // 19:00 WIB + 6h = 01:00; + 15h = 10:00
    expect(mean(6 * 60, 8 * 60)).toBeLessThan(mean(14 * 60, 16 * 60) / 2);
  });
});

describe('parsing a user CSV', () => {
  it('accepts per-minute and per-second profiles', () => {
    expect(parseProfileCsv('second,arrivals\n0,5\n1,7\n')).toEqual({ bucketSeconds: 1, arrivals: [5, 7] });
  });

  it.each([
    ['time,count\n0,1', /:1: expected the header/],
    ['minute,arrivals\n0,1\n2,1', /:3, column 1: expected bucket 1/],
    ['minute,arrivals\n0,-4', /:2, column 2: expected a number of arrivals >= 0, got "-4"/],
    ['minute,arrivals\n0,1,2', /:2: expected 2 columns, got 3/],
    ['minute,arrivals\n', /no rows/],
  ])('refuses %j with the line and column', (text, message) => {
    expect(() => parseProfileCsv(text, 'logs.csv')).toThrow(ProfileError);
    expect(() => parseProfileCsv(text, 'logs.csv')).toThrow(message);
  });
});

describe('replaying a profile as ramping-arrival-rate', () => {
  const profile = parseProfileCsv(csv);
  it.each([
    [0.01, 60, undefined],
    [0.001, 120, undefined],
    [0.05, 600, { fromBucket: 0, toBucket: 120 }],
    [0.003, 30, { fromBucket: 600, toBucket: 1260 }],
  ])('scale %s, compress %s, window %j: total and peak within 1 %', (scale, compress, window) => {
    const r = toRampingArrivalRate(profile, { scale, compress, window, journeySeconds: 10 });
    const from = window?.fromBucket ?? 0;
    const to = window?.toBucket ?? 1260;
    const expectedTotal = profile.arrivals.slice(from, to).reduce((a, b) => a + b, 0) * scale;
    const expectedPeak = (Math.max(...profile.arrivals.slice(from, to)) * scale * compress) / 60;
    expect(Math.abs(r.total - expectedTotal)).toBeLessThanOrEqual(Math.max(1, expectedTotal * 0.01));
    // The stages' own integral, computed as k6 integrates ramping-arrival-rate, is the total.
    expect(stagesIntegral(r.scenario)).toBeCloseTo(r.total, 6);
    expect(Math.abs(r.peakPerSecond - expectedPeak) / expectedPeak).toBeLessThan(0.01);
    expect(r.durationSeconds).toBeCloseTo(((to - from) * 60) / compress, 3);
    // Little's law with headroom: peak rate x journey time x 1.5
    expect(r.scenario.maxVUs).toBe(Math.ceil(r.peakPerSecond * 10 * 1.5));
  });

  it('refuses impossible knobs', () => {
    expect(() => toRampingArrivalRate(profile, { scale: 2, compress: 60, journeySeconds: 1 })).toThrow(
      /scale/,
    );
    expect(() => toRampingArrivalRate(profile, { scale: 0.1, compress: 0.5, journeySeconds: 1 })).toThrow(
      /compress/,
    );
    expect(() =>
      toRampingArrivalRate(profile, {
        scale: 0.1,
        compress: 60,
        window: { fromBucket: 10, toBucket: 5 },
        journeySeconds: 1,
      }),
    ).toThrow(/window/);
  });
});

describe('the funnel and the SLOs', () => {
  it('recomputes the 2020 percentages from the counts, not the press release', () => {
    const rows = conversions(COUNTS_2020);
    const pct = (stage: string) => (rows.find((r) => r.stage === stage)?.fromTop ?? 0) * 100;
    expect(pct('email_verified')).toBeCloseTo(74.23, 2); // press release: 73.85 %
    expect(pct('biodata_verified')).toBeCloseTo(43.58, 2); // press release: 43.65 %
    expect(pct('joined_wave')).toBeCloseTo(5.43, 2);
    expect(rows.find((r) => r.stage === 'photo_uploaded')).toMatchObject({ count: null, fromTop: null });
    // joined_wave's previous counted stage is biodata_verified
    expect(rows.find((r) => r.stage === 'joined_wave')?.fromPrevious).toBeCloseTo(77_834 / 624_090, 10);
  });

  it('gives k6 thresholds for every step, optionally aborting', () => {
    const t = stepThresholds();
    expect(t['http_req_duration{step:submit_biodata}']).toEqual(['p(95)<3000']);
    expect(t['http_req_failed{step:login}']).toEqual(['rate<0.01']);
    expect(stepThresholds({ abortOnFail: true, steps: ['login'] })).toEqual({
      'http_req_duration{step:login}': [{ threshold: 'p(95)<800', abortOnFail: true, delayAbortEval: '10s' }],
      'http_req_failed{step:login}': [{ threshold: 'rate<0.01', abortOnFail: true, delayAbortEval: '10s' }],
    });
  });
});
