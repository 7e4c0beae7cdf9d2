import { readFileSync, statSync } from 'node:fs';
import {
  RUN_RECORD_VERSION,
  type RunManifest,
  RunRecordError,
  type Summary,
  summarySchema,
  type Timeseries,
  writeRunRecord,
} from '../../reports/record.ts';
import { PrometheusApi } from './prometheus.ts';
import {
  CUMULATIVE_LATENCY_NOTE,
  type Grid,
  matchers,
  runnerSeries,
  servicesSeries,
  totalsFromPrometheus,
} from './prometheus-series.ts';

/**
 * A run made with real k6 turned into a gelombang run record: the scenario's handleSummary output
 * (`handleSummary(data) { return { 'summary.json': JSON.stringify(data) } }`) for the summary, and
 * the Prometheus that k6's remote-write output (`-o experimental-prometheus-rw`) pushed to for the
 * totals and the time series. The services' series come from the same Prometheus when it scraped
 * them too.
 */

export interface K6Import {
  /**
   * k6's summary; absent for a distributed run (each k6-operator pod has only its segment's): the
   * record then comes from Prometheus alone, and needs startS and endS
   */
  summaryFile?: string;
  prometheusUrl: string;
  /** the test's start and end, seconds since the epoch; by default the end is the summary file's
   * modification time (handleSummary writes it as the test ends) and the start that minus the
   * summary's testRunDurationMs */
  startS?: number;
  endS?: number;
  intervalSeconds: number;
  /** label matchers picking this run's k6 series, e.g. { testid: 'wave-3' } */
  select: Record<string, string>;
  scenario: string;
  /** the -e values the k6 run was given (SCALE, COMPRESS, ...) */
  env: Record<string, string>;
  replay: RunManifest['replay'];
  target: string;
  /** true when the rehearsal started the stack itself (its knobs and capacities are then known) */
  managed?: boolean;
  knobs: Record<string, string>;
  capacity: unknown;
  /** how the capacity file was scaled into the run (a rehearsal that started the stack) */
  similitude?: RunManifest['similitude'];
  k6Version: string;
  /** the machine k6 and the stack shared, when one did (a rehearsal with --engine k6) */
  machine?: RunManifest['machine'];
  exitCode?: number;
  runDir: string;
  runId: string;
}

type Flat = Record<string, unknown>;

/**
 * k6's `--summary-export` file (the legacy flat shape: `metrics.http_reqs.count`) in handleSummary's
 * shape, so a k6 run needs no handleSummary in its script. The legacy shape has no metric types,
 * no `contains` and no test duration: the types follow from the fields present, built-in trends
 * are known to be times, and the duration is a counter's count over its rate.
 */
export function fromSummaryExport(json: unknown): unknown {
  const metrics = (json as { metrics?: unknown }).metrics;
  if (!metrics || typeof metrics !== 'object') return json;
  const out: Record<string, unknown> = {};
  let durationMs: number | undefined;
  for (const [name, raw] of Object.entries(metrics as Record<string, Flat>)) {
    if (!raw || typeof raw !== 'object' || 'type' in raw) return json; // not the legacy shape
    const { thresholds, ...values } = raw as Flat & { thresholds?: Record<string, boolean> };
    const num = (k: string) => (typeof values[k] === 'number' ? (values[k] as number) : null);
    let type: 'counter' | 'gauge' | 'rate' | 'trend';
    let v: Record<string, number | null>;
    if ('passes' in values && 'fails' in values) {
      type = 'rate';
      v = { rate: num('value'), passes: num('passes'), fails: num('fails') };
    } else if ('count' in values && 'rate' in values) {
      type = 'counter';
      v = { count: num('count'), rate: num('rate') };
      const count = num('count');
      const rate = num('rate');
      if (durationMs === undefined && count && rate) durationMs = (count / rate) * 1000;
    } else if ('avg' in values || 'med' in values) {
      type = 'trend';
      v = Object.fromEntries(Object.keys(values).map((k) => [k, num(k)]));
    } else {
      type = 'gauge';
      v = { value: num('value'), min: num('min'), max: num('max') };
    }
    const base = name.split('{')[0] ?? name;
    const isTime =
      type === 'trend' &&
      (base.startsWith('http_req_') || base === 'iteration_duration' || base === 'group_duration');
    out[name] = {
      type,
      contains: isTime ? 'time' : base === 'data_sent' || base === 'data_received' ? 'data' : 'default',
      values: v,
      // the legacy shape says whether each threshold FAILED
      ...(thresholds
        ? {
            thresholds: Object.fromEntries(
              Object.entries(thresholds).map(([k, failed]) => [k, { ok: !failed }]),
            ),
          }
        : {}),
    };
  }
  const root = (json as { root_group?: { checks?: Record<string, Flat> | unknown[] } }).root_group ?? {};
  const checks = Array.isArray(root.checks) ? root.checks : Object.values(root.checks ?? {});
  return {
    metrics: out,
    root_group: { ...root, checks },
    options: {},
    state: { testRunDurationMs: durationMs ?? 0, isStdOutTTY: false, isStdErrTTY: false },
    converted: 'from k6 --summary-export (legacy shape)',
  };
}

export function readSummary(file: string): Summary {
  let json: unknown;
  try {
    json = fromSummaryExport(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    throw new RunRecordError(`${file}: cannot read k6's summary JSON (${(err as Error).message})`);
  }
  const parsed = summarySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RunRecordError(
      `${file}: neither k6's handleSummary data nor its --summary-export (${issue?.path.join('.') || '(root)'}: ${issue?.message}); write it with k6 run --summary-export=summary.json, or handleSummary(data) { return { 'summary.json': JSON.stringify(data) } }`,
    );
  }
  return parsed.data;
}

/** What a record needs of a summary when there is none: the test's length, from --start and --end. */
function summaryOfNone(o: K6Import): Summary {
  if (o.startS === undefined || o.endS === undefined)
    throw new RunRecordError(
      'without --k6-summary, give both --start and --end: nothing else says when the test ran',
    );
  return {
    metrics: {},
    root_group: { checks: [] },
    options: {},
    state: { testRunDurationMs: (o.endS - o.startS) * 1000 },
  };
}

/** k6 exits 99 when a threshold failed; the summary says which did. */
function exitCodeOf(summary: Summary): number {
  return Object.values(summary.metrics).some((m) => Object.values(m.thresholds ?? {}).some((t) => !t.ok))
    ? 99
    : 0;
}

export async function importK6Run(o: K6Import): Promise<{ manifest: RunManifest; timeseries: Timeseries }> {
  const summary = o.summaryFile ? readSummary(o.summaryFile) : summaryOfNone(o);
  const durationS = summary.state.testRunDurationMs / 1000;
  if (durationS <= 0 && (o.startS === undefined || o.endS === undefined))
    throw new RunRecordError(
      `${o.summaryFile}: the summary does not say how long the test ran (no counter with a rate): give both --start and --end`,
    );
  const endS =
    o.endS ??
    (o.startS !== undefined ? o.startS + durationS : statSync(o.summaryFile as string).mtimeMs / 1000);
  const startS = o.startS ?? endS - durationS;
  const api = new PrometheusApi(o.prometheusUrl);
  const sel = matchers(o.select);
  const found = await api.instant(
    `count(k6_http_reqs_total{${sel}}) or count(k6_iterations_total{${sel}})`,
    endS,
  );
  if (found.length === 0) {
    throw new RunRecordError(
      `${o.prometheusUrl}: no k6 metrics${sel ? ` matching {${sel}}` : ''} at ${new Date(endS * 1000).toISOString()}: was k6 run with -o experimental-prometheus-rw (K6_PROMETHEUS_RW_SERVER_URL=${o.prometheusUrl}/api/v1/write), and are --start/--end right?`,
    );
  }
  // One more interval than the test lasted: the output's final flush lands just after the end.
  const grid: Grid = {
    startS,
    intervalSeconds: o.intervalSeconds,
    n: Math.ceil(durationS / o.intervalSeconds) + 1,
  };
  const [runner, services, { totals, notes }] = await Promise.all([
    runnerSeries(api, grid, o.select),
    servicesSeries(api, grid),
    totalsFromPrometheus(api, endS + 2 * o.intervalSeconds, summary, o.select),
  ]);
  const timeseries: Timeseries = {
    format: 'gelombang/timeseries',
    version: RUN_RECORD_VERSION,
    intervalSeconds: o.intervalSeconds,
    startedAtMs: Math.round(startS * 1000),
    t: Array.from({ length: grid.n }, (_, i) => (i + 1) * o.intervalSeconds),
    sources: ['prometheus'],
    series: [...runner, ...services],
    notes: [
      CUMULATIVE_LATENCY_NOTE,
      ...notes,
      ...(o.summaryFile
        ? []
        : [
            "No k6 summary was given (a distributed run: each runner pod has only its own segment's): totals and series come from Prometheus alone, and the record has no thresholds or checks.",
          ]),
      ...('converted' in summary
        ? [
            "The summary was k6's --summary-export (legacy shape), converted: its test duration is a counter's count over its rate, and custom trends are taken as plain numbers, not times.",
          ]
        : []),
    ],
  };
  const manifest: RunManifest = {
    format: 'gelombang/run-record',
    version: RUN_RECORD_VERSION,
    runId: o.runId,
    engine: { name: 'k6', version: o.k6Version },
    startedAt: new Date(startS * 1000).toISOString(),
    endedAt: new Date(endS * 1000).toISOString(),
    exitCode: o.exitCode ?? exitCodeOf(summary),
    scenario: {
      name: o.scenario,
      file: o.summaryFile ?? 'prometheus',
      env: o.env,
      options: summary.options ?? {},
    },
    replay: o.replay,
    stack: { target: o.target, managed: o.managed ?? false, knobs: o.knobs, capacity: o.capacity ?? null },
    ...(o.machine ? { machine: o.machine } : {}),
    ...(o.similitude ? { similitude: o.similitude } : {}),
    totals,
  };
  writeRunRecord(o.runDir, { manifest, summary, timeseries });
  return { manifest, timeseries };
}
