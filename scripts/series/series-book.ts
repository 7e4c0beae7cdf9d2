import { RUN_RECORD_VERSION, type SeriesName, type Timeseries } from '../../reports/record.ts';

/**
 * Collects values tick by tick into aligned series: a series that appears late is padded with
 * nulls for the ticks before it, one missing at a tick gets a null there.
 */
export class SeriesBook {
  private readonly t: number[] = [];
  private readonly series = new Map<
    string,
    { name: SeriesName; labels: Record<string, string>; values: Array<number | null> }
  >();

  /** Starts a tick at `seconds` since the start; values set until the next tick belong to it. */
  tick(seconds: number): void {
    this.t.push(Math.round(seconds * 1000) / 1000);
  }

  set(name: SeriesName, labels: Record<string, string>, value: number | null): void {
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    let s = this.series.get(key);
    if (!s) {
      s = { name, labels, values: [] };
      this.series.set(key, s);
    }
    while (s.values.length < this.t.length - 1) s.values.push(null);
    const v = value === null || !Number.isFinite(value) ? null : Math.round(value * 1000) / 1000;
    if (s.values.length === this.t.length) s.values[s.values.length - 1] = v;
    else s.values.push(v);
  }

  build(o: { intervalSeconds: number; startedAtMs: number; sources: Timeseries['sources'] }): Timeseries {
    const n = this.t.length;
    return {
      format: 'gelombang/timeseries',
      version: RUN_RECORD_VERSION,
      intervalSeconds: o.intervalSeconds,
      startedAtMs: o.startedAtMs,
      t: [...this.t],
      sources: o.sources,
      series: [...this.series.values()].map((s) => ({
        name: s.name,
        labels: s.labels,
        values: [...s.values, ...new Array<null>(Math.max(0, n - s.values.length)).fill(null)].slice(0, n),
      })),
    };
  }
}
