import type { EventQueue, Handler } from './events.ts';
import { Fifo } from './fifo.ts';
import { TimeoutLine } from './timeouts.ts';

/**
 * A resource of `servers` identical units taken first come, first served, with an unbounded
 * waiting line and, optionally, a longest wait: the machine's cores, a process's event loop, the
 * libuv thread pool, the mail client's connection pool, SQLite's single write lock (whose longest
 * wait is the busy timeout). Stations of dependencies have more rules: see station.ts.
 */

interface Waiter {
  grant: Handler<never>;
  giveUp: Handler<never> | undefined;
  arg: unknown;
  done: boolean;
  pool: Pool;
}

export class Pool {
  busy = 0;
  private area = 0;
  private since = 0;
  private readonly waiting = new Fifo<Waiter>();

  private readonly deadlines: TimeoutLine<Waiter> | undefined;

  constructor(
    private readonly q: EventQueue,
    readonly servers: number,
    /** a waiter still waiting after this long is sent to `giveUp` (ms; Infinity: never) */
    maxWaitMs = Number.POSITIVE_INFINITY,
  ) {
    if (!(Number.isInteger(servers) && servers >= 1))
      throw new RangeError(`servers: expected >= 1, got ${servers}`);
    this.deadlines = Number.isFinite(maxWaitMs)
      ? new TimeoutLine(q, maxWaitMs, expire, (w: Waiter) => !w.done)
      : undefined;
  }

  /** waiters still waiting (not granted, not given up) */
  queued = 0;

  /**
   * Calls `grant(arg)` once a unit is held (now, if one is free and nobody waits), or `giveUp(arg)`
   * after maxWaitMs. The holder must call `release()`.
   */
  acquire<T>(grant: Handler<T>, arg: T, giveUp?: Handler<T>): void {
    if (this.busy < this.servers && this.queued === 0) {
      this.take();
      grant(arg);
      return;
    }
    const w: Waiter = {
      grant: grant as Handler<never>,
      giveUp: giveUp as Handler<never>,
      arg,
      done: false,
      pool: this,
    };
    this.waiting.push(w);
    this.queued++;
    if (giveUp && this.deadlines) this.deadlines.add(w);
  }

  release(): void {
    this.account();
    this.busy--;
    for (;;) {
      const w = this.waiting.shift();
      if (!w) return;
      if (w.done) continue;
      w.done = true;
      this.queued--;
      this.take();
      (w.grant as Handler<unknown>)(w.arg);
      return;
    }
  }

  /** Unit-milliseconds of work done since the last call (the integral of busy units over time). */
  takeBusyArea(): number {
    this.account();
    const a = this.area;
    this.area = 0;
    return a;
  }

  private take(): void {
    this.account();
    this.busy++;
  }

  private account(): void {
    const now = this.q.now;
    this.area += this.busy * (now - this.since);
    this.since = now;
  }
}

function expire(w: Waiter): void {
  if (w.done) return;
  w.done = true;
  w.pool.queued--;
  (w.giveUp as Handler<unknown>)(w.arg);
}
