import { SERVICE_BUCKETS_S } from '../model/station.ts';
import { leMs } from '../reports/record.ts';

/** The buckets' upper bounds, ms, in order; a time above the last falls in '+Inf'. */
const BOUNDS_MS = SERVICE_BUCKETS_S.map((s) => Number(leMs(String(s))));

/** Each bucket's labels in the record, as the scraper writes a mock's (reports/record.ts dependency_service_buckets). */
export const BUCKET_LABELS: ReadonlyArray<{ gt: string; le: string }> = [...BOUNDS_MS, '+Inf'].map(
  (le, i) => ({ gt: i === 0 ? '0' : String(BOUNDS_MS[i - 1]), le: String(le) }),
);

/**
 * Times (ms) of one kind ended in the current interval, counted in the mocks' service-time
 * buckets with their sum: what a mock's or the service's histogram would have added in that
 * interval, so that a simulated record carries dependency_service_* and dependency_call_* as a
 * rehearsal's does. Cleared at each interval's end.
 */
export class IntervalTimes {
  readonly counts = new Float64Array(BUCKET_LABELS.length);
  count = 0;
  sumMs = 0;

  record(ms: number): void {
    // Prometheus's `le`: a time equal to a bound is in that bound's bucket.
    let lo = 0;
    let hi = BOUNDS_MS.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ms <= (BOUNDS_MS[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    this.counts[lo] = (this.counts[lo] as number) + 1;
    this.count++;
    this.sumMs += ms;
  }

  clear(): void {
    if (this.count === 0) return;
    this.counts.fill(0);
    this.count = 0;
    this.sumMs = 0;
  }
}
