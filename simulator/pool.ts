import type { EventQueue, Handler } from './events.ts';
import { TimeoutLine } from './timeouts.ts';

/**
 * A resource of `servers` identical units taken first come, first served, with an unbounded
 * waiting line and, optionally, a longest wait: a process's event loop, the
 * libuv thread pool, the mail client's connection pool, SQLite's single write lock (whose longest
 * wait is the busy timeout). Stations of dependencies have more rules: see station.ts.
 *
 * The line is kept as parallel arrays (no object per waiter): in a collapse it holds millions.
 *
 * A pool that knows the end of the run and a floor on how long a unit is held (`unservable`) does
 * not keep a waiter it can prove would be granted only after the end: waiter k of the line needs
 * k + 1 releases, `parallel` units release at most once per `minHoldMs` each, and a hold that is
 * CPU work also needs its share of the cores, so it is granted no sooner than now + max(floor(k /
 * parallel) x minHoldMs, (k + 1 - parallel) x minHoldMs / cores). Everything that arrives after it
 * waits behind it, so from then on the pool refuses to keep anyone: within the run, the grants, the
 * holders and the busy time are those of the pool that kept them all (day.test.ts compares the
 * records byte for byte).
 */

interface Waiter {
  giveUp: Handler<never>;
  arg: unknown;
  done: boolean;
  grant: Handler<never>;
  pool: Pool;
  /** the ticket of its deadline */
  timer: number;
}

/** A floor on the time to the grant of a waiter far down the line (see above). */
export interface Unservable {
  /** no unit is held for less than this, ms (0: no floor, nothing is dropped) */
  minHoldMs: number;
  /** units that can be released at once (the servers) */
  parallel: number;
  /** when a hold is CPU work: the cores it is shared on (Infinity: not CPU-bound) */
  cores: number;
  /** the end of the run, ms */
  untilMs: number;
}

export class Pool {
  busy = 0;
  /** waiters still waiting (not granted, not given up) */
  queued = 0;
  /** waiters refused a place because they could only be granted after the end of the run */
  neverServed = 0;
  private area = 0;
  private since = 0;
  /** the line, a ring of (grant, arg) (grant undefined: arg is a Waiter); entry i at (head + i) & mask */
  private grants: Array<Handler<never> | undefined> = new Array<Handler<never> | undefined>(16).fill(
    undefined,
  );
  private args: unknown[] = new Array<unknown>(16).fill(undefined);
  private mask = 15;
  private head = 0;
  private lineLength = 0;
  private sealed = false;
  /** its process died (halt): nothing is granted or kept any more */
  private halted = false;
  private readonly deadlines: TimeoutLine<Waiter> | undefined;

  constructor(
    private readonly q: EventQueue,
    readonly servers: number,
    /** a waiter still waiting after this long is sent to `giveUp` (ms; Infinity: never) */
    maxWaitMs = Number.POSITIVE_INFINITY,
    private readonly unservable?: Unservable,
  ) {
    if (!(Number.isInteger(servers) && servers >= 1))
      throw new RangeError(`servers: expected >= 1, got ${servers}`);
    this.deadlines = Number.isFinite(maxWaitMs) ? new TimeoutLine(q, maxWaitMs, expire) : undefined;
  }

  /**
   * Calls `grant(arg)` once a unit is held (now, if one is free and nobody waits), or `giveUp(arg)`
   * after maxWaitMs. The holder must call `release()`. False when the pool did not keep the waiter
   * (it could only be granted after the end of the run): neither will be called.
   */
  acquire<T>(grant: Handler<T>, arg: T, giveUp?: Handler<T>): boolean {
    if (this.halted) return false;
    if (this.sealed || this.cannotServe()) {
      this.neverServed++;
      return false;
    }
    if (this.busy < this.servers && this.queued === 0) {
      this.take();
      grant(arg);
      return true;
    }
    this.queued++;
    if (giveUp && this.deadlines) {
      // A waiter that may give up is an object the deadline line and the queue share.
      const w: Waiter = {
        giveUp: giveUp as Handler<never>,
        arg,
        done: false,
        grant: grant as Handler<never>,
        pool: this,
        timer: 0,
      };
      this.enqueue(undefined, w);
      this.deadlines.add(w);
      w.timer = this.deadlines.lastTicket;
      return true;
    }
    this.enqueue(grant as Handler<never>, arg);
    return true;
  }

  private enqueue(grant: Handler<never> | undefined, arg: unknown): void {
    if (this.lineLength > this.mask) {
      const n = this.grants.length;
      const grants = new Array<Handler<never> | undefined>(n * 2).fill(undefined);
      const args = new Array<unknown>(n * 2).fill(undefined);
      for (let k = 0; k < this.lineLength; k++) {
        grants[k] = this.grants[(this.head + k) & this.mask];
        args[k] = this.args[(this.head + k) & this.mask];
      }
      this.grants = grants;
      this.args = args;
      this.mask = n * 2 - 1;
      this.head = 0;
    }
    const i = (this.head + this.lineLength++) & this.mask;
    this.grants[i] = grant;
    this.args[i] = arg;
  }

  private cannotServe(): boolean {
    const u = this.unservable;
    if (!u || u.minHoldMs <= 0 || this.queued === 0) return false;
    // Each unit releases at most once per minHoldMs; and beyond the holds under way, every
    // release needs minHoldMs of CPU, of which the cores give at most `cores` per ms.
    const k = this.queued;
    const earliest = Math.max(
      Math.floor(k / u.parallel) * u.minHoldMs,
      ((k + 1 - u.parallel) * u.minHoldMs) / u.cores,
    );
    if (this.q.now + earliest <= u.untilMs) return false;
    this.sealed = true;
    return true;
  }

  release(): void {
    this.account();
    this.busy--;
    while (this.lineLength > 0) {
      const i = this.head;
      this.head = (i + 1) & this.mask;
      this.lineLength--;
      let grant = this.grants[i] as Handler<unknown> | undefined;
      let arg = this.args[i];
      this.grants[i] = undefined;
      this.args[i] = undefined;
      if (!grant) {
        const w = arg as Waiter;
        if (w.done) continue;
        w.done = true;
        this.deadlines?.cancel(w.timer);
        grant = w.grant as Handler<unknown>;
        arg = w.arg;
      }
      this.queued--;
      this.take();
      grant(arg);
      return;
    }
  }

  /**
   * Its process died (a killed service): the waiters are neither granted nor told they gave up,
   * and it keeps nobody from now on (acquire answers false). The holders' releases still count.
   */
  halt(): void {
    this.halted = true;
    for (let k = 0; k < this.lineLength; k++) {
      const i = (this.head + k) & this.mask;
      if (!this.grants[i]) {
        const w = this.args[i] as Waiter;
        w.done = true;
        this.deadlines?.cancel(w.timer);
      }
      this.grants[i] = undefined;
      this.args[i] = undefined;
    }
    this.lineLength = 0;
    this.queued = 0;
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
