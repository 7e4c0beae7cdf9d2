import {
  type RunManifest,
  type Series,
  type SeriesName,
  SMTP_POOL,
  type Summary,
} from '../../reports/record.ts';
import type { PrometheusApi } from './prometheus.ts';
import { HISTOGRAMS, perBucket } from './service-scraper.ts';

/**
 * The run record's series and totals read back from Prometheus: the services' series (mocks'
 * stations, each process's CPU and event loop) for a rehearsal made with `--prometheus`, and the
 * load generator's for a run made with real k6 (`-o experimental-prometheus-rw`, or the embedded
 * runner's endpoint scraped), whose metric names are the same.
 *
 * Counters are read as their value at each interval's edges and differenced here, not with
 * rate()/increase(), which extrapolate to the window's edges and would not add up to the totals.
 */

/** Intervals ending at startS + (i + 1) x intervalSeconds, i < n (seconds since the epoch). */
export interface Grid {
  startS: number;
  intervalSeconds: number;
  n: number;
}

type Labels = Record<string, string>;

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** Each series' values at the grid's n + 1 edges (null where Prometheus has none). */
async function edges(
  api: PrometheusApi,
  query: string,
  g: Grid,
  rename: (m: Labels) => Labels,
): Promise<Array<{ labels: Labels; values: Array<number | null> }>> {
  const result = await api.range(query, g.startS, g.startS + g.n * g.intervalSeconds, g.intervalSeconds);
  return result.map((s) => {
    const values = new Array<number | null>(g.n + 1).fill(null);
    for (const [t, v] of s.values) {
      const k = Math.round((t - g.startS) / g.intervalSeconds);
      if (k >= 0 && k <= g.n) values[k] = Number(v);
    }
    return { labels: rename(s.metric), values };
  });
}

/**
 * Per-interval increases of a cumulative count. A labelled counter appears at its first
 * increment, so before its first sample it was 0 (`zeroBefore`); a count older than the run
 * (a process's CPU seconds) is unknown before it.
 */
function increases(values: Array<number | null>, zeroBefore = true): Array<number | null> {
  const first = values.findIndex((v) => v !== null);
  const filled = values.map((v, i) => (first < 0 ? null : i < first ? (zeroBefore ? 0 : null) : v));
  return filled.slice(1).map((v, i) => {
    const before = filled[i];
    return v === null || before === null || before === undefined ? null : Math.max(0, v - before);
  });
}

const pick =
  (...keys: string[]) =>
  (m: Labels): Labels =>
    Object.fromEntries(keys.map((k) => [k, m[k] ?? '']));

async function rates(
  api: PrometheusApi,
  name: SeriesName,
  query: string,
  g: Grid,
  rename: (m: Labels) => Labels,
  zeroBefore = true,
): Promise<Series[]> {
  return (await edges(api, query, g, rename)).map((s) => ({
    name,
    labels: s.labels,
    values: increases(s.values, zeroBefore).map((v) => (v === null ? null : round3(v / g.intervalSeconds))),
  }));
}

/** A gauge or an over-the-interval aggregate: the value at each interval's end. */
async function atEnds(
  api: PrometheusApi,
  name: SeriesName,
  query: string,
  g: Grid,
  rename: (m: Labels) => Labels,
): Promise<Series[]> {
  return (await edges(api, query, g, rename)).map((s) => ({
    name,
    labels: s.labels,
    values: s.values.slice(1).map((v) => (v === null || !Number.isFinite(v) ? null : round3(v))),
  }));
}

const window = (g: Grid) => `${Math.max(1, Math.round(g.intervalSeconds * 1000))}ms`;

/**
 * A histogram family per interval (HISTOGRAMS): each bucket's own count per second (the
 * cumulative buckets' increases differenced in order of le), leaving out the buckets that saw
 * nothing in the run, and the mean (the sum's increase over the count's).
 */
async function histogramSeries(
  api: PrometheusApi,
  g: Grid,
  h: (typeof HISTOGRAMS)[number],
): Promise<Series[]> {
  const { family, label } = h;
  const [buckets, sums, counts] = await Promise.all([
    edges(api, `sum by (${label}, le) (${family}_bucket)`, g, pick(label, 'le')),
    edges(api, `sum by (${label}) (${family}_sum)`, g, pick(label)),
    edges(api, `sum by (${label}) (${family}_count)`, g, pick(label)),
  ]);
  const out: Series[] = [];
  const values = [...new Set(buckets.map((b) => b.labels[label] ?? ''))];
  for (const value of values) {
    const mine = buckets
      .filter((b) => b.labels[label] === value)
      .map((b) => ({ le: b.labels.le ?? '+Inf', inc: increases(b.values) }));
    const perLe = new Map<string, { gt: string; le: string; values: Array<number | null> }>();
    for (let i = 0; i < g.n; i++) {
      if (mine.some((b) => b.inc[i] === null)) continue;
      for (const b of perBucket(new Map(mine.map((m) => [m.le, m.inc[i] as number])))) {
        if (b.count <= 0) continue;
        let s = perLe.get(b.le);
        if (!s) {
          s = { gt: b.gt, le: b.le, values: new Array<number | null>(g.n).fill(null) };
          perLe.set(b.le, s);
        }
        s.values[i] = round3(b.count / g.intervalSeconds);
      }
    }
    for (const { gt, le, values } of perLe.values())
      out.push({ name: h.buckets, labels: { [label]: value, gt, le }, values });
    const sum = increases(sums.find((x) => x.labels[label] === value)?.values ?? []);
    const count = increases(counts.find((x) => x.labels[label] === value)?.values ?? []);
    out.push({
      name: h.mean,
      labels: { [label]: value },
      values: Array.from({ length: g.n }, (_, i) => {
        const c = count[i];
        const t = sum[i];
        return c && t !== null && t !== undefined ? round3((t / c) * 1000) : null;
      }),
    });
  }
  return out;
}

/** The services' series: the mocks' stations, and each service process's CPU and event loop. */
export async function servicesSeries(api: PrometheusApi, g: Grid): Promise<Series[]> {
  const w = window(g);
  const byDependency = pick('dependency');
  const byJob = (m: Labels) => ({ process: m.job ?? '' });
  const parts = await Promise.all([
    ...HISTOGRAMS.map((h) => histogramSeries(api, g, h)),
    atEnds(
      api,
      'dependency_utilisation',
      `max by (dependency) (max_over_time(station_in_flight[${w}]) / max_over_time(station_capacity[${w}]))`,
      g,
      byDependency,
    ),
    atEnds(
      api,
      'dependency_utilisation',
      `max(max_over_time(gelombang_email_connections_busy[${w}]) / (gelombang_email_connections > 0))`,
      g,
      () => ({ dependency: SMTP_POOL }),
    ),
    atEnds(
      api,
      'dependency_queue_ratio',
      `max by (dependency) (max_over_time(station_queue_depth[${w}]) / (station_queue_capacity > 0))`,
      g,
      byDependency,
    ),
    rates(
      api,
      'dependency_rejections',
      'sum by (dependency, reason) (station_rejections_total)',
      g,
      pick('dependency', 'reason'),
    ),
    rates(
      api,
      'process_cpu_cores',
      'sum by (job) (process_cpu_seconds_total{job!="runner"})',
      g,
      byJob,
      false,
    ),
    atEnds(
      api,
      'event_loop_lag_ms',
      `max by (job) (max_over_time(nodejs_eventloop_lag_p99_seconds{job!="runner"}[${w}])) * 1000`,
      g,
      byJob,
    ),
  ]);
  return parts.flat();
}

/** A PromQL label matcher list from `{ testid: 'x' }`, to pick one run out of a shared Prometheus. */
export function matchers(select: Labels): string {
  return Object.entries(select)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)
    .join(',');
}

const QUANTILE_STATS: Array<[string, string]> = [
  ['0.5', 'med'],
  ['0.95', 'p95'],
  ['0.99', 'p99'],
];

/**
 * k6's remote-write output keeps each trend's statistics since the start of the test: a percentile
 * read from it is the run's so far, not the interval's own, and the highest across a step's label
 * sets (status, url...) stands for the step. The record says so in its notes.
 */
export const CUMULATIVE_LATENCY_NOTE =
  "step_latency_ms came from Prometheus: k6's remote-write output keeps trend statistics since the start of the test, so each value is the step's percentile over the run so far (the highest across its label sets), not over the interval. A latency breach shows later and lasts longer than it did. Where the scenario counted its slow requests (step_slow_ratio, each interval's own), an interval misses a p95 objective only if its share of slow requests was beyond chance too: a breach then ends when it ended, and can still show late.";

/**
 * The load generator's series, from k6's metrics in Prometheus (k6_ prefix). Its cumulative
 * series are read with last_over_time: a scraped endpoint that went away at the end of the test
 * leaves staleness markers that would hide its final values (remote write leaves none).
 */
export async function runnerSeries(api: PrometheusApi, g: Grid, select: Labels = {}): Promise<Series[]> {
  const sel = matchers(select);
  const and = sel ? `,${sel}` : '';
  const arrivalsMetric = (
    await api.instant(
      `count(last_over_time(k6_funnel_arrivals_total{${sel}}[5m]))`,
      g.startS + g.n * g.intervalSeconds,
    )
  ).length
    ? 'k6_funnel_arrivals_total'
    : 'k6_iterations_total';
  const none = () => ({});
  const byStep = pick('step');
  const reqs = await edges(
    api,
    `sum by (step) (last_over_time(k6_http_reqs_total{step!=""${and}}[5m]))`,
    g,
    byStep,
  );
  /** Each interval's share of its step's requests that a cumulative count per step counted. */
  const shareOfRequests = (name: SeriesName, counts: Awaited<ReturnType<typeof edges>>): Series[] =>
    counts.map((c) => {
      const n = increases(reqs.find((r) => r.labels.step === c.labels.step)?.values ?? []);
      return {
        name,
        labels: c.labels,
        values: increases(c.values).map((k, i) => {
          const total = n[i];
          return k === null || !total ? null : round3(Math.min(1, Math.round(k) / total));
        }),
      };
    });
  const [failed, slow] = await Promise.all([
    edges(
      api,
      `sum by (step) (last_over_time(k6_http_req_failed_rate{step!=""${and}}[5m]) * last_over_time(k6_http_reqs_total{step!=""${and}}[5m]))`,
      g,
      byStep,
    ),
    // The scenarios count each step's slow requests (scenarios/lib/journey.ts step_slow_requests)
    // because the latency below is k6's since the start: with the requests, each interval's share.
    edges(
      api,
      `sum by (step, above_ms) (last_over_time(k6_step_slow_requests_total{step!=""${and}}[5m]))`,
      g,
      pick('step', 'above_ms'),
    ),
  ]);
  const parts = await Promise.all([
    rates(api, 'arrivals', `sum(${arrivalsMetric}{${sel}})`, g, none),
    rates(api, 'dropped_iterations', `sum(last_over_time(k6_dropped_iterations_total{${sel}}[5m]))`, g, none),
    atEnds(api, 'vus', `sum(k6_vus{${sel}})`, g, none),
    rates(
      api,
      'stage_outcomes',
      `sum by (stage, outcome) (last_over_time(k6_funnel_stage_total{${sel}}[5m]))`,
      g,
      pick('stage', 'outcome'),
    ),
    ...QUANTILE_STATS.map(([quantile, stat]) =>
      atEnds(
        api,
        'step_latency_ms',
        `max by (step) (last_over_time(k6_http_req_duration_${stat}{step!=""${and}}[5m])) * 1000`,
        g,
        (m) => ({ step: m.step ?? '', quantile }),
      ),
    ),
  ]);
  const stepRequests: Series[] = reqs.map((r) => ({
    name: 'step_requests',
    labels: r.labels,
    values: increases(r.values).map((v) => (v === null ? null : round3(v / g.intervalSeconds))),
  }));
  return [
    ...parts.flat(),
    ...stepRequests,
    ...shareOfRequests('step_failed_ratio', failed),
    ...shareOfRequests('step_slow_ratio', slow),
  ];
}

type Totals = RunManifest['totals'];

/**
 * The run's totals from the counters' final values, and per-step percentiles from the summary's
 * `http_req_duration{step:...}` submetrics when it has them (exact), else from Prometheus.
 */
export async function totalsFromPrometheus(
  api: PrometheusApi,
  endS: number,
  summary: Summary,
  select: Labels = {},
): Promise<{ totals: Totals; notes: string[] }> {
  const sel = matchers(select);
  const and = sel ? `,${sel}` : '';
  const one = async (q: string) => Number((await api.instant(q, endS))[0]?.value[1] ?? 0);
  const arrivals =
    (await api.instant(`sum(last_over_time(k6_funnel_arrivals_total{${sel}}[5m]))`, endS)).length > 0
      ? await one(`sum(last_over_time(k6_funnel_arrivals_total{${sel}}[5m]))`)
      : await one(`sum(last_over_time(k6_iterations_total{${sel}}[5m]))`);
  const funnel = (
    await api.instant(
      `sum by (stage, outcome, reason) (last_over_time(k6_funnel_stage_total{${sel}}[5m]))`,
      endS,
    )
  )
    // A scraped endpoint shows a counter without labels before its first increment.
    .filter((s) => s.metric.stage && s.metric.outcome)
    .map((s) => ({
      stage: s.metric.stage ?? '',
      outcome: s.metric.outcome ?? '',
      reason: s.metric.reason ?? null,
      count: Math.round(Number(s.value[1])),
    }));
  const byStep = async (q: string) =>
    new Map((await api.instant(q, endS)).map((s) => [s.metric.step ?? '', Number(s.value[1])]));
  const requests = await byStep(`sum by (step) (last_over_time(k6_http_reqs_total{step!=""${and}}[5m]))`);
  const failed = await byStep(
    `sum by (step) (last_over_time(k6_http_req_failed_rate{step!=""${and}}[5m]) * last_over_time(k6_http_reqs_total{step!=""${and}}[5m]))`,
  );
  const notes: string[] = [];
  const fromProm = new Map<string, Map<string, number>>();
  const steps: Totals['steps'] = [];
  for (const [step, n] of requests) {
    const sub = summary.metrics[`http_req_duration{step:${step}}`]?.values;
    let p: (key: string, stat: string) => number | null;
    if (sub) {
      p = (key) => sub[key] ?? null;
    } else {
      if (!notes.length)
        notes.push(
          "Per-step percentiles without a http_req_duration{step:...} submetric in the summary come from k6's remote-write statistics in Prometheus: the highest across each step's label sets, over the whole run.",
        );
      p = (_key, stat) => fromProm.get(stat)?.get(step) ?? null;
      for (const stat of ['med', 'p90', 'p95', 'p99', 'max']) {
        if (fromProm.has(stat)) continue;
        const m = await byStep(
          `max by (step) (last_over_time(k6_http_req_duration_${stat}{step!=""${and}}[5m])) * 1000`,
        );
        fromProm.set(stat, m);
      }
    }
    steps.push({
      step,
      requests: Math.round(n),
      failed: Math.round(failed.get(step) ?? 0),
      p50Ms: p('med', 'med'),
      p90Ms: p('p(90)', 'p90'),
      p95Ms: p('p(95)', 'p95'),
      p99Ms: p('p(99)', 'p99'),
      maxMs: p('max', 'max'),
    });
  }
  return {
    totals: {
      arrivals: Math.round(arrivals),
      funnel,
      steps,
      droppedIterations: Math.round(
        await one(`sum(last_over_time(k6_dropped_iterations_total{${sel}}[5m]))`),
      ),
    },
    notes,
  };
}
