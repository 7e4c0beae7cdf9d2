import { describe, expect, it } from 'vitest';
import type { ProbeOutcome, ProbeRecord } from './plan.ts';
import { ADMISSION, type AdmissionSide, searchAdmission } from './plan-admission.ts';

/**
 * The admission search on probes whose answers are known: rates from `lo` to `hi` hold, below
 * `lo` registrants give up waiting, above `hi` the service breaks. No simulation runs here
 * (scripts/commands/plan.test.ts runs it on the simulator).
 */
function known(lo: number, hi: number, log: number[] = []) {
  const sideOf = (rate: number): AdmissionSide => (rate < lo ? 'too_low' : rate > hi ? 'too_high' : 'held');
  return {
    probe: (p: Record<string, number>): ProbeOutcome => {
      const rate = p[ADMISSION] as number;
      log.push(rate);
      const side = sideOf(rate);
      return {
        held: side === 'held',
        grow: [],
        broke:
          side === 'held' ? [] : [side === 'too_low' ? 'registrants failed (waiting_room)' : 'login p95'],
        worst: null,
        failedShare: 0,
        load: {},
      };
    },
    side: (r: ProbeRecord) => sideOf(r.point[ADMISSION] as number),
  };
}

describe('the admission search', () => {
  it('finds the highest rate that holds, the one more that broke, and the least that holds', () => {
    for (const [lo, hi, noWait] of [
      [9, 23, 400],
      [1, 1, 50],
      [1, 37, 38],
      [120, 121, 1000],
      [300, 999, 1000],
    ] as const) {
      const log: number[] = [];
      const r = searchAdmission({ noWaitRate: noWait, maxProbes: 60, ...known(lo, hi, log) });
      expect(r.status, `${lo}-${hi}`).toBe('found');
      expect(r.point[ADMISSION]).toBe(hi);
      expect(r.minimal).toBe(true);
      expect(r.noWait).toBe(false);
      expect(r.oneMore?.point[ADMISSION]).toBe(hi + 1);
      expect(r.least).toBe(lo);
      // bisection: a few probes per power of two, not one per rate
      expect(log.length).toBeLessThanOrEqual(3 * Math.ceil(Math.log2(noWait)) + 2);
      expect(new Set(log).size).toBe(log.length);
    }
  });

  it('says the room is not needed when keeping up with arrivals holds, and refuses when no rate holds', () => {
    const none = searchAdmission({ noWaitRate: 30.2, maxProbes: 60, ...known(5, 80) });
    expect(none.status).toBe('found');
    expect(none.noWait).toBe(true);
    expect(none.point[ADMISSION]).toBe(31);
    expect(none.probes).toHaveLength(1);

    // The range is empty: at 40 they give up, at 41 the service breaks.
    const empty = searchAdmission({ noWaitRate: 500, maxProbes: 60, ...known(41, 40) });
    expect(empty.status).toBe('unreachable');
    expect(empty.reason).toMatch(
      /^no rate holds: at 40\/s registrants give up waiting .* at 41\/s the service breaks/,
    );

    const broken = searchAdmission({ noWaitRate: 500, maxProbes: 60, ...known(1, 0) });
    expect(broken.status).toBe('unreachable');
    expect(broken.reason).toMatch(/even at 1 admission a second/);

    const tooFew = searchAdmission({ noWaitRate: 20, maxProbes: 60, ...known(50, 80) });
    expect(tooFew.status).toBe('unreachable');
    expect(tooFew.reason).toMatch(/gave up in the waiting room even at 20\/s, at which the room keeps up/);
  });

  it('stops at --max-probes and says the result is not shown to be the highest', () => {
    const out = searchAdmission({ noWaitRate: 1000, maxProbes: 1, ...known(9, 23) });
    expect(out.status).toBe('exhausted');
    const short = searchAdmission({ noWaitRate: 1000, maxProbes: 8, ...known(9, 23) });
    expect(short.status).toBe('found');
    expect(short.minimal).toBe(false);
    expect(short.point[ADMISSION] as number).toBeLessThanOrEqual(23);
    expect(short.point[ADMISSION] as number).toBeGreaterThanOrEqual(9);
  });
});
