import { COUNTS_2020, OUTCOMES, type Outcome, STAGES, type Stage, type Step } from '../model/funnel.ts';
import { SLOS } from '../model/slo.ts';
import { type RunRecord, seriesValues, type Timeseries } from './record.ts';
import {
  type Bottleneck,
  type FunnelRow,
  type Headroom,
  type LossRow,
  REPORT_VERSION,
  type Report,
  type ReportVerdict,
  type StepRow,
} from './report-model.ts';

/**
 * The funnel report from a run record: pure arithmetic on the record, no I/O. Each figure says
 * where it comes from in `notes`; the 2020 conversions are recomputed from docs/2020.md's counts.
 */

/** A dependency is saturated when every server is busy: the next request waits or is refused. */
export const SATURATED = 0.999;
/** Intervals with fewer requests than this are too small to judge a step's percentile or error rate. */
export const MIN_REQUESTS_PER_INTERVAL = 5;
/** Headroom: the arrival rate must hold within every SLO for this many consecutive intervals. */
export const SUSTAIN_INTERVALS = 5;
/**
 * The machine's CPU is saturated when the run's processes together use this share of its cores:
 * not 1, because the kernel, the scrapes and the sampling itself take the rest.
 */
export const CPU_SATURATED = 0.9;
/** An event loop delayed this long (p99) is late with every request it serves. */
export const EVENT_LOOP_LAGGING_MS = 100;

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

export function stepRows(r: RunRecord): StepRow[] {
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

/** Seconds of the run to the profile's minute (uncompressed), for a replay. */
function profileMinute(r: RunRecord, t: number): number | null {
  const rp = r.manifest.replay;
  return rp ? Math.round((rp.windowMinutes[0] + (t * rp.compress) / 60) * 10) / 10 : null;
}

/** A rate per second of the compressed, scaled run as registrants per minute of the full-scale day. */
function fullScalePerMinute(r: RunRecord, perSecond: number | null): number | null {
  const rp = r.manifest.replay;
  if (perSecond === null || !rp) return null;
  return Math.round(((perSecond * 60) / rp.compress / rp.scale) * 10) / 10;
}

interface StepBreach {
  index: number;
  step: Step;
  objective: 'p95_ms' | 'error_rate';
  what: string;
}

/** Per interval: which step broke its SLO in it (enough requests to judge). */
function stepBreaches(ts: Timeseries): StepBreach[] {
  const out: StepBreach[] = [];
  for (const step of Object.keys(SLOS) as Step[]) {
    const reqs = seriesValues(ts, 'step_requests', { step });
    if (!reqs) continue;
    const p95 = seriesValues(ts, 'step_latency_ms', { step, quantile: '0.95' }) ?? [];
    const failed = seriesValues(ts, 'step_failed_ratio', { step }) ?? [];
    for (let i = 0; i < ts.t.length; i++) {
      const n = (reqs[i] ?? 0) * ts.intervalSeconds;
      if (n < MIN_REQUESTS_PER_INTERVAL) continue;
      const lat = p95[i];
      const err = failed[i];
      if (lat != null && lat > SLOS[step].p95Ms) {
        out.push({
          index: i,
          step,
          objective: 'p95_ms',
          what: `${step} p95 above its SLO (${Math.round(lat)} ms > ${SLOS[step].p95Ms} ms)`,
        });
      }
      if (err != null && err > SLOS[step].errorRate) {
        out.push({
          index: i,
          step,
          objective: 'error_rate',
          what: `${step} failing ${(err * 100).toFixed(1)} % of requests (budget ${(SLOS[step].errorRate * 100).toFixed(0)} %)`,
        });
      }
    }
  }
  return out.sort((a, b) => a.index - b.index);
}

function mean(xs: Array<number | null | undefined>): number | null {
  const v = xs.filter((x): x is number => x != null);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}

interface CpuUse {
  summary: NonNullable<Bottleneck['cpu']>;
  /** first saturated interval, -1 if none */
  firstIndex: number;
  detail: string;
  busiest: string;
}

/** The CPU the run's processes used, per interval, against the machine's cores. */
function cpuUse(r: RunRecord): CpuUse | null {
  const ts = r.timeseries;
  const perProcess = ts.series.filter((s) => s.name === 'process_cpu_cores');
  if (perProcess.length === 0) return null;
  const cores = r.manifest.machine?.cores ?? null;
  const total = ts.t.map((_, i) => perProcess.reduce((a, s) => a + (s.values[i] ?? 0), 0));
  const firstIndex = cores === null ? -1 : total.findIndex((v) => v >= CPU_SATURATED * cores);
  const at = firstIndex >= 0 ? firstIndex : total.indexOf(Math.max(...total));
  const users = perProcess
    .map((s) => ({ process: s.labels.process as string, cores: s.values[at] ?? 0 }))
    .sort((a, b) => b.cores - a.cores);
  const busiest = users[0]?.process ?? 'unknown';
  const lag = (p: string) => {
    const v = seriesValues(ts, 'event_loop_lag_ms', { process: p });
    return v ? Math.max(0, ...v.map((x) => x ?? 0)) : null;
  };
  const fmt = (n: number) => (Math.round(n * 10) / 10).toString();
  return {
    firstIndex,
    busiest,
    detail: `CPU: ${fmt(total[at] ?? 0)} of ${cores ?? '?'} cores busy (${users
      .filter((u) => u.cores >= 0.05)
      .map((u) => `${u.process} ${fmt(u.cores)}`)
      .join(', ')})`,
    summary: {
      cores,
      saturatedAtSeconds: firstIndex >= 0 ? (ts.t[firstIndex] ?? null) : null,
      processes: perProcess.map((s) => ({
        process: s.labels.process as string,
        peakCores: Math.round(Math.max(0, ...s.values.map((v) => v ?? 0)) * 100) / 100,
        peakEventLoopLagMs: lag(s.labels.process as string),
      })),
    },
  };
}

export function bottleneck(r: RunRecord, breaches = stepBreaches(r.timeseries)): Bottleneck {
  const ts = r.timeseries;
  const deps = ts.series.filter((s) => s.name === 'dependency_utilisation');
  const dependencies = deps.map((s) => {
    const dep = s.labels.dependency as string;
    const first = s.values.findIndex((v) => v != null && v >= SATURATED);
    const rejections = ts.series
      .filter((x) => x.name === 'dependency_rejections' && x.labels.dependency === dep)
      .reduce((a, x) => a + x.values.reduce<number>((b, v) => b + (v ?? 0) * ts.intervalSeconds, 0), 0);
    return {
      dependency: dep,
      peakUtilisation: Math.max(0, ...s.values.map((v) => v ?? 0)),
      saturatedAtSeconds: first >= 0 ? (ts.t[first] ?? null) : null,
      firstIndex: first,
      rejections: Math.round(rejections),
    };
  });
  const saturated = dependencies
    .filter((d) => d.firstIndex >= 0)
    .sort((a, b) => a.firstIndex - b.firstIndex || b.peakUtilisation - a.peakUtilisation);
  const first = saturated[0];
  const cpu = cpuUse(r);
  // What ran out first: the earlier of the first saturated dependency and the machine's CPU.
  const cpuFirst = cpu !== null && cpu.firstIndex >= 0 && (!first || cpu.firstIndex < first.firstIndex);
  const resourceIndex = cpuFirst ? (cpu?.firstIndex ?? -1) : (first?.firstIndex ?? -1);
  const arrivals = seriesValues(ts, 'arrivals') ?? [];
  const aps =
    resourceIndex >= 0 ? mean(arrivals.slice(Math.max(0, resourceIndex - 2), resourceIndex + 1)) : null;
  const events: Array<{ index: number; what: string }> = [];
  for (const d of saturated)
    events.push({ index: d.firstIndex, what: `${d.dependency} saturated (every server busy)` });
  if (cpu && cpu.firstIndex >= 0) events.push({ index: cpu.firstIndex, what: `${cpu.detail}` });
  for (const s of ts.series) {
    if (s.name !== 'event_loop_lag_ms') continue;
    const i = s.values.findIndex((v) => v != null && v >= EVENT_LOOP_LAGGING_MS);
    if (i >= 0)
      events.push({
        index: i,
        what: `${s.labels.process} event loop delayed ${Math.round(s.values[i] ?? 0)} ms (p99)`,
      });
  }
  for (const s of ts.series) {
    const dep = s.labels.dependency;
    if (s.name === 'dependency_queue_ratio') {
      const i = s.values.findIndex((v) => v != null && v >= 0.5);
      if (i >= 0) events.push({ index: i, what: `${dep} queue over half full` });
    }
    if (s.name === 'dependency_rejections') {
      const i = s.values.findIndex((v) => v != null && v > 0);
      if (i >= 0) events.push({ index: i, what: `${dep} refusing requests (${s.labels.reason})` });
    }
    if (s.name === 'stage_outcomes' && s.labels.outcome === 'failed') {
      const i = s.values.findIndex((v) => v != null && v > 0);
      if (i >= 0) events.push({ index: i, what: `registrants failed by the system at ${s.labels.stage}` });
    }
  }
  const seen = new Set<string>();
  for (const b of breaches) {
    const key = `${b.step}/${b.what.includes('p95') ? 'p95' : 'err'}`;
    if (seen.has(key)) continue;
    seen.add(key);
    events.push({ index: b.index, what: b.what });
  }
  const from = Math.max(0, resourceIndex);
  const consequences = events
    .filter((e) => e.index >= from)
    .sort((a, b) => a.index - b.index)
    .map((e) => `${e.what} (t=${Math.round(ts.t[e.index] ?? 0)} s)`);
  const resource: Bottleneck['resource'] = cpuFirst
    ? { kind: 'cpu', name: cpu?.busiest ?? 'unknown', detail: cpu?.detail ?? '' }
    : first
      ? { kind: 'dependency', name: first.dependency, detail: `${first.dependency}: every server busy` }
      : null;
  const tSeconds = resourceIndex >= 0 ? (ts.t[resourceIndex] ?? null) : null;
  return {
    resource,
    dependency: first?.dependency ?? null,
    tSeconds,
    profileMinute: tSeconds !== null ? profileMinute(r, tSeconds) : null,
    arrivalsPerSecond: aps === null ? null : Math.round(aps * 100) / 100,
    fullScalePerMinute: fullScalePerMinute(r, aps),
    consequences,
    dependencies: dependencies.map(({ firstIndex: _, ...d }) => d),
    cpu: cpu?.summary ?? null,
  };
}

export function headroom(r: RunRecord, breaches = stepBreaches(r.timeseries)): Headroom {
  const ts = r.timeseries;
  const arrivals = seriesValues(ts, 'arrivals') ?? [];
  const broken = new Set(breaches.map((b) => b.index));
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
    lowerBound: breaches.length === 0,
  };
}

export function verdict(
  r: RunRecord,
  steps: StepRow[],
  b: Bottleneck,
  breaches = stepBreaches(r.timeseries),
): ReportVerdict {
  const slos: ReportVerdict['slos'] = [];
  for (const s of steps) {
    slos.push({
      step: s.step,
      objective: 'p95_ms',
      target: s.sloP95Ms,
      observed: s.p95Ms,
      held: s.p95Ms === null || s.p95Ms < s.sloP95Ms,
    });
    slos.push({
      step: s.step,
      objective: 'error_rate',
      target: s.sloErrorRate,
      observed: s.failedRatio,
      held: s.failedRatio === null || s.failedRatio < s.sloErrorRate,
    });
  }
  const held = slos.every((s) => s.held);
  const firstBreach = breaches[0];
  const t = firstBreach ? (r.timeseries.t[firstBreach.index] ?? 0) : null;
  const brokeAt =
    held || t === null
      ? null
      : {
          tSeconds: t,
          profileMinute: profileMinute(r, t),
          step: firstBreach?.step ?? null,
          objective: firstBreach?.objective ?? null,
          dependency:
            b.resource?.kind === 'dependency' && b.tSeconds !== null && b.tSeconds <= t ? b.dependency : null,
          resource: b.resource !== null && b.tSeconds !== null && b.tSeconds <= t ? b.resource : null,
        };
  const broken = slos
    .filter((s) => !s.held)
    .map((s) => `${s.step} ${s.objective === 'p95_ms' ? 'p95' : 'errors'}`);
  const where = brokeAt
    ? ` at t=${Math.round(brokeAt.tSeconds)} s${brokeAt.profileMinute !== null ? ` (minute ${brokeAt.profileMinute} of the profile)` : ''}: ${firstBreach?.what}${
        brokeAt.resource
          ? brokeAt.resource.kind === 'dependency'
            ? `, after ${brokeAt.resource.name} saturated`
            : `, after the machine's CPU saturated: ${brokeAt.resource.detail.replace(/^CPU: /, '')}`
          : ''
      }`
    : '';
  const headline = held
    ? `Held: every step stayed within its SLO${b.resource ? ` (${b.resource.kind === 'cpu' ? "the machine's CPU" : b.resource.name} saturated but the steps held)` : ''}.`
    : `Broke${where}. Objectives missed over the run: ${broken.join(', ')}.`;
  return { held, headline, brokeAt, slos };
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

export function buildReport(r: RunRecord): Report {
  const m = r.manifest;
  const steps = stepRows(r);
  const ts = r.timeseries;
  // Every section judges the same intervals: find the broken ones once.
  const breaches = stepBreaches(ts);
  const b = bottleneck(r, breaches);
  const stepP95Ms: Report['series']['stepP95Ms'] = {};
  for (const s of steps) {
    const v = seriesValues(ts, 'step_latency_ms', { step: s.step, quantile: '0.95' });
    if (v) stepP95Ms[s.step] = v;
  }
  const utilisation: Record<string, Array<number | null>> = {};
  for (const s of ts.series)
    if (s.name === 'dependency_utilisation') utilisation[s.labels.dependency as string] = s.values;
  const empty = ts.t.map(() => null);
  return {
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
    verdict: verdict(r, steps, b, breaches),
    funnel: funnelRows(r),
    losses: lossRows(r),
    steps,
    bottleneck: b,
    headroom: headroom(r, breaches),
    series: {
      t: ts.t,
      arrivalsPerSecond: seriesValues(ts, 'arrivals') ?? empty,
      completionsPerSecond:
        seriesValues(ts, 'stage_outcomes', { stage: 'joined_wave', outcome: 'continued' }) ?? empty,
      stepP95Ms,
      utilisation,
    },
    notes: notes(r),
  };
}

function notes(r: RunRecord): string[] {
  const m = r.manifest;
  const out = [
    `Counts are the run's exact totals (the engine's funnel_stage counter); curves are sampled every ${r.timeseries.intervalSeconds} s from ${r.timeseries.sources.join(' and ')}.`,
    `A step breaks its SLO in an interval when its p95 or its error rate over that interval exceeds the objective (model/slo.ts), judged only with at least ${MIN_REQUESTS_PER_INTERVAL} requests in the interval.`,
    `A dependency is saturated when all its servers are busy (utilisation >= ${SATURATED}); utilisation is the highest seen by scrapes of the mocks' /metrics every 250 ms within each interval.`,
    `Headroom is the highest arrival rate averaged over ${SUSTAIN_INTERVALS} consecutive intervals in which no step broke its SLO. In a compressed replay the work per arrival varies with the think times, so it indicates, where the breakpoint scenario measures.`,
  ];
  if (r.timeseries.series.some((s) => s.name === 'process_cpu_cores')) {
    out.push(
      `The machine's CPU counts as saturated when the run's processes (the services and the load generator) together use ${CPU_SATURATED * 100} % of its ${m.machine?.cores ?? 'unknown number of'} cores in an interval (CPU seconds per second from each process's process_cpu_seconds_total). The load generator shares those cores: what it uses is not available to the system under test.`,
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
