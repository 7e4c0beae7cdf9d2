/**
 * The simulation clock: events fire by time, then in the order they were scheduled, so two events
 * at the same instant always fire in the same order and a seed gives one history.
 *
 * Tens of millions of events allocate no objects: an event is a slot of a slab (its time and
 * sequence number in a typed array, its handler and argument in a plain one), taken from a free
 * list and given back when it fires. The events of the next BUCKET_MS wait in a 4-ary min-heap of
 * (time, sequence, slot), typed arrays side by side for the cache. Every other pending event (a
 * registrant thinking for an hour, a station serving for 300 ms) waits unsorted in a bucket of
 * BUCKET_MS, a list threaded through the slab (up to 29 hours ahead), and enters the heap when the
 * clock reaches its bucket, keeping the sequence number it was given, so the order is the same.
 * Narrow buckets keep the heap to the events of the next 100 ms, tens on the 2020 day (at most 53
 * on the sized day, 460 in the collapse), where 1 s buckets held thousands and made each insertion
 * and removal several levels deeper.
 */

const BUCKET_MS = 100;
/** buckets in the ring: 29 hours ahead, beyond which (rare) events go straight into the heap */
const RING = 1 << 20;
const FAR_LIMIT_MS = (RING - 1) * BUCKET_MS;
const NONE = -1;

export type Handler<T> = (arg: T) => void;

export class EventQueue {
  /** the current simulated time, ms */
  now = 0;
  /** events fired so far */
  fired = 0;

  // The slab, one record per pending event, each in one cache line: (time, sequence, next slot)
  // in `slotNum`, (handler, argument) in `slotRef`. A far event's record is cold when its bucket
  // comes up hours later; the heap then keeps its time and sequence beside the slot.
  private slotNum = new Float64Array(4 * 1024);
  private readonly slotRef: unknown[] = [];
  private slotsUsed = 0;
  private freeSlot = NONE;

  // The near events: a 4-ary heap by (time, sequence).
  private heapTime = new Float64Array(1024);
  private heapSeq = new Float64Array(1024);
  private heapSlot = new Int32Array(1024);
  private size = 0;

  private seq = 0;
  /** the heap holds every pending event before this time; the buckets hold the rest */
  private horizon = BUCKET_MS;
  /** bucket k holds the far events of [k, k + 1) x BUCKET_MS, at k mod RING (its first slot) */
  private readonly bucketHead = new Int32Array(RING).fill(NONE);
  private far = 0;

  get pending(): number {
    return this.size + this.far;
  }

  /** Fires `handler(arg)` at `at` (ms); a time in the past fires at the current time. */
  schedule<T>(at: number, handler: Handler<T>, arg: T): void {
    const t = Math.max(at, this.now);
    const seq = this.seq++;
    // Beyond the ring (29 hours ahead) the rare event goes in the heap.
    const s = this.takeSlot(handler, arg);
    if (t >= this.horizon && t < this.horizon + FAR_LIMIT_MS) {
      const k = ((t / BUCKET_MS) | 0) & (RING - 1);
      const num = this.slotNum;
      num[4 * s] = t;
      num[4 * s + 1] = seq;
      num[4 * s + 2] = this.bucketHead[k] as number;
      this.bucketHead[k] = s;
      this.far++;
      return;
    }
    this.push(t, seq, s);
  }

  /** A slot holding the handler and its argument: a freed one if any, else a new one. */
  private takeSlot<T>(handler: Handler<T>, arg: T): number {
    let s = this.freeSlot;
    if (s === NONE) {
      s = this.slotsUsed++;
      if (4 * s === this.slotNum.length) this.growSlab();
      this.slotRef.push(handler, arg);
    } else {
      this.freeSlot = this.slotNum[4 * s + 2] as number;
      this.slotRef[2 * s] = handler;
      this.slotRef[2 * s + 1] = arg;
    }
    return s;
  }

  /** Inserts slot `s` (time `t`, sequence `seq`) into the heap. */
  private push(t: number, seq: number, s: number): void {
    if (this.size === this.heapTime.length) this.growHeap();
    const times = this.heapTime;
    const seqs = this.heapSeq;
    const slots = this.heapSlot;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 2;
      const pt = times[parent] as number;
      if (pt < t || (pt === t && (seqs[parent] as number) < seq)) break;
      times[i] = pt;
      seqs[i] = seqs[parent] as number;
      slots[i] = slots[parent] as number;
      i = parent;
    }
    times[i] = t;
    seqs[i] = seq;
    slots[i] = s;
  }

  /** Moves buckets into the heap until its first event is before the horizon (or nothing is left). */
  private fill(): void {
    const num = this.slotNum;
    while (this.far > 0 && (this.size === 0 || (this.heapTime[0] as number) >= this.horizon)) {
      const k = (this.horizon / BUCKET_MS) | 0;
      const slot = k & (RING - 1);
      this.horizon = (k + 1) * BUCKET_MS;
      let s = this.bucketHead[slot] as number;
      if (s === NONE) continue;
      this.bucketHead[slot] = NONE;
      const refs = this.slotRef;
      while (s !== NONE) {
        const next = num[4 * s + 2] as number;
        this.far--;
        // The slot was written when the event was set, long ago: its handler and argument move to
        // the slot freed last (in the cache), so that their loads here overlap the walk along the
        // bucket rather than each stalling the event's firing; the cold slot is freed.
        const w = this.freeSlot;
        if (w !== NONE) {
          this.freeSlot = num[4 * w + 2] as number;
          refs[2 * w] = refs[2 * s];
          refs[2 * w + 1] = refs[2 * s + 1];
          refs[2 * s] = undefined;
          refs[2 * s + 1] = undefined;
          this.push(num[4 * s] as number, num[4 * s + 1] as number, w);
          num[4 * s + 2] = this.freeSlot;
          this.freeSlot = s;
        } else {
          this.push(num[4 * s] as number, num[4 * s + 1] as number, s);
        }
        s = next;
      }
    }
  }

  /** The time of the next event, Infinity when there is none. */
  nextTime(): number {
    this.fill();
    return this.size > 0 ? (this.heapTime[0] as number) : Number.POSITIVE_INFINITY;
  }

  /** Fires events in order until none is left, the next is later than `until`, or `maxEvents` fired. */
  run(until = Number.POSITIVE_INFINITY, maxEvents = Number.POSITIVE_INFINITY): void {
    let budget = maxEvents;
    const refs = this.slotRef;
    for (;;) {
      if (this.far > 0 && (this.size === 0 || (this.heapTime[0] as number) >= this.horizon)) this.fill();
      if (this.size === 0 || budget-- <= 0) return;
      const t = this.heapTime[0] as number;
      if (t > until) return;
      const s = this.heapSlot[0] as number;
      this.pop();
      const handler = refs[2 * s] as Handler<unknown>;
      const arg = refs[2 * s + 1];
      refs[2 * s] = undefined;
      refs[2 * s + 1] = undefined;
      this.slotNum[4 * s + 2] = this.freeSlot;
      this.freeSlot = s;
      this.now = t;
      this.fired++;
      handler(arg);
    }
  }

  /** Removes the heap's first element. */
  private pop(): void {
    const n = --this.size;
    if (n === 0) return;
    const times = this.heapTime;
    const seqs = this.heapSeq;
    const slots = this.heapSlot;
    const lt = times[n] as number;
    const lq = seqs[n] as number;
    const ls = slots[n] as number;
    let i = 0;
    for (;;) {
      const first = 4 * i + 1;
      if (first >= n) break;
      // The least of up to four children.
      let c = first;
      let ct = times[first] as number;
      let cq = seqs[first] as number;
      const last = Math.min(first + 4, n);
      for (let j = first + 1; j < last; j++) {
        const jt = times[j] as number;
        if (jt < ct || (jt === ct && (seqs[j] as number) < cq)) {
          c = j;
          ct = jt;
          cq = seqs[j] as number;
        }
      }
      if (lt < ct || (lt === ct && lq < cq)) break;
      times[i] = ct;
      seqs[i] = cq;
      slots[i] = slots[c] as number;
      i = c;
    }
    times[i] = lt;
    seqs[i] = lq;
    slots[i] = ls;
  }

  private growSlab(): void {
    const num = new Float64Array(this.slotNum.length * 2);
    num.set(this.slotNum);
    this.slotNum = num;
  }

  private growHeap(): void {
    const n = this.heapTime.length * 2;
    const time = new Float64Array(n);
    time.set(this.heapTime);
    const seq = new Float64Array(n);
    seq.set(this.heapSeq);
    const slot = new Int32Array(n);
    slot.set(this.heapSlot);
    this.heapTime = time;
    this.heapSeq = seq;
    this.heapSlot = slot;
  }
}
