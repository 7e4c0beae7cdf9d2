import { describe, expect, it } from 'vitest';
import { OPEN_MS, SimBreaker } from './breaker.ts';

/** The simulator's breaker against the rules of mock-services/registration/breaker.ts, call by call. */
describe("a ministry's circuit breaker", () => {
  it('opens once half of at least ten calls failed, refuses until its time is up, then lets one probe through', () => {
    const b = new SimBreaker();
    // Nine calls, all failed: too few to decide.
    for (let i = 0; i < 9; i++) b.ended(false, true, i);
    expect(b.admit(9)).toEqual({ probe: false });
    // The tenth: 10 of 10 failed.
    b.ended(false, true, 10);
    expect(b.admit(10)).toEqual({ refusedForMs: OPEN_MS });
    expect(b.admit(10 + OPEN_MS - 1)).toEqual({ refusedForMs: 1 });
    // Half-open: one probe; the others asked again in a second meanwhile.
    expect(b.admit(10 + OPEN_MS)).toEqual({ probe: true });
    expect(b.admit(10 + OPEN_MS + 5)).toEqual({ refusedForMs: 1000 });
    // A late answer to a call admitted while closed changes nothing.
    b.ended(false, false, 10 + OPEN_MS + 6);
    expect(b.admit(10 + OPEN_MS + 7)).toEqual({ refusedForMs: 1000 });
    // The probe fails: open again, from now.
    b.ended(true, true, 6000);
    expect(b.admit(6000)).toEqual({ refusedForMs: OPEN_MS });
    expect(b.admit(6000 + OPEN_MS)).toEqual({ probe: true });
    // It succeeds: closed, with a fresh window (nine failures do not open it again).
    b.ended(true, false, 11_100);
    for (let i = 0; i < 9; i++) b.ended(false, true, 11_200 + i);
    expect(b.admit(11_300)).toEqual({ probe: false });
  });

  it('counts the last twenty calls only, and opens at exactly half', () => {
    const b = new SimBreaker();
    // 20 successes, then failures: the window slides, and opens when 10 of the last 20 failed.
    for (let i = 0; i < 20; i++) b.ended(false, false, i);
    for (let i = 0; i < 9; i++) b.ended(false, true, 20 + i);
    expect(b.isOpen(29)).toBe(false);
    b.ended(false, true, 29);
    expect(b.isOpen(29)).toBe(true);
    // 9 failures among 19 calls (one below half) keep it closed.
    const c = new SimBreaker();
    for (let i = 0; i < 10; i++) c.ended(false, false, i);
    for (let i = 0; i < 9; i++) c.ended(false, true, 10 + i);
    expect(c.isOpen(19)).toBe(false);
  });
});
