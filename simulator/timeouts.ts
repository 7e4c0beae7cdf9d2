import type { EventQueue, Handler } from './events.ts';

/**
 * Timers that all run for the same time (a client's 30 s timeout, a station's deadline) expire in
 * the order they were set: one line per duration, one event in the clock for the line's head, so
 * a timer costs two array writes instead of a heap insertion, and the many that are never needed
 * (the request was answered first) are skipped when the line looks for its next head, at no event.
 */
export class TimeoutLine<T> {
  private ats: number[] = [];
  private args: Array<T | undefined> = [];
  private head = 0;
  private armed = false;

  constructor(
    private readonly q: EventQueue,
    readonly delayMs: number,
    private readonly handler: Handler<T>,
    /** whether a timer still matters (its request not answered yet); one that does not is dropped */
    private readonly pending: (arg: T) => boolean,
  ) {}

  /** Sets a timer for `arg`; returns when it expires. */
  add(arg: T): number {
    const at = this.q.now + this.delayMs;
    this.ats.push(at);
    this.args.push(arg);
    if (!this.armed) {
      this.armed = true;
      this.q.schedule(at, this.fire, undefined);
    }
    return at;
  }

  private readonly fire = (): void => {
    this.armed = false;
    const now = this.q.now;
    while (this.head < this.ats.length && (this.ats[this.head] as number) <= now) {
      const arg = this.args[this.head] as T;
      this.args[this.head] = undefined;
      this.head++;
      this.handler(arg);
    }
    while (this.head < this.ats.length && !this.pending(this.args[this.head] as T)) {
      this.args[this.head] = undefined;
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.ats.length) {
      this.ats = this.ats.slice(this.head);
      this.args = this.args.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.ats.length) {
      this.armed = true;
      this.q.schedule(this.ats[this.head] as number, this.fire, undefined);
    }
  };
}
