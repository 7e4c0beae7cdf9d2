import { describe, expect, it } from 'vitest';
import { type BreakerState, type BreakerTicket, CircuitBreaker } from './breaker.ts';

function setup() {
  let t = 0;
  const states: BreakerState[] = [];
  const breaker = new CircuitBreaker(
    {},
    () => t,
    (s) => states.push(s),
  );
  const admit = (): BreakerTicket => {
    const ticket = breaker.admit();
    if ('refused' in ticket) throw new Error(`refused while ${ticket.state}`);
    return ticket;
  };
  return { breaker, admit, states, advance: (ms: number) => (t += ms) };
}

describe('CircuitBreaker', () => {
  it('decides on the last 20 completed calls only', () => {
    const { breaker, admit } = setup();
    const run = (n: number, result: 'success' | 'failure') => {
      for (let i = 0; i < n; i++) admit()[result]();
    };
    run(11, 'success');
    run(9, 'failure');
    run(20, 'success');
    // Eighteen failures so far, but the first nine have left the window.
    run(9, 'failure');
    expect(breaker.state).toBe('closed');
    run(1, 'failure');
    // now the last 20 hold 10 failures
    expect(breaker.state).toBe('open');
  });

  it('ignores the results of calls admitted before it opened', () => {
    const { breaker, admit, advance, states } = setup();
    const slow = Array.from({ length: 5 }, admit);
    for (let i = 0; i < 10; i++) admit().failure();
    expect(breaker.state).toBe('open');
    for (const s of slow) s.success();
    expect(breaker.state).toBe('open');
    advance(5000);
    const probe = admit();
    expect(breaker.state).toBe('half_open');
    probe.success();
    expect(breaker.state).toBe('closed');
    expect(states).toEqual(['closed', 'open', 'half_open', 'closed']);
    // A fresh window after closing: one failure does not reopen it.
    admit().failure();
    expect(breaker.state).toBe('closed');
  });

  it('frees the probe of a call that never happened', () => {
    const { breaker, admit, advance } = setup();
    for (let i = 0; i < 10; i++) admit().failure();
    advance(5000);
    admit().cancel();
    expect(breaker.state).toBe('half_open');
    const refusedLater = breaker.admit();
    expect('refused' in refusedLater).toBe(false);
    if (!('refused' in refusedLater)) refusedLater.failure();
    expect(breaker.admit()).toEqual({ refused: true, state: 'open', retryAfterMs: 5000 });
  });

  it('refuses settings that make no breaker', () => {
    expect(() => new CircuitBreaker({ minCalls: 30 })).toThrow(
      /minCalls: expected an integer in 1..20, got 30/,
    );
    expect(() => new CircuitBreaker({ failureRatio: 0 })).toThrow(/failureRatio/);
  });
});
