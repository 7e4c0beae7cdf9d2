import type { EventQueue, Handler } from './events.ts';

/**
 * The machine's cores as the OS shares them: every runnable thread progresses at once, at
 * min(1, cores / runnable) of a core (processor sharing, which time slicing of a few ms is,
 * seen from requests that take ms to seconds). A run of `work` CPU-ms ends when it has had that
 * much CPU. Not first come, first served: an event loop waking with 1 ms of work does not wait
 * for the 60 ms scrypt runs before it to finish (a FIFO of cores made verify_email wait seconds
 * behind sign-ups where a rehearsal measured 60 ms).
 *
 * Virtual time V counts the CPU-ms each runnable thread has had since the start; a run ends when
 * V reaches its start plus its work. The runs wait in a heap by their end; one event is in the
 * clock (see reschedule), an older one recognised as stale by its generation.
 */
export class CpuShare {
  private v = 0;
  private last = 0;
  private area = 0;
  private readonly ends: number[] = [];
  private readonly seqs: number[] = [];
  private readonly dones: Array<Handler<never>> = [];
  private readonly args: unknown[] = [];
  private seq = 0;
  private generation = 0;
  private scheduledAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly q: EventQueue,
    readonly cores: number,
  ) {
    if (!(Number.isInteger(cores) && cores >= 1)) throw new RangeError(`cores: expected >= 1, got ${cores}`);
  }

  /** Runs `work` CPU-ms from now, then calls `done(arg)`. */
  run<T>(work: number, done: Handler<T>, arg: T): void {
    this.advance();
    this.ends.push(this.v + work);
    this.seqs.push(this.seq++);
    this.dones.push(done as Handler<never>);
    this.args.push(arg);
    this.up(this.ends.length - 1);
    this.reschedule();
  }

  /** Core-milliseconds used since the last call. */
  takeBusyArea(): number {
    this.advance();
    const a = this.area;
    this.area = 0;
    return a;
  }

  private rate(): number {
    const n = this.ends.length;
    return n <= this.cores ? 1 : this.cores / n;
  }

  private advance(): void {
    const now = this.q.now;
    const dt = now - this.last;
    if (dt > 0 && this.ends.length > 0) {
      this.v += dt * this.rate();
      this.area += dt * Math.min(this.ends.length, this.cores);
    }
    this.last = now;
  }

  private less(i: number, j: number): boolean {
    const a = this.ends[i] as number;
    const b = this.ends[j] as number;
    return a < b || (a === b && (this.seqs[i] as number) < (this.seqs[j] as number));
  }

  private swap(i: number, j: number): void {
    const e = this.ends[i] as number;
    this.ends[i] = this.ends[j] as number;
    this.ends[j] = e;
    const q = this.seqs[i] as number;
    this.seqs[i] = this.seqs[j] as number;
    this.seqs[j] = q;
    const d = this.dones[i] as Handler<never>;
    this.dones[i] = this.dones[j] as Handler<never>;
    this.dones[j] = d;
    const x = this.args[i];
    this.args[i] = this.args[j];
    this.args[j] = x;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.ends.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const c = l + 1 < n && this.less(l + 1, l) ? l + 1 : l;
      if (!this.less(c, i)) return;
      this.swap(i, c);
      i = c;
    }
  }

  /**
   * Keeps one event in the clock, at or before the first end. An end that comes sooner than the
   * event moves it; one that comes later (more threads to share with) leaves it, and the event,
   * finding the run not done, sets the next: a crowd of arrivals costs no event each.
   */
  private reschedule(): void {
    if (this.ends.length === 0) return;
    const at = this.q.now + Math.max(0, (this.ends[0] as number) - this.v) / this.rate();
    if (at >= this.scheduledAt) return;
    this.scheduledAt = at;
    this.q.schedule(at, this.onEnd, ++this.generation);
  }

  private readonly onEnd = (generation: number): void => {
    if (generation !== this.generation) return;
    this.scheduledAt = Number.POSITIVE_INFINITY;
    this.advance();
    if (this.ends.length === 0) return;
    // Within a nanosecond of CPU, or of a time the clock can still tell from now, the first run
    // is done (the arithmetic rounds); otherwise this event came early (see reschedule).
    const left = (this.ends[0] as number) - this.v;
    if (left > 1e-6 && this.q.now + left / this.rate() > this.q.now) {
      this.reschedule();
      return;
    }
    const done = this.dones[0] as Handler<unknown>;
    const arg = this.args[0];
    const last = this.ends.length - 1;
    if (last > 0) this.swap(0, last);
    this.ends.pop();
    this.seqs.pop();
    this.dones.pop();
    this.args.pop();
    this.down(0);
    this.reschedule();
    done(arg);
  };
}
