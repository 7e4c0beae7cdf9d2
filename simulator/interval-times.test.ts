import { describe, expect, it } from 'vitest';
import { SERVICE_BUCKETS_S } from '../model/station.ts';
import { HASH_TIME_BINS, IntervalTimes, SERVICE_TIME_BINS } from './interval-times.ts';

const BUCKET_LABELS = SERVICE_TIME_BINS.labels;

describe("an interval's times in the mocks' buckets", () => {
  it("labels the buckets as the scraper does a mock's: from 0, each above the bound before, the last '+Inf'", () => {
    expect(BUCKET_LABELS).toHaveLength(SERVICE_BUCKETS_S.length + 1);
    expect(BUCKET_LABELS[0]).toEqual({ gt: '0', le: '0.5' });
    expect(BUCKET_LABELS[1]).toEqual({ gt: '0.5', le: '0.625' });
    expect(BUCKET_LABELS.at(-1)).toEqual({ gt: '54740', le: '+Inf' });
  });

  it("counts a time equal to a bound in that bound's bucket (Prometheus's le), one above it in the next", () => {
    const t = new IntervalTimes();
    for (const ms of [0, 0.5, 0.5001, 100, 54_740, 54_741, 1e9]) t.record(ms);
    const at = (le: string) => t.counts[BUCKET_LABELS.findIndex((b) => b.le === le)];
    expect(at('0.5')).toBe(2);
    expect(at('0.625')).toBe(1);
    const hundred = BUCKET_LABELS.findIndex((b) => Number(b.gt) < 100 && Number(b.le) >= 100);
    expect(t.counts[hundred]).toBe(1);
    expect(at('54740')).toBe(1);
    expect(at('+Inf')).toBe(2);
    expect([t.count, t.sumMs]).toEqual([7, 0 + 0.5 + 0.5001 + 100 + 54_740 + 54_741 + 1e9]);
    t.clear();
    expect([t.count, t.sumMs, t.counts.reduce((a, c) => a + c, 0)]).toEqual([0, 0, 0]);
    // The hashes' buckets, 1.1 x apart from 1 ms: 4.22 ms in (4.177, 4.595].
    const h = new IntervalTimes(HASH_TIME_BINS);
    h.record(4.22);
    expect(HASH_TIME_BINS.labels[h.counts.findIndex((c) => c > 0)]).toEqual({ gt: '4.177', le: '4.595' });
  });
});
