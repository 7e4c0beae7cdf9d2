import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL, RETRY_POLICY } from '../model/behaviour.ts';
import { parseCapacity } from '../model/capacity.ts';
import { constantProfile } from '../model/profile.ts';
import { parseServiceKnobs } from '../model/service-design.ts';
import { Arrivals } from './arrivals.ts';
import { loadCalibration } from './calibration.ts';
import { type DayOptions, simulateDay } from './day.ts';
import { simulatedRecord } from './record.ts';

const { $comment: _, ...defaults } = JSON.parse(
  readFileSync(new URL('../mock-services/capacity.default.json', import.meta.url), 'utf8'),
);

function options(o: { perMinute: number; minutes: number; knobs?: Record<string, string> }): DayOptions {
  return {
    profile: constantProfile({ perMinute: o.perMinute, minutes: o.minutes }),
    scale: 1,
    compress: 1,
    thinkCompress: 2000,
    capacity: parseCapacity(structuredClone(defaults), 'capacity.default.json'),
    knobs: parseServiceKnobs({ SCRYPT_N: '1024', ...o.knobs }, 'test'),
    cores: 8,
    calibration: loadCalibration(),
    cpuStretch: 1,
    seed: 7,
    model: DEFAULT_MODEL,
    retry: RETRY_POLICY,
    minorShare: 0.02,
    ineligibleShare: 0.1,
    mailWaitS: 60,
    // long enough for the line left at the window's end to be admitted
    gracefulStopS: 900,
    maxVUs: Number.POSITIVE_INFINITY,
    photoBytes: 289_040,
    intervalSeconds: 10,
  };
}

const record = (day: DayOptions) =>
  simulatedRecord(
    {
      runId: 'test',
      engineVersion: '0',
      profileFile: 'constant',
      serviceProfile: '2020',
      knobs: {},
      calibrationSource: 'default',
      overrides: {},
      day,
    },
    simulateDay(day),
  );

const funnel = (r: ReturnType<typeof record>, stage: string, outcome: string, reason?: string) =>
  r.manifest.totals.funnel
    .filter(
      (f) => f.stage === stage && f.outcome === outcome && (reason === undefined || f.reason === reason),
    )
    .reduce((a, f) => a + f.count, 0);

describe('the waiting room (ADMISSION_RATE)', () => {
  it('admits in arrival order at the rate, and the last one waits the backlog over the rate', () => {
    // 10 arrivals a second for 5 minutes against 5 admissions a second: the line grows by 5 a second.
    const rate = 5;
    const perMinute = 600;
    const minutes = 5;
    const first = new Map<number, { turn: number; at: number }>();
    let admissions = 0;
    const day: DayOptions = {
      ...options({ perMinute, minutes, knobs: { ADMISSION_RATE: String(rate) } }),
      onAdmitted: (arrival, turn, at) => {
        admissions++;
        if (!first.has(arrival)) first.set(arrival, { turn, at });
      },
    };
    const r = record(day);
    const n = perMinute * minutes;
    expect(r.manifest.totals.arrivals).toBe(n);
    // Every registrant was admitted, none gave up.
    expect(first.size).toBe(n);
    expect(funnel(r, 'registered', 'failed', 'waiting_room')).toBe(0);
    expect(funnel(r, 'registered', 'continued')).toBe(n);

    const arrivalsAt: number[] = [];
    const plan = new Arrivals(day.profile, { scale: 1, compress: 1 });
    for (let t = plan.next(); t !== undefined; t = plan.next()) arrivalsAt.push(t);
    expect(arrivalsAt.length).toBe(n);

    // Turns in arrival order, 1/rate apart once the line formed; nobody admitted before their turn,
    // and back within a second of it (Retry-After is the seconds to the turn, rounded up).
    const byArrival = [...first.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
    const stepMs = 1000 / rate;
    let inLine = 0;
    for (let k = 1; k < n; k++) {
      const prev = byArrival[k - 1] as { turn: number };
      const cur = byArrival[k] as { turn: number; at: number };
      expect(cur.turn).toBeGreaterThanOrEqual(prev.turn + stepMs - 1e-6);
      if (cur.turn > (arrivalsAt[k] as number) + 1) inLine++;
      expect(cur.at).toBeGreaterThanOrEqual(cur.turn);
      expect(cur.at - cur.turn).toBeLessThan(1000 + 100);
    }
    expect(inLine).toBeGreaterThan(n / 2);

    // Turns never exceed the rate in any second; admissions lag their turns by under a second, so
    // over any span of whole seconds they stay within the rate plus that one second's worth.
    const bySecond = (xs: number[]) => {
      const c = new Map<number, number>();
      for (const x of xs) c.set(Math.floor(x / 1000), (c.get(Math.floor(x / 1000)) ?? 0) + 1);
      return c;
    };
    const turns = bySecond(byArrival.map((v) => v.turn));
    expect(Math.max(...turns.values())).toBeLessThanOrEqual(rate);
    const admitted = bySecond(byArrival.map((v) => v.at));
    const last = Math.max(...admitted.keys());
    let cumulative = 0;
    for (let s = 0; s <= last; s++) {
      cumulative += admitted.get(s) ?? 0;
      const firstTurnS = (byArrival[0] as { turn: number }).turn / 1000;
      expect(cumulative).toBeLessThanOrEqual(Math.floor((s + 1 - firstTurnS) * rate) + 1);
    }
    // While the line lasted the room admitted at the rate: the busy seconds average it.
    const busy = [...admitted.entries()].filter(([s]) => s > 10 && s < last - 10).map(([, c]) => c);
    expect(busy.reduce((a, c) => a + c, 0) / busy.length).toBeCloseTo(rate, 0);

    // The last one's wait: the line ahead of it when it came, over the rate.
    const lastArrival = n - 1;
    const arrivedAt = arrivalsAt[lastArrival] as number;
    const ahead = n - 1 - byArrival.filter((v) => v.turn <= arrivedAt).length;
    const expectedS = ahead / rate;
    const waitedS = ((byArrival[lastArrival] as { at: number }).at - arrivedAt) / 1000;
    expect(expectedS).toBeGreaterThan(200);
    // within one poll interval (a minute) of it; in fact within the second the rounding up adds
    expect(Math.abs(waitedS - expectedS)).toBeLessThan(60);
    expect(Math.abs(waitedS - expectedS)).toBeLessThan(1 + 1 / rate + 0.1);

    // The room's answers are requests of create_account that did not fail: about one a minute of
    // waiting per registrant. An admitted sign-up that failed (the mail's injected errors) keeps its
    // ticket and is admitted again on its retry, so admissions beyond one each are failed requests.
    const signUp = r.manifest.totals.steps.find((s) => s.step === 'create_account');
    expect(signUp?.requests).toBeGreaterThan(n + n * 2);
    expect(admissions - n).toBeLessThanOrEqual(signUp?.failed ?? 0);
    expect(signUp?.failed ?? 0).toBeLessThan(n / 100);
  });

  it('fails a registrant with reason waiting_room after half an hour in line', () => {
    // 1 admission a second against 20 arrivals a second for 3 minutes: the last in line would wait
    // almost an hour.
    const day: DayOptions = {
      ...options({ perMinute: 1200, minutes: 3, knobs: { ADMISSION_RATE: '1' } }),
      gracefulStopS: 3600,
    };
    const r = record(day);
    const n = 1200 * 3;
    const gaveUp = funnel(r, 'registered', 'failed', 'waiting_room');
    const admitted = funnel(r, 'registered', 'continued');
    expect(gaveUp).toBeGreaterThan(0);
    expect(admitted + gaveUp).toBe(n);
    // Admitted: those whose turn (the k-th a second after the first arrival's) came by the last look,
    // 30 minutes after they arrived; the first look after that fails them.
    const plan = new Arrivals(day.profile, { scale: 1, compress: 1 });
    const t0 = plan.next() as number;
    let expected = 1;
    for (let k = 1, t = plan.next(); t !== undefined; k++, t = plan.next())
      if (t0 + k * 1000 <= t + 1_800_000) expected++;
    expect(expected).toBeGreaterThan(1800);
    expect(Math.abs(admitted - expected)).toBeLessThanOrEqual(2);
  });

  it('with ADMISSION_RATE=0 the record is byte for byte the one without the knob', () => {
    const without = JSON.stringify(record(options({ perMinute: 1200, minutes: 3 })));
    const zero = JSON.stringify(
      record(options({ perMinute: 1200, minutes: 3, knobs: { ADMISSION_RATE: '0' } })),
    );
    const on = JSON.stringify(
      record(options({ perMinute: 1200, minutes: 3, knobs: { ADMISSION_RATE: '5' } })),
    );
    expect(zero).toBe(without);
    expect(on).not.toBe(without);
  });
});
