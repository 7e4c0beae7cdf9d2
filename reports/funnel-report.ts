import { COUNTS_2020, OUTCOMES, type Outcome, STAGES, type Stage, type Step } from '../model/funnel.ts';
import { SLOS } from '../model/slo.ts';
import { SATURATION, sustainedSamples } from '../model/station.ts';
import { bottleneck, CPU_SATURATED } from './bottleneck.ts';
import { faultRows } from './faults.ts';
import { fullScaleOf, type Prediction } from './full-scale.ts';
import {
  BREACH_SECONDS,
  breachEvents,
  type Judgement,
  judgeObjectives,
  MIN_REQUESTS_PER_INTERVAL,
  MISS_CHANCE,
  verdict,
} from './objectives.ts';
import { type RunRecord, seriesValues } from './record.ts';
import { fullScalePerMinute, mean } from './replay-time.ts';
import {
  type FunnelRow,
  type Headroom,
  type LossRow,
  REPORT_VERSION,
  type Report,
  type ReportSimilitude,
  type StepRow,
} from './report-model.ts';

/**
 * The funnel report from a run record: pure arithmetic on the record, no I/O. Each figure says
 * where it comes from in `notes`; the 2020 conversions are recomputed from docs/2020.md's counts.
 */

/** Headroom: the arrival rate must hold within every SLO for this many consecutive intervals. */
const SUSTAIN_INTERVALS = 5;

const isStep = (s: string): s is Step => s in SLOS;

function funnelCounts(r: RunRecord) {
  const by = new Map<string, number>();
  const reasons = new Map<string, Record<string, number>>();
  for (const f of r.manifest.totals.funnel) {
    by.set(`${f.stage}/${f.outcome}`, (by.get(`${f.stage}/${f.outcome}`) ?? 0) + f.count);
    if (f.reason && (f.outcome === 'failed' || f.outcome === 'rejected')) {
      const k = `${f.stage}/${f.outcome}`;
      const rs = reasons.get(k) ?? {};
      rs[f.reason] = (rs[f.reason] ?? 0) + f.count;
      reasons.set(k, rs);
    }
  }
  const count = (stage: Stage, outcome: Outcome) => by.get(`${stage}/${outcome}`) ?? 0;
  return { count, reasons: (stage: Stage, outcome: Outcome) => reasons.get(`${stage}/${outcome}`) ?? {} };
}

export function funnelRows(r: RunRecord): FunnelRow[] {
  const { count } = funnelCounts(r);
  const scale = r.manifest.replay?.scale ?? 1;
  const registered = count('registered', 'continued');
  const registered2020 = COUNTS_2020.registered;
  return STAGES.map((stage, i) => {
    const reached = count(stage, 'continued');
    const prev = i > 0 ? count(STAGES[i - 1] as Stage, 'continued') : null;
    const c2020 = COUNTS_2020[stage];
    const p2020 = i > 0 ? COUNTS_2020[STAGES[i - 1] as Stage] : null;
    return {
      stage,
      reached,
      conversion: prev ? reached / prev : null,
      count2020: c2020,
      conversion2020: c2020 !== null && p2020 ? c2020 / p2020 : null,
      ofRegistered: registered > 0 ? reached / registered : null,
      ofRegistered2020: c2020 !== null && registered2020 ? c2020 / registered2020 : null,
      fullScale: Math.round(reached / scale),
    };
  });
}

export function lossRows(r: RunRecord): LossRow[] {
  const { count, reasons } = funnelCounts(r);
  const scale = r.manifest.replay?.scale ?? 1;
  return STAGES.map((stage) => {
    const outcomes = Object.fromEntries(OUTCOMES.map((o) => [o, count(stage, o)])) as Record<Outcome, number>;
    return {
      stage,
      outcomes,
      failedReasons: reasons(stage, 'failed'),
      rejectedReasons: reasons(stage, 'rejected'),
      fullScale: Object.fromEntries(OUTCOMES.map((o) => [o, Math.round(outcomes[o] / scale)])) as Record<
        Outcome,
        number
      >,
    };
  });
}

function stepRows(r: RunRecord): StepRow[] {
  return r.manifest.totals.steps
    .filter((s) => isStep(s.step))
    .map((s) => ({
      step: s.step as Step,
      requests: s.requests,
      p50Ms: s.p50Ms,
      p95Ms: s.p95Ms,
      p99Ms: s.p99Ms,
      failedRatio: s.requests > 0 ? s.failed / s.requests : null,
      sloP95Ms: SLOS[s.step as Step].p95Ms,
      sloErrorRate: SLOS[s.step as Step].errorRate,
    }));
}

/** Headroom counts any interval with a miss, an excursion too: the rate it finds held throughout. */
export function headroom(r: RunRecord, judged: Judgement = judgeObjectives(r.timeseries)): Headroom {
  const ts = r.timeseries;
  const arrivals = seriesValues(ts, 'arrivals') ?? [];
  const broken = new Set(judged.misses.map((b) => b.index));
  let best: number | null = null;
  for (let end = SUSTAIN_INTERVALS; end <= ts.t.length; end++) {
    let ok = true;
    for (let i = end - SUSTAIN_INTERVALS; i < end; i++) if (broken.has(i)) ok = false;
    if (!ok) continue;
    const m = mean(arrivals.slice(end - SUSTAIN_INTERVALS, end));
    if (m !== null && (best === null || m > best)) best = m;
  }
  const rp = r.manifest.replay;
  const peak = rp?.profilePerMinute.length ? Math.max(...rp.profilePerMinute) : null;
  const sustainedFull = fullScalePerMinute(r, best);
  return {
    sustainedPerSecond: best === null ? null : Math.round(best * 100) / 100,
    sustainedFullScalePerMinute: sustainedFull,
    profilePeakPerMinute: peak,
    ratio: sustainedFull !== null && peak ? Math.round((sustainedFull / peak) * 1000) / 1000 : null,
    lowerBound: judged.misses.length === 0,
  };
}

function configuration(r: RunRecord): string[] {
  const lines = Object.entries(r.manifest.stack.knobs).map(([k, v]) => `${k}=${v}`);
  const cap = r.manifest.stack.capacity as Record<string, { concurrency?: number; queue?: number }> | null;
  if (cap && typeof cap === 'object') {
    for (const [dep, st] of Object.entries(cap)) {
      if (st && typeof st === 'object' && 'concurrency' in st) {
        lines.push(`${dep}: ${st.concurrency} servers, queue ${st.queue}`);
      }
    }
  }
  return lines;
}

/** The record's similitude for the report; unscaled, its first note is why. */
function similitudeOf(r: RunRecord): ReportSimilitude | undefined {
  const s = r.manifest.similitude;
  if (!s) return undefined;
  const [why = null, ...rest] = s.notes;
  return {
    factor: s.factor,
    scaled: s.scaled,
    why: s.scaled ? null : why,
    capacityFile: s.capacityFile,
    serviceProfile: r.manifest.stack.knobs.SERVICE_PROFILE ?? null,
    stations: s.stations.map((x) => ({
      dependency: x.dependency,
      fullConcurrency: x.fullConcurrency,
      fullQueue: x.fullQueue,
      concurrency: x.concurrency,
      queue: x.queue,
      serviceTimeStretch: x.serviceTimeStretch,
    })),
    notes: s.scaled ? s.notes : rest,
    cpu: s.cpu ?? null,
    smtpPool: s.smtpPool ?? null,
  };
}

/**
 * The report of a run record; `prediction` is its full-scale simulation (reports/full-scale.ts),
 * or why there is none.
 */
export function buildReport(r: RunRecord, prediction?: Prediction): Report {
  const m = r.manifest;
  const steps = stepRows(r);
  const ts = r.timeseries;
  // Every section judges the same intervals: judge them once.
  const judged = judgeObjectives(ts);
  const b = bottleneck(r, breachEvents(judged));
  const stepP95Ms: Report['series']['stepP95Ms'] = {};
  for (const s of steps) {
    const v = seriesValues(ts, 'step_latency_ms', { step: s.step, quantile: '0.95' });
    if (v) stepP95Ms[s.step] = v;
  }
  const utilisation: Record<string, Array<number | null>> = {};
  for (const s of ts.series)
    if (s.name === 'dependency_utilisation') utilisation[s.labels.dependency as string] = s.values;
  const empty = ts.t.map(() => null);
  const report: Report = {
    format: 'gelombang/report',
    version: REPORT_VERSION,
    run: {
      runId: m.runId,
      scenario: m.scenario.name,
      engine: `${m.engine.name} ${m.engine.version}`,
      startedAt: m.startedAt,
      durationSeconds: Math.round(r.summary.state.testRunDurationMs / 100) / 10,
      target: m.stack.target,
      exitCode: m.exitCode,
      scale: m.replay?.scale ?? null,
      compress: m.replay?.compress ?? null,
      windowMinutes: m.replay?.windowMinutes ?? null,
      configuration: configuration(r),
    },
    verdict: verdict(r, steps, b, judged),
    funnel: funnelRows(r),
    losses: lossRows(r),
    steps,
    bottleneck: b,
    headroom: headroom(r, judged),
    series: {
      t: ts.t,
      arrivalsPerSecond: seriesValues(ts, 'arrivals') ?? empty,
      completionsPerSecond:
        seriesValues(ts, 'stage_outcomes', { stage: 'joined_wave', outcome: 'continued' }) ?? empty,
      stepP95Ms,
      utilisation,
    },
    notes: notes(r, judged),
    fullScale: null,
    ...(m.faults?.length ? { faults: faultRows(r) } : {}),
    ...(m.similitude ? { similitude: similitudeOf(r) } : {}),
  };
  if (prediction === undefined) return report;
  return {
    ...report,
    fullScale:
      'why' in prediction
        ? { predicted: false, why: prediction.why }
        : fullScaleOf(report, buildReport(prediction), prediction),
  };
}

/** Where the curves came from, from the record's own `sources`: every path samples differently. */
function sourcesSentence(ts: RunRecord['timeseries']): string {
  const from = new Set(ts.sources);
  const parts: string[] = [];
  if (from.has('runner'))
    parts.push(
      "the load generator's (arrivals, requests, latency percentiles) from the runner's own metrics, each interval's own",
    );
  if (from.has('services'))
    parts.push(
      "the services' (utilisation, queue fill, CPU, event-loop delay) from their /metrics, read by the rehearsal during each interval",
    );
  if (from.has('prometheus'))
    parts.push(
      from.has('runner')
        ? "the services' from the Prometheus the rehearsal ran, queried over each interval"
        : "all of them from Prometheus, queried over each interval (the load generator's from k6's remote write, the services' from Prometheus's own scrapes)",
    );
  if (from.has('simulator'))
    parts.push("all of them from gelombang's capacity simulator: simulated, not measured");
  return parts.join('; ');
}

function utilisationSentence(ts: RunRecord['timeseries']): string {
  if (!ts.series.some((s) => s.name === 'dependency_utilisation'))
    return 'This record has no utilisation series: no dependency could be judged.';
  if (ts.sources.includes('simulator'))
    return 'Utilisation is the highest busy share the simulator read within each interval.';
  return ts.sources.includes('prometheus')
    ? 'Utilisation is the highest busy share Prometheus scraped within each interval (max_over_time of station_in_flight over station_capacity).'
    : "Utilisation is the highest busy share the rehearsal's reads of the mocks' /metrics saw within each interval.";
}

function notes(r: RunRecord, judged: Judgement): string[] {
  const m = r.manifest;
  const ts = r.timeseries;
  const dt = ts.intervalSeconds;
  const saturation = sustainedSamples(dt);
  const out = [
    `Counts are the run's exact totals (the engine's funnel_stage counter); curves are per interval of ${dt} s: ${sourcesSentence(ts)}.`,
    `A step misses an objective in an interval when its p95 or its error rate over that interval is above the objective (model/slo.ts; within is at most), judged only with at least ${MIN_REQUESTS_PER_INTERVAL} requests in the interval, and only beyond chance: when a step failing at exactly its budget would fail as many of those requests${judged.slowCounted ? ', or a step whose p95 is exactly its objective would have as many of them slower than it,' : ''} less than ${MISS_CHANCE * 100} % of the time (one failure among 20 requests is 5 %, by chance).${judged.slowCounted ? '' : ' This record does not count the slow requests in each interval (step_slow_ratio): a p95 is judged as measured, and one of a few requests can be one slow request.'} An objective is broken when it is missed in every one of ${judged.window} consecutive intervals (${judged.windowSeconds} s: at least ${BREACH_SECONDS} s, never one interval alone), or over the whole run; a shorter miss is reported as an excursion and does not break the verdict.`,
    `A dependency counts as saturated when at least ${SATURATION.utilisation * 100} % of its servers are busy (utilisation >= ${SATURATION.utilisation}) in every one of ${saturation} consecutive intervals (${Math.round(saturation * dt * 1000) / 1000} s: at least ${SATURATION.sustainSeconds} s, never one sample alone; model/station.ts), from the first of them. ${utilisationSentence(ts)} Resources that saturate within ${SATURATION.sustainSeconds} s of each other are named together, in order: which of them came first is within what differs between two runs of the same rehearsal.`,
    `Headroom is the highest arrival rate averaged over ${SUSTAIN_INTERVALS} consecutive intervals in which no step missed an objective. In a compressed replay the work per arrival varies with the think times, so it indicates, where the breakpoint scenario measures.`,
  ];
  if (ts.series.some((s) => s.name === 'process_cpu_cores')) {
    out.push(
      `The machine's CPU counts as saturated when the run's processes (the services and the load generator) together use ${CPU_SATURATED * 100} % of its ${m.machine?.cores ?? 'unknown number of'} cores in every one of ${saturation} consecutive intervals, as a dependency must stay saturated (CPU seconds per second from each process's process_cpu_seconds_total). The load generator shares those cores: what it uses is not available to the system under test.`,
    );
  }
  for (const n of r.timeseries.notes ?? []) out.push(n);
  if (m.replay) {
    out.push(
      `Full-scale figures divide by the replay's scale (${m.replay.scale}); rates also multiply by 60 / compress (${m.replay.compress}). They assume the system scales linearly, which is the question a rehearsal asks, not its answer.`,
    );
  }
  if (m.totals.droppedIterations > 0) {
    out.push(
      `${m.totals.droppedIterations} arrivals were dropped by the load generator (no free VU): the system was offered less than the profile.`,
    );
  }
  out.push(
    '2020 conversions are recomputed from the docs/2020.md counts at hour 21, not taken from the press release.',
  );
  return out;
}
