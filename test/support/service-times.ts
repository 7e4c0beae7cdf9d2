import { sampleLognormal } from '../../model/lognormal.ts';
import { rngFor } from '../../model/random.ts';
import { lognormalParams, SERVICE_BUCKETS_S } from '../../model/station.ts';
import { leMs, type RunRecord } from '../../reports/record.ts';

/**
 * Service times a mock would have measured: `n` draws of a log-normal (median, p99 in ms), plus
 * `plusMs` each, counted in the mocks' buckets (station_service_seconds) and spread over the
 * record's intervals as the scraper writes them (dependency_service_buckets, per second), with
 * each interval's mean (dependency_service_ms) unless `mean` is false.
 */
export function withServiceTimes(
  r: Pick<RunRecord, 'timeseries'>,
  dependency: string,
  truth: { medianMs: number; p99Ms: number },
  n: number,
  o: { plusMs?: number; mean?: boolean } = {},
): void {
  const ts = r.timeseries;
  const bounds = [0, ...SERVICE_BUCKETS_S.map((s) => Number(leMs(String(s)))), Number.POSITIVE_INFINITY];
  const d = lognormalParams(truth.medianMs, truth.p99Ms);
  const rng = rngFor(11);
  const counts = new Map<number, number[]>();
  const sums = new Array<number>(ts.t.length).fill(0);
  const all = new Array<number>(ts.t.length).fill(0);
  for (let k = 0; k < n; k++) {
    const ms = sampleLognormal(d, rng) + (o.plusMs ?? 0);
    const b = bounds.findIndex((le, i) => i > 0 && ms <= le);
    const i = k % ts.t.length;
    const perInterval = counts.get(b) ?? new Array<number>(ts.t.length).fill(0);
    perInterval[i] = (perInterval[i] as number) + 1;
    counts.set(b, perInterval);
    sums[i] = (sums[i] as number) + ms;
    all[i] = (all[i] as number) + 1;
  }
  if (o.mean !== false)
    ts.series.push({
      name: 'dependency_service_ms',
      labels: { dependency },
      values: sums.map((x, i) => ((all[i] as number) > 0 ? x / (all[i] as number) : null)),
    });
  for (const [b, perInterval] of counts) {
    const le = bounds[b] as number;
    ts.series.push({
      name: 'dependency_service_buckets',
      labels: { dependency, gt: String(bounds[b - 1]), le: Number.isFinite(le) ? String(le) : '+Inf' },
      values: perInterval.map((c) => (c > 0 ? c / ts.intervalSeconds : null)),
    });
  }
}
