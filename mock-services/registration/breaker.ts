/**
 * A circuit breaker for one dependency. Closed: calls go through and their results are counted
 * over a window of the last completed calls. When enough of them failed it opens: calls fail at
 * once, giving the dependency room to recover instead of every registrant waiting out a timeout
 * against it. After a while it is half-open: one probe call goes through; its success closes the
 * breaker, its failure opens it again.
 */

/**
 * Why these numbers: 20 calls is a fraction of a second of a surge's traffic to a ministry, so the
 * breaker reacts within a second or two, and a minimum of 10 keeps a couple of unlucky calls at a
 * quiet moment from opening it. Half failing is well past any healthy ministry's error rate yet
 * below what an overloaded one answers. 5 s open is long enough for a saturated queue to drain
 * and short enough that a recovered ministry loses little traffic (one probe then closes it).
 */
export const BREAKER_DEFAULTS = {
  /** completed calls whose results decide */
  window: 20,
  /** no decision before this many calls completed in the window */
  minCalls: 10,
  /** share of failures in the window that opens the breaker */
  failureRatio: 0.5,
  /** how long it stays open before one probe call is let through */
  openMs: 5000,
  /**
   * half open with the probe out: when a refused call may ask again (the probe's answer comes
   * within a call's time, so a second, not a whole open period)
   */
  probingRetryMs: 1000,
};

export type BreakerSettings = typeof BREAKER_DEFAULTS;

/** The gauge's encoding: 0 closed, 1 half-open, 2 open (the worse the higher, so `max` aggregates). */
export const BREAKER_STATES = { closed: 0, half_open: 1, open: 2 } as const;
export type BreakerState = keyof typeof BREAKER_STATES;

/** A call the breaker let through: report how it ended, or that it never reached the dependency. */
export interface BreakerTicket {
  success(): void;
  failure(): void;
  /** the call did not happen (e.g. shed by the bulkhead): counts neither way, frees the probe */
  cancel(): void;
}

/** The breaker refused a call; `retryAfterMs` is when it may let one through again. */
export interface BreakerRefusal {
  refused: true;
  state: 'open' | 'half_open';
  retryAfterMs: number;
}

export class CircuitBreaker {
  private readonly settings: BreakerSettings;
  private current: BreakerState = 'closed';
  /** results of the last completed calls, true for a failure; a ring of `window` entries */
  private readonly results: boolean[] = [];
  private next = 0;
  private failures = 0;
  private openedAt = 0;
  private probing = false;

  constructor(
    settings: Partial<BreakerSettings> = {},
    private readonly now: () => number = Date.now,
    private readonly onState: (state: BreakerState) => void = () => {},
  ) {
    this.settings = { ...BREAKER_DEFAULTS, ...settings };
    const { window, minCalls, failureRatio, openMs } = this.settings;
    if (!Number.isInteger(window) || window < 1)
      throw new Error(`breaker window: expected an integer >= 1, got ${window}`);
    if (!Number.isInteger(minCalls) || minCalls < 1 || minCalls > window)
      throw new Error(`breaker minCalls: expected an integer in 1..${window}, got ${minCalls}`);
    if (!(failureRatio > 0 && failureRatio <= 1))
      throw new Error(`breaker failureRatio: expected a number in (0, 1], got ${failureRatio}`);
    if (!(openMs >= 0)) throw new Error(`breaker openMs: expected a number >= 0, got ${openMs}`);
    onState('closed');
  }

  /** The state now: an open breaker whose time is up reads as half-open. */
  get state(): BreakerState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.settings.openMs) this.move('half_open');
    return this.current;
  }

  /** Lets a call through (a ticket to report its end on) or refuses it. */
  admit(): BreakerTicket | BreakerRefusal {
    const state = this.state;
    if (state === 'open')
      return {
        refused: true,
        state,
        retryAfterMs: Math.max(0, this.settings.openMs - (this.now() - this.openedAt)),
      };
    if (state === 'half_open') {
      // Only one probe: a recovering ministry is not to be met with the whole backlog at once.
      if (this.probing) return { refused: true, state, retryAfterMs: this.settings.probingRetryMs };
      this.probing = true;
      return this.ticket(true);
    }
    return this.ticket(false);
  }

  private ticket(probe: boolean): BreakerTicket {
    let done = false;
    const end = (result: 'success' | 'failure' | 'cancel') => {
      if (done) return;
      done = true;
      if (probe) {
        this.probing = false;
        if (result === 'success') this.close();
        else if (result === 'failure') this.open();
        return;
      }
      // A call admitted while closed may end after the breaker opened: its result is stale news.
      if (result !== 'cancel' && this.current === 'closed') this.record(result === 'failure');
    };
    return { success: () => end('success'), failure: () => end('failure'), cancel: () => end('cancel') };
  }

  private record(failed: boolean): void {
    const { window, minCalls, failureRatio } = this.settings;
    if (this.results.length < window) {
      this.results.push(failed);
    } else {
      if (this.results[this.next]) this.failures--;
      this.results[this.next] = failed;
      this.next = (this.next + 1) % window;
    }
    if (failed) this.failures++;
    if (this.results.length >= minCalls && this.failures >= failureRatio * this.results.length) this.open();
  }

  private open(): void {
    this.openedAt = this.now();
    this.move('open');
  }

  private close(): void {
    // A fresh window: the failures that opened it say nothing about the recovered ministry.
    this.results.length = 0;
    this.next = 0;
    this.failures = 0;
    this.move('closed');
  }

  private move(state: BreakerState): void {
    if (state === this.current && state !== 'open') return;
    this.current = state;
    this.onState(state);
  }
}
