import { describe, expect, it } from 'vitest';
import {
  describeFault,
  type FaultEntry,
  FaultScheduleError,
  faultedStation,
  meanRate,
  parseChaos,
  parseDuration,
  parseFaultSchedule,
  planFaults,
  runDuration,
  runSecondOf,
  scheduleProblem,
} from './faults.ts';
import type { Station } from './station.ts';

const parse = (faults: unknown[]) => parseFaultSchedule({ faults }, 'faults.yaml');
const refusal = (faults: unknown[]) => {
  try {
    parse(faults);
  } catch (err) {
    expect(err).toBeInstanceOf(FaultScheduleError);
    return (err as Error).message;
  }
  throw new Error('expected the schedule to be refused');
};

describe('fault schedule file', () => {
  it('reads every kind of fault, durations in profile seconds', () => {
    const entries = parse([
      { at: 12, dependency: 'dukcapil', down: '60s' },
      { at: 20, dependency: 'email', slow: 0.1, for: '5m' },
      { at: 30, dependency: 'upload', errorRate: 0.5, errorStatus: 502, for: '1m30s' },
      { at: 40, kill: 'registration' },
      { at: 45, kill: 'registration', restartAfter: '2m' },
    ]);
    expect(entries).toEqual([
      { kind: 'down', at: 12, origin: 'faults.yaml: faults[0]', dependency: 'dukcapil', forSeconds: 60 },
      {
        kind: 'slow',
        at: 20,
        origin: 'faults.yaml: faults[1]',
        dependency: 'email',
        factor: 0.1,
        forSeconds: 300,
      },
      {
        kind: 'errorRate',
        at: 30,
        origin: 'faults.yaml: faults[2]',
        dependency: 'upload',
        errorRate: 0.5,
        errorStatus: 502,
        forSeconds: 90,
      },
      {
        kind: 'kill',
        at: 40,
        origin: 'faults.yaml: faults[3]',
        service: 'registration',
        restartAfterSeconds: 0,
      },
      {
        kind: 'kill',
        at: 45,
        origin: 'faults.yaml: faults[4]',
        service: 'registration',
        restartAfterSeconds: 120,
      },
    ]);
  });

  it('reads durations as the scenarios write them, and refuses a bare number', () => {
    expect(parseDuration('500ms')).toBe(0.5);
    expect(parseDuration('1h2m3s')).toBe(3723);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('5')).toBeUndefined();
    expect(parseDuration(5)).toBeUndefined();
    expect(parseDuration('60 s')).toBeUndefined();
    expect(parseDuration('1m soon')).toBeUndefined();
  });

  it.each([
    [
      [{ at: 1, dependency: 'email', slow: 0.1, for: 'soon' }],
      "faults.yaml: faults[0].for: expected a duration like 60s, 5m or 1m30s, got 'soon'",
    ],
    [
      [{ at: 1, dependency: 'dukcapil', down: 60 }],
      'faults.yaml: faults[0].down: expected a duration like 60s, 5m or 1m30s, got 60',
    ],
    [
      [{ at: 1, dependency: 'email', slow: 0.1 }],
      'faults.yaml: faults[0].for: expected a duration like 60s, 5m or 1m30s, got nothing',
    ],
    [
      [{ at: 1, dependency: 'ktp', down: '1m' }],
      "faults.yaml: faults[0].dependency: expected one of dukcapil, dapodik, dtks, email, upload (the capacity file's stations), got 'ktp'",
    ],
    [
      [{ at: 'noon', dependency: 'dukcapil', down: '1m' }],
      "faults.yaml: faults[0].at: expected a profile minute (a number >= 0), got 'noon'",
    ],
    [
      [{ at: -3, dependency: 'dukcapil', down: '1m' }],
      'faults.yaml: faults[0].at: expected a profile minute >= 0, got -3',
    ],
    [
      [{ at: 1, dependency: 'email', slow: 1, for: '1m' }],
      "faults.yaml: faults[0].slow: expected a share of the dependency's rate in (0, 1), got 1",
    ],
    [
      [{ at: 1, dependency: 'email', errorRate: 1.5, for: '1m' }],
      'faults.yaml: faults[0].errorRate: expected a share of requests in (0, 1], got 1.5',
    ],
    [
      [{ at: 1, dependency: 'email', errorRate: 0.5, errorStatus: 404, for: '1m' }],
      'faults.yaml: faults[0].errorStatus: expected 500, 502, 503 or 504, got 404',
    ],
    [
      [{ at: 1, dependency: 'email', down: '0s' }],
      'faults.yaml: faults[0].down: expected a duration above 0s',
    ],
    [
      [{ at: 1, kill: 'ministry' }],
      "faults.yaml: faults[0].kill: expected registration (a mock's restart would lose its faults), got 'ministry'",
    ],
    [
      [{ at: 1, dependency: 'dukcapil', down: '1m', reason: 'x' }],
      "faults.yaml: faults[0]: unknown key 'reason'",
    ],
    [
      [{ at: 1, dependency: 'dukcapil', down: '1m', slow: 0.5 }],
      'faults.yaml: faults[0]: down and slow in one entry',
    ],
    [
      [{ at: 1, dependency: 'dukcapil' }],
      'faults.yaml: faults[0]: expected one of the keys down, slow, errorRate',
    ],
    [
      [{ at: 1, dependency: 'dukcapil', down: '1m' }, 'dukcapil down'],
      'faults.yaml: faults[1]: expected an entry like',
    ],
  ])('refuses %j naming the entry and the field', (faults, message) => {
    expect(refusal(faults)).toContain(message);
  });

  it('refuses a file that is not { faults: [...] }', () => {
    expect(() => parseFaultSchedule({ fault: [] }, 'f.yaml')).toThrow(
      "f.yaml: unknown key 'fault'; expected only 'faults'",
    );
    expect(() => parseFaultSchedule({ faults: [] }, 'f.yaml')).toThrow('f.yaml: faults: the list is empty');
    expect(() => parseFaultSchedule({ faults: 'x' }, 'f.yaml')).toThrow(
      "f.yaml: faults: expected a list of faults, got 'x'",
    );
    expect(() => parseFaultSchedule(null, 'f.yaml')).toThrow(
      "f.yaml: expected a mapping with a 'faults' list",
    );
  });

  it('reads --chaos kill-service@M as a kill at that profile minute', () => {
    expect(parseChaos('kill-service@40')).toEqual({
      kind: 'kill',
      at: 40,
      origin: '--chaos kill-service@40',
      service: 'registration',
      restartAfterSeconds: 0,
    });
    expect(parseChaos('kill-service@2.5').at).toBe(2.5);
    for (const bad of [
      'kill-service',
      'kill-service@',
      'kill-service@-1',
      'kill-email@3',
      'kill-service@soon',
    ])
      expect(() => parseChaos(bad)).toThrow(
        `--chaos: expected kill-service@MINUTE (a profile minute, e.g. kill-service@40), got '${bad}'`,
      );
  });
});

describe('a schedule against the replay window', () => {
  const window = { fromMinute: 10, toMinute: 70 };

  it('accepts faults within the window, one at a time per target', () => {
    const entries = parse([
      { at: 10, dependency: 'dukcapil', down: '60s' },
      { at: 11, dependency: 'dukcapil', errorRate: 0.2, for: '59m' },
      { at: 11, dependency: 'dapodik', down: '1m' },
      { at: 40, kill: 'registration', restartAfter: '1m' },
      { at: 41, kill: 'registration' },
    ]);
    expect(scheduleProblem(entries, window)).toBeUndefined();
  });

  it('refuses an entry outside the window, naming it and the window', () => {
    expect(scheduleProblem(parse([{ at: 9, dependency: 'dtks', down: '1m' }]), window)).toBe(
      "faults.yaml: faults[0].at: minute 9 is outside the replay's window, profile minutes 10-70",
    );
    expect(scheduleProblem(parse([{ at: 70, kill: 'registration' }]), window)).toContain(
      'faults[0].at: minute 70 is outside',
    );
    expect(scheduleProblem([parseChaos('kill-service@75')], window)).toBe(
      "--chaos kill-service@75: minute 75 is outside the replay's window, profile minutes 10-70",
    );
  });

  it('refuses a fault that runs past the end of the window', () => {
    expect(scheduleProblem(parse([{ at: 60, dependency: 'email', slow: 0.5, for: '11m' }]), window)).toBe(
      "faults.yaml: faults[0].for: from minute 60 it lasts to minute 71, past the end of the replay's window, profile minutes 10-70; shorten it or widen --window",
    );
    expect(scheduleProblem(parse([{ at: 69, kill: 'registration', restartAfter: '2m' }]), window)).toContain(
      'faults[0].restartAfter: from minute 69 it lasts to minute 71',
    );
  });

  it('refuses overlapping faults on one dependency, and two kills at once', () => {
    expect(
      scheduleProblem(
        parse([
          { at: 20, dependency: 'email', down: '5m' },
          { at: 24, dependency: 'email', errorRate: 0.1, for: '1m' },
        ]),
        window,
      ),
    ).toBe(
      'faults.yaml: faults[1]: overlaps faults.yaml: faults[0] on email (minutes 20-25 and 24-25); expected one fault at a time per dependency',
    );
    expect(
      scheduleProblem([...parse([{ at: 30, kill: 'registration' }]), parseChaos('kill-service@30')], window),
    ).toContain('--chaos kill-service@30: overlaps faults.yaml: faults[0] on registration');
  });
});

describe('profile time on the run clock', () => {
  it('maps profile minutes to run seconds under compress and window', () => {
    expect(runSecondOf(12, { fromMinute: 0, compress: 60 })).toBe(12);
    expect(runSecondOf(12, { fromMinute: 10, compress: 60 })).toBe(2);
    expect(runSecondOf(30, { fromMinute: 0, compress: 1 })).toBe(1800);
    expect(runDuration(60, { fromMinute: 0, compress: 60 })).toBe(1);
    expect(runDuration(300, { fromMinute: 0, compress: 300 })).toBe(1);
  });

  it('runs at the rate of the replay, whose buckets are whole milliseconds', () => {
    // 60 s / 252 = 238.095 ms, replayed as 238 ms: minute 100 starts at 23.8 s, not 23.81 s.
    expect(runSecondOf(100, { fromMinute: 0, compress: 252 })).toBeCloseTo(23.8, 9);
    // a per-second profile: each second is 1000 / 60 = 16.67 ms, replayed as 17 ms
    expect(runSecondOf(1, { fromMinute: 0, compress: 60, bucketSeconds: 1 })).toBeCloseTo(1.02, 9);
  });

  it('plans faults in order of start, each with its end', () => {
    const plan = planFaults(
      parse([
        { at: 40, kill: 'registration', restartAfter: '30s' },
        { at: 12, dependency: 'dukcapil', down: '60s' },
      ]),
      { fromMinute: 10, compress: 60 },
    );
    expect(plan.map((p) => [p.entry.kind, p.startSeconds, p.endSeconds])).toEqual([
      ['down', 2, 3],
      ['kill', 30, 30.5],
    ]);
  });
});

describe('the faulted station', () => {
  const station: Station = {
    concurrency: 16,
    queue: 64,
    serviceTime: { distribution: 'lognormal', medianMs: 80, p99Ms: 600 },
    timeoutMs: 5000,
    errorRate: 0.002,
    errorStatus: 500,
    rejectStatus: 429,
    retryAfterSeconds: 2,
  };
  const one = (v: unknown): FaultEntry => parse([v])[0] as FaultEntry;

  it('down answers every request 503 and keeps the rest', () => {
    expect(faultedStation(station, one({ at: 1, dependency: 'dukcapil', down: '1m' }))).toEqual({
      ...station,
      errorRate: 1,
      errorStatus: 503,
    });
  });

  it.each([0.1, 0.5, 0.25, 0.03, 0.9])('slow %f serves exactly that share of the rate', (factor) => {
    const slowed = faultedStation(station, one({ at: 1, dependency: 'dukcapil', slow: factor, for: '1m' }));
    expect(slowed.concurrency).toBeGreaterThanOrEqual(1);
    expect(slowed.concurrency).toBeLessThanOrEqual(station.concurrency);
    // never faster per request than before: the rounding of servers is made up by time, not the reverse
    expect(meanRate(slowed) / meanRate(station)).toBeCloseTo(factor, 9);
    expect(slowed.queue).toBe(station.queue);
  });

  it('slow on one server stretches its service time alone', () => {
    const single: Station = { ...station, concurrency: 1, serviceTime: { distribution: 'constant', ms: 20 } };
    const slowed = faultedStation(single, one({ at: 1, dependency: 'dukcapil', slow: 0.1, for: '1m' }));
    expect(slowed.concurrency).toBe(1);
    expect(slowed.serviceTime).toEqual({ distribution: 'constant', ms: 200 });
  });

  it('errorRate keeps the status unless given', () => {
    expect(
      faultedStation(station, one({ at: 1, dependency: 'dukcapil', errorRate: 0.5, for: '1m' })),
    ).toMatchObject({
      errorRate: 0.5,
      errorStatus: 500,
    });
    expect(
      faultedStation(
        station,
        one({ at: 1, dependency: 'dukcapil', errorRate: 0.5, errorStatus: 502, for: '1m' }),
      ),
    ).toMatchObject({ errorRate: 0.5, errorStatus: 502 });
  });

  it('describes each fault in words', () => {
    expect(describeFault(one({ at: 1, dependency: 'dukcapil', down: '60s' }))).toBe(
      'dukcapil down (503 to every request) for 1 min of profile time',
    );
    expect(describeFault(one({ at: 1, dependency: 'email', slow: 0.1, for: '5m' }))).toBe(
      'email slowed to 10 % of its rate for 5 min of profile time',
    );
    expect(describeFault(parseChaos('kill-service@3'))).toBe('registration killed (SIGKILL) and restarted');
  });
});
