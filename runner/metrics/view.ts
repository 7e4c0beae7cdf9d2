import type { MetricType, ValueType } from './api.ts';
import { countAbove, newSink, percentile, type Sink, type TrendSink } from './sinks.ts';
import type { Store } from './store.ts';

/**
 * What callers outside the runner may read of its metrics: totals, a gauge's value, and
 * breakdowns by tag, as plain numbers or opaque histogram snapshots. The store behind it keeps
 * changing as workers report; the view never changes it, and what it returns are copies.
 */

interface MetricDefinition {
  readonly name: string;
  readonly type: MetricType;
  readonly contains: ValueType;
}

/** One breakdown group: the values of the asked-for tags (those a sample had) and its aggregate. */
interface TagGroup<T> {
  readonly tags: Readonly<Record<string, string>>;
  readonly value: T;
}

interface RateTotals {
  readonly passes: number;
  readonly total: number;
}

/** A trend's histogram at one moment: subtract an earlier one to get what happened in between. */
export interface TrendSnapshot {
  readonly count: number;
  /** the largest value; of the later snapshot after minus() (the histogram cannot tell) */
  readonly max: number;
  /** p in 0-100, in the unit of the samples; 0 when there are none */
  percentile(p: number): number;
  /** how many samples are above `value`, to the histogram's resolution (3 significant digits) */
  countAbove(value: number): number;
  /** the samples recorded since `earlier`, a snapshot of the same trend and breakdown */
  minus(earlier: TrendSnapshot | undefined): TrendSnapshot;
}

export interface MetricsView {
  /** every metric defined (the built-in ones, then the script's), in that order */
  definitions(): readonly MetricDefinition[];
  has(metric: string): boolean;
  /** a counter's total; 0 for a metric that is not a counter or not defined */
  counter(metric: string): number;
  /** a gauge's latest value; undefined before it is first set */
  gauge(metric: string): number | undefined;
  /**
   * Breakdowns by the values of tags `by`, in the order first seen. They need the per-tag series
   * that the run keeps only when an output asks for them (`needs.tagSeries`, or Prometheus on);
   * without, these throw rather than answer with nothing. Tag sets past the store's cap (2000 a
   * metric) are not kept, so a breakdown of a high-cardinality tag can fall short of the total.
   */
  counterBy(metric: string, by: readonly string[]): Array<TagGroup<number>>;
  rateBy(metric: string, by: readonly string[]): Array<TagGroup<RateTotals>>;
  trendBy(metric: string, by: readonly string[]): Array<TagGroup<TrendSnapshot>>;
}

class Snapshot implements TrendSnapshot {
  readonly #sink: TrendSink;

  constructor(sink: TrendSink) {
    this.#sink = sink;
  }

  get count(): number {
    return this.#sink.count;
  }

  get max(): number {
    return this.#sink.max;
  }

  percentile(p: number): number {
    return percentile(this.#sink, p);
  }

  countAbove(value: number): number {
    return countAbove(this.#sink, value);
  }

  minus(earlier: TrendSnapshot | undefined): TrendSnapshot {
    const d = copyTrend(this.#sink);
    if (earlier instanceof Snapshot && earlier.#sink.count > 0) {
      d.hdr.subtract(earlier.#sink.hdr);
      d.count -= earlier.#sink.count;
      d.sum -= earlier.#sink.sum;
    }
    // min and max stay this snapshot's: percentile() only uses them to clamp.
    return new Snapshot(d);
  }
}

function addTrend(into: TrendSink, from: Sink): void {
  if (from.kind !== 'trend' || from.count === 0) return;
  into.hdr.add(from.hdr);
  into.count += from.count;
  into.sum += from.sum;
  into.min = Math.min(into.min, from.min);
  into.max = Math.max(into.max, from.max);
}

function copyTrend(from: Sink): TrendSink {
  const t = newSink('trend') as TrendSink;
  addTrend(t, from);
  return t;
}

export function metricsView(store: Store): MetricsView {
  const sinkOf = (metric: string) => store.metrics.get(metric)?.sink;

  /** Sums the metric's per-tag series into one group per combination of the `by` tags' values. */
  function groups<T>(
    metric: string,
    by: readonly string[],
    empty: () => T,
    add: (into: T, from: Sink) => T,
  ): Array<TagGroup<T>> {
    if (!store.keepsSeries)
      throw new Error(
        `the runner kept no per-tag series of '${metric}' in this run: give runTest an output that needs them (needs: { tagSeries: true })`,
      );
    const out = new Map<string, { tags: Record<string, string>; value: T }>();
    for (const s of store.metrics.get(metric)?.series.values() ?? []) {
      const tags: Record<string, string> = {};
      let key = '';
      for (const k of by) {
        const v = s.tags[k];
        if (v !== undefined) tags[k] = v;
        key += `${v ?? '\u0002'}\u0000`;
      }
      let g = out.get(key);
      if (!g) {
        g = { tags, value: empty() };
        out.set(key, g);
      }
      g.value = add(g.value, s.sink);
    }
    return [...out.values()];
  }

  return {
    definitions: () =>
      [...store.metrics.values()].map(({ name, type, contains }) => ({ name, type, contains })),
    has: (metric) => store.metrics.has(metric),
    counter(metric) {
      const s = sinkOf(metric);
      return s?.kind === 'counter' ? s.count : 0;
    },
    gauge(metric) {
      const s = sinkOf(metric);
      return s?.kind === 'gauge' && s.set ? s.value : undefined;
    },
    counterBy: (metric, by) =>
      groups(
        metric,
        by,
        () => 0,
        (n, s) => n + (s.kind === 'counter' ? s.count : 0),
      ),
    rateBy: (metric, by) =>
      groups<RateTotals>(
        metric,
        by,
        () => ({ passes: 0, total: 0 }),
        (r, s) => (s.kind === 'rate' ? { passes: r.passes + s.passes, total: r.total + s.total } : r),
      ),
    trendBy: (metric, by) =>
      groups(
        metric,
        by,
        () => newSink('trend') as TrendSink,
        (t, s) => {
          addTrend(t, s);
          return t;
        },
      ).map((g) => ({ tags: g.tags, value: new Snapshot(g.value) })),
  };
}
