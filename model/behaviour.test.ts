import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  attemptOutcome,
  type BehaviourModel,
  backoffSeconds,
  CALIBRATION_2020,
  CalibrationError,
  calibrate,
  DEFAULT_MODEL,
  DEFAULT_SPLIT,
  decide,
  delayCdf,
  expectedFunnel,
  expectedJourneySeconds,
  FAILURE_TIMING_2020,
  meanDelayMinutes,
  normalCdf,
  parseLossSplit,
  RETRY_POLICY,
  roundModel,
  sampleDelayMinutes,
  TARGETS_2020,
  thinkSampler,
} from './behaviour.ts';
import { COUNTS_2020, LATER_STAGES, type LaterStage, STAGES, type Stage } from './funnel.ts';
import { constantProfile, parseProfileCsv } from './profile.ts';
import { createRng, rngFor } from './random.ts';
import { SLOS } from './slo.ts';

const profile = parseProfileCsv(
  readFileSync(new URL('../scenarios/profiles/registration-day-2020.csv', import.meta.url), 'utf8'),
);
const W = 21 * 60;
const counted = ['registered', 'email_verified', 'biodata_verified', 'joined_wave'] as const;

describe('the calibrated default model', () => {
  it('reproduces the docs/2020.md counts at hour 21 within 0.5 %', () => {
    const f = expectedFunnel(profile, DEFAULT_MODEL, W, FAILURE_TIMING_2020);
    for (const stage of counted) {
      const fact = COUNTS_2020[stage] as number;
      expect(Math.abs(f.reached[stage] - fact) / fact, stage).toBeLessThan(0.005);
    }
  });

  it('is what calibration gives for the default split (the stored constants are not hand-tuned)', () => {
    const fresh = calibrate(profile);
    expect(roundModel(fresh)).toEqual(DEFAULT_MODEL);
    // unrounded, calibration hits every target (the assumed photo and test counts too) almost exactly
    const f = expectedFunnel(profile, fresh, W, FAILURE_TIMING_2020);
    for (const stage of STAGES) expect(f.reached[stage]).toBeCloseTo(TARGETS_2020[stage], 0);
  });

  it('divides each stage’s loss as the stated split says', () => {
    const f = expectedFunnel(profile, DEFAULT_MODEL, W, FAILURE_TIMING_2020);
    let before = f.reached.registered;
    for (const stage of LATER_STAGES) {
      const o = f.outcomes[stage];
      // everyone who reached the stage before is accounted for, once
      expect(o.continued + o.left_by_choice + o.in_progress + o.failed + o.rejected).toBeCloseTo(before, 3);
      const loss = before - o.continued;
      const split = DEFAULT_SPLIT[stage];
      expect(o.left_by_choice / loss).toBeCloseTo(split.leftByChoice, 2);
      expect(o.in_progress / loss).toBeCloseTo(split.inProgress, 2);
      expect(o.failed / loss).toBeCloseTo(split.failed, 2);
      expect(o.rejected / loss).toBeCloseTo(split.rejected, 2);
      before = o.continued;
    }
  });

  it('calibrates the stated assumptions for photo and test, which have no published count', () => {
    expect(COUNTS_2020.photo_uploaded).toBeNull();
    expect(TARGETS_2020.photo_uploaded).toBe(Math.round(624_090 * 0.4));
    expect(TARGETS_2020.assessment_done).toBe(Math.round(TARGETS_2020.photo_uploaded * 0.35));
    expect(DEFAULT_MODEL.assessment_done.delay.minMinutes).toBe(15); // the ~15-minute test
  });
});

describe('the split is a knob', () => {
  it('“all the loss at email verification was the system’s”: no choice, a higher failure rate, same counts', () => {
    const split = {
      ...DEFAULT_SPLIT,
      email_verified: { leftByChoice: 0, inProgress: 0.25, failed: 0.75, rejected: 0 },
    };
    const model = calibrate(profile, { ...CALIBRATION_2020, split });
    expect(model.email_verified.leave).toBe(0);
    expect(model.email_verified.fail).toBeGreaterThan(DEFAULT_MODEL.email_verified.fail * 1.5);
    // the failure rate is what the mocks must produce: failed attempts over all attempts
    const f = expectedFunnel(profile, model, W, FAILURE_TIMING_2020);
    const o = f.outcomes.email_verified;
    expect(o.failed / (o.failed + o.continued + o.rejected)).toBeCloseTo(model.email_verified.fail, 9);
    expect(o.failed).toBeCloseTo(0.75 * (1_432_133 - 1_063_028), -1);
    for (const stage of counted) {
      expect(
        Math.abs(f.reached[stage] - (COUNTS_2020[stage] as number)) / (COUNTS_2020[stage] as number),
      ).toBeLessThan(0.005);
    }
  });

  it('more still in progress means slower registrants (a longer median delay)', () => {
    const split = {
      ...DEFAULT_SPLIT,
      email_verified: { leftByChoice: 0.1, inProgress: 0.6, failed: 0.3, rejected: 0 },
    };
    const model = calibrate(profile, { ...CALIBRATION_2020, split });
    expect(model.email_verified.delay.median).toBeGreaterThan(DEFAULT_MODEL.email_verified.delay.median * 2);
  });

  it('refuses a split that does not add up, a target above the stage before, and an impossible floor', () => {
    const bad = {
      ...DEFAULT_SPLIT,
      email_verified: { leftByChoice: 0.5, inProgress: 0.5, failed: 0.5, rejected: 0 },
    };
    expect(() => calibrate(profile, { ...CALIBRATION_2020, split: bad })).toThrow(CalibrationError);
    expect(() => calibrate(profile, { ...CALIBRATION_2020, split: bad })).toThrow(
      /email_verified: the split/,
    );
    const targets = { ...TARGETS_2020, biodata_verified: 2_000_000 };
    expect(() => calibrate(profile, { ...CALIBRATION_2020, targets })).toThrow(
      /biodata_verified: expected a target/,
    );
    const noProgress = {
      ...DEFAULT_SPLIT,
      assessment_done: { leftByChoice: 0.5, inProgress: 0, failed: 0.5, rejected: 0 },
    };
    expect(() => calibrate(profile, { ...CALIBRATION_2020, split: noProgress })).toThrow(
      /unavoidably in progress/,
    );
    expect(() => calibrate(constantProfile({ perMinute: 10, minutes: 10 }))).toThrow(
      /registered: the profile brings 100/,
    );
  });
});

describe('the failure timing', () => {
  const early = { email_verified: [1, 1, ...new Array<number>(19).fill(0)] };

  it('fails the same share, but early: those who get past are later, and more are on the way at hour 21', () => {
    const even = expectedFunnel(profile, DEFAULT_MODEL, W);
    const f = expectedFunnel(profile, DEFAULT_MODEL, W, early);
    const o = f.outcomes.email_verified;
    expect(o.failed / (o.failed + o.continued + o.rejected)).toBeCloseTo(
      DEFAULT_MODEL.email_verified.fail,
      9,
    );
    expect(o.failed).toBeCloseTo(even.outcomes.email_verified.failed, 3);
    // the next stage starts from the same count, later in the day
    expect(f.reached.email_verified).toBeCloseTo(even.reached.email_verified, 3);
    const inProgress = (x: typeof f) =>
      x.outcomes.biodata_verified.in_progress /
      (x.reached.email_verified - x.outcomes.biodata_verified.left_by_choice);
    expect(inProgress(f)).toBeGreaterThan(inProgress(even) + 0.01);
  });

  it('and calibration answers with quicker registrants, so that the split still holds', () => {
    const model = calibrate(profile, { ...CALIBRATION_2020, failureTiming: early });
    const even = calibrate(profile, { ...CALIBRATION_2020, failureTiming: {} });
    expect(model.email_verified).toEqual(even.email_verified);
    expect(model.biodata_verified.delay.median).toBeLessThan(even.biodata_verified.delay.median);
    const f = expectedFunnel(profile, model, W, early);
    for (const stage of STAGES) expect(f.reached[stage]).toBeCloseTo(TARGETS_2020[stage], 0);
    const o = f.outcomes.biodata_verified;
    const loss = f.reached.email_verified - o.continued;
    expect(o.in_progress / loss).toBeCloseTo(DEFAULT_SPLIT.biodata_verified.inProgress, 2);
  });

  it('refuses a timing that would fail every attempt of an hour', () => {
    const split = {
      ...DEFAULT_SPLIT,
      email_verified: { leftByChoice: 0, inProgress: 0.25, failed: 0.75, rejected: 0 },
    };
    expect(() =>
      calibrate(profile, {
        ...CALIBRATION_2020,
        split,
        // all of it in the last hour, which carries a few per cent of the attempts
        failureTiming: { email_verified: [...new Array<number>(20).fill(0), 1] },
      }),
    ).toThrow(/email_verified: the failure timing asks the system to fail every attempt/);
  });
});

describe('the expected funnel', () => {
  it('agrees with a seeded simulation of individual registrants (decide + attemptOutcome)', () => {
    const scale = 0.01;
    const reached: Record<Stage, number> = {
      registered: 0,
      email_verified: 0,
      biodata_verified: 0,
      photo_uploaded: 0,
      assessment_done: 0,
      joined_wave: 0,
    };
    let index = 0;
    let arrivals = 0;
    profile.arrivals.forEach((a, minute) => {
      const n = Math.round(a * scale);
      for (let k = 0; k < n; k++) {
        const rng = rngFor(2020, index++);
        let t = minute + rng();
        arrivals++;
        reached.registered++;
        for (const stage of LATER_STAGES) {
          const d = decide(stage, rng);
          if (d.outcome === 'left_by_choice') break;
          t += d.delayMinutes;
          if (t >= W) break;
          if (attemptOutcome(stage, rng) !== 'continued') break;
          reached[stage]++;
        }
      }
    });
    const f = expectedFunnel(profile, DEFAULT_MODEL, W);
    const k = arrivals / f.reached.registered;
    for (const stage of STAGES) {
      const expected = f.reached[stage] * k;
      // four binomial standard deviations plus 1 % for the one-minute grid of the exact computation
      const sd = Math.sqrt(expected * (1 - expected / arrivals));
      expect(Math.abs(reached[stage] - expected), stage).toBeLessThan(4 * sd + 0.01 * expected);
    }
  });

  it('grows with the window (fewer in progress) and counts only arrivals within it', () => {
    const short = expectedFunnel(profile, DEFAULT_MODEL, 60);
    const day = expectedFunnel(profile, DEFAULT_MODEL, W);
    const week = expectedFunnel(profile, DEFAULT_MODEL, 5 * 24 * 60);
    expect(short.reached.registered).toBe(profile.arrivals.slice(0, 60).reduce((a, b) => a + b, 0));
    expect(week.reached.registered).toBe(day.reached.registered);
    for (const stage of LATER_STAGES) {
      expect(day.reached[stage]).toBeGreaterThan(short.reached[stage]);
      expect(week.reached[stage]).toBeGreaterThan(day.reached[stage]);
      expect(week.outcomes[stage].in_progress).toBeLessThan(day.outcomes[stage].in_progress);
    }
    expect(() => expectedFunnel(profile, DEFAULT_MODEL, 0)).toThrow(/windowMinutes/);
  });

  it('with no delays, no leaving and no failures, everyone who arrives goes through', () => {
    const model = Object.fromEntries(
      LATER_STAGES.map((s) => [
        s,
        { leave: 0, fail: 0, reject: 0, delay: { minMinutes: 0, median: 0.01, p90: 0.02 } },
      ]),
    ) as BehaviourModel;
    const f = expectedFunnel(constantProfile({ perMinute: 100, minutes: 30 }), model, 30);
    for (const stage of STAGES) expect(f.reached[stage]).toBeCloseTo(3000, 6);
  });
});

describe('per-registrant decisions', () => {
  it('are reproducible from a seed and compress the think time by the replay’s factor', () => {
    const a = decide('email_verified', rngFor(7, 1234), { compress: 252 });
    const b = decide('email_verified', rngFor(7, 1234), { compress: 252 });
    expect(a).toEqual(b);
    const c = decide('email_verified', rngFor(7, 1234), { compress: 1 });
    if (a.outcome === 'attempt' && c.outcome === 'attempt') {
      expect(a.delayMinutes).toBe(c.delayMinutes);
      expect(a.thinkSeconds).toBeCloseTo((c.delayMinutes * 60) / 252, 9);
    } else {
      expect(a.outcome).toBe(c.outcome);
    }
  });

  it('are decide’s exactly when worked out once per stage (the simulator’s way), the stream left where decide leaves it', () => {
    const model = { ...DEFAULT_MODEL, joined_wave: { ...DEFAULT_MODEL.joined_wave, leave: 0.5 } };
    const think = thinkSampler({ model, compress: 37 });
    let left = 0;
    for (let k = 0; k < 2_000; k++) {
      for (const stage of LATER_STAGES) {
        const a = rngFor(5, k, 1);
        const b = rngFor(5, k, 1);
        const d = decide(stage, a, { model, compress: 37 });
        const t = think(stage, b);
        if (d.outcome === 'left_by_choice') {
          left++;
          expect(t).toBe(-1);
        } else expect(t).toBe(d.thinkSeconds);
        expect(b()).toBe(a());
      }
    }
    // Both branches taken many times (joined_wave leaves half the time).
    expect(left).toBeGreaterThan(1_000);
    expect(left).toBeLessThan(10_000 - 1_000);
  });

  it('leave, fail and reject at the model’s rates', () => {
    const rng = createRng(99);
    const n = 20_000;
    let left = 0;
    let failed = 0;
    let rejected = 0;
    for (let i = 0; i < n; i++) {
      if (decide('biodata_verified', rng).outcome === 'left_by_choice') left++;
      const o = attemptOutcome('biodata_verified', rng);
      if (o === 'failed') failed++;
      if (o === 'rejected') rejected++;
    }
    const m = DEFAULT_MODEL.biodata_verified;
    expect(left / n).toBeCloseTo(m.leave, 1);
    expect(Math.abs(left / n - m.leave)).toBeLessThan(0.01);
    expect(Math.abs(failed / n - m.fail)).toBeLessThan(0.015);
    expect(Math.abs(rejected / n - m.reject)).toBeLessThan(0.012);
  });

  it('draw delays with the stated floor, median and p90', () => {
    const d = { minMinutes: 15, median: 10, p90: 40 };
    expect(delayCdf(d, 15)).toBe(0);
    expect(delayCdf(d, 25)).toBeCloseTo(0.5, 6);
    expect(delayCdf(d, 55)).toBeCloseTo(0.9, 6);
    expect(normalCdf(1.6448536)).toBeCloseTo(0.95, 6);
    const rng = createRng(3);
    const xs = Array.from({ length: 20_000 }, () => sampleDelayMinutes(d, rng)).sort((a, b) => a - b);
    expect(xs[0]).toBeGreaterThan(15);
    expect(Math.abs((xs[10_000] as number) - 25) / 25).toBeLessThan(0.05);
    expect(Math.abs((xs[18_000] as number) - 55) / 55).toBeLessThan(0.05);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(mean - meanDelayMinutes(d)) / meanDelayMinutes(d)).toBeLessThan(0.05);
  });
});

describe('retries and journey time', () => {
  it('back off exponentially up to the cap, with the stated jitter', () => {
    const none = { ...RETRY_POLICY, jitter: 'none' as const };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoffSeconds(none, a, createRng(1)))).toEqual([
      2, 4, 8, 16, 30, 30,
    ]);
    const rng = createRng(5);
    for (let a = 1; a <= 6; a++) {
      const cap = Math.min(30, 2 * 2 ** (a - 1));
      const full = backoffSeconds(RETRY_POLICY, a, rng);
      expect(full).toBeGreaterThanOrEqual(0);
      expect(full).toBeLessThanOrEqual(cap);
      const equal = backoffSeconds({ ...RETRY_POLICY, jitter: 'equal' }, a, rng);
      expect(equal).toBeGreaterThanOrEqual(cap / 2);
      expect(equal).toBeLessThanOrEqual(cap);
    }
    expect(RETRY_POLICY.attempts).toBeGreaterThan(1);
  });

  it('expects a journey of compressed think times plus requests at their SLO, weighted by reach', () => {
    // everyone leaves before the email: the journey is the account creation alone
    const gone = Object.fromEntries(
      LATER_STAGES.map((s) => [
        s,
        { leave: 1, fail: 0, reject: 0, delay: { minMinutes: 1, median: 1, p90: 2 } },
      ]),
    ) as BehaviourModel;
    expect(expectedJourneySeconds(gone, 60)).toBeCloseTo(SLOS.create_account.p95Ms / 1000, 9);
    // one stage attempted by everyone, the rest never reached
    const one = {
      ...gone,
      email_verified: { leave: 0, fail: 1, reject: 0, delay: { minMinutes: 2, median: 3, p90: 6 } },
    } as Record<LaterStage, BehaviourModel[LaterStage]>;
    const expected =
      SLOS.create_account.p95Ms / 1000 +
      (meanDelayMinutes(one.email_verified.delay) * 60) / 60 +
      SLOS.verify_email.p95Ms / 1000;
    expect(expectedJourneySeconds(one, 60)).toBeCloseTo(expected, 9);
    expect(expectedJourneySeconds(DEFAULT_MODEL, 60)).toBeGreaterThan(
      expectedJourneySeconds(DEFAULT_MODEL, 252),
    );
  });
});

describe('parseLossSplit', () => {
  it('merges the stages it names over the default split', () => {
    const split = parseLossSplit(
      '{"email_verified":{"leftByChoice":0,"inProgress":0.25,"failed":0.75,"rejected":0}}',
    );
    expect(split.email_verified).toEqual({ leftByChoice: 0, inProgress: 0.25, failed: 0.75, rejected: 0 });
    expect(split.biodata_verified).toEqual(DEFAULT_SPLIT.biodata_verified);
  });

  it('and the calibration honours it: no one leaves email verification by choice', () => {
    const profile = parseProfileCsv(
      readFileSync(new URL('../scenarios/profiles/registration-day-2020.csv', import.meta.url), 'utf8'),
    );
    const split = parseLossSplit(
      '{"email_verified":{"leftByChoice":0,"inProgress":0.25,"failed":0.75,"rejected":0}}',
    );
    const model = calibrate(profile, { ...CALIBRATION_2020, split });
    expect(model.email_verified.leave).toBe(0);
    expect(model.email_verified.fail).toBeGreaterThan(DEFAULT_MODEL.email_verified.fail);
  });

  it.each([
    ['not json', 'LOSS_SPLIT: expected JSON'],
    ['[]', 'expected an object keyed by stage'],
    ['{"emailVerified":{}}', "unknown stage 'emailVerified'"],
    [
      '{"email_verified":{"leftByChoice":0.5,"inProgress":0.5,"failed":0}}',
      'email_verified.rejected: expected a share in [0, 1], got undefined',
    ],
    [
      '{"email_verified":{"leftByChoice":0.5,"inProgress":0.5,"failed":0.5,"rejected":0}}',
      'must add up to 1, got 1.5',
    ],
    [
      '{"email_verified":{"leftByChoice":1,"inProgress":0,"failed":0,"rejected":0,"x":1}}',
      "unknown field 'x'",
    ],
  ])('refuses %s with a message naming the field', (text, message) => {
    expect(() => parseLossSplit(text)).toThrow(message);
  });
});
