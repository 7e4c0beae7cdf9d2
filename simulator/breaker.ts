/**
 * MINISTRY_BREAKER=on: the service's circuit breaker of one ministry in one process
 * (mock-services/registration/breaker.ts, with its defaults), on the simulated clock. Closed, it
 * counts the results of the last WINDOW completed calls and opens once at least MIN_CALLS of them
 * are in and FAILURE_RATIO of them failed; open, it refuses every call for OPEN_MS; then it lets
 * one probe through, whose success closes it (a fresh window) and whose failure opens it again.
 * A call admitted while closed that ends after it opened is not counted (stale news).
 */

/**
 * mock-services/registration/breaker.ts BREAKER_DEFAULTS, copied (the simulator does not import the
 * service it models); test/service-model.test.ts checks the two agree.
 */
export const BREAKER = { window: 20, minCalls: 10, failureRatio: 0.5, openMs: 5000, probingRetryMs: 1000 };
const {
  window: WINDOW,
  minCalls: MIN_CALLS,
  failureRatio: FAILURE_RATIO,
  probingRetryMs: PROBING_RETRY_MS,
} = BREAKER;
export const OPEN_MS = BREAKER.openMs;

/** What `admit` gives: a call let through (a probe or not), or refused with the ms until it may ask again. */
export type Admission = { probe: boolean } | { refusedForMs: number };

export class SimBreaker {
  private open = false;
  private openedAt = 0;
  private probing = false;
  private readonly results = new Uint8Array(WINDOW);
  private count = 0;
  private next = 0;
  private failures = 0;

  /** Whether it is open now (half-open reads as not). */
  isOpen(now: number): boolean {
    return this.open && now - this.openedAt < OPEN_MS;
  }

  admit(now: number): Admission {
    if (!this.open) return { probe: false };
    const left = OPEN_MS - (now - this.openedAt);
    if (left > 0) return { refusedForMs: left };
    if (this.probing) return { refusedForMs: PROBING_RETRY_MS };
    this.probing = true;
    return { probe: true };
  }

  /** A call it let through never reached the ministry (the bulkhead shed it): counts neither way, frees the probe. */
  cancelled(probe: boolean): void {
    if (probe) this.probing = false;
  }

  /** How a call it let through ended; `failed`: the ministry timed out, or answered 5xx or 429. */
  ended(probe: boolean, failed: boolean, now: number): void {
    if (probe) {
      this.probing = false;
      if (failed) this.trip(now);
      else {
        this.open = false;
        this.count = 0;
        this.next = 0;
        this.failures = 0;
      }
      return;
    }
    if (this.open) return;
    if (this.count < WINDOW) this.count++;
    else this.failures -= this.results[this.next] as number;
    this.results[this.next] = failed ? 1 : 0;
    this.next = (this.next + 1) % WINDOW;
    if (failed) this.failures++;
    if (this.count >= MIN_CALLS && this.failures >= FAILURE_RATIO * this.count) this.trip(now);
  }

  private trip(now: number): void {
    this.open = true;
    this.openedAt = now;
  }
}
