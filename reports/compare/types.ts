/**
 * The comparison's format: what comparison.json holds and what every other module of the
 * comparison fills in. Kept apart from compareRuns so that the modules that compute the parts can
 * share it without importing the module that assembles them.
 */

export type Verdict = 'better' | 'worse' | 'within_noise' | 'not_comparable';
type Direction = 'lower_is_better' | 'higher_is_better';
export type Section = 'throughput' | 'latency' | 'errors' | 'funnel' | 'bottleneck';
export type Unit = 'ms' | 'per_second' | 'share' | 'ratio' | 'seconds' | 'cores';
export type OverallVerdict = 'regression' | 'improvement' | 'no_change';

const METRIC_KINDS = [
  'throughput',
  /** requests a second when both runs replayed the same arrivals: the registrants' retries and polls */
  'request_rate',
  'latency_p50',
  'latency_p95',
  'latency_p99',
  'error_rate',
  'conversion',
  'system_failure_share',
  'dropped_iterations',
  'bottleneck_utilisation',
  'bottleneck_saturation',
  'process_cpu',
] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];

export interface CompareOptions {
  /** confidence of the tests, family-wide after the Holm adjustment; default 0.95 */
  confidence?: number;
  /** the smallest relative change of the headline figure called better or worse; default 0.05 */
  minEffect?: number;
  /** the metric kinds whose `worse` makes the overall verdict a regression; default DEFAULT_GATE */
  gate?: readonly MetricKind[];
  /** fewest effective samples (intervals) a series test needs; default 10 */
  minSamples?: number;
  /**
   * 'none' keeps each test's own p-value (more sensitive, more false alarms); default 'holm'
   * (over repeated runs, ./replicates.ts: Benjamini-Hochberg's, which it stands for there)
   */
  adjust?: 'holm' | 'none';
}

export interface StatTest {
  /** welch_t: over repeated runs, a figure per run (on the log scale when all are positive) */
  method: 'wilcoxon_signed_rank' | 'mann_whitney_u' | 'two_proportion_z' | 'welch_t';
  /** standardised statistic (Welch's: t), > 0 when the candidate is higher */
  z: number;
  /** two-sided p-value of this test alone */
  p: number;
  /** p after the adjustment over all tests of the comparison: what the verdict uses */
  pAdjusted: number;
  /** intervals paired (both entries equal), intervals per run, requests / registrants per run, or runs a side */
  samples: [number, number];
  /** Welch's test: the Welch-Satterthwaite degrees of freedom */
  df?: number;
  /** rank tests: lag-1 autocorrelation of the scores, and the samples it leaves as independent */
  autocorrelation?: number;
  effectiveSamples?: number;
  /** two-proportion test: variance inflation for failures clustered in time (1: independent) */
  dispersion?: number;
}

export interface MetricComparison {
  /** stable key, e.g. 'latency.submit_biodata.p95' */
  id: string;
  section: Section;
  kind: MetricKind;
  label: string;
  unit: Unit;
  direction: Direction;
  gating: boolean;
  /**
   * true for the load generator's own figures (its CPU): shown, as a load generator short of CPU
   * makes every latency suspect, but no change of the system under test, so never in the overall
   * verdict (two runs of one build differ in it by more than the minimum effect)
   */
  loadGenerator?: true;
  baseline: number | null;
  candidate: number | null;
  /** (candidate - baseline) / baseline; null when either is missing or the baseline is 0 */
  change: number | null;
  verdict: Verdict;
  /** why the verdict: the p-value, or what kept it from better/worse */
  reason: string;
  test: StatTest | null;
  /** proportions: the counts behind the shares ("30 of 6,000") */
  counts?: { baseline: string; candidate: string };
}

export interface BottleneckSide {
  dependency: string;
  peakUtilisation: number;
  /** seconds since the start when its first sustained saturation began (model/station.ts SATURATION); null if none */
  saturatedAtSeconds: number | null;
}

export interface RunInfo {
  runId: string;
  dir: string;
  scenario: string;
  engine: string;
  startedAt: string;
  durationSeconds: number;
  intervalSeconds: number;
  profile: string | null;
  scale: number | null;
  compress: number | null;
  windowMinutes: [number, number] | null;
}

export interface Comparison {
  format: 'gelombang/comparison';
  version: 1;
  /** the first run of each side when the sides are repeated runs (then `replicates` has them all) */
  baseline: RunInfo;
  candidate: RunInfo;
  /**
   * each side's runs, when the comparison is over repeated rehearsals
   * (reports/compare/replicates.ts): then a metric's baseline and candidate are the medians of its
   * figure per run, and its test is Welch's over those figures
   */
  replicates?: { baseline: RunInfo[]; candidate: RunInfo[] };
  options: Required<CompareOptions>;
  /** false when the runs differ in what was run (scenario, replay, engine): they are still compared */
  comparable: boolean;
  warnings: string[];
  /** what differs in the set-up besides the change under test: knobs, env, capacities (informative) */
  configChanges: string[];
  /** 'paired' when the sampling grids line up, else 'unpaired' (Mann-Whitney) */
  pairing: 'paired' | 'unpaired';
  /** number of tests the p-values were adjusted over */
  tests: number;
  overall: {
    verdict: OverallVerdict;
    headline: string;
    /** ids of the metrics that are worse, better, and worse among the gating ones */
    worse: string[];
    better: string[];
    gatingWorse: string[];
  };
  bottleneck: { baseline: BottleneckSide | null; candidate: BottleneckSide | null };
  metrics: MetricComparison[];
}
