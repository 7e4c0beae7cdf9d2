import { describe, expect, it } from 'vitest';
import {
  breakpointResult,
  checkStaircase,
  levelAt,
  levelThresholds,
  rateOf,
  staircaseStages,
  TIME_UNIT_SECONDS,
} from './breakpoint.ts';
import { stagesIntegral } from './replay.ts';

const stairs = { startRate: 2, stepRate: 1.5, levels: 4, levelSeconds: 20 };

describe('the breakpoint staircase', () => {
  it('holds each level for its length: the stages start exactly the arrivals of the rates', () => {
    const stages = staircaseStages(stairs);
    expect(stages).toHaveLength(8);
    expect(stages.slice(0, 2)).toEqual([
      { target: 200, duration: '0s' },
      { target: 200, duration: '20s' },
    ]);
    const expected = [2, 3.5, 5, 6.5].reduce((a, r) => a + r * 20, 0);
    expect(stagesIntegral({ startRate: 0, timeUnit: `${TIME_UNIT_SECONDS}s`, stages })).toBeCloseTo(
      expected,
      9,
    );
  });

  it('tells the level from the time since the start', () => {
    expect(levelAt(stairs, 0)).toBe(0);
    expect(levelAt(stairs, 19_999)).toBe(0);
    expect(levelAt(stairs, 20_000)).toBe(1);
    expect(levelAt(stairs, 10_000_000)).toBe(3);
    expect(rateOf(stairs, 3)).toBe(6.5);
  });

  it('has thresholds per level and step', () => {
    const t = levelThresholds(stairs, ['create_account']);
    expect(t['http_req_duration{step:create_account,level:3}']).toEqual(['p(95)<=1500']);
    expect(t['http_req_failed{step:create_account,level:0}']).toEqual(['rate<=0.01']);
    expect(Object.keys(t)).toHaveLength(8);
  });

  it('refuses a staircase that cannot run, naming the field', () => {
    expect(() => checkStaircase({ ...stairs, levels: 2.5 })).toThrow(
      'levels: expected a whole number > 0, got 2.5',
    );
    expect(() => checkStaircase({ ...stairs, stepRate: -1 })).toThrow(
      'stepRate: expected a number >= 0, got -1',
    );
  });
});

describe('the highest sustained rate', () => {
  const metric = (count: number, ok: boolean, expr = 'p(95)<=1500') => ({
    values: (expr.startsWith('rate')
      ? { passes: 1, fails: count - 1, rate: 1 / count }
      : { 'p(95)': 100 }) as Record<string, number>,
    thresholds: { [expr]: { ok } },
  });
  const failed = (count: number) => metric(count, true, 'rate<=0.01');
  it('is the top of the unbroken levels that ran to their end', () => {
    const data = {
      state: { testRunDurationMs: 65_000 },
      metrics: {
        'http_req_duration{step:create_account,level:0}': metric(40, true),
        'http_req_failed{step:create_account,level:0}': failed(40),
        'http_req_duration{step:create_account,level:1}': metric(70, true),
        'http_req_failed{step:create_account,level:1}': failed(70),
        'http_req_duration{step:create_account,level:2}': metric(100, false),
        'http_req_failed{step:create_account,level:2}': failed(100),
        'http_req_duration{step:create_account,level:3}': metric(10, true),
        'http_req_failed{step:create_account,level:3}': failed(10),
      },
    };
    const r = breakpointResult(stairs, ['create_account'], data);
    expect(r.sustainedPerSecond).toBe(3.5);
    expect(r.brokeAtPerSecond).toBe(5);
    expect(r.levels[2]?.broken).toEqual(['http_req_duration{step:create_account,level:2} p(95)<=1500']);
    expect(r.levels.map((l) => l.completed)).toEqual([true, true, true, false]);
  });

  it('is none when the first level broke, and a level cut short does not count as held', () => {
    const broken = breakpointResult(stairs, ['create_account'], {
      state: { testRunDurationMs: 30_000 },
      metrics: {
        'http_req_duration{step:create_account,level:0}': metric(40, false),
        'http_req_failed{step:create_account,level:0}': failed(40),
      },
    });
    expect(broken.sustainedPerSecond).toBeNull();
    const cut = breakpointResult(stairs, ['create_account'], {
      state: { testRunDurationMs: 30_000 },
      metrics: {
        'http_req_duration{step:create_account,level:0}': metric(40, true),
        'http_req_failed{step:create_account,level:0}': failed(40),
        'http_req_failed{step:create_account,level:1}': failed(20),
      },
    });
    expect(cut.sustainedPerSecond).toBe(2);
    expect(cut.brokeAtPerSecond).toBeNull();
  });
});
