import { OUTCOMES, type Outcome, STAGES, type Stage } from '../model/funnel.ts';
import { SLOS } from '../model/slo.ts';
import { type Series, type SeriesName, slowRatioLabels } from '../reports/record.ts';
import { COSTED_STEPS, type CostedStep } from './calibration.ts';
import { bucketOf, LogHistogram } from './histogram.ts';
import type { IntervalTimes } from './interval-times.ts';

/**
 * What a simulated run measures, aggregated as it happens: exact totals (funnel outcomes by
 * reason, requests, failures and a latency histogram per step) and, per interval, the series the
 * run record holds. Nothing per request or per finished registrant is kept.
 */

const STAGE_INDEX = Object.fromEntries(STAGES.map((s, i) => [s, i])) as Record<Stage, number>;
const OUTCOME_INDEX = Object.fromEntries(OUTCOMES.map((o, i) => [o, i])) as Record<Outcome, number>;
const QUANTILES = ['0.5', '0.95', '0.99'] as const;
const STEP_INDEX = Object.fromEntries(COSTED_STEPS.map((s, i) => [s, i])) as Record<CostedStep, number>;
/** each step's p95 objective, by index in COSTED_STEPS: a request above it is slow (step_slow_ratio) */
const SLOW_ABOVE_MS = COSTED_STEPS.map((step) => SLOS[step].p95Ms);

interface StepTotals {
  step: CostedStep;
  requests: number;
  failed: number;
  latency: LogHistogram;
}

interface StepInterval {
  requests: number;
  failed: number;
  /** requests slower than the step's p95 objective */
  slow: number;
  latency: LogHistogram;
}

/** One interval's readings of a resource, taken by the day at the interval's end. */
export interface ResourceReading {
  name: string;
  utilisation: number;
  queueRatio: number;
  /** refusals in the interval by reason (stations only) */
  rejections: Record<string, number>;
  /** the station's services in the interval (stations only), cleared once recorded */
  serviceTimes?: IntervalTimes;
  /** the service's calls to the station in the interval (stations only), cleared once recorded */
  callTimes?: IntervalTimes;
}

export class Recorder {
  arrivals = 0;
  dropped = 0;
  /** counts by stage and outcome (index stage x OUTCOMES.length + outcome), then by reason ('' for none) */
  private readonly funnelCounts = Array.from(
    { length: STAGES.length * OUTCOMES.length },
    () => new Map<string, number>(),
  );
  /** the counts with no reason, by stage and outcome (the '' of funnelCounts) */
  private readonly unreasoned = new Float64Array(STAGES.length * OUTCOMES.length);
  readonly steps: Record<CostedStep, StepTotals>;
  /** journeys that joined a wave, ms from arrival */
  readonly journey = new LogHistogram();

  private intervalArrivals = 0;
  private intervalDropped = 0;
  private readonly intervalOutcomes = new Float64Array(STAGES.length * OUTCOMES.length);
  private readonly intervalSteps: Record<CostedStep, StepInterval>;
  private readonly stepsByIndex: StepTotals[];
  private readonly intervalByIndex: StepInterval[];
  private readonly series = new Map<string, Series>();
  /** the series of the fixed call sites of tick, by site: no key to build per interval */
  private readonly fixed: Array<Series | undefined> = [];
  readonly t: number[] = [];
  /**
   * Each step's latencies interval by interval (undefined: none in it), kept when asked: validate
   * adds the machine's latency to a request by the interval it ended in (measured-run.ts).
   */
  readonly latencyByInterval?: Record<CostedStep, Array<LogHistogram | undefined>>;

  constructor(
    private readonly intervalSeconds: number,
    o: { keepLatencyByInterval?: boolean } = {},
  ) {
    this.steps = Object.fromEntries(
      COSTED_STEPS.map((step) => [step, { step, requests: 0, failed: 0, latency: new LogHistogram() }]),
    ) as Record<CostedStep, StepTotals>;
    this.intervalSteps = Object.fromEntries(
      COSTED_STEPS.map((step) => [step, { requests: 0, failed: 0, slow: 0, latency: new LogHistogram() }]),
    ) as Record<CostedStep, StepInterval>;
    this.stepsByIndex = COSTED_STEPS.map((step) => this.steps[step]);
    this.intervalByIndex = COSTED_STEPS.map((step) => this.intervalSteps[step]);
    if (o.keepLatencyByInterval)
      this.latencyByInterval = Object.fromEntries(
        COSTED_STEPS.map((step) => [step, []]),
      ) as unknown as Record<CostedStep, Array<LogHistogram | undefined>>;
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
    this.outcomeAt(STAGE_INDEX[stage], OUTCOME_INDEX[outcome], reason);
  }

  /** As outcome, the stage and outcome given by their indices in STAGES and OUTCOMES. */
  outcomeAt(stage: number, outcome: number, reason: string | null): void {
    const i = stage * OUTCOMES.length + outcome;
    // Most outcomes have no reason: their count is kept apart from the map.
    if (reason === null) this.unreasoned[i] = (this.unreasoned[i] as number) + 1;
    else {
      const byReason = this.funnelCounts[i] as Map<string, number>;
      byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
    }
    this.intervalOutcomes[i] = (this.intervalOutcomes[i] as number) + 1;
  }

  /** The funnel's totals, one row per stage, outcome and reason, in a fixed order. */
  funnel(): Array<{ stage: Stage; outcome: Outcome; reason: string | null; count: number }> {
    const rows: Array<{ stage: Stage; outcome: Outcome; reason: string | null; count: number }> = [];
    STAGES.forEach((stage, si) => {
      OUTCOMES.forEach((outcome, oi) => {
        const i = si * OUTCOMES.length + oi;
        const byReason = new Map(this.funnelCounts[i] as Map<string, number>);
        const none = this.unreasoned[i] as number;
        if (none > 0) byReason.set('', (byReason.get('') ?? 0) + none);
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
    this.requestAt(STEP_INDEX[step], ms, failed);
  }

  /** As request, the step given by its index in COSTED_STEPS. */
  requestAt(step: number, ms: number, failed: boolean): void {
    const s = this.stepsByIndex[step] as StepTotals;
    const b = bucketOf(ms);
    s.requests++;
    s.latency.add(b, ms);
    const i = this.intervalByIndex[step] as StepInterval;
    i.requests++;
    i.latency.add(b, ms);
    if (ms > (SLOW_ABOVE_MS[step] as number)) i.slow++;
    if (failed) {
      s.failed++;
      i.failed++;
    }
  }

  /** Closes an interval ending at `tSeconds`: one value of every series. */
  tick(
    tSeconds: number,
    o: {
      vus: number;
      cpuCores: number | null;
      resources: ResourceReading[];
      /** the service's scrypt calls ended in the interval, by operation (hash, verify), cleared once recorded */
      hashes?: Record<string, IntervalTimes>;
    },
  ): void {
    const n = this.t.length;
    this.t.push(tSeconds);
    const per = (x: number) => x / this.intervalSeconds;
    let site = 0;
    this.putAt(site++, n, 'arrivals', {}, per(this.intervalArrivals));
    this.putAt(site++, n, 'dropped_iterations', {}, per(this.intervalDropped));
    this.putAt(site++, n, 'vus', {}, o.vus);
    for (let si = 0; si < STAGES.length; si++) {
      for (let oi = 0; oi < OUTCOMES.length; oi++) {
        this.putAt(
          site++,
          n,
          'stage_outcomes',
          { stage: STAGES[si] as Stage, outcome: OUTCOMES[oi] as Outcome },
          per(this.intervalOutcomes[si * OUTCOMES.length + oi] as number),
        );
      }
    }
    for (const step of COSTED_STEPS) {
      const s = this.intervalSteps[step];
      this.putAt(site++, n, 'step_requests', { step }, per(s.requests));
      this.putAt(site++, n, 'step_failed_ratio', { step }, s.requests > 0 ? s.failed / s.requests : null);
      for (const q of QUANTILES) {
        this.putAt(site++, n, 'step_latency_ms', { step, quantile: q }, s.latency.quantile(Number(q)));
      }
      this.putAt(
        site++,
        n,
        'step_slow_ratio',
        slowRatioLabels(step),
        s.requests > 0 ? s.slow / s.requests : null,
      );
      this.latencyByInterval?.[step].push(s.latency.count > 0 ? s.latency.copy() : undefined);
      s.requests = 0;
      s.failed = 0;
      s.slow = 0;
      s.latency.clear();
    }
    for (const r of o.resources) {
      this.put(n, 'dependency_utilisation', { dependency: r.name }, r.utilisation);
      this.put(n, 'dependency_queue_ratio', { dependency: r.name }, r.queueRatio);
      for (const [reason, count] of Object.entries(r.rejections)) {
        this.put(n, 'dependency_rejections', { dependency: r.name, reason }, per(count));
      }
      const dependency = { dependency: r.name };
      if (r.serviceTimes)
        this.putTimes(n, 'dependency_service_buckets', 'dependency_service_ms', dependency, r.serviceTimes);
      if (r.callTimes)
        this.putTimes(n, 'dependency_call_buckets', 'dependency_call_ms', dependency, r.callTimes);
    }
    for (const [operation, times] of Object.entries(o.hashes ?? {}))
      this.putTimes(n, 'password_hash_buckets', 'password_hash_ms', { operation }, times);
    this.put(n, 'process_cpu_cores', { process: 'registration' }, o.cpuCores);
    // A bucket's series is written only in the intervals it counted in: null in the others.
    for (const s of this.series.values()) if (s.values.length === n) s.values.push(null);
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

  /**
   * An interval's times as the scraper writes a histogram's: each bucket that counted, per second,
   * and the mean. As in a rehearsal's record, a bucket or a mean is null in an interval where it
   * counted nothing, and a bucket that never counts has no series.
   */
  private putTimes(
    n: number,
    buckets: SeriesName,
    mean: SeriesName,
    labels: Record<string, string>,
    times: IntervalTimes,
  ): void {
    const per = 1 / this.intervalSeconds;
    const bins = times.bins.labels;
    for (let b = 0; b < times.counts.length; b++) {
      const c = times.counts[b] as number;
      if (c > 0) this.put(n, buckets, { ...labels, ...(bins[b] as { gt: string; le: string }) }, c * per);
    }
    this.put(n, mean, labels, times.count > 0 ? times.sumMs / times.count : null);
    times.clear();
  }

  private put(n: number, name: SeriesName, labels: Record<string, string>, value: number | null): void {
    this.seriesOf(n, name, labels).values.push(value === null ? null : Math.round(value * 1000) / 1000);
  }

  /** As put, for the call site `site` of tick, whose series is always the same one. */
  private putAt(
    site: number,
    n: number,
    name: SeriesName,
    labels: Record<string, string>,
    value: number | null,
  ): void {
    let s = this.fixed[site];
    if (!s) {
      s = this.seriesOf(n, name, labels);
      this.fixed[site] = s;
    }
    s.values.push(value === null ? null : Math.round(value * 1000) / 1000);
  }

  private seriesOf(n: number, name: SeriesName, labels: Record<string, string>): Series {
    let key: string = name;
    for (const k in labels) key += `|${labels[k]}`;
    let s = this.series.get(key);
    if (!s) {
      s = { name, labels, values: new Array<number | null>(n).fill(null) };
      this.series.set(key, s);
    }
    return s;
  }
}
