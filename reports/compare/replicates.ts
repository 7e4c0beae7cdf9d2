import type { RunRecord } from '../record.ts';
import { comparability } from './comparability.ts';
import { compareRuns } from './index.ts';
import { benjaminiHochberg, welchTest } from './statistics.ts';
import type { CompareOptions, Comparison, MetricComparison, StatTest } from './types.ts';
import { overallOf } from './verdicts.ts';

/**
 * Before/after over repeated rehearsals: each side's runs, each metric's figure per run, and
 * Welch's t-test over those figures, the way benchstat compares benchmark runs. A pair of
 * rehearsals (./index.ts) is judged interval by interval, within each run, and the validate
 * bench found that two rehearsals of one build differ by more than that: at the knee the same
 * rehearsal run again had sign-up p95s of 1,707 then 855 ms and 2,388 then 760, and compare
 * called 7 of 12 such unchanged pairs changed (bench/README.md, 2026-12-05). Over repeats the
 * noise is the spread between runs, which is what a change must stand out from.
 *
 * The figures are taken on the log scale when all are positive (a change is a ratio). The
 * p-values are adjusted over the metrics by Benjamini-Hochberg (statistics.ts), so few runs a side
 * call only large, steady changes: three a side is the least that tells anything (three runs at
 * the knee and three with half the hash cost, sign-up p95 7,205 against 398 ms, were not enough
 * under Holm's); against runs a third apart in level, ten a side catch a change of half three
 * times in four (bench/compare.bench.ts).
 */

export const MIN_RUNS = 2;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

const p3 = (p: number) => (p < 0.001 ? p.toExponential(1) : p.toFixed(3));

/**
 * Differences in set-up among one side's runs, other than their run key (registrants drawn anew),
 * from each run's comparability with the side's first.
 */
function sideWarnings(
  side: 'baseline' | 'candidate',
  against: ReadonlyArray<Pick<Comparison, 'baseline' | 'candidate' | 'warnings' | 'configChanges'>>,
): string[] {
  return against.flatMap((c) => {
    const changes = c.configChanges.filter((x) => !x.startsWith('env RUN_KEY:'));
    return [
      // "not comparable: " first, as the header looks for it: a side that replayed two things has no median.
      ...c.warnings
        .filter((w) => w.startsWith('not comparable: '))
        .map(
          (w) =>
            `not comparable: the ${side} runs ${c.baseline.dir} and ${c.candidate.dir}: ${w.slice('not comparable: '.length)}`,
        ),
      ...c.warnings
        .filter((w) => / hashed | committed /.test(w))
        .map((w) => `${side} run ${c.candidate.dir} against ${c.baseline.dir}: ${w}`),
      ...(changes.length
        ? [
            `the ${side} runs differ among themselves (${c.candidate.dir} against ${c.baseline.dir}): ${changes.join('; ')}`,
          ]
        : []),
    ];
  });
}

export function compareReplicates(
  baselines: readonly RunRecord[],
  candidates: readonly RunRecord[],
  options: CompareOptions = {},
): Comparison {
  if (baselines.length < MIN_RUNS || candidates.length < MIN_RUNS)
    throw new Error(
      `a comparison over repeats needs at least ${MIN_RUNS} runs a side (${baselines.length} and ${candidates.length} given)`,
    );
  const ref = baselines[0] as RunRecord;
  // Each run's figures, as a pair's comparison reads them (its candidate side); the first
  // baseline against itself gives its own.
  const pairs = [...baselines, ...candidates].map((r) => compareRuns(ref, r, options));
  const o = (pairs[0] as Comparison).options;
  const across = pairs[baselines.length] as Comparison;
  const figures = (from: number, to: number, id: string): number[] =>
    pairs.slice(from, to).flatMap((c) => {
      const v = c.metrics.find((m) => m.id === id)?.candidate;
      return v === null || v === undefined || !Number.isFinite(v) ? [] : [v];
    });

  const drafts = across.metrics.map((m) => {
    const b = figures(0, baselines.length, m.id);
    const c = figures(baselines.length, pairs.length, m.id);
    const log = [...b, ...c].every((v) => v > 0);
    const w = welchTest(log ? b.map(Math.log) : b, log ? c.map(Math.log) : c);
    return { m, b, c, log, w };
  });
  const tested = drafts.filter((d) => d.w !== null);
  // Benjamini-Hochberg rather than a pair's Holm (statistics.ts): with nothing changed it calls
  // anything at all as rarely; with a real change the metrics that moved together speak together.
  const adjusted =
    o.adjust === 'holm' ? benjaminiHochberg(tested.map((d) => d.w?.p ?? 1)) : tested.map((d) => d.w?.p ?? 1);
  const pAdjusted = new Map(tested.map((d, i) => [d.m.id, adjusted[i] as number]));
  const alpha = 1 - o.confidence;

  const metrics = drafts.map(({ m, b, c, log, w }): MetricComparison => {
    const baseline = b.length ? median(b) : null;
    const candidate = c.length ? median(c) : null;
    const change =
      baseline !== null && candidate !== null && baseline !== 0 ? (candidate - baseline) / baseline : null;
    const { counts: _, ...kept } = m;
    const base = { ...kept, baseline, candidate, change };
    if (!w) {
      const reason =
        b.length >= MIN_RUNS && c.length >= MIN_RUNS
          ? `the same figure in every run of each side: no spread to test a change against`
          : `figures in ${b.length} baseline and ${c.length} candidate runs; a test needs ${MIN_RUNS} a side`;
      return {
        ...base,
        verdict: b.length && c.length ? 'within_noise' : 'not_comparable',
        reason,
        test: null,
      };
    }
    const pa = pAdjusted.get(m.id) ?? 1;
    const test: StatTest = {
      method: 'welch_t',
      z: w.t,
      p: w.p,
      pAdjusted: pa,
      samples: [b.length, c.length],
      df: w.df,
    };
    const scale = log ? 'log scale' : 'linear scale';
    const p = `p ${p3(pa)}${o.adjust === 'holm' ? ' adjusted' : ''}, Welch's t over ${b.length}+${c.length} runs, ${scale}`;
    const size = change === null ? (candidate !== baseline ? Infinity : 0) : Math.abs(change);
    let verdict: MetricComparison['verdict'] = 'within_noise';
    let reason = p;
    if (pa >= alpha) reason = `not significant (${p})`;
    else if (size < o.minEffect)
      reason = `change below the ${(o.minEffect * 100).toFixed(0)} % minimum effect (${p})`;
    else {
      // The test's sign (the runs' means), which the medians shown follow but for a skewed few.
      verdict = w.t > 0 === (m.direction === 'higher_is_better') ? 'better' : 'worse';
    }
    if (m.loadGenerator) reason = `${reason}; the load generator's, not in the overall verdict`;
    return { ...base, verdict, reason, test };
  });

  const notComparable = (w: string) => w.startsWith('not comparable: ');
  const warnings = [
    // every candidate against the first baseline, and each side's runs among themselves (the
    // baselines' against their first are already in `pairs`)
    ...pairs.slice(baselines.length).flatMap((c) => c.warnings.filter(notComparable)),
    ...sideWarnings('baseline', pairs.slice(1, baselines.length)),
    ...sideWarnings(
      'candidate',
      candidates.slice(1).map((r) => comparability(candidates[0] as RunRecord, r)),
    ),
  ];
  const comparable = pairs.every((c) => c.comparable);
  return {
    format: 'gelombang/comparison',
    version: 1,
    baseline: across.baseline,
    candidate: across.candidate,
    replicates: {
      baseline: pairs.slice(0, baselines.length).map((c) => c.candidate),
      candidate: pairs.slice(baselines.length).map((c) => c.candidate),
    },
    options: o,
    comparable,
    warnings: [...new Set(warnings)],
    configChanges: across.configChanges.filter((x) => !x.startsWith('env RUN_KEY:')),
    pairing: 'unpaired',
    tests: tested.length,
    overall: overallOf(metrics),
    bottleneck: across.bottleneck,
    metrics,
  };
}
