import type { Step } from '../../model/funnel.ts';
import { SLOS } from '../../model/slo.ts';
import { LOAD_GENERATOR_PROCESS, type RunManifest, slowRatioLabels } from '../../reports/record.ts';
import type { MetricsView, TrendSnapshot } from '../../runner/index.ts';
import type { SeriesBook } from './series-book.ts';

/**
 * Turns the runner's cumulative metrics into per-interval series: at each tick, the difference
 * from the previous tick (counts become rates, histograms are subtracted so that a percentile is
 * the interval's own, not the run's so far). The by-tag breakdowns need the runner to keep
 * per-tag series: run it with an output that asks for them (`needs: { tagSeries: true }`).
 */

const QUANTILES = [0.5, 0.95, 0.99] as const;

const arrivalsOf = (metrics: MetricsView): number =>
  metrics.counter(metrics.has('funnel_arrivals') ? 'funnel_arrivals' : 'iterations');

/** A breakdown by `step`, leaving out what no step tagged. */
function byStep<T>(groups: ReadonlyArray<{ tags: Readonly<Record<string, string>>; value: T }>) {
  const out: Array<[string, T]> = [];
  for (const g of groups) if (g.tags.step) out.push([g.tags.step, g.value]);
  return out;
}

export class RunnerSampler {
  private prevCounters = new Map<string, number>();
  private prevRates = new Map<string, { passes: number; total: number }>();
  private prevTrends = new Map<string, TrendSnapshot>();
  private prevCpu: { usage: NodeJS.CpuUsage; at: number } | undefined;

  constructor(private readonly book: SeriesBook) {}

  /** The test started: CPU used before this (bundling, starting the workers) is not the run's. */
  start(): void {
    this.prevCpu = { usage: process.cpuUsage(), at: performance.now() };
  }

  /**
   * The load generator's own CPU (every thread of this process): on a shared machine a run whose
   * generator is starved of CPU measures the generator, not the system.
   */
  private sampleCpu(seconds: number): void {
    const now = { usage: process.cpuUsage(), at: performance.now() };
    const before = this.prevCpu ?? now;
    this.prevCpu = now;
    const micros = now.usage.user - before.usage.user + now.usage.system - before.usage.system;
    // Over the time since the last sample, not the interval's nominal length: a tick comes when
    // the runner's output is called, up to a few hundred ms off the grid on a busy machine.
    const span = (now.at - before.at) / 1000;
    this.book.set(
      'process_cpu_cores',
      { process: LOAD_GENERATOR_PROCESS },
      micros / 1e6 / (span > 0 ? span : seconds),
    );
  }

  /** One interval ending now; `seconds` is its length. */
  sample(metrics: MetricsView, seconds: number): void {
    const b = this.book;
    const rate = (key: string, total: number) => {
      const before = this.prevCounters.get(key) ?? 0;
      this.prevCounters.set(key, total);
      return (total - before) / seconds;
    };
    b.set('arrivals', {}, rate('arrivals', arrivalsOf(metrics)));
    b.set('dropped_iterations', {}, rate('dropped', metrics.counter('dropped_iterations')));
    this.sampleCpu(seconds);
    b.set('vus', {}, metrics.gauge('vus') ?? null);

    for (const { tags, value } of metrics.counterBy('funnel_stage', ['stage', 'outcome'])) {
      const { stage, outcome } = tags;
      if (!stage || !outcome) continue;
      b.set('stage_outcomes', { stage, outcome }, rate(`stage:${stage}\u0000${outcome}`, value));
    }
    for (const [step, total] of byStep(metrics.counterBy('http_reqs', ['step']))) {
      b.set('step_requests', { step }, rate(`reqs:${step}`, total));
    }
    for (const [step, now] of byStep(metrics.rateBy('http_req_failed', ['step']))) {
      const before = this.prevRates.get(step) ?? { passes: 0, total: 0 };
      this.prevRates.set(step, now);
      const n = now.total - before.total;
      b.set('step_failed_ratio', { step }, n > 0 ? (now.passes - before.passes) / n : null);
    }
    for (const [step, now] of byStep(metrics.trendBy('http_req_duration', ['step']))) {
      const d = now.minus(this.prevTrends.get(step));
      this.prevTrends.set(step, now);
      for (const q of QUANTILES) {
        b.set('step_latency_ms', { step, quantile: String(q) }, d.count > 0 ? d.percentile(q * 100) : null);
      }
      if (Object.hasOwn(SLOS, step)) {
        const above = SLOS[step as Step].p95Ms;
        b.set(
          'step_slow_ratio',
          slowRatioLabels(step as Step),
          d.count > 0 ? d.countAbove(above) / d.count : null,
        );
      }
    }
  }
}

/** The run's exact totals, from the runner's cumulative metrics. */
export function runnerTotals(metrics: MetricsView): RunManifest['totals'] {
  const funnel: RunManifest['totals']['funnel'] = [];
  for (const { tags, value } of metrics.counterBy('funnel_stage', ['stage', 'outcome', 'reason'])) {
    if (!tags.stage || !tags.outcome) continue;
    funnel.push({ stage: tags.stage, outcome: tags.outcome, reason: tags.reason ?? null, count: value });
  }
  const failed = new Map(byStep(metrics.rateBy('http_req_failed', ['step'])));
  const steps = byStep(metrics.trendBy('http_req_duration', ['step'])).map(([step, t]) => {
    const p = (q: number) => (t.count > 0 ? t.percentile(q) : null);
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
  return {
    arrivals: arrivalsOf(metrics),
    funnel,
    steps,
    droppedIterations: metrics.counter('dropped_iterations'),
  };
}
