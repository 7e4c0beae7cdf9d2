import type { EventQueue, Handler } from './events.ts';

/**
 * Timers that all run for the same time (a client's 30 s timeout, a station's deadline) expire in
 * the order they were set: one line per duration, one event in the clock for the line's head, so
 * a timer costs two writes to a ring instead of a heap insertion, and the many that are never
 * needed (the request was answered first) are skipped when the line looks for its next head, at no
 * event. A timer no longer needed is cancelled by its ticket, so that skipping it does not read the
 * object it was set for (long cold by then); a line may also ask `pending` of each head.
 */
export class TimeoutLine<T> {
  /** a ring: entry i of the line is at (head + i) & mask; a cancelled entry's arg is undefined */
  private ats = new Float64Array(256);
  private args: Array<T | undefined> = new Array<T | undefined>(256).fill(undefined);
  private mask = 255;
  private head = 0;
  private count = 0;
  /** the ticket of the entry at the head */
  private first = 0;
  private armed = false;

  constructor(
    private readonly q: EventQueue,
    readonly delayMs: number,
    private readonly handler: Handler<T>,
    /** whether a timer still matters (its request not answered yet); one that does not is dropped */
    private readonly pending?: (arg: T) => boolean,
  ) {}

  /** The ticket of the timer set last (see cancel). */
  get lastTicket(): number {
    return this.first + this.count - 1;
  }

  /** Sets a timer for `arg`; returns when it expires. */
  add(arg: T): number {
    const at = this.q.now + this.delayMs;
    if (this.count > this.mask) this.grow();
    const i = (this.head + this.count++) & this.mask;
    this.ats[i] = at;
    this.args[i] = arg;
    if (!this.armed) {
      this.armed = true;
      this.q.schedule(at, this.fire, undefined);
    }
    return at;
  }

  /** The timer of ticket `ticket` is no longer needed: it will not fire (nothing if it already has). */
  cancel(ticket: number): void {
    const k = ticket - this.first;
    if (k >= 0 && k < this.count) this.args[(this.head + k) & this.mask] = undefined;
  }

  private grow(): void {
    const n = this.ats.length;
    const ats = new Float64Array(n * 2);
    const args = new Array<T | undefined>(n * 2).fill(undefined);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & this.mask;
      ats[k] = this.ats[i] as number;
      args[k] = this.args[i];
    }
    this.ats = ats;
    this.args = args;
    this.mask = n * 2 - 1;
    this.head = 0;
  }

  private shift(): void {
    this.args[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.count--;
    this.first++;
  }

  private readonly fire = (): void => {
    this.armed = false;
    const now = this.q.now;
    while (this.count > 0 && (this.ats[this.head] as number) <= now) {
      const arg = this.args[this.head];
      this.shift();
      if (arg !== undefined) this.handler(arg);
    }
    const pending = this.pending;
    for (;;) {
      if (this.count === 0) return;
      const arg = this.args[this.head];
      if (arg !== undefined && (!pending || pending(arg))) break;
      this.shift();
    }
    this.armed = true;
    this.q.schedule(this.ats[this.head] as number, this.fire, undefined);
  };
}
