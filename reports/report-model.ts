import type { Outcome, Stage, Step } from '../model/funnel.ts';

/**
 * The funnel report as data: what report.json holds, and what report.md and report.html render
 * (the three carry the same content). Computed from a run record by reports/funnel-report.ts.
 * Counts are of the run (scaled); `fullScale` fields multiply by 1 / scale.
 */

export const REPORT_VERSION = 1;

/** A stretch of consecutive intervals in which one objective was missed. */
export interface ObjectiveMiss {
  step: Step;
  objective: 'p95_ms' | 'error_rate';
  /** seconds since the start at the end of the first and of the last interval that missed it */
  fromSeconds: number;
  toSeconds: number;
  /** how many intervals in a row */
  intervals: number;
  /** the worst value among them: ms for p95_ms, a share of requests for error_rate */
  worst: number;
}

export interface ReportVerdict {
  /**
   * true when no objective was missed over the whole run nor in any sustained window (`window`):
   * a miss shorter than that is an excursion, reported but not a break
   */
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
  /**
   * How long an objective must be missed to be broken: in every one of `intervals` consecutive
   * intervals (at least `seconds`), each with at least `minRequests` of the step's requests
   */
  window: { seconds: number; intervals: number; minRequests: number };
  /** each time the run broke, in order: overlapping sustained misses of any objectives, and whether it recovered */
  episodes: Array<{
    fromSeconds: number;
    toSeconds: number;
    /**
     * the end of the first interval of the first window after it in which every objective it
     * missed was judged and held; null when the run ended (or broke again) before one
     */
    recoveredAtSeconds: number | null;
    misses: ObjectiveMiss[];
  }>;
  /** misses shorter than the window: told, not counted as a break */
  excursions: ObjectiveMiss[];
  /** every per-step objective: held unless missed over the whole run or in a sustained window */
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
    /** one sentence: "dukcapil: at least 95 % of its servers busy for 10 s", "CPU: 1.9 of 2 cores busy (registration 1.4)" */
    detail: string;
  } | null;
  /**
   * What saturated first and whatever else saturated within SATURATION.sustainSeconds of it, in
   * order: which of two so close came first is within what differs between two identical runs,
   * so they are named together. Empty when nothing saturated.
   */
  firstSaturated: Array<{ kind: 'dependency' | 'cpu'; name: string; tSeconds: number }>;
  /** the dependency that saturated first (model/station.ts SATURATION, sustained), null if none did */
  dependency: string | null;
  /** seconds since the start when it first saturated */
  tSeconds: number | null;
  profileMinute: number | null;
  /** the arrival rate at that moment: per second of the run, and per minute at full scale */
  arrivalsPerSecond: number | null;
  fullScalePerMinute: number | null;
  /** what followed, in order of first appearance: "queue full at Dukcapil (t=41 s)", "timeouts at submit_biodata", ... */
  consequences: string[];
  /** per dependency: peak utilisation and when its first sustained saturation began */
  dependencies: Array<{
    dependency: string;
    peakUtilisation: number;
    saturatedAtSeconds: number | null;
    rejections: number;
    /**
     * the longest run of consecutive intervals at SATURATION.utilisation or more, in seconds: what
     * a dependency that did not stay saturated long enough to count came to (absent in older reports)
     */
    longestBusySeconds?: number;
    /**
     * the dependency's own mean time a request over the run (station_service_seconds: a server
     * held, its queue excluded), ms; null when the record has none (absent in older reports)
     */
    meanServiceMs?: number | null;
    /**
     * the registration service's mean wait a call over the run, as it timed its calls (the
     * dependency's queue, the exchange over loopback and its service: dependency_call_ms), ms;
     * null when the record has none (before 2026-12-07; absent in older reports)
     */
    meanCallMs?: number | null;
  }>;
  /** the CPU the processes of the run used (null when the record has no process_cpu_cores series) */
  cpu: {
    /** the machine's cores, when recorded */
    cores: number | null;
    /** when all the processes together began to use >= CPU_SATURATED of the cores for the saturation window */
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

/** One fault the rehearsal's schedule injected (run.json `faults`), and what it did to the run. */
export interface ReportFault {
  /** where it was given: "faults.yaml: faults[2]", "--chaos kill-service@40" */
  origin: string;
  kind: 'down' | 'slow' | 'errorRate' | 'kill';
  /** the dependency faulted, or the service killed */
  target: string;
  description: string;
  profileMinute: number;
  /** run seconds the schedule planned for it */
  plannedSeconds: number;
  /** when it took effect and when it was undone (a kill: killed, and ready again); null: never */
  fromSeconds: number | null;
  toSeconds: number | null;
  /** a kill: from the kill to the restarted service answering /healthz */
  downtimeSeconds: number | null;
  /** what went wrong applying or undoing it */
  problem: string | null;
  /**
   * Over the sampling intervals the fault overlapped ([fromSeconds, toSeconds] of this object,
   * whole intervals): the load generator's requests and those that failed, the share failed
   * against the rest of the run, registrants failed by the system, and the dependency's own
   * refusals (queue full). null when it never took effect; a figure is null without its series.
   */
  effect: {
    intervals: number;
    fromSeconds: number;
    toSeconds: number;
    requests: number | null;
    failedRequests: number | null;
    failedShare: number | null;
    failedShareElsewhere: number | null;
    registrantsFailed: number | null;
    rejections: number | null;
  } | null;
}

/**
 * The run's capacities against the capacity file at full size (run.json `similitude`,
 * model/similitude.ts): the rate factor, each dependency at both sizes, and what this machine's
 * cores stood for.
 */
export interface ReportSimilitude {
  /** arrivals in the run per arrival on the full day, per unit of the run's time (scale x compress) */
  factor: number;
  /** false: the capacity file was enforced as it is */
  scaled: boolean;
  /** why not scaled (--absolute-capacity, a scenario with no rate tied to the day); null when scaled or unknown */
  why: string | null;
  capacityFile: string;
  /** the service design's name (SERVICE_PROFILE), when the record has it */
  serviceProfile: string | null;
  stations: Array<{
    dependency: string;
    fullConcurrency: number;
    fullQueue: number;
    concurrency: number;
    queue: number;
    /** the run's service time over the full day's (whole servers for a fractional share) */
    serviceTimeStretch: number;
  }>;
  /** what the scaling could not keep */
  notes: string[];
  /** this machine's cores at the run's hash cost, and the full-size cores they stood for */
  cpu: {
    cores: number;
    scryptN: number;
    fullSizeScryptN: number;
    standsForCores: number;
    fullSizeCores: number | null;
  } | null;
  /** the service's SMTP connections in the run and at full size (run.json similitude.smtpPool) */
  smtpPool: {
    workers: number;
    connections: number;
    fullSizeWorkers: number | null;
    fullSizeConnections: number;
  } | null;
}

/** Chart data: aligned arrays over the run's sampling intervals. */
interface ReportSeries {
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
  /** the simulator's prediction of this run at full scale, beside the naive estimates */
  fullScale: FullScale | null;
  /** faults injected by the rehearsal's schedule, in order; absent (or empty) when none was */
  faults?: ReportFault[];
  /** how the capacity file, at full size, was scaled into this run; absent when the record does not say */
  similitude?: ReportSimilitude;
  /** how the figures were measured and what they assume, as sentences */
  notes: string[];
}

/**
 * "At full scale": the capacity simulator calibrated on this run, run on the same window at scale
 * 1 in real time (scripts/full-scale.ts writes it as a simulated run record in full-scale/). Null
 * in a report of a run without one (a simulated run, or one recorded before predictions existed).
 */
export type FullScale =
  | {
      predicted: true;
      /** where the calibration came from ("fitted on <run-id>") */
      calibration: string;
      /** the service's cores, as simulated */
      cores: number;
      /** how the simulation departs from this run's design (a switch not modelled, a waiting room's rate kept) */
      notes: string[];
      /** the simulated run's own verdict */
      held: boolean;
      headline: string;
      /** per stage: simulated at full scale, this run's count times 1 / scale (naive), and 2020 */
      funnel: Array<{
        stage: Stage;
        simulated: number;
        naive: number;
        count2020: number | null;
        ofRegistered: number | null;
        ofRegistered2020: number | null;
      }>;
      /** per step: simulated p95 and failed share against the SLO, beside this run's (the naive reading) */
      steps: Array<{
        step: Step;
        p95Ms: number | null;
        failedRatio: number | null;
        measuredP95Ms: number | null;
        measuredFailedRatio: number | null;
        sloP95Ms: number;
      }>;
      /** what ran out first at full scale, and when (profile minute) */
      firstSaturated: Bottleneck['firstSaturated'];
      profileMinute: number | null;
      /** registrants the system failed at full scale, against the naive estimate */
      failedBySystem: { simulated: number; naive: number };
    }
  | { predicted: false; why: string };
