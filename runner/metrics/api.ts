/**
 * The contract between the runner's engine (VUs, executors, k6 modules) and its metrics library
 * (sinks, submetrics, thresholds, summaries, Prometheus exposition). Implemented in runner/metrics/.
 * k6 names and meanings throughout: https://grafana.com/docs/k6/latest/using-k6/metrics/
 */

export type MetricType = 'counter' | 'gauge' | 'rate' | 'trend';
/** k6's "contains": how values print (time in ms, data in bytes) */
export type ValueType = 'default' | 'time' | 'data';
export type Tags = Readonly<Record<string, string>>;

/**
 * A structured-cloneable batch of everything recorded in one thread since the previous drain.
 * Workers post it to the main thread, which merges it exactly (HDR histograms add, counters add,
 * rates add passes/totals, gauges keep the latest value with min/max).
 */
export interface MetricDelta {
  readonly version: 1;
  /** opaque to the engine; only MetricStore.merge reads it */
  readonly payload: unknown;
}

export interface MetricStoreOptions {
  /** threshold/summary selectors such as 'http_req_duration{step:verify_email}' (submetrics) */
  submetrics?: readonly string[];
  /** tag keys never broken out into Prometheus series (high cardinality), default ['url'] */
  excludedSeriesTags?: readonly string[];
}

/** One per thread. `add` is the hot path: O(1), no per-sample allocation beyond the histogram. */
export interface MetricStore {
  /** idempotent; throws MetricDefinitionError on an invalid name or a type/contains conflict */
  define(name: string, type: MetricType, contains?: ValueType): void;
  /** records a sample; the metric must be defined */
  add(name: string, value: number, tags?: Tags): void;
  /** counts a check() result by its path, k6's: the group's path, '::', the name ('::name' at the root) */
  addCheck(path: string, passed: boolean): void;
  drain(): MetricDelta;
  merge(delta: MetricDelta): void;
}
