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
  /** the runs, a binary heap by (end, sequence): their ends in V, and slots holding the rest */
  private ends = new Float64Array(64);
  private heapSlot = new Int32Array(64);
  private n = 0;
  private slotSeq = new Float64Array(64);
  private readonly slotDone: Array<Handler<never> | undefined> = [];
  private readonly slotArg: unknown[] = [];
  private freeSlots: number[] = [];
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
    let s = this.freeSlots.pop();
    if (s === undefined) {
      s = this.slotDone.length;
      this.slotDone.push(undefined);
      this.slotArg.push(undefined);
      if (s === this.slotSeq.length) {
        const seq = new Float64Array(s * 2);
        seq.set(this.slotSeq);
        this.slotSeq = seq;
      }
    }
    this.slotSeq[s] = this.seq++;
    this.slotDone[s] = done as Handler<never>;
    this.slotArg[s] = arg;
    this.up(this.v + work, s);
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
    const n = this.n;
    return n <= this.cores ? 1 : this.cores / n;
  }

  private advance(): void {
    const now = this.q.now;
    const dt = now - this.last;
    if (dt > 0 && this.n > 0) {
      this.v += dt * this.rate();
      this.area += dt * Math.min(this.n, this.cores);
    }
    this.last = now;
  }

  /** Adds slot `s`, ending at `end`. */
  private up(end: number, s: number): void {
    if (this.n === this.ends.length) {
      const ends = new Float64Array(this.n * 2);
      ends.set(this.ends);
      const slots = new Int32Array(this.n * 2);
      slots.set(this.heapSlot);
      this.ends = ends;
      this.heapSlot = slots;
    }
    const ends = this.ends;
    const slots = this.heapSlot;
    const seqs = this.slotSeq;
    const seq = seqs[s] as number;
    let i = this.n++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pe = ends[parent] as number;
      if (pe < end || (pe === end && (seqs[slots[parent] as number] as number) < seq)) break;
      ends[i] = pe;
      slots[i] = slots[parent] as number;
      i = parent;
    }
    ends[i] = end;
    slots[i] = s;
  }

  /** Removes the first run. */
  private down(): void {
    const n = --this.n;
    if (n === 0) return;
    const ends = this.ends;
    const slots = this.heapSlot;
    const seqs = this.slotSeq;
    const le = ends[n] as number;
    const ls = slots[n] as number;
    const lseq = seqs[ls] as number;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      let ce = ends[l] as number;
      if (l + 1 < n) {
        const re = ends[l + 1] as number;
        if (
          re < ce ||
          (re === ce && (seqs[slots[l + 1] as number] as number) < (seqs[slots[l] as number] as number))
        ) {
          c = l + 1;
          ce = re;
        }
      }
      if (le < ce || (le === ce && lseq < (seqs[slots[c] as number] as number))) break;
      ends[i] = ce;
      slots[i] = slots[c] as number;
      i = c;
    }
    ends[i] = le;
    slots[i] = ls;
  }

  /**
   * Keeps one event in the clock, at or before the first end. An end that comes sooner than the
   * event moves it; one that comes later (more threads to share with) leaves it, and the event,
   * finding the run not done, sets the next: a crowd of arrivals costs no event each.
   */
  private reschedule(): void {
    if (this.n === 0) return;
    const at = this.q.now + Math.max(0, (this.ends[0] as number) - this.v) / this.rate();
    if (at >= this.scheduledAt) return;
    this.scheduledAt = at;
    this.q.schedule(at, this.onEnd, ++this.generation);
  }

  private readonly onEnd = (generation: number): void => {
    if (generation !== this.generation) return;
    this.scheduledAt = Number.POSITIVE_INFINITY;
    this.advance();
    if (this.n === 0) return;
    // Within a nanosecond of CPU, or of a time the clock can still tell from now, the first run
    // is done (the arithmetic rounds); otherwise this event came early (see reschedule).
    const left = (this.ends[0] as number) - this.v;
    if (left > 1e-6 && this.q.now + left / this.rate() > this.q.now) {
      this.reschedule();
      return;
    }
    const s = this.heapSlot[0] as number;
    const done = this.slotDone[s] as Handler<unknown>;
    const arg = this.slotArg[s];
    this.slotDone[s] = undefined;
    this.slotArg[s] = undefined;
    this.freeSlots.push(s);
    this.down();
    this.reschedule();
    done(arg);
  };
}
