export type { MetricDelta, MetricStore, MetricStoreOptions, MetricType, Tags, ValueType } from './api.ts';
export { DEFAULT_PROMETHEUS_TREND_STATS, prometheusText } from './prometheus.ts';
export { parseSelector } from './selectors.ts';
export { BUILTIN_METRICS, createMetricStore, defineBuiltins, MetricDefinitionError, Store } from './store.ts';
export {
  buildSummaryData,
  DEFAULT_TREND_STATS,
  type SummaryData,
  summaryExport,
  textSummary,
} from './summary.ts';
export {
  evaluateThresholds,
  parseThresholds,
  submetricSelectors,
  type Threshold,
  ThresholdError,
  type ThresholdResult,
  type ThresholdsOption,
  thresholdsToAbort,
} from './thresholds.ts';
