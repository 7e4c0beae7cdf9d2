import type { MetricDelta, MetricStore, MetricStoreOptions, MetricType, Tags, ValueType } from './api.ts';
import { matches, parseSelector, type Selector } from './selectors.ts';
import {
  addToSink,
  isEmpty,
  mergeSink,
  newSink,
  type SerializedSink,
  type Sink,
  serializeSink,
} from './sinks.ts';

/**
 * The runner's metric store: one per thread. Samples go to the metric's sink, to every submetric
 * whose tag filter matches, and (when series are kept, for Prometheus) to a per-tag-set sink.
 */

export class MetricDefinitionError extends Error {}

interface Series {
  tags: Record<string, string>;
  sink: Sink;
}

export interface Metric {
  name: string;
  type: MetricType;
  contains: ValueType;
  sink: Sink;
  subs: Array<{ selector: Selector; sink: Sink }>;
  series: Map<string, Series>;
  seriesOverflow: number;
}

interface Payload {
  metrics: Array<{
    name: string;
    type: MetricType;
    contains: ValueType;
    sink: SerializedSink;
    subs: Array<{ key: string; sink: SerializedSink }>;
    series: Array<{ key: string; tags: Record<string, string>; sink: SerializedSink }>;
    seriesOverflow: number;
  }>;
  checks: Array<[string, number, number]>;
}

// k6: letters, digits and underscores, 1 to 128 characters, not starting with a digit.
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export class Store implements MetricStore {
  readonly metrics = new Map<string, Metric>();
  /** check path ('::name', '::setup::name') -> [passes, fails], in the order first seen */
  readonly checks = new Map<string, [number, number]>();
  private selectors: Selector[];
  /** whether samples are also kept per tag set (Prometheus, by-tag breakdowns) */
  readonly keepsSeries: boolean;
  private readonly excluded: Set<string>;
  private readonly maxSeries: number;

  constructor(opts: MetricStoreOptions & { series?: boolean; maxSeriesPerMetric?: number } = {}) {
    this.selectors = (opts.submetrics ?? []).map(parseSelector).filter((s) => s.tags.length > 0);
    this.keepsSeries = opts.series ?? false;
    this.excluded = new Set(opts.excludedSeriesTags ?? ['url']);
    this.maxSeries = opts.maxSeriesPerMetric ?? 2000;
  }

  /**
   * Sets the submetrics of a store that has recorded nothing yet: the runner learns them from the
   * script's options, after its init context has defined its metrics in this store.
   */
  useSubmetrics(submetrics: readonly string[]): void {
    this.selectors = submetrics.map(parseSelector).filter((s) => s.tags.length > 0);
    for (const m of this.metrics.values()) m.subs = this.subsOf(m.name, m.type);
  }

  private subsOf(name: string, type: MetricType): Metric['subs'] {
    return this.selectors
      .filter((s) => s.metric === name)
      .map((selector) => ({ selector, sink: newSink(type) }));
  }

  define(name: string, type: MetricType, contains: ValueType = 'default'): void {
    const existing = this.metrics.get(name);
    if (existing) {
      if (existing.type !== type || existing.contains !== contains) {
        throw new MetricDefinitionError(
          `metric '${name}' already exists as a ${existing.type} (${existing.contains}); it cannot be redefined as a ${type} (${contains})`,
        );
      }
      return;
    }
    if (!NAME.test(name)) {
      throw new MetricDefinitionError(
        `invalid metric name '${name}': expected 1-128 letters, digits or underscores, not starting with a digit`,
      );
    }
    this.metrics.set(name, {
      name,
      type,
      contains,
      sink: newSink(type),
      subs: this.subsOf(name, type),
      series: new Map(),
      seriesOverflow: 0,
    });
  }

  add(name: string, value: number, tags?: Tags): void {
    this.addTo(this.metric(name), value, tags);
  }

  /** The metric of that name, for a caller that records into it often: look it up once, then addTo(). */
  metric(name: string): Metric {
    const m = this.metrics.get(name);
    if (!m) throw new MetricDefinitionError(`metric '${name}' is not defined`);
    return m;
  }

  addTo(m: Metric, value: number, tags?: Tags): void {
    // Only a gauge keeps the time of its value (the latest wins a merge): the clock is read for gauges alone.
    const now = m.type === 'gauge' ? Date.now() : 0;
    addToSink(m.sink, value, now);
    for (const sub of m.subs) if (matches(tags, sub.selector.tags)) addToSink(sub.sink, value, now);
    if (this.keepsSeries) this.addSeries(m, value, tags, now);
  }

  private addSeries(m: Metric, value: number, tags: Tags | undefined, now: number): void {
    let key = '';
    const kept: Record<string, string> = {};
    if (tags) {
      for (const k of Object.keys(tags).sort()) {
        if (this.excluded.has(k)) continue;
        const v = tags[k] as string;
        kept[k] = v;
        key += `${k}\u0000${v}\u0001`;
      }
    }
    let s = m.series.get(key);
    if (!s) {
      if (m.series.size >= this.maxSeries) {
        m.seriesOverflow++;
        return;
      }
      s = { tags: kept, sink: newSink(m.type) };
      m.series.set(key, s);
    }
    addToSink(s.sink, value, now);
  }

  addCheck(path: string, passed: boolean): void {
    let c = this.checks.get(path);
    if (!c) {
      c = [0, 0];
      this.checks.set(path, c);
    }
    c[passed ? 0 : 1]++;
  }

  /** Everything recorded since the last drain; the store starts over empty. */
  drain(): MetricDelta {
    const payload: Payload = { metrics: [], checks: [] };
    for (const m of this.metrics.values()) {
      const subs = m.subs
        .filter((s) => !isEmpty(s.sink))
        .map((s) => ({ key: s.selector.key, sink: serializeSink(s.sink) }));
      const series = [...m.series.entries()]
        .filter(([, s]) => !isEmpty(s.sink))
        .map(([key, s]) => ({ key, tags: s.tags, sink: serializeSink(s.sink) }));
      payload.metrics.push({
        name: m.name,
        type: m.type,
        contains: m.contains,
        sink: serializeSink(m.sink),
        subs,
        series,
        seriesOverflow: m.seriesOverflow,
      });
      m.sink = newSink(m.type);
      for (const s of m.subs) s.sink = newSink(m.type);
      for (const s of m.series.values()) s.sink = newSink(m.type);
      m.seriesOverflow = 0;
    }
    for (const [name, [p, f]] of this.checks) if (p + f > 0) payload.checks.push([name, p, f]);
    this.checks.clear();
    return { version: 1, payload };
  }

  merge(delta: MetricDelta): void {
    const payload = delta.payload as Payload;
    for (const d of payload.metrics) {
      this.define(d.name, d.type, d.contains);
      const m = this.metrics.get(d.name) as Metric;
      mergeSink(m.sink, d.sink);
      for (const s of d.subs) {
        let sub = m.subs.find((x) => x.selector.key === s.key);
        if (!sub) {
          sub = { selector: parseSelector(s.key), sink: newSink(m.type) };
          m.subs.push(sub);
        }
        mergeSink(sub.sink, s.sink);
      }
      for (const s of d.series) {
        let series = m.series.get(s.key);
        if (!series) {
          if (m.series.size >= this.maxSeries) {
            m.seriesOverflow++;
            continue;
          }
          series = { tags: s.tags, sink: newSink(m.type) };
          m.series.set(s.key, series);
        }
        mergeSink(series.sink, s.sink);
      }
      m.seriesOverflow += d.seriesOverflow;
    }
    for (const [name, p, f] of payload.checks) {
      const c = this.checks.get(name) ?? [0, 0];
      c[0] += p;
      c[1] += f;
      this.checks.set(name, c);
    }
  }

  /** The sink a selector names (a metric or one of its submetrics), if any. */
  sinkOf(key: string): { metric: Metric; sink: Sink } | undefined {
    const sel = parseSelector(key);
    const m = this.metrics.get(sel.metric);
    if (!m) return undefined;
    if (sel.tags.length === 0) return { metric: m, sink: m.sink };
    const sub = m.subs.find((s) => s.selector.key === sel.key);
    return sub ? { metric: m, sink: sub.sink } : undefined;
  }
}

/** k6's built-in metrics, defined in every store before anything else. */
export const BUILTIN_METRICS: ReadonlyArray<[string, MetricType, ValueType]> = [
  ['checks', 'rate', 'default'],
  ['data_received', 'counter', 'data'],
  ['data_sent', 'counter', 'data'],
  ['dropped_iterations', 'counter', 'default'],
  ['http_req_blocked', 'trend', 'time'],
  ['http_req_connecting', 'trend', 'time'],
  ['http_req_duration', 'trend', 'time'],
  ['http_req_failed', 'rate', 'default'],
  ['http_req_receiving', 'trend', 'time'],
  ['http_req_sending', 'trend', 'time'],
  ['http_req_tls_handshaking', 'trend', 'time'],
  ['http_req_waiting', 'trend', 'time'],
  ['http_reqs', 'counter', 'default'],
  ['iteration_duration', 'trend', 'time'],
  ['iterations', 'counter', 'default'],
  ['vus', 'gauge', 'default'],
  ['vus_max', 'gauge', 'default'],
];

export function defineBuiltins(store: MetricStore): void {
  for (const [name, type, contains] of BUILTIN_METRICS) store.define(name, type, contains);
}
