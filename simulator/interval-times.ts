import { SERVICE_BUCKETS_S } from '../model/station.ts';
import { leMs } from '../reports/record.ts';

/** A histogram's buckets: their upper bounds in ms, in order (a time above the last is '+Inf'), and their labels in the record. */
export interface Bins {
  boundsMs: readonly number[];
  labels: ReadonlyArray<{ gt: string; le: string }>;
}

function binsOf(boundsS: readonly number[]): Bins {
  const boundsMs = boundsS.map((s) => Number(leMs(String(s))));
  return {
    boundsMs,
    labels: [...boundsMs, '+Inf'].map((le, i) => ({
      gt: i === 0 ? '0' : String(boundsMs[i - 1]),
      le: String(le),
    })),
  };
}

/** The mocks' service-time buckets (station_service_seconds), which a simulated record's dependency timing uses too. */
export const SERVICE_TIME_BINS = binsOf(SERVICE_BUCKETS_S);

/**
 * mock-services/registration/metrics.ts HASH_BUCKETS_S, copied (the simulator does not import the
 * service it models; test/service-model.test.ts checks the two agree): 1 ms to 2.5 s, each 1.1 x
 * the one before.
 */
export const HASH_BUCKETS_S = Array.from({ length: 83 }, (_, k) => Number((0.001 * 1.1 ** k).toPrecision(4)));
/** The service's hash-time buckets (gelombang_password_hash_duration_seconds). */
export const HASH_TIME_BINS = binsOf(HASH_BUCKETS_S);

/**
 * Times (ms) of one kind ended in the current interval, counted in a histogram's buckets with their
 * sum: what a mock's or the service's histogram would have added in that interval, so that a
 * simulated record carries dependency_service_*, dependency_call_* and password_hash_* as a
 * rehearsal's does. Cleared at each interval's end.
 */
export class IntervalTimes {
  readonly counts: Float64Array;
  count = 0;
  sumMs = 0;

  constructor(readonly bins: Bins = SERVICE_TIME_BINS) {
    this.counts = new Float64Array(bins.labels.length);
  }

  record(ms: number): void {
    // Prometheus's `le`: a time equal to a bound is in that bound's bucket.
    const bounds = this.bins.boundsMs;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (ms <= (bounds[mid] as number)) hi = mid;
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
