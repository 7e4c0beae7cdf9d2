import type { RunManifest } from '../../reports/record.ts';
import { newSink, percentile, type Sink, type TrendSink } from '../../runner/metrics/sinks.ts';
import type { Store } from '../../runner/metrics/store.ts';
import type { SeriesBook } from './series-book.ts';

/**
 * Turns the runner's cumulative metrics into per-interval series: at each tick, the difference
 * from the previous tick (counts become rates, histograms are subtracted so that a percentile is
 * the interval's own, not the run's so far). Reads the per-tag series the store keeps when it
 * serves Prometheus, so the rehearsal must run the runner with its metrics endpoint on.
 */

type Tags = Record<string, string>;

const QUANTILES = [0.5, 0.95, 0.99] as const;

function counterTotals(
  store: Store,
  metric: string,
  keyOf: (tags: Tags) => string | null,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of store.metrics.get(metric)?.series.values() ?? []) {
    const key = keyOf(s.tags);
    if (key === null) continue;
    const v = s.sink.kind === 'counter' ? s.sink.count : s.sink.kind === 'rate' ? s.sink.total : 0;
    out.set(key, (out.get(key) ?? 0) + v);
  }
  return out;
}

function rateTotals(store: Store, metric: string): Map<string, { passes: number; total: number }> {
  const out = new Map<string, { passes: number; total: number }>();
  for (const s of store.metrics.get(metric)?.series.values() ?? []) {
    const step = s.tags.step;
    if (!step || s.sink.kind !== 'rate') continue;
    const o = out.get(step) ?? { passes: 0, total: 0 };
    o.passes += s.sink.passes;
    o.total += s.sink.total;
    out.set(step, o);
  }
  return out;
}

function trendsByStep(store: Store): Map<string, TrendSink> {
  const out = new Map<string, TrendSink>();
  for (const s of store.metrics.get('http_req_duration')?.series.values() ?? []) {
    const step = s.tags.step;
    if (!step || s.sink.kind !== 'trend') continue;
    let t = out.get(step);
    if (!t) {
      t = newSink('trend') as TrendSink;
      out.set(step, t);
    }
    merge(t, s.sink);
  }
  return out;
}

function merge(into: TrendSink, from: Sink): void {
  if (from.kind !== 'trend' || from.count === 0) return;
  into.hdr.add(from.hdr);
  into.count += from.count;
  into.sum += from.sum;
  into.min = Math.min(into.min, from.min);
  into.max = Math.max(into.max, from.max);
}

/** The samples recorded between two cumulative snapshots. */
function difference(now: TrendSink, before: TrendSink | undefined): TrendSink {
  const d = newSink('trend') as TrendSink;
  merge(d, now);
  if (before && before.count > 0) {
    d.hdr.subtract(before.hdr);
    d.count -= before.count;
    d.sum -= before.sum;
  }
  // min/max stay those of the run: percentile() only clamps to them.
  return d;
}

const counterOf = (store: Store, metric: string): number => {
  const s = store.metrics.get(metric)?.sink;
  return s?.kind === 'counter' ? s.count : 0;
};

export class RunnerSampler {
  private prevCounters = new Map<string, number>();
  private prevRates = new Map<string, { passes: number; total: number }>();
  private prevTrends = new Map<string, TrendSink>();
  private prevCpu: NodeJS.CpuUsage | undefined;

  constructor(private readonly book: SeriesBook) {}

  /** The test started: CPU used before this (bundling, starting the workers) is not the run's. */
  start(): void {
    this.prevCpu = process.cpuUsage();
  }

  /**
   * The load generator's own CPU (every thread of this process): on a shared machine a run whose
   * generator is starved of CPU measures the generator, not the system.
   */
  private sampleCpu(seconds: number): void {
    const now = process.cpuUsage();
    const before = this.prevCpu ?? now;
    this.prevCpu = now;
    const micros = now.user - before.user + now.system - before.system;
    this.book.set('process_cpu_cores', { process: 'runner' }, micros / 1e6 / seconds);
  }

  /** One interval ending now; `seconds` is its length. */
  sample(store: Store, seconds: number): void {
    const b = this.book;
    const rate = (key: string, total: number) => {
      const before = this.prevCounters.get(key) ?? 0;
      this.prevCounters.set(key, total);
      return (total - before) / seconds;
    };
    const arrivalsMetric = store.metrics.has('funnel_arrivals') ? 'funnel_arrivals' : 'iterations';
    b.set('arrivals', {}, rate('arrivals', counterOf(store, arrivalsMetric)));
    b.set('dropped_iterations', {}, rate('dropped', counterOf(store, 'dropped_iterations')));
    this.sampleCpu(seconds);
    const vus = store.metrics.get('vus')?.sink;
    b.set('vus', {}, vus?.kind === 'gauge' && vus.set ? vus.value : null);

    for (const [key, total] of counterTotals(store, 'funnel_stage', (t) =>
      t.stage && t.outcome ? `${t.stage}\u0000${t.outcome}` : null,
    )) {
      const [stage = '', outcome = ''] = key.split('\u0000');
      b.set('stage_outcomes', { stage, outcome }, rate(`stage:${key}`, total));
    }
    for (const [step, total] of counterTotals(store, 'http_reqs', (t) => t.step ?? null)) {
      b.set('step_requests', { step }, rate(`reqs:${step}`, total));
    }
    for (const [step, now] of rateTotals(store, 'http_req_failed')) {
      const before = this.prevRates.get(step) ?? { passes: 0, total: 0 };
      this.prevRates.set(step, { ...now });
      const n = now.total - before.total;
      b.set('step_failed_ratio', { step }, n > 0 ? (now.passes - before.passes) / n : null);
    }
    for (const [step, now] of trendsByStep(store)) {
      const d = difference(now, this.prevTrends.get(step));
      this.prevTrends.set(step, now);
      for (const q of QUANTILES) {
        b.set('step_latency_ms', { step, quantile: String(q) }, d.count > 0 ? percentile(d, q * 100) : null);
      }
    }
  }
}

/** The run's exact totals, from the runner's cumulative metrics. */
export function runnerTotals(store: Store): RunManifest['totals'] {
  const funnel: RunManifest['totals']['funnel'] = [];
  for (const s of store.metrics.get('funnel_stage')?.series.values() ?? []) {
    if (s.sink.kind !== 'counter' || !s.tags.stage || !s.tags.outcome) continue;
    funnel.push({
      stage: s.tags.stage,
      outcome: s.tags.outcome,
      reason: s.tags.reason ?? null,
      count: s.sink.count,
    });
  }
  const failed = rateTotals(store, 'http_req_failed');
  const steps = [...trendsByStep(store)].map(([step, t]) => {
    const p = (q: number) => (t.count > 0 ? percentile(t, q) : null);
    return {
      step,
      requests: t.count,
      failed: failed.get(step)?.passes ?? 0,
      p50Ms: p(50),
      p90Ms: p(90),
      p95Ms: p(95),
      p99Ms: p(99),
      maxMs: t.count > 0 ? t.max : null,
    };
  });
  const arrivalsMetric = store.metrics.has('funnel_arrivals') ? 'funnel_arrivals' : 'iterations';
  return {
    arrivals: counterOf(store, arrivalsMetric),
    funnel,
    steps,
    droppedIterations: counterOf(store, 'dropped_iterations'),
  };
}
