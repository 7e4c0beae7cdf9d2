/**
 * The simulation clock: a binary min-heap of events keyed by time, then by the order they were
 * scheduled, so two events at the same instant always fire in the same order and a seed gives one
 * history. Events are (handler, argument) pairs kept in parallel arrays in heap order (the keys
 * side by side for the cache): tens of millions of events allocate no event objects.
 *
 * Most pending events are far ahead (a registrant thinking for an hour): those wait in buckets of
 * BUCKET_MS (up to 18 hours ahead), unsorted, and enter the heap when the clock reaches their
 * bucket, keeping the sequence number they were given, so the heap stays small and the order is
 * the same.
 */

const BUCKET_MS = 1000;
/** buckets in the ring: 18 hours ahead, beyond which (rare) events go straight into the heap */
const RING = 1 << 16;
const FAR_LIMIT_MS = (RING - 1) * BUCKET_MS;

interface Bucket {
  times: number[];
  seqs: number[];
  handlers: Array<Handler<never>>;
  args: unknown[];
}

export type Handler<T> = (arg: T) => void;

export class EventQueue {
  /** the current simulated time, ms */
  now = 0;
  /** events fired so far */
  fired = 0;
  private times = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private handlers: Array<Handler<never> | undefined> = [];
  private args: unknown[] = [];
  private size = 0;
  private seq = 0;
  /** the heap holds every pending event before this time; the buckets hold the rest */
  private horizon = BUCKET_MS;
  /**
   * bucket k holds the far events of [k, k + 1) x BUCKET_MS, at k mod RING: a dense array of
   * fixed length (an array indexed by k itself would go sparse, i.e. a hash table, as soon as an
   * event was set hours ahead, and think times are hours)
   */
  private readonly buckets: Array<Bucket | undefined> = new Array<Bucket | undefined>(RING).fill(undefined);
  private far = 0;

  get pending(): number {
    return this.size + this.far;
  }

  /** Fires `handler(arg)` at `at` (ms); a time in the past fires at the current time. */
  schedule<T>(at: number, handler: Handler<T>, arg: T): void {
    const t = Math.max(at, this.now);
    const s = this.seq++;
    // Beyond the ring (18 hours ahead) the rare event goes in the heap.
    if (t >= this.horizon && t < this.horizon + FAR_LIMIT_MS) {
      const k = ((t / BUCKET_MS) | 0) & (RING - 1);
      let b = this.buckets[k];
      if (!b) {
        b = { times: [], seqs: [], handlers: [], args: [] };
        this.buckets[k] = b;
      }
      b.times.push(t);
      b.seqs.push(s);
      b.handlers.push(handler as Handler<never>);
      b.args.push(arg);
      this.far++;
      return;
    }
    this.insert(t, s, handler as Handler<never>, arg);
  }

  private insert(t: number, s: number, handler: Handler<never>, arg: unknown): void {
    if (this.size === this.times.length) this.grow();
    const times = this.times;
    const seqs = this.seqs;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pt = times[parent] as number;
      if (pt < t || (pt === t && (seqs[parent] as number) < s)) break;
      times[i] = pt;
      seqs[i] = seqs[parent] as number;
      this.handlers[i] = this.handlers[parent];
      this.args[i] = this.args[parent];
      i = parent;
    }
    times[i] = t;
    seqs[i] = s;
    this.handlers[i] = handler;
    this.args[i] = arg;
  }

  /** Moves buckets into the heap until its first event is before the horizon (or nothing is left). */
  private fill(): void {
    while (this.far > 0 && (this.size === 0 || (this.times[0] as number) >= this.horizon)) {
      const k = (this.horizon / BUCKET_MS) | 0;
      const slot = k & (RING - 1);
      const b = this.buckets[slot];
      this.horizon = (k + 1) * BUCKET_MS;
      if (!b) continue;
      this.buckets[slot] = undefined;
      this.far -= b.times.length;
      for (let i = 0; i < b.times.length; i++) {
        this.insert(b.times[i] as number, b.seqs[i] as number, b.handlers[i] as Handler<never>, b.args[i]);
      }
    }
  }

  /** The time of the next event, Infinity when there is none. */
  nextTime(): number {
    this.fill();
    return this.size > 0 ? (this.times[0] as number) : Number.POSITIVE_INFINITY;
  }

  /** Fires events in order until none is left, the next is later than `until`, or `maxEvents` fired. */
  run(until = Number.POSITIVE_INFINITY, maxEvents = Number.POSITIVE_INFINITY): void {
    let budget = maxEvents;
    for (;;) {
      if (this.far > 0 && (this.size === 0 || (this.times[0] as number) >= this.horizon)) this.fill();
      if (this.size === 0 || budget-- <= 0) return;
      const t = this.times[0] as number;
      if (t > until) return;
      const handler = this.handlers[0] as Handler<unknown>;
      const arg = this.args[0];
      this.pop();
      this.now = t;
      this.fired++;
      handler(arg);
    }
  }

  private pop(): void {
    const n = --this.size;
    const times = this.times;
    const seqs = this.seqs;
    const handlers = this.handlers;
    const args = this.args;
    const lt = times[n] as number;
    const ls = seqs[n] as number;
    const lh = handlers[n];
    const la = args[n];
    handlers[n] = undefined;
    args[n] = undefined;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let ct = times[l] as number;
      if (r < n) {
        const rt = times[r] as number;
        if (rt < ct || (rt === ct && (seqs[r] as number) < (seqs[l] as number))) {
          c = r;
          ct = rt;
        }
      }
      if (lt < ct || (lt === ct && ls < (seqs[c] as number))) break;
      times[i] = ct;
      seqs[i] = seqs[c] as number;
      handlers[i] = handlers[c];
      args[i] = args[c];
      i = c;
    }
    times[i] = lt;
    seqs[i] = ls;
    handlers[i] = lh;
    args[i] = la;
  }

  private grow(): void {
    const n = this.times.length * 2;
    const times = new Float64Array(n);
    times.set(this.times);
    const seqs = new Float64Array(n);
    seqs.set(this.seqs);
    this.times = times;
    this.seqs = seqs;
  }
}
