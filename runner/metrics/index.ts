// The metrics engine as the rest of the runner uses it; callers outside runner/ get a MetricsView.
export { prometheusText } from './prometheus.ts';
export { defineBuiltins, Store } from './store.ts';
export { buildSummaryData, type SummaryData, summaryExport, textSummary } from './summary.ts';
export {
  evaluateThresholds,
  parseThresholds,
  submetricSelectors,
  type Threshold,
  ThresholdError,
  type ThresholdResult,
  thresholdsToAbort,
} from './thresholds.ts';
