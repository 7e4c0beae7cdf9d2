/**
 * Latencies by logarithmic buckets, 1 % wide, from 0.01 ms to 10 minutes: a percentile is known
 * within 1 % with no per-request storage, whatever the number of requests. One per step per
 * interval, cleared at each interval's end, and one per step for the whole run. The range of
 * buckets in use is kept, so that a quantile or a clear of an interval's few latencies does not
 * walk all 1,800 buckets (the day has 1,300 intervals).
 */

const MIN_MS = 0.01;
const RATIO = 1.01;
const LN_RATIO = Math.log(RATIO);
const BUCKETS = Math.ceil(Math.log(600_000 / MIN_MS) / LN_RATIO) + 1;

/** The bucket of a latency: one logarithm, shared by every histogram the latency goes into. */
export function bucketOf(ms: number): number {
  return ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(ms / MIN_MS) / LN_RATIO) + 1);
}

export class LogHistogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  max = 0;
  /** the lowest and highest buckets counted in (lo > hi: none) */
  private lo = BUCKETS;
  private hi = -1;

  record(ms: number): void {
    this.add(bucketOf(ms), ms);
  }

  /** Counts `ms`, whose bucket (bucketOf) is `i`. */
  add(i: number, ms: number): void {
    this.counts[i] = (this.counts[i] as number) + 1;
    this.count++;
    if (i < this.lo) this.lo = i;
    if (i > this.hi) this.hi = i;
    if (ms > this.max) this.max = ms;
  }

  /** The q-quantile (0 < q <= 1), as the geometric middle of its bucket; null when empty. */
  quantile(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = this.lo; i <= this.hi; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) {
        if (i === 0) return MIN_MS;
        const mid = MIN_MS * RATIO ** (i - 0.5);
        return Math.min(mid, this.max);
      }
    }
    return this.max;
  }

  /** A histogram of the same latencies, which later adds and clears leave alone. */
  copy(): LogHistogram {
    const h = new LogHistogram();
    if (this.count === 0) return h;
    h.counts.set(this.counts.subarray(this.lo, this.hi + 1), this.lo);
    h.count = this.count;
    h.max = this.max;
    h.lo = this.lo;
    h.hi = this.hi;
    return h;
  }

  /** Counts every latency of `other` too (replications of one run pooled). */
  merge(other: LogHistogram): void {
    if (other.count === 0) return;
    for (let i = other.lo; i <= other.hi; i++)
      this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    this.count += other.count;
    if (other.max > this.max) this.max = other.max;
    if (other.lo < this.lo) this.lo = other.lo;
    if (other.hi > this.hi) this.hi = other.hi;
  }

  clear(): void {
    if (this.count === 0) return;
    this.counts.fill(0, this.lo, this.hi + 1);
    this.count = 0;
    this.max = 0;
    this.lo = BUCKETS;
    this.hi = -1;
  }
}
