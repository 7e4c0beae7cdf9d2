import type { Draft } from './evidence.ts';
import { holm } from './statistics.ts';
import type {
  CompareOptions,
  Comparison,
  MetricComparison,
  OverallVerdict,
  StatTest,
  Verdict,
} from './types.ts';

/**
 * From evidence to verdicts. A verdict needs two things: the change is statistically significant
 * at `confidence`, AND it is at least `minEffect` (relative) on the headline figure the table
 * shows. Significance alone flags 0.3 % shifts over a million requests; size alone flags noise.
 *
 * Some forty metrics are tested at once: at 95 % each, two would be "significant" by chance in
 * every comparison of identical runs. The p-values are Holm-adjusted over all the tests of the
 * comparison, so the chance that a no-change comparison reports anything at all is at most
 * 1 - confidence.
 */

/** Adjusts the p-values of every tested draft in place, over all of them; returns how many there were. */
export function adjustPValues(drafts: readonly Draft[], how: 'holm' | 'none'): number {
  const tested = drafts.flatMap((d) => (d.evidence.kind === 'tested' ? [d.evidence.test] : []));
  const adjusted = how === 'holm' ? holm(tested.map((t) => t.p)) : tested.map((t) => t.p);
  tested.forEach((t, i) => {
    t.pAdjusted = adjusted[i]!;
  });
  return tested.length;
}

/** Every draft with its verdict; the p-values must have been adjusted first. */
export function judge(drafts: readonly Draft[], o: Required<CompareOptions>): MetricComparison[] {
  const gate = new Set(o.gate);
  return drafts.map(({ evidence: _, ...d }, i): MetricComparison => {
    const v = verdictOf(drafts[i]!, o);
    return d.loadGenerator
      ? { ...d, gating: false, ...v, reason: `${v.reason}; the load generator's, not in the overall verdict` }
      : { ...d, gating: gate.has(d.kind), ...v };
  });
}

function verdictOf(
  d: Draft,
  o: Required<CompareOptions>,
): { verdict: Verdict; reason: string; test: StatTest | null } {
  const e = d.evidence;
  switch (e.kind) {
    case 'missing':
      return { verdict: 'not_comparable', reason: e.reason, test: null };
    case 'untestable':
      return { verdict: 'within_noise', reason: e.reason, test: e.test };
    case 'decided':
      return { verdict: e.verdict, reason: e.reason, test: null };
    case 'tested':
      return { ...testedVerdict(d, e.test, o), test: e.test };
  }
}

function testedVerdict(
  d: Draft,
  t: StatTest,
  o: Required<CompareOptions>,
): { verdict: Verdict; reason: string } {
  const p = formatP(t.pAdjusted);
  const note = d.evidence.kind === 'tested' && d.evidence.note ? `; ${d.evidence.note}` : '';
  if (t.pAdjusted >= 1 - o.confidence) return { verdict: 'within_noise', reason: `${p}${note}` };
  const up = d.baseline !== null && d.candidate !== null ? Math.sign(d.candidate - d.baseline) : 0;
  // A zero baseline has no relative change, yet anything from nothing exceeds any minimum effect.
  const size = d.change === null ? (up !== 0 ? Number.POSITIVE_INFINITY : 0) : Math.abs(d.change);
  if (size < o.minEffect)
    return {
      verdict: 'within_noise',
      reason: `change below the ${(o.minEffect * 100).toFixed(0)} % minimum effect (${p})${note}`,
    };
  if (up !== Math.sign(t.z))
    return { verdict: 'within_noise', reason: `the run totals and the per-interval samples disagree (${p})` };
  const better = up > 0 === (d.direction === 'higher_is_better');
  return { verdict: better ? 'better' : 'worse', reason: `${p}${note}` };
}

/** 'p=0.03', 'p<0.001' */
function formatP(p: number): string {
  if (p < 0.001) return 'p<0.001';
  return `p=${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`;
}

/** The overall verdict over the system under test's metrics (the load generator's are shown apart). */
export function overallOf(metrics: readonly MetricComparison[]): Comparison['overall'] {
  const system = metrics.filter((m) => !m.loadGenerator);
  const worse = system.filter((m) => m.verdict === 'worse');
  const better = system.filter((m) => m.verdict === 'better');
  const gatingWorse = worse.filter((m) => m.gating);
  const labels = (ms: readonly MetricComparison[]) => ms.map((m) => m.label).join(', ');
  let verdict: OverallVerdict;
  let headline: string;
  if (gatingWorse.length) {
    verdict = 'regression';
    headline = `${gatingWorse.length} gating metric${gatingWorse.length > 1 ? 's' : ''} worse: ${labels(gatingWorse)}`;
  } else if (!worse.length && better.length) {
    verdict = 'improvement';
    headline = `${better.length} metric${better.length > 1 ? 's' : ''} better, none worse: ${labels(better)}`;
  } else if (better.some((m) => m.gating)) {
    // A change that fixes what gates usually costs something that does not (more CPU for the work
    // that now gets done): an improvement, with its costs named.
    const gatingBetter = better.filter((m) => m.gating);
    verdict = 'improvement';
    headline = `${gatingBetter.length} gating metric${gatingBetter.length > 1 ? 's' : ''} better (${better.length} in all), none gating worse; worse, not gating: ${labels(worse)}`;
  } else {
    verdict = 'no_change';
    headline = worse.length
      ? `no gating metric worse; ${better.length} better, ${worse.length} worse (not gating: ${labels(worse)})`
      : 'no change beyond run-to-run noise';
  }
  return {
    verdict,
    headline,
    worse: worse.map((m) => m.id),
    better: better.map((m) => m.id),
    gatingWorse: gatingWorse.map((m) => m.id),
  };
}
