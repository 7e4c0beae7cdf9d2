import { STAGES, STEPS, type Stage } from '../../model/funnel.ts';
import { SATURATION, sustainedSamples } from '../../model/station.ts';
import { LOAD_GENERATOR_PROCESS, type RunRecord, seriesValues, type Timeseries } from '../record.ts';
import { saturatedFrom, sustainedLevel } from '../sustained.ts';
import {
  type Context,
  type Draft,
  type Evidence,
  proportionEvidence,
  relativeChange,
  type SeriesSource,
  seriesEvidence,
} from './evidence.ts';
import {
  addSeries,
  durationSeconds,
  funnelCount,
  hasFunnel,
  journeyEndings,
  scaleSeries,
  stageOutcomeCounts,
  type Values,
} from './run-figures.ts';
import { sum } from './statistics.ts';
import type { BottleneckSide } from './types.ts';

/**
 * The metrics compared, in the order comparison.json lists them: for each, its headline figure on
 * both sides, its unit and direction, and where its evidence comes from (a series, the run's
 * totals, or a single event).
 */

export function metricDrafts(ctx: Context): Draft[] {
  return [
    ...throughputDrafts(ctx),
    droppedDraft(ctx),
    ...latencyDrafts(ctx),
    ...errorDrafts(ctx),
    ...conversionDrafts(ctx),
    systemFailureDraft(ctx),
    ...bottleneckDrafts(ctx),
  ];
}

const QUANTILES = [
  { kind: 'latency_p50', quantile: '0.5', field: 'p50Ms', label: 'p50' },
  { kind: 'latency_p95', quantile: '0.95', field: 'p95Ms', label: 'p95' },
  { kind: 'latency_p99', quantile: '0.99', field: 'p99Ms', label: 'p99' },
] as const;

/** Steps of either run, in journey order, then any the funnel module does not know. */
function stepsOf(ctx: Context): string[] {
  const seen = new Set([
    ...ctx.baseline.manifest.totals.steps.map((s) => s.step),
    ...ctx.candidate.manifest.totals.steps.map((s) => s.step),
  ]);
  const known = STEPS.filter((s) => seen.has(s)) as string[];
  return [...known, ...[...seen].filter((s) => !known.includes(s)).sort()];
}

function stepTotals(r: RunRecord, step: string) {
  return r.manifest.totals.steps.find((s) => s.step === step);
}

function latencyDrafts(ctx: Context): Draft[] {
  return stepsOf(ctx).flatMap((step) =>
    QUANTILES.map((q): Draft => {
      const b = stepTotals(ctx.baseline, step)?.[q.field] ?? null;
      const c = stepTotals(ctx.candidate, step)?.[q.field] ?? null;
      const base = {
        id: `latency.${step}.${q.label}`,
        section: 'latency' as const,
        kind: q.kind,
        label: `${q.label} ${step}`,
        unit: 'ms' as const,
        direction: 'lower_is_better' as const,
        baseline: b,
        candidate: c,
        change: relativeChange(b, c),
      };
      if (b === null || c === null)
        return {
          ...base,
          evidence: {
            kind: 'missing',
            reason: `the ${b === null ? 'baseline' : 'candidate'} has no ${q.label} for ${step}`,
          },
        };
      const src: SeriesSource = {
        name: `step_latency_ms{step=${step}, quantile=${q.quantile}}`,
        values: (ts) => seriesValues(ts, 'step_latency_ms', { step, quantile: q.quantile }),
        floor: () => 0,
      };
      return { ...base, evidence: seriesEvidence(ctx, src) };
    }),
  );
}

function errorDrafts(ctx: Context): Draft[] {
  return stepsOf(ctx).map((step): Draft => {
    const p = proportionEvidence(ctx, {
      unit: 'requests',
      totals: (r) => {
        const s = stepTotals(r, step);
        return s && s.requests > 0 ? { x: s.failed, n: s.requests } : `no ${step} requests`;
      },
      intervals: (ts) => {
        const requests = scaleSeries(seriesValues(ts, 'step_requests', { step }), ts.intervalSeconds);
        const ratio = seriesValues(ts, 'step_failed_ratio', { step });
        if (!requests || !ratio) return undefined;
        return { x: requests.map((n, i) => (n === null ? null : n * (ratio[i] ?? 0))), n: requests };
      },
    });
    return {
      id: `errors.${step}.error_rate`,
      section: 'errors',
      kind: 'error_rate',
      label: `error rate ${step}`,
      unit: 'share',
      direction: 'lower_is_better',
      change: relativeChange(p.baseline, p.candidate),
      ...p,
    };
  });
}

/** Stages either run's funnel reached, in order. */
function stagesOf(ctx: Context): Stage[] {
  const seen = new Set([
    ...ctx.baseline.manifest.totals.funnel.map((f) => f.stage),
    ...ctx.candidate.manifest.totals.funnel.map((f) => f.stage),
  ]);
  return STAGES.filter((s) => seen.has(s));
}

/**
 * A stage's conversion: its registrants who continued over those who reached the previous stage.
 * The first stage has none: there it is over the arrivals whose account creation ended (the sum
 * of its outcomes), since an iteration cut off by the end of the test records no outcome.
 */
function conversionTotals(r: RunRecord, stage: Stage): { x: number; n: number } | string {
  if (!hasFunnel(r)) return 'no funnel (totals.funnel is empty)';
  const i = STAGES.indexOf(stage);
  const n = i === 0 ? funnelCount(r.manifest, stage) : funnelCount(r.manifest, STAGES[i - 1]!, 'continued');
  if (n <= 0) return `nobody who reached ${i === 0 ? 'the funnel' : STAGES[i - 1]}`;
  return { x: funnelCount(r.manifest, stage, 'continued'), n };
}

function conversionDrafts(ctx: Context): Draft[] {
  return stagesOf(ctx).map((stage): Draft => {
    const p = proportionEvidence(ctx, {
      unit: 'registrants',
      totals: (r) => conversionTotals(r, stage),
      intervals: (ts) => {
        const x = stageOutcomeCounts(ts, stage, (o) => o === 'continued');
        const n = stageOutcomeCounts(ts, stage, () => true);
        return x && n ? { x, n } : undefined;
      },
    });
    return {
      id: `funnel.${stage}.conversion`,
      section: 'funnel',
      kind: 'conversion',
      label: `conversion to ${stage}`,
      unit: 'share',
      direction: 'higher_is_better',
      change: relativeChange(p.baseline, p.candidate),
      ...p,
    };
  });
}

/**
 * The share of registrants whose journey ended in a failure of the system (as opposed to a choice
 * or a rule): every journey ends once, with a non-continued outcome or by joining a wave.
 */
function systemFailureDraft(ctx: Context): Draft {
  const last = STAGES[STAGES.length - 1]!;
  const p = proportionEvidence(ctx, {
    unit: 'registrants',
    totals: (r) => {
      if (!hasFunnel(r)) return 'no funnel (totals.funnel is empty)';
      const ended = r.manifest.totals.funnel
        .filter((f) => f.outcome !== 'continued' || f.stage === last)
        .reduce((a, f) => a + f.count, 0);
      return ended > 0 ? { x: failedAll(r), n: ended } : 'no journey that ended';
    },
    intervals: (ts) => {
      const n = journeyEndings(ts);
      const x = scaleSeries(
        addSeries(
          ts.series
            .filter((s) => s.name === 'stage_outcomes' && s.labels.outcome === 'failed')
            .map((s) => s.values),
        ),
        ts.intervalSeconds,
      );
      return n ? { x: x ?? n.map((v) => (v === null ? null : 0)), n } : undefined;
    },
  });
  return {
    id: 'funnel.system_failure_share',
    section: 'funnel',
    kind: 'system_failure_share',
    label: 'registrants failed by the system',
    unit: 'share',
    direction: 'lower_is_better',
    change: relativeChange(p.baseline, p.candidate),
    ...p,
  };
}

function failedAll(r: RunRecord): number {
  return sum(r.manifest.totals.funnel.filter((f) => f.outcome === 'failed').map((f) => f.count));
}

function droppedDraft(ctx: Context): Draft {
  const p = proportionEvidence(ctx, {
    unit: 'scheduled arrivals',
    totals: (r) => {
      const scheduled = r.manifest.totals.arrivals + r.manifest.totals.droppedIterations;
      return scheduled > 0 ? { x: r.manifest.totals.droppedIterations, n: scheduled } : 'no arrivals';
    },
    intervals: (ts) => {
      const arrivals = seriesValues(ts, 'arrivals');
      const dropped = seriesValues(ts, 'dropped_iterations');
      if (!arrivals || !dropped) return undefined;
      const n = scaleSeries(addSeries([arrivals, dropped]), ts.intervalSeconds)!;
      return { x: scaleSeries(dropped, ts.intervalSeconds)!, n };
    },
  });
  return {
    id: 'throughput.dropped_iterations',
    section: 'throughput',
    kind: 'dropped_iterations',
    label: 'dropped iterations (share of scheduled arrivals)',
    unit: 'share',
    direction: 'lower_is_better',
    change: relativeChange(p.baseline, p.candidate),
    ...p,
  };
}

const halfAnEventPerInterval = (ts: Timeseries) => 0.5 / ts.intervalSeconds;

function throughputDrafts(ctx: Context): Draft[] {
  const last = STAGES[STAGES.length - 1]!;
  const perSecond = (r: RunRecord, events: number) => {
    const d = durationSeconds(r);
    return d > 0 ? events / d : null;
  };
  const completions = (r: RunRecord) =>
    hasFunnel(r) ? perSecond(r, funnelCount(r.manifest, last, 'continued')) : null;
  const requests = (r: RunRecord) => perSecond(r, sum(r.manifest.totals.steps.map((s) => s.requests)));
  // Two replays of arrivals (an open workload) bring the same registrants whatever the system does:
  // more requests a second is then more retries and mailbox polls, not more work done, so fewer is
  // better and it is no gate. A closed workload (VUs looping) does more the faster it is answered.
  const open = ctx.baseline.manifest.replay !== null && ctx.candidate.manifest.replay !== null;
  const specs = [
    {
      id: 'throughput.completions_per_second',
      label: 'completed registrants / s',
      total: completions,
      src: {
        name: `stage_outcomes{stage=${last}, outcome=continued}`,
        values: (ts: Timeseries) => seriesValues(ts, 'stage_outcomes', { stage: last, outcome: 'continued' }),
        floor: halfAnEventPerInterval,
      },
    },
    {
      id: 'throughput.requests_per_second',
      label: open ? 'requests / s (the same arrivals: retries and mailbox polls)' : 'requests / s',
      total: requests,
      src: {
        name: 'step_requests (any step)',
        values: (ts: Timeseries) =>
          addSeries(ts.series.filter((s) => s.name === 'step_requests').map((s) => s.values)),
        floor: halfAnEventPerInterval,
      },
    },
  ];
  return specs.map((s): Draft => {
    const b = s.total(ctx.baseline);
    const c = s.total(ctx.candidate);
    const rate = open && s.id === 'throughput.requests_per_second';
    const base = {
      id: s.id,
      section: 'throughput' as const,
      kind: rate ? ('request_rate' as const) : ('throughput' as const),
      label: s.label,
      unit: 'per_second' as const,
      direction: rate ? ('lower_is_better' as const) : ('higher_is_better' as const),
      baseline: b,
      candidate: c,
      change: relativeChange(b, c),
    };
    if (b === null || c === null)
      return {
        ...base,
        evidence: {
          kind: 'missing',
          reason: `the ${b === null ? 'baseline' : 'candidate'} has no funnel or no duration`,
        },
      };
    return { ...base, evidence: seriesEvidence(ctx, s.src) };
  });
}

function dependenciesOf(ctx: Context): string[] {
  const deps = new Set<string>();
  for (const r of [ctx.baseline, ctx.candidate])
    for (const s of r.timeseries.series)
      if (s.name === 'dependency_utilisation' && s.labels.dependency) deps.add(s.labels.dependency);
  return [...deps].sort();
}

function utilisation(ts: Timeseries, dependency: string): Values | undefined {
  return seriesValues(ts, 'dependency_utilisation', { dependency });
}

function peakOf(v: Values | undefined): number | null {
  const present = v?.filter((x): x is number => x !== null) ?? [];
  return present.length ? Math.max(...present) : null;
}

/** When the first sustained saturation began (model/station.ts SATURATION, as the report judges it). */
function saturatedAt(ts: Timeseries, v: Values | undefined): number | null {
  const i = v ? saturatedFrom(ts, v) : -1;
  return i >= 0 ? (ts.t[i] ?? null) : null;
}

function bottleneckDrafts(ctx: Context): Draft[] {
  return [
    ...dependenciesOf(ctx).flatMap((dep) => [peakDraft(ctx, dep), saturationDraft(ctx, dep)]),
    ...processesOf(ctx).map((process) => cpuDraft(ctx, process)),
  ];
}

function processesOf(ctx: Context): string[] {
  const names = new Set<string>();
  for (const r of [ctx.baseline, ctx.candidate])
    for (const s of r.timeseries.series)
      if (s.name === 'process_cpu_cores' && s.labels.process) names.add(s.labels.process);
  return [...names].sort();
}

const cpuOf = (ts: Timeseries, process: string) => seriesValues(ts, 'process_cpu_cores', { process });

function meanOf(v: Values | undefined): number | null {
  const present = v?.filter((x): x is number => x !== null) ?? [];
  return present.length ? sum(present) / present.length : null;
}

/**
 * The CPU a process used, interval by interval: the cost an optimisation (a cheaper password
 * hash, mail from an outbox) should lower for the same offered load. Headline: the run's mean.
 */
function cpuDraft(ctx: Context, process: string): Draft {
  const b = meanOf(cpuOf(ctx.baseline.timeseries, process));
  const c = meanOf(cpuOf(ctx.candidate.timeseries, process));
  return {
    id: `cpu.${process}.cores`,
    section: 'bottleneck',
    kind: 'process_cpu',
    ...(process === LOAD_GENERATOR_PROCESS ? { loadGenerator: true as const } : {}),
    label: `${process} CPU (mean cores busy)`,
    unit: 'cores',
    direction: 'lower_is_better',
    baseline: b,
    candidate: c,
    change: relativeChange(b, c),
    evidence: seriesEvidence(ctx, {
      name: `process_cpu_cores{process=${process}}`,
      values: (ts) => cpuOf(ts, process),
      // An idle interval on both sides is a tie: a hundredth of a core.
      floor: () => 0.01,
    }),
  };
}

function peakDraft(ctx: Context, dep: string): Draft {
  const b = peakOf(utilisation(ctx.baseline.timeseries, dep));
  const c = peakOf(utilisation(ctx.candidate.timeseries, dep));
  return {
    id: `bottleneck.${dep}.peak_utilisation`,
    section: 'bottleneck',
    kind: 'bottleneck_utilisation',
    label: `${dep} peak utilisation`,
    unit: 'ratio',
    direction: 'lower_is_better',
    baseline: b,
    candidate: c,
    change: relativeChange(b, c),
    evidence: seriesEvidence(ctx, {
      name: `dependency_utilisation{dependency=${dep}}`,
      values: (ts) => utilisation(ts, dep),
      // An idle interval on both sides is a tie, not an infinite ratio: 1 % of capacity.
      floor: () => 0.01,
    }),
  };
}

/**
 * When a dependency first saturated is one event per run, not a sample: no test applies. The
 * sampling interval bounds its precision, so a shift counts when it exceeds two intervals and the
 * minimum effect of the run's duration; "never" against a time counts unless the run that never
 * saturated sustained, over the saturation window, a utilisation within the minimum effect of it.
 */
function saturationDraft(ctx: Context, dep: string): Draft {
  const vb = utilisation(ctx.baseline.timeseries, dep);
  const vc = utilisation(ctx.candidate.timeseries, dep);
  const b = saturatedAt(ctx.baseline.timeseries, vb);
  const c = saturatedAt(ctx.candidate.timeseries, vc);
  const base = {
    id: `bottleneck.${dep}.saturated_at`,
    section: 'bottleneck' as const,
    kind: 'bottleneck_saturation' as const,
    label: `${dep} first saturated at`,
    unit: 'seconds' as const,
    direction: 'higher_is_better' as const,
    baseline: b,
    candidate: c,
    change: relativeChange(b, c),
  };
  if (!vb || !vc)
    return {
      ...base,
      evidence: {
        kind: 'missing',
        reason: `the ${vb ? 'candidate' : 'baseline'} has no dependency_utilisation{dependency=${dep}}`,
      },
    };
  const closest = (ts: Timeseries, v: Values) => sustainedLevel(v, sustainedSamples(ts.intervalSeconds));
  return {
    ...base,
    evidence: saturationEvidence(ctx, {
      b,
      c,
      levelB: closest(ctx.baseline.timeseries, vb),
      levelC: closest(ctx.candidate.timeseries, vc),
    }),
  };
}

function saturationEvidence(
  ctx: Context,
  s: { b: number | null; c: number | null; levelB: number | null; levelC: number | null },
): Evidence {
  const decided = (verdict: 'better' | 'worse' | 'within_noise', reason: string): Evidence => ({
    kind: 'decided',
    verdict,
    reason,
  });
  if (s.b === null && s.c === null) return decided('within_noise', 'saturated in neither run');
  if (s.b === null || s.c === null) {
    const closest = (s.b === null ? s.levelB : s.levelC) ?? 0;
    if (closest >= SATURATION.utilisation * (1 - ctx.minEffect))
      return decided(
        'within_noise',
        `the other run held ${closest.toFixed(2)} for ${SATURATION.sustainSeconds} s, within the minimum effect of saturating`,
      );
    return s.c === null
      ? decided('better', 'no longer saturates')
      : decided('worse', 'saturates now, and did not before');
  }
  const interval = ctx.baseline.timeseries.intervalSeconds;
  const tolerance = Math.max(2 * interval, ctx.minEffect * durationSeconds(ctx.baseline));
  if (Math.abs(s.c - s.b) <= tolerance)
    return decided(
      'within_noise',
      `shift within ${tolerance.toFixed(0)} s (two intervals or the minimum effect of the run)`,
    );
  return s.c > s.b ? decided('better', 'saturates later') : decided('worse', 'saturates earlier');
}

/**
 * One run's bottleneck, the dependency with the highest peak: a description of each run beside
 * the bottleneck metrics, not a metric itself, so it gets no verdict.
 */
export function bottleneckOf(ts: Timeseries): BottleneckSide | null {
  let best: BottleneckSide | null = null;
  for (const s of ts.series) {
    if (s.name !== 'dependency_utilisation' || !s.labels.dependency) continue;
    const present = s.values.filter((v): v is number => v !== null);
    if (!present.length) continue;
    const peak = Math.max(...present);
    if (best && best.peakUtilisation >= peak) continue;
    best = {
      dependency: s.labels.dependency,
      peakUtilisation: peak,
      saturatedAtSeconds: saturatedAt(ts, s.values),
    };
  }
  return best;
}
