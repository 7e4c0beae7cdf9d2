import type { RunRecord } from '../record.ts';
import { comparability } from './comparability.ts';
import type { Context } from './evidence.ts';
import { bottleneckOf, metricDrafts } from './metrics.ts';
import type { CompareOptions, Comparison, MetricKind } from './types.ts';
import { adjustPValues, judge, overallOf } from './verdicts.ts';

export type { Comparison } from './types.ts';

/**
 * Before/after comparison of two rehearsal runs: every metric side by side with a verdict that
 * separates a real change from run-to-run noise, and an overall verdict a CI job can gate on.
 * Pure: records in, a Comparison out (./render.ts renders it).
 *
 * How noise is modelled, and why, is told where it is done: the tests that count consecutive
 * intervals as fewer independent samples in ./statistics.ts, paired intervals and clustered
 * failures in ./evidence.ts, the minimum effect and the Holm adjustment over some forty tests in
 * ./verdicts.ts, and when intervals cannot be paired in ./comparability.ts.
 */

const DEFAULT_GATE: readonly MetricKind[] = ['throughput', 'latency_p95', 'error_rate', 'conversion'];

function resolveOptions(o: CompareOptions): Required<CompareOptions> {
  return {
    confidence: o.confidence ?? 0.95,
    minEffect: o.minEffect ?? 0.05,
    gate: [...(o.gate ?? DEFAULT_GATE)],
    minSamples: o.minSamples ?? 10,
    adjust: o.adjust ?? 'holm',
  };
}

export function compareRuns(
  baseline: RunRecord,
  candidate: RunRecord,
  options: CompareOptions = {},
): Comparison {
  const o = resolveOptions(options);
  const runs = comparability(baseline, candidate);
  const ctx: Context = {
    baseline,
    candidate,
    paired: runs.pairing === 'paired',
    minSamples: o.minSamples,
    minEffect: o.minEffect,
  };
  const drafts = metricDrafts(ctx);
  const tests = adjustPValues(drafts, o.adjust);
  const metrics = judge(drafts, o);
  return {
    format: 'gelombang/comparison',
    version: 1,
    baseline: runs.baseline,
    candidate: runs.candidate,
    options: o,
    comparable: runs.comparable,
    warnings: runs.warnings,
    configChanges: runs.configChanges,
    pairing: runs.pairing,
    tests,
    overall: overallOf(metrics),
    bottleneck: {
      baseline: bottleneckOf(baseline.timeseries),
      candidate: bottleneckOf(candidate.timeseries),
    },
    metrics,
  };
}
