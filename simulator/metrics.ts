import { OUTCOMES, type Outcome, STAGES, type Stage } from '../model/funnel.ts';
import type { Series, SeriesName } from '../reports/record.ts';
import { COSTED_STEPS, type CostedStep } from './calibration.ts';
import { LogHistogram } from './histogram.ts';

/**
 * What a simulated run measures, aggregated as it happens: exact totals (funnel outcomes by
 * reason, requests, failures and a latency histogram per step) and, per interval, the series the
 * run record holds. Nothing per request or per finished registrant is kept.
 */

const STAGE_INDEX = Object.fromEntries(STAGES.map((s, i) => [s, i])) as Record<Stage, number>;
const OUTCOME_INDEX = Object.fromEntries(OUTCOMES.map((o, i) => [o, i])) as Record<Outcome, number>;

interface StepTotals {
  step: CostedStep;
  requests: number;
  failed: number;
  latency: LogHistogram;
}

interface StepInterval {
  requests: number;
  failed: number;
  latency: LogHistogram;
}

/** One interval's readings of a resource, taken by the day at the interval's end. */
export interface ResourceReading {
  name: string;
  utilisation: number;
  queueRatio: number;
  /** refusals in the interval by reason (stations only) */
  rejections: Record<string, number>;
}

export class Recorder {
  arrivals = 0;
  dropped = 0;
  /** counts by stage and outcome (index stage x OUTCOMES.length + outcome), then by reason ('' for none) */
  private readonly funnelCounts = Array.from(
    { length: STAGES.length * OUTCOMES.length },
    () => new Map<string, number>(),
  );
  readonly steps: Record<CostedStep, StepTotals>;
  /** journeys that joined a wave, ms from arrival */
  readonly journey = new LogHistogram();

  private intervalArrivals = 0;
  private intervalDropped = 0;
  private readonly intervalOutcomes = new Float64Array(STAGES.length * OUTCOMES.length);
  private readonly intervalSteps: Record<CostedStep, StepInterval>;
  private readonly series = new Map<string, Series>();
  readonly t: number[] = [];

  constructor(private readonly intervalSeconds: number) {
    this.steps = Object.fromEntries(
      COSTED_STEPS.map((step) => [step, { step, requests: 0, failed: 0, latency: new LogHistogram() }]),
    ) as Record<CostedStep, StepTotals>;
    this.intervalSteps = Object.fromEntries(
      COSTED_STEPS.map((step) => [step, { requests: 0, failed: 0, latency: new LogHistogram() }]),
    ) as Record<CostedStep, StepInterval>;
  }

  arrival(): void {
    this.arrivals++;
    this.intervalArrivals++;
  }

  drop(): void {
    this.dropped++;
    this.intervalDropped++;
  }

  outcome(stage: Stage, outcome: Outcome, reason: string | null): void {
    const i = STAGE_INDEX[stage] * OUTCOMES.length + OUTCOME_INDEX[outcome];
    const byReason = this.funnelCounts[i] as Map<string, number>;
    const r = reason ?? '';
    byReason.set(r, (byReason.get(r) ?? 0) + 1);
    this.intervalOutcomes[i] = (this.intervalOutcomes[i] as number) + 1;
  }

  /** The funnel's totals, one row per stage, outcome and reason, in a fixed order. */
  funnel(): Array<{ stage: Stage; outcome: Outcome; reason: string | null; count: number }> {
    const rows: Array<{ stage: Stage; outcome: Outcome; reason: string | null; count: number }> = [];
    STAGES.forEach((stage, si) => {
      OUTCOMES.forEach((outcome, oi) => {
        const byReason = this.funnelCounts[si * OUTCOMES.length + oi] as Map<string, number>;
        for (const [reason, count] of [...byReason.entries()].sort(([a], [b]) =>
          a < b ? -1 : a > b ? 1 : 0,
        )) {
          rows.push({ stage, outcome, reason: reason === '' ? null : reason, count });
        }
      });
    });
    return rows;
  }

  request(step: CostedStep, ms: number, failed: boolean): void {
    const s = this.steps[step];
    s.requests++;
    s.latency.record(ms);
    const i = this.intervalSteps[step];
    i.requests++;
    i.latency.record(ms);
    if (failed) {
      s.failed++;
      i.failed++;
    }
  }

  /** Closes an interval ending at `tSeconds`: one value of every series. */
  tick(tSeconds: number, o: { vus: number; cpuCores: number; resources: ResourceReading[] }): void {
    const n = this.t.length;
    this.t.push(tSeconds);
    const per = (x: number) => x / this.intervalSeconds;
    this.put(n, 'arrivals', {}, per(this.intervalArrivals));
    this.put(n, 'dropped_iterations', {}, per(this.intervalDropped));
    this.put(n, 'vus', {}, o.vus);
    STAGES.forEach((stage, si) => {
      OUTCOMES.forEach((outcome, oi) => {
        this.put(
          n,
          'stage_outcomes',
          { stage, outcome },
          per(this.intervalOutcomes[si * OUTCOMES.length + oi] as number),
        );
      });
    });
    for (const step of COSTED_STEPS) {
      const s = this.intervalSteps[step];
      this.put(n, 'step_requests', { step }, per(s.requests));
      this.put(n, 'step_failed_ratio', { step }, s.requests > 0 ? s.failed / s.requests : null);
      for (const q of ['0.5', '0.95', '0.99']) {
        this.put(n, 'step_latency_ms', { step, quantile: q }, s.latency.quantile(Number(q)));
      }
      s.requests = 0;
      s.failed = 0;
      s.latency.clear();
    }
    for (const r of o.resources) {
      this.put(n, 'dependency_utilisation', { dependency: r.name }, r.utilisation);
      this.put(n, 'dependency_queue_ratio', { dependency: r.name }, r.queueRatio);
      for (const [reason, count] of Object.entries(r.rejections)) {
        this.put(n, 'dependency_rejections', { dependency: r.name, reason }, per(count));
      }
    }
    this.put(n, 'process_cpu_cores', { process: 'registration' }, o.cpuCores);
    this.intervalArrivals = 0;
    this.intervalDropped = 0;
    this.intervalOutcomes.fill(0);
  }

  /** The series, leaving out those that never counted anything (outcomes and refusals that did not happen). */
  allSeries(): Series[] {
    return [...this.series.values()].filter(
      (s) =>
        !(s.name === 'stage_outcomes' || s.name === 'dependency_rejections') ||
        s.values.some((v) => (v ?? 0) > 0),
    );
  }

  private put(n: number, name: SeriesName, labels: Record<string, string>, value: number | null): void {
    let key: string = name;
    for (const k in labels) key += `|${labels[k]}`;
    let s = this.series.get(key);
    if (!s) {
      s = { name, labels, values: new Array<number | null>(n).fill(null) };
      this.series.set(key, s);
    }
    s.values.push(value === null ? null : Math.round(value * 1000) / 1000);
  }
}
