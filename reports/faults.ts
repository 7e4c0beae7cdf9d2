import type { RunRecord, Timeseries } from './record.ts';
import type { ReportFault } from './report-model.ts';

/**
 * What each injected fault (run.json `faults`) did to the run, from the sampled series: the
 * requests the load generator made and how many failed, the registrants the system failed, and
 * the dependency's refusals, over the intervals the fault overlapped, set beside the same share
 * over the rest of the run. The runner's series count failed requests per step and interval
 * (step_requests x step_failed_ratio), not connection errors by time: while the service is down
 * after a kill, every request fails to connect, so there the failures are the refusals.
 */

/** When interval i began: the end of the one before (ticks come when the runner samples, not on a grid). */
export function intervalStart(ts: Pick<Timeseries, 't' | 'intervalSeconds'>, i: number): number {
  return i > 0 ? (ts.t[i - 1] as number) : (ts.t[0] as number) - ts.intervalSeconds;
}

/** Indices of the intervals that overlap [from, to]: at least the one holding `from`. */
export function overlapping(
  ts: Pick<Timeseries, 't' | 'intervalSeconds'>,
  from: number,
  to: number,
): number[] {
  const out: number[] = [];
  ts.t.forEach((t, i) => {
    if (t > from && intervalStart(ts, i) < Math.max(to, from + 1e-9)) out.push(i);
  });
  return out;
}

/**
 * A count over the intervals from a per-second series. A series the record has but not for these
 * labels, or null in these intervals, counted nothing there: 0. Only a record without the series
 * at all cannot say (null).
 */
function sumOver(
  ts: Timeseries,
  name: string,
  pick: (labels: Record<string, string>) => boolean,
  idx: number[],
): number | null {
  if (!ts.series.some((s) => s.name === name)) return null;
  let total = 0;
  for (const s of ts.series) {
    if (s.name !== name || !pick(s.labels)) continue;
    for (const i of idx) total += (s.values[i] ?? 0) * ts.intervalSeconds;
  }
  return total;
}

/** Requests and failed requests over the given intervals, all steps together. */
function requestsOver(ts: Timeseries, idx: number[]): { requests: number; failed: number } | null {
  if (!ts.series.some((s) => s.name === 'step_requests')) return null;
  const ratio = new Map(
    ts.series.filter((s) => s.name === 'step_failed_ratio').map((s) => [s.labels.step ?? '', s.values]),
  );
  let requests = 0;
  let failed = 0;
  for (const s of ts.series) {
    if (s.name !== 'step_requests') continue;
    const failedShare = ratio.get(s.labels.step ?? '');
    for (const i of idx) {
      const n = (s.values[i] ?? 0) * ts.intervalSeconds;
      requests += n;
      failed += n * (failedShare?.[i] ?? 0);
    }
  }
  return { requests, failed };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

export function faultRows(r: RunRecord): ReportFault[] {
  const ts = r.timeseries;
  const all = ts.t.map((_, i) => i);
  return (r.manifest.faults ?? []).map((f) => {
    const from = f.appliedSeconds;
    // A fault never restored lasted to the end of the run.
    const to = f.restoredSeconds ?? ts.t[ts.t.length - 1] ?? from;
    let effect: ReportFault['effect'] = null;
    if (from !== null && to !== null && ts.t.length > 0) {
      const idx = overlapping(ts, from, to);
      const inSpan = new Set(idx);
      const rest = all.filter((i) => !inSpan.has(i));
      const during = requestsOver(ts, idx);
      const elsewhere = requestsOver(ts, rest);
      effect = {
        intervals: idx.length,
        fromSeconds: idx.length ? round(intervalStart(ts, idx[0] as number)) : round(from),
        toSeconds: idx.length ? round(ts.t[idx[idx.length - 1] as number] as number) : round(to),
        requests: during ? Math.round(during.requests) : null,
        failedRequests: during ? Math.round(during.failed) : null,
        failedShare: during && during.requests > 0 ? during.failed / during.requests : null,
        failedShareElsewhere:
          elsewhere && elsewhere.requests > 0 ? elsewhere.failed / elsewhere.requests : null,
        registrantsFailed: (() => {
          const n = sumOver(ts, 'stage_outcomes', (l) => l.outcome === 'failed', idx);
          return n === null ? null : Math.round(n);
        })(),
        rejections:
          f.kind === 'kill'
            ? null
            : (() => {
                const n = sumOver(ts, 'dependency_rejections', (l) => l.dependency === f.target, idx);
                return n === null ? null : Math.round(n);
              })(),
      };
    }
    return {
      origin: f.origin,
      kind: f.kind,
      target: f.target,
      description: f.description,
      profileMinute: f.profileMinute,
      plannedSeconds: f.plannedSeconds,
      fromSeconds: f.appliedSeconds,
      toSeconds: f.restoredSeconds,
      downtimeSeconds: f.kill?.downtimeSeconds ?? null,
      problem: f.problem ?? null,
      effect,
    };
  });
}
