import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rampingArrivals } from '../runner/executors/ramping-arrival-rate.ts';
import { parseDuration } from '../runner/options/duration.ts';
import {
  constantProfile,
  describeProfile,
  openingSpike,
  type Profile,
  ProfileError,
  parseProfileCsv,
} from './profile.ts';
import {
  durationMs,
  RESOLUTION,
  replay,
  slidingWindowMax,
  stagesIntegral,
  stagesPeakPerSecond,
} from './replay.ts';

const csv = readFileSync(new URL('../scenarios/profiles/registration-day-2020.csv', import.meta.url), 'utf8');
const profile = parseProfileCsv(csv, 'registration-day-2020.csv');
const sum = (a: readonly number[]) => a.reduce((x, y) => x + y, 0);

describe('parsing a user CSV', () => {
  it('accepts per-minute and per-second profiles, CRLF, a BOM and blank lines', () => {
    expect(parseProfileCsv('second,arrivals\n0,5\n1,7\n')).toEqual({ bucketSeconds: 1, arrivals: [5, 7] });
    expect(parseProfileCsv('\uFEFFMinute, Arrivals\r\n0, 5\r\n\r\n1,7.5\r\n')).toEqual({
      bucketSeconds: 60,
      arrivals: [5, 7.5],
    });
  });

  it.each([
    [
      'time,count\n0,1',
      'logs.csv: line 1: expected the header "minute,arrivals" or "second,arrivals", got "time,count"',
    ],
    [
      'minute,arrivals\n0,1\n2,1',
      'logs.csv: line 3, column 1 (minute): expected 1 (consecutive from 0), got "2"',
    ],
    ['second,arrivals\n1,1', 'logs.csv: line 2, column 1 (second): expected 0 (consecutive from 0), got "1"'],
    ['minute,arrivals\n0,-4', 'logs.csv: line 2, column 2 (arrivals): expected a number >= 0, got "-4"'],
    ['minute,arrivals\n0,many', 'logs.csv: line 2, column 2 (arrivals): expected a number >= 0, got "many"'],
    ['minute,arrivals\n0,', 'logs.csv: line 2, column 2 (arrivals): expected a number >= 0, got ""'],
    ['minute,arrivals\n0,1,2', 'logs.csv: line 2: expected 2 columns (minute,arrivals), got 3: "0,1,2"'],
    ['minute,arrivals\n', 'logs.csv: expected at least one row after the header'],
  ])('refuses %j naming the line, column and what was expected', (text, message) => {
    expect(() => parseProfileCsv(text, 'logs.csv')).toThrow(ProfileError);
    expect(() => parseProfileCsv(text, 'logs.csv')).toThrow(message);
  });
});

describe('describing profiles', () => {
  it('gives total, peak, peak minute and mean', () => {
    expect(describeProfile({ bucketSeconds: 60, arrivals: [1, 5, 3] })).toMatchObject({
      total: 9,
      peak: 5,
      peakBucket: 1,
      peakMinute: 1,
      mean: 3,
      durationMinutes: 3,
    });
    expect(describeProfile({ bucketSeconds: 1, arrivals: [...new Array(125).fill(0), 9] })).toMatchObject({
      peakBucket: 125,
      peakMinute: 2,
    });
  });

  it('makes constant profiles and refuses impossible ones', () => {
    expect(constantProfile({ perMinute: 600, minutes: 3 })).toEqual({
      bucketSeconds: 60,
      arrivals: [600, 600, 600],
    });
    expect(() => constantProfile({ perMinute: -1, minutes: 3 })).toThrow(/perMinute/);
    expect(() => constantProfile({ perMinute: 1, minutes: 0.5 })).toThrow(/minutes/);
  });
});

describe('the opening spike at per-second resolution', () => {
  it('keeps each minute exact and puts the stated burst at the start of each minute', () => {
    const spike = openingSpike(profile);
    expect(spike.bucketSeconds).toBe(1);
    expect(spike.arrivals).toHaveLength(5 * 60); // minutes 1..5 around the peak at minute 3
    for (let m = 0; m < 5; m++) {
      expect(sum(spike.arrivals.slice(m * 60, m * 60 + 60))).toBe(profile.arrivals[m + 1]);
    }
    expect(spike.arrivals.every(Number.isInteger)).toBe(true);
    const peakMinute = spike.arrivals.slice(120, 180);
    // 20 % of 80,000 over 10 s plus 80 % over 60 s: 1,600 + 1,066.7 a second in the burst
    expect(peakMinute[0]).toBeCloseTo(2666.7, -1);
    expect(peakMinute[59]).toBeCloseTo(1066.7, -1);
    // whole arrivals per second: each second within one arrival of its exact share
    expect(
      Math.abs(sum(peakMinute.slice(0, 10)) - (0.2 * 80_000 + (10 / 60) * 0.8 * 80_000)),
    ).toBeLessThanOrEqual(10);
  });

  it('is uniform without a burst, and refuses bad knobs', () => {
    const flat = openingSpike(constantProfile({ perMinute: 120, minutes: 2 }), {
      fromMinute: 0,
      toMinute: 2,
      burstShare: 0,
    });
    expect(flat.arrivals).toEqual(new Array(120).fill(2));
    expect(() => openingSpike(profile, { burstShare: 2 })).toThrow(/burstShare/);
    expect(() => openingSpike(profile, { burstSeconds: 0 })).toThrow(/burstSeconds/);
    expect(() => openingSpike(profile, { fromMinute: 10, toMinute: 5 })).toThrow(/window/);
    expect(() => openingSpike(flat)).toThrow(/per-minute/);
  });
});

/** Iterations started in each bucket, by the runner's own implementation of k6's `cal`. */
function startsPerBucket(
  r: ReturnType<typeof replay>['scenario'],
  bucketMs: number,
  buckets: number,
): number[] {
  const counts = new Array(buckets).fill(0);
  const stages = r.stages.map((s) => ({ target: s.target, durationMs: parseDuration(s.duration, 'stage') }));
  for (const t of rampingArrivals(r.startRate, parseDuration(r.timeUnit, 'timeUnit'), stages)) {
    const b = Math.min(buckets - 1, Math.floor(t / bucketMs + 1e-9));
    counts[b]++;
  }
  return counts;
}

describe('replaying a profile as ramping-arrival-rate', () => {
  it.each([
    [0.01, 60, undefined],
    [0.001, 120, undefined],
    [0.0005, 252, undefined],
    [1, 1000, { fromMinute: 0, toMinute: 30 }],
    [0.05, 600, { fromMinute: 0, toMinute: 120 }],
    [0.003, 30, { fromMinute: 600, toMinute: 1260 }],
    [0.2, 1, { fromMinute: 3, toMinute: 4 }],
  ])(
    'scale %s, compress %s, window %j: total and peak within 1 %, as k6 integrates the stages',
    (scale, compress, window) => {
      const r = replay(profile, { scale, compress, ...(window ? { window } : {}), journeySeconds: 10 });
      const from = window?.fromMinute ?? 0;
      const to = window?.toMinute ?? 1260;
      const slice = profile.arrivals.slice(from, to);
      const expectedTotal = sum(slice) * scale;
      const expectedPeakPerSecond = (Math.max(...slice) * scale * compress) / 60;
      // The stages' integral, computed as k6 does (linear between targets), is the total.
      expect(stagesIntegral(r.scenario)).toBeCloseTo(r.total, 6);
      expect(Math.abs(r.total - expectedTotal)).toBeLessThanOrEqual(expectedTotal * 0.01);
      expect(Math.abs(r.total - expectedTotal)).toBeLessThan(1 / RESOLUTION + 1e-9);
      expect(Math.abs(r.peakPerSecond - expectedPeakPerSecond) / expectedPeakPerSecond).toBeLessThan(0.01);
      expect(stagesPeakPerSecond(r.scenario)).toBeCloseTo(r.peakPerSecond, 9);
      expect(r.durationSeconds).toBeCloseTo(((to - from) * 60) / compress, 0);
      // Durations are whole milliseconds (or 0s), which k6 and the runner accept.
      for (const s of r.scenario.stages) {
        expect(s.duration).toMatch(/^(0s|\d+ms)$/);
        expect(Number.isInteger(s.target)).toBe(true);
        expect(parseDuration(s.duration, 'stage')).toBe(durationMs(s.duration));
      }
    },
  );

  it('starts, in the runner’s k6 arrival schedule, each minute’s arrivals in that minute (peak included)', () => {
    const window = { fromMinute: 0, toMinute: 20 };
    const r = replay(profile, { scale: 0.01, compress: 60, window, journeySeconds: 10 });
    const starts = startsPerBucket(r.scenario, 1000, 20);
    const expected = profile.arrivals.slice(0, 20).map((a) => a * 0.01);
    starts.forEach((n, i) => {
      expect(Math.abs(n - (expected[i] as number))).toBeLessThanOrEqual(1);
    });
    expect(starts[3]).toBe(800); // 80,000 x 0.01 in the peak minute
    expect(Math.abs(sum(starts) - sum(expected))).toBeLessThanOrEqual(1);
  });

  it('keeps a shape at tiny scales by rates per 1,000 buckets and carried remainders', () => {
    const r = replay(constantProfile({ perMinute: 3, minutes: 10 }), {
      scale: 0.001,
      compress: 60,
      journeySeconds: 1,
    });
    expect(r.scenario.timeUnit).toBe(`${1000 * RESOLUTION}ms`);
    expect(r.total).toBeCloseTo(0.03, 9);
    // ten equal buckets merge into one jump and one hold
    expect(r.scenario.stages).toEqual([
      { target: 3, duration: '0s' },
      { target: 3, duration: '10000ms' },
    ]);
  });

  it('sizes VUs by Little’s law over a sliding window, with the stated headroom', () => {
    // steady 120/min at compress 1: 2 a second for 30 s in the system = 60 VUs
    const steady = replay(constantProfile({ perMinute: 120, minutes: 10 }), {
      scale: 1,
      compress: 1,
      journeySeconds: 30,
    });
    expect(steady.concurrency).toBeCloseTo(60, 9);
    expect(steady.scenario.preAllocatedVUs).toBe(60);
    expect(steady.scenario.maxVUs).toBe(90);
    // a one-minute spike of 600 between quiet minutes, journeys of two minutes: all 600 + a neighbour
    const spike: Profile = { bucketSeconds: 60, arrivals: [10, 10, 600, 10, 10] };
    const r = replay(spike, { scale: 1, compress: 1, journeySeconds: 120, headroom: 2 });
    expect(r.concurrency).toBeCloseTo(610, 9);
    expect(r.scenario.maxVUs).toBe(1220);
    expect(slidingWindowMax([1, 2, 3], 1.5)).toBeCloseTo(4, 9);
    // the default journey comes from the behaviour model and grows with slower (less compressed) replays
    const a = replay(profile, { scale: 0.0005, compress: 252 });
    const b = replay(profile, { scale: 0.0005, compress: 60 });
    expect(a.journeySeconds).toBeGreaterThan(0);
    expect(b.journeySeconds).toBeGreaterThan(a.journeySeconds);
    expect(a.scenario.maxVUs).toBeGreaterThanOrEqual(a.scenario.preAllocatedVUs);
  });

  it('windows per-second profiles in minutes', () => {
    const spike = openingSpike(profile);
    const r = replay(spike, {
      scale: 0.01,
      compress: 1,
      window: { fromMinute: 2, toMinute: 3 },
      journeySeconds: 5,
    });
    expect(r.total).toBeCloseTo(800, 6);
    expect(r.durationSeconds).toBe(60);
    expect(Math.abs(r.peakPerSecond - 26.667)).toBeLessThan(0.011); // whole arrivals per second
  });

  it('refuses impossible knobs with what was expected', () => {
    const o = { scale: 0.1, compress: 60, journeySeconds: 1 };
    expect(() => replay(profile, { ...o, scale: 2 })).toThrow(/scale: expected a share in \(0, 1\], got 2/);
    expect(() => replay(profile, { ...o, compress: 0.5 })).toThrow(/compress: expected a factor >= 1/);
    // 60 s / 7000 = 8.57 ms: whole milliseconds would stretch time by 5 %
    expect(() => replay(profile, { ...o, compress: 7000 })).toThrow(/whole milliseconds/);
    expect(() => replay(profile, { ...o, window: { fromMinute: 10, toMinute: 5 } })).toThrow(/window/);
    expect(() => replay(profile, { ...o, window: { fromMinute: 0, toMinute: 2000 } })).not.toThrow();
    expect(() => replay(profile, { ...o, headroom: 0.5 })).toThrow(/headroom/);
  });

  it('reads the durations it writes', () => {
    expect(durationMs('0s')).toBe(0);
    expect(durationMs('238ms')).toBe(238);
    expect(durationMs('1m30s')).toBe(90_000);
    expect(() => durationMs('soon')).toThrow(/duration/);
  });
});
