import type { Outcome, Stage, Step } from '../model/funnel.ts';

/**
 * The funnel report as data: what report.json holds, and what report.md and report.html render
 * (the three carry the same content). Computed from a run record by reports/funnel-report.ts.
 * Counts are of the run (scaled); `fullScale` fields multiply by 1 / scale.
 */

export const REPORT_VERSION = 1;

export interface ReportVerdict {
  /** true when every per-step SLO held and no registrant was failed by the system beyond the error budgets */
  held: boolean;
  /** one sentence a manager can read: "Held the profile" / "Broke at 14:03 (minute 3 of the profile): Dukcapil saturated ..." */
  headline: string;
  /** when and where it broke, if it did */
  brokeAt: {
    /** seconds since the start of the run */
    tSeconds: number;
    /** the profile minute (uncompressed) it corresponds to, when the run was a replay */
    profileMinute: number | null;
    /** the step whose SLO broke first */
    step: Step | null;
    /** which of its objectives broke first */
    objective: 'p95_ms' | 'error_rate' | null;
    /** the dependency that saturated first, if any */
    dependency: string | null;
    /** what ran out first at or before the break (a dependency or the machine's CPU), if anything did */
    resource: Bottleneck['resource'];
  } | null;
  /** every per-step objective, held or not */
  slos: Array<{
    step: Step;
    objective: 'p95_ms' | 'error_rate';
    target: number;
    observed: number | null;
    held: boolean;
  }>;
}

export interface FunnelRow {
  stage: Stage;
  /** registrants who reached the stage in this run */
  reached: number;
  /** reached / reached of the previous stage (null for the first, or when the previous is 0) */
  conversion: number | null;
  /** docs/2020.md count at hour 21 of 2020, null when none was published */
  count2020: number | null;
  /** the 2020 stage-to-stage conversion recomputed from the counts (null when either count is missing) */
  conversion2020: number | null;
  /** reached / registered: the share of everyone who signed up (null when nobody did) */
  ofRegistered: number | null;
  /** the same in 2020 from docs/2020.md's counts, comparable even where a stage between was never published */
  ofRegistered2020: number | null;
  /** reached, scaled back to the full population */
  fullScale: number;
}

export interface LossRow {
  /** the stage that was not reached ('registered': arrivals whose sign-up failed or was refused) */
  stage: Stage;
  /** registrants of the previous stage (arrivals, for 'registered'), by what became of them at this one */
  outcomes: Record<Outcome, number>;
  /** failed by the system, by reason (http_5xx, timeout, dependency:dukcapil, ...) */
  failedReasons: Record<string, number>;
  /** refused by the rules, by reason (underage, nik_not_found, ...) */
  rejectedReasons: Record<string, number>;
  /** the same outcomes scaled back to the full population */
  fullScale: Record<Outcome, number>;
}

export interface StepRow {
  step: Step;
  requests: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  failedRatio: number | null;
  sloP95Ms: number;
  sloErrorRate: number;
}

export interface Bottleneck {
  /**
   * What ran out first: a mocked dependency (all its servers busy) or the machine's CPU (the
   * processes of the run together using nearly every core). null when nothing did.
   */
  resource: {
    kind: 'dependency' | 'cpu';
    /** the dependency, or for the CPU the process that used the most of it */
    name: string;
    /** one sentence: "dukcapil: every server busy", "CPU: 1.9 of 2 cores busy, registration 1.4" */
    detail: string;
  } | null;
  /** the dependency that saturated first (utilisation >= the threshold), null if none did */
  dependency: string | null;
  /** seconds since the start when it first saturated */
  tSeconds: number | null;
  profileMinute: number | null;
  /** the arrival rate at that moment: per second of the run, and per minute at full scale */
  arrivalsPerSecond: number | null;
  fullScalePerMinute: number | null;
  /** what followed, in order of first appearance: "queue full at Dukcapil (t=41 s)", "timeouts at submit_biodata", ... */
  consequences: string[];
  /** per dependency: peak utilisation and the first time it reached saturation */
  dependencies: Array<{
    dependency: string;
    peakUtilisation: number;
    saturatedAtSeconds: number | null;
    rejections: number;
  }>;
  /** the CPU the processes of the run used (null when the record has no process_cpu_cores series) */
  cpu: {
    /** the machine's cores, when recorded */
    cores: number | null;
    /** first time all the processes together used >= CPU_SATURATED of the cores */
    saturatedAtSeconds: number | null;
    /** per process (registration, ministry, email, upload, runner): the most cores it used in an interval */
    processes: Array<{ process: string; peakCores: number; peakEventLoopLagMs: number | null }>;
  } | null;
}

export interface Headroom {
  /** the highest arrival rate (per second of the run) sustained within every SLO, over a sliding window */
  sustainedPerSecond: number | null;
  /** that rate at full scale, per minute (the unit of docs/2020.md's 80,000 peak) */
  sustainedFullScalePerMinute: number | null;
  /** the profile's peak, per minute at full scale */
  profilePeakPerMinute: number | null;
  /** sustained / peak: above 1 the system held the peak with room to spare */
  ratio: number | null;
  /**
   * true when no step ever broke its SLO: the rate is only the most the run offered, the system's
   * limit is higher (a breakpoint run finds it)
   */
  lowerBound: boolean;
}

/** Chart data: aligned arrays over the run's sampling intervals. */
export interface ReportSeries {
  /** seconds since the start, end of each interval */
  t: number[];
  arrivalsPerSecond: Array<number | null>;
  /** registrants reaching the last stage (joined a wave), per second */
  completionsPerSecond: Array<number | null>;
  /** per step, p95 latency per interval (ms) */
  stepP95Ms: Partial<Record<Step, Array<number | null>>>;
  /** per dependency, utilisation per interval (0..1 and above when queueing) */
  utilisation: Record<string, Array<number | null>>;
}

export interface Report {
  format: 'gelombang/report';
  version: typeof REPORT_VERSION;
  run: {
    runId: string;
    scenario: string;
    engine: string;
    startedAt: string;
    durationSeconds: number;
    target: string;
    exitCode: number;
    /** replay scale (share of the population) and time compression; null when not a replay */
    scale: number | null;
    compress: number | null;
    windowMinutes: [number, number] | null;
    /** the service's knobs and the mocks' capacities, as one line each ("EMAIL_DELIVERY=outbox", "dukcapil: 16 servers, queue 64") */
    configuration: string[];
  };
  verdict: ReportVerdict;
  funnel: FunnelRow[];
  losses: LossRow[];
  steps: StepRow[];
  bottleneck: Bottleneck;
  headroom: Headroom;
  series: ReportSeries;
  /** how the figures were measured and what they assume, as sentences */
  notes: string[];
}
