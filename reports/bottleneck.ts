import { SATURATION, sustainedSamples } from '../model/station.ts';
import { breachEvents, judgeObjectives } from './objectives.ts';
import { type RunRecord, runMean, seriesValues } from './record.ts';
import { fullScalePerMinute, mean, profileMinute } from './replay-time.ts';
import type { Bottleneck } from './report-model.ts';
import { firstSustained, saturatedFrom, stretches } from './sustained.ts';

/**
 * What ran out first: a dependency (model/station.ts SATURATION, sustained) or the machine's CPU,
 * and what followed. Resources that saturate within the saturation window of each other are named
 * together: which of them came first is decided by noise, and two runs of the same rehearsal
 * must not name different bottlenecks.
 */

/**
 * The machine's CPU is saturated when the run's processes together use this share of its cores,
 * for as long as a dependency must stay saturated: not 1, because the kernel, the scrapes and the
 * sampling itself take the rest.
 */
export const CPU_SATURATED = 0.9;
/** An event loop delayed this long (p99) is late with every request it serves. */
const EVENT_LOOP_LAGGING_MS = 100;

const percent = (x: number) => `${Math.round(x * 100)} %`;
/** "at least 95 % of its servers busy for 10 s" */
const SATURATED_WORDS = `at least ${percent(SATURATION.utilisation)} of its servers busy for ${SATURATION.sustainSeconds} s`;

interface CpuUse {
  summary: NonNullable<Bottleneck['cpu']>;
  /** first interval of the first sustained saturation, -1 if none */
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
  const firstIndex =
    cores === null ? -1 : firstSustained(total, sustainedSamples(ts.intervalSeconds), CPU_SATURATED * cores);
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

interface Saturation {
  kind: 'dependency' | 'cpu';
  name: string;
  index: number;
  peak: number;
}

/**
 * Everything that saturated, earliest first; at the same interval a dependency before the CPU
 * (the CPU's share of a dependency's work shows later), then the higher peak, then by name, so
 * that the order never depends on the order of the series in the record.
 */
function saturations(
  deps: Array<{ dependency: string; firstIndex: number; peakUtilisation: number }>,
  cpu: CpuUse | null,
) {
  const all: Saturation[] = deps
    .filter((d) => d.firstIndex >= 0)
    .map((d) => ({ kind: 'dependency', name: d.dependency, index: d.firstIndex, peak: d.peakUtilisation }));
  if (cpu && cpu.firstIndex >= 0)
    all.push({ kind: 'cpu', name: cpu.busiest, index: cpu.firstIndex, peak: 0 });
  const rank = (s: Saturation) => (s.kind === 'dependency' ? 0 : 1);
  return all.sort(
    (a, b) => a.index - b.index || rank(a) - rank(b) || b.peak - a.peak || a.name.localeCompare(b.name),
  );
}

/** ms to a tenth, null kept */
const rounded = (v: number | null): number | null => (v === null ? null : Math.round(v * 10) / 10);

/** `breaches`: when each objective first broke, to list among what followed. */
export function bottleneck(
  r: RunRecord,
  breaches: ReadonlyArray<{ index: number; what: string }> = breachEvents(judgeObjectives(r.timeseries)),
): Bottleneck {
  const ts = r.timeseries;
  const dependencies = ts.series
    .filter((s) => s.name === 'dependency_utilisation')
    .map((s) => {
      const dep = s.labels.dependency as string;
      const first = saturatedFrom(ts, s.values);
      const rejections = ts.series
        .filter((x) => x.name === 'dependency_rejections' && x.labels.dependency === dep)
        .reduce((a, x) => a + x.values.reduce<number>((b, v) => b + (v ?? 0) * ts.intervalSeconds, 0), 0);
      const busy = stretches(s.values.length, (i) => (s.values[i] ?? 0) >= SATURATION.utilisation);
      return {
        dependency: dep,
        peakUtilisation: Math.max(0, ...s.values.map((v) => v ?? 0)),
        saturatedAtSeconds: first >= 0 ? (ts.t[first] ?? null) : null,
        firstIndex: first,
        rejections: Math.round(rejections),
        longestBusySeconds: Math.max(0, ...busy.map((b) => (b.to - b.from + 1) * ts.intervalSeconds)),
        meanServiceMs: rounded(
          runMean(ts, 'dependency_service_ms', 'dependency_service_buckets', 'dependency', dep),
        ),
        meanCallMs: rounded(runMean(ts, 'dependency_call_ms', 'dependency_call_buckets', 'dependency', dep)),
      };
    });
  const cpu = cpuUse(r);
  const all = saturations(dependencies, cpu);
  const lead = all[0];
  const tOf = (s: Saturation) => ts.t[s.index] ?? 0;
  const together = lead ? all.filter((s) => tOf(s) - tOf(lead) <= SATURATION.sustainSeconds) : [];
  const firstDependency = all.find((s) => s.kind === 'dependency');
  const resourceIndex = lead?.index ?? -1;
  const arrivals = seriesValues(ts, 'arrivals') ?? [];
  const aps =
    resourceIndex >= 0 ? mean(arrivals.slice(Math.max(0, resourceIndex - 2), resourceIndex + 1)) : null;
  const resource: Bottleneck['resource'] = !lead
    ? null
    : lead.kind === 'cpu'
      ? { kind: 'cpu', name: lead.name, detail: cpu?.detail ?? '' }
      : { kind: 'dependency', name: lead.name, detail: `${lead.name}: ${SATURATED_WORDS}` };
  const tSeconds = lead ? tOf(lead) : null;
  return {
    resource,
    firstSaturated: together.map((s) => ({ kind: s.kind, name: s.name, tSeconds: tOf(s) })),
    dependency: firstDependency?.name ?? null,
    tSeconds,
    profileMinute: tSeconds !== null ? profileMinute(r, tSeconds) : null,
    arrivalsPerSecond: aps === null ? null : Math.round(aps * 100) / 100,
    fullScalePerMinute: fullScalePerMinute(r, aps),
    consequences: consequences(r, all, cpu, breaches, Math.max(0, resourceIndex)),
    dependencies: dependencies.map(({ firstIndex: _, ...d }) => d),
    cpu: cpu?.summary ?? null,
  };
}

/**
 * With nothing saturated, the dependency that came closest: the one that stayed full the longest,
 * then the highest peak, then the one that refused more (two that touch 100 % are not alike when
 * one of them stayed there for seconds, or turned requests away). Undefined without any.
 */
export function busiestDependency(b: Bottleneck): Bottleneck['dependencies'][number] | undefined {
  return [...b.dependencies].sort(
    (x, y) =>
      (y.longestBusySeconds ?? 0) - (x.longestBusySeconds ?? 0) ||
      y.peakUtilisation - x.peakUtilisation ||
      y.rejections - x.rejections,
  )[0];
}

/**
 * The command line's one line on what ran out: every resource within the saturation window of the
 * first, in order (one busy second must not decide between them, as the report says), or, with
 * nothing saturated, the dependency that came closest and how close.
 */
export function bottleneckLine(b: Bottleneck): string {
  const first = b.firstSaturated;
  if (first.length > 0) {
    const named = first
      .map((x) => `${x.kind === 'cpu' ? "the machine's CPU" : x.name} at t=${Math.round(x.tSeconds)} s`)
      .join(', ');
    return `bottleneck: ${first.length > 1 ? 'saturated together: ' : 'saturated first: '}${named}${
      b.profileMinute !== null ? ` (profile minute ${b.profileMinute})` : ''
    }${b.fullScalePerMinute !== null ? `, ~${Math.round(b.fullScalePerMinute).toLocaleString('en')} registrants/min at full scale` : ''}`;
  }
  const busiest = busiestDependency(b);
  const busy = busiest?.longestBusySeconds ?? 0;
  const closest = !busiest
    ? ''
    : `; the busiest, ${busiest.dependency}, peaked at ${(busiest.peakUtilisation * 100).toFixed(1)} %${
        busy > 0
          ? `, ${Math.round(SATURATION.utilisation * 100)} % or more for ${Math.round(busy * 10) / 10} s in a row (${SATURATION.sustainSeconds} s counts)`
          : ''
      }${busiest.rejections > 0 ? `, and refused ${busiest.rejections.toLocaleString('en')} ${busiest.rejections === 1 ? 'request' : 'requests'}` : ''}`;
  return `bottleneck: no dependency and not the CPU saturated${closest}`;
}

/** What followed the first saturation, in order of first appearance. */
function consequences(
  r: RunRecord,
  saturated: Saturation[],
  cpu: CpuUse | null,
  breaches: ReadonlyArray<{ index: number; what: string }>,
  from: number,
): string[] {
  const ts = r.timeseries;
  const events: Array<{ index: number; what: string }> = [];
  for (const s of saturated)
    events.push({
      index: s.index,
      what: s.kind === 'dependency' ? `${s.name} saturated (${SATURATED_WORDS})` : (cpu?.detail ?? ''),
    });
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
  events.push(...breaches);
  return events
    .filter((e) => e.index >= from)
    .sort((a, b) => a.index - b.index)
    .map((e) => `${e.what} (t=${Math.round(ts.t[e.index] ?? 0)} s)`);
}
