import type { EventQueue, Handler } from './events.ts';

/**
 * A measured run's machine as the service had it, interval by interval (intervalMs long, from 0):
 * the cores the other processes left it, and how much more CPU its work took than the fitted cost
 * (a fresh service's warm-up). Past the arrays' ends: the machine's cores, and 1.
 */
export interface CpuStretchOverTime {
  intervalMs: number;
  /**
   * A run started in interval k takes factors[k] (1 or more) times its work: CPU the service
   * spent (its warm-up), counted as its own. Fixed at a run's start: runs last milliseconds where the
   * intervals last seconds.
   */
  factors: readonly number[];
  /**
   * The cores left to the service in interval k (fractional): the machine's less what the load
   * generator and the mocks used. They are not spread over every run as a slower core: a thread
   * alone in a quiet second runs at a core's full speed, whatever the others used; only when more
   * threads are runnable than the cores left do they share those. Absent: the machine's cores.
   */
  cores?: readonly number[];
}

/** How many times its work a run started at tMs takes (past the factors: 1). */
export function stretchAt(s: CpuStretchOverTime | undefined, tMs: number): number {
  return s?.factors[Math.floor(tMs / s.intervalMs)] ?? 1;
}

/**
 * The machine's cores as the OS shares them: every runnable thread progresses at once, at
 * min(1, cores / runnable) of a core (processor sharing, which time slicing of a few ms is,
 * seen from requests that take ms to seconds). A run of `work` CPU-ms ends when it has had that
 * much CPU. Not first come, first served: an event loop waking with 1 ms of work does not wait
 * for the 60 ms scrypt runs before it to finish (a FIFO of cores made verify_email wait seconds
 * behind sign-ups where a rehearsal measured 60 ms). A measured run's cores by interval
 * (CpuStretchOverTime.cores, fractional) take the place of `cores` in each of its intervals.
 *
 * Two ways to keep the same time, chosen by whether the cores are shared:
 * - While no more threads run than there are cores, each run has a core to itself and ends `work`
 *   ms after it starts, which a later run cannot change: each run is its own event in the clock.
 *   On the 2020 day this is 93 % of the runs, and the shared way's bookkeeping (below) made the
 *   cores half the clock's events.
 * - Once more threads run than cores, every arrival and every end changes everyone's speed.
 *   Virtual time V counts the CPU-ms each runnable thread has had; a run ends when V reaches its
 *   start plus its work. The runs wait in a heap by their end; one event is in the clock (see
 *   reschedule), an older one recognised as stale by its generation.
 * The runs move from one way to the other when the count crosses the cores (671 times on the 2020
 * day); a run's own event left in the clock when the cores became shared is recognised as not
 * ending its slot's run by the end written in the slot.
 */
export class CpuShare {
  private v = 0;
  private last = 0;
  private area = 0;
  /** runnable threads (runs not ended) */
  private n = 0;
  /** whether the runs share the cores (the heap holds them), or each has its own event */
  private shared = false;
  /** the shared runs, a binary heap by (end, sequence): their ends in V, and their slots */
  private ends = new Float64Array(64);
  private heapSlot = new Int32Array(64);
  private size = 0;
  // A run's slot: its sequence (ties in the heap), its end in simulated time while it has its own
  // event (NaN while shared, or free), its handler and argument.
  private slotSeq = new Float64Array(64);
  private slotEnd = new Float64Array(64).fill(Number.NaN);
  private readonly slotDone: Array<Handler<never> | undefined> = [];
  private readonly slotArg: unknown[] = [];
  private readonly freeSlots: number[] = [];
  private seq = 0;
  private generation = 0;
  private scheduledAt = Number.POSITIVE_INFINITY;

  /** the cores the runs share now: `cores`, or the interval's of a measured run (stretch.cores) */
  private capacity: number;

  constructor(
    private readonly q: EventQueue,
    readonly cores: number,
    private readonly stretch?: CpuStretchOverTime,
  ) {
    if (!(Number.isInteger(cores) && cores >= 1)) throw new RangeError(`cores: expected >= 1, got ${cores}`);
    const left = stretch?.cores;
    this.capacity = left?.[0] ?? cores;
    if (left) for (let k = 1; k <= left.length; k++) q.schedule(k * stretch.intervalMs, this.onInterval, k);
  }

  /** A new interval of a measured run: the runs share the cores the others left in it. */
  private readonly onInterval = (k: number): void => {
    this.advance();
    this.capacity = this.stretch?.cores?.[k] ?? this.cores;
    if (this.shared && this.n <= this.capacity) this.unshare();
    else if (!this.shared && this.n > this.capacity) this.share();
    // Each run's speed changed: a later first end leaves the event to find it not done, an earlier one moves it.
    if (this.shared) this.reschedule();
  };

  /** Runs `work` CPU-ms from now (as stretched now), then calls `done(arg)`. */
  run<T>(ms: number, done: Handler<T>, arg: T): void {
    const work = ms * stretchAt(this.stretch, this.q.now);
    this.advance();
    const s = this.takeSlot(done as Handler<never>, arg);
    this.n++;
    if (!this.shared && this.n > this.capacity) this.share();
    if (this.shared) {
      this.up(this.v + work, s);
      this.reschedule();
      return;
    }
    const end = this.q.now + work;
    this.slotEnd[s] = end;
    this.q.schedule(end, this.onOwnEnd, s);
  }

  /** Core-milliseconds used since the last call. */
  takeBusyArea(): number {
    this.advance();
    const a = this.area;
    this.area = 0;
    return a;
  }

  private takeSlot(done: Handler<never>, arg: unknown): number {
    let s = this.freeSlots.pop();
    if (s === undefined) {
      s = this.slotDone.length;
      this.slotDone.push(undefined);
      this.slotArg.push(undefined);
      if (s === this.slotSeq.length) {
        const seq = new Float64Array(s * 2);
        seq.set(this.slotSeq);
        this.slotSeq = seq;
        const end = new Float64Array(s * 2).fill(Number.NaN);
        end.set(this.slotEnd);
        this.slotEnd = end;
      }
    }
    this.slotSeq[s] = this.seq++;
    this.slotDone[s] = done;
    this.slotArg[s] = arg;
    return s;
  }

  /** Ends the run in slot `s` (no longer counted in `n`): frees the slot, then calls its handler. */
  private end(s: number): void {
    const done = this.slotDone[s] as Handler<unknown>;
    const arg = this.slotArg[s];
    this.slotDone[s] = undefined;
    this.slotArg[s] = undefined;
    this.slotEnd[s] = Number.NaN;
    this.freeSlots.push(s);
    done(arg);
  }

  private rate(): number {
    const n = this.n;
    return n <= this.capacity ? 1 : this.capacity / n;
  }

  private advance(): void {
    const now = this.q.now;
    const dt = now - this.last;
    if (dt > 0 && this.n > 0) {
      this.v += dt * this.rate();
      this.area += dt * Math.min(this.n, this.capacity);
    }
    this.last = now;
  }

  private readonly onOwnEnd = (s: number): void => {
    // Not this slot's run any more (it went into the heap, or ended and the slot was taken again).
    if (this.slotEnd[s] !== this.q.now) return;
    this.advance();
    this.n--;
    this.end(s);
  };

  /** The runs, each with its own core so far, start sharing: each goes into the heap with the work it has left. */
  private share(): void {
    this.shared = true;
    const ends = this.slotEnd;
    const now = this.q.now;
    for (let s = 0; s < this.slotDone.length; s++) {
      const end = ends[s] as number;
      if (Number.isNaN(end)) continue;
      ends[s] = Number.NaN;
      this.up(this.v + (end - now), s);
    }
  }

  /** The heap's runs each have a core again: each gets its own event, at the end its work left gives. */
  private unshare(): void {
    this.shared = false;
    this.generation++;
    this.scheduledAt = Number.POSITIVE_INFINITY;
    const now = this.q.now;
    // In the heap's order, so that runs ending together end in the order they would have shared.
    while (this.size > 0) {
      const s = this.heapSlot[0] as number;
      const end = now + Math.max(0, (this.ends[0] as number) - this.v);
      this.down();
      this.slotEnd[s] = end;
      this.q.schedule(end, this.onOwnEnd, s);
    }
  }

  /** Adds slot `s`, ending at `end`. */
  private up(end: number, s: number): void {
    if (this.size === this.ends.length) {
      const ends = new Float64Array(this.size * 2);
      ends.set(this.ends);
      const slots = new Int32Array(this.size * 2);
      slots.set(this.heapSlot);
      this.ends = ends;
      this.heapSlot = slots;
    }
    const ends = this.ends;
    const slots = this.heapSlot;
    const seqs = this.slotSeq;
    const seq = seqs[s] as number;
    let i = this.size++;
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
    const n = --this.size;
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
   * Keeps one event in the clock, at or before the first shared end. An end that comes sooner than
   * the event moves it; one that comes later (more threads to share with) leaves it, and the
   * event, finding the run not done, sets the next: a crowd of arrivals costs no event each.
   */
  private reschedule(): void {
    if (this.size === 0) return;
    const at = this.q.now + Math.max(0, (this.ends[0] as number) - this.v) / this.rate();
    if (at >= this.scheduledAt) return;
    this.scheduledAt = at;
    this.q.schedule(at, this.onEnd, ++this.generation);
  }

  private readonly onEnd = (generation: number): void => {
    if (generation !== this.generation) return;
    this.scheduledAt = Number.POSITIVE_INFINITY;
    this.advance();
    if (this.size === 0) return;
    // Within a nanosecond of CPU, or of a time the clock can still tell from now, the first run
    // is done (the arithmetic rounds); otherwise this event came early (see reschedule).
    const left = (this.ends[0] as number) - this.v;
    if (left > 1e-6 && this.q.now + left / this.rate() > this.q.now) {
      this.reschedule();
      return;
    }
    const s = this.heapSlot[0] as number;
    this.down();
    // One fewer thread: at the cores or below, every run left has a core of its own again.
    if (--this.n <= this.capacity) this.unshare();
    else this.reschedule();
    this.end(s);
  };
}
