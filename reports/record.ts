import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Step } from '../model/funnel.ts';
import { SLOS } from '../model/slo.ts';

/**
 * The run record: what a rehearsal leaves behind in `results/<run-id>/`, the input of `report`
 * and `compare`. Versioned JSON, validated on read, so that a record written by an older gelombang
 * (or assembled from a real k6 run: handleSummary output plus Prometheus) fails with a message
 * naming the file and the field rather than a chart that is silently empty.
 *
 *   run.json         RunManifest: what ran, against what, with which knobs
 *   summary.json     k6's handleSummary data (metrics with type/contains/values/thresholds,
 *                    root_group.checks, options, state)
 *   timeseries.json  Timeseries: values per sampling interval (see SERIES below)
 */

export const RUN_RECORD_VERSION = 1;

const labels = z.record(z.string(), z.string());

/** One applied fault of a rehearsal's schedule (model/faults.ts; scripts/faults.ts applies it). */
function faultRecordSchema() {
  const seconds = z.number().nullable();
  return z.object({
    /** where it was given: "faults.yaml: faults[2]", "--chaos kill-service@40" */
    origin: z.string(),
    kind: z.enum(['down', 'slow', 'errorRate', 'kill']),
    /** the dependency faulted, or the service killed */
    target: z.string(),
    /** the fault in words (model/faults.ts describeFault) */
    description: z.string(),
    profileMinute: z.number(),
    /** how long it lasts in profile seconds (a kill: the wait before its restart) */
    profileSeconds: z.number(),
    /** the run seconds the schedule planned for its start and its end (a kill: its restart) */
    plannedSeconds: z.number(),
    plannedEndSeconds: z.number(),
    /** when it took effect: the mock accepted the change, or the service was dead; null if it never did */
    appliedSeconds: seconds,
    /** when the station was as before again, or the restarted service answered /healthz; null if never */
    restoredSeconds: seconds,
    /** a dependency fault: its station before and during the fault, as the mock accepted them */
    station: z.object({ before: z.unknown(), during: z.unknown() }).optional(),
    /** a kill: the process before and after, and how long nothing answered */
    kill: z
      .object({
        pidBefore: z.int().nullable(),
        pidAfter: z.int().nullable(),
        downtimeSeconds: seconds,
      })
      .optional(),
    /** what went wrong applying or restoring it, if anything did (then the times above say how far it got) */
    problem: z.string().optional(),
  });
}
export type FaultRecord = z.infer<ReturnType<typeof faultRecordSchema>>;

export const runManifestSchema = z.object({
  format: z.literal('gelombang/run-record'),
  version: z.literal(RUN_RECORD_VERSION),
  runId: z.string().min(1),
  /** which engine produced summary.json: the embedded runner, k6, or the capacity simulator (nothing ran) */
  engine: z.object({ name: z.enum(['gelombang', 'k6', 'simulator']), version: z.string() }),
  startedAt: z.string(),
  endedAt: z.string(),
  /** k6's exit code: 0, 99 thresholds failed, 107 script error, 108 aborted */
  exitCode: z.int(),
  scenario: z.object({
    name: z.string(),
    file: z.string(),
    env: z.record(z.string(), z.string()),
    /** the k6 options the scenario exported, as run */
    options: z.unknown(),
  }),
  /** a profile replay: how the 2020 day (or another profile) was scaled and compressed */
  replay: z
    .object({
      profile: z.string(),
      scale: z.number().positive(),
      compress: z.number().min(1),
      /** the profile minutes replayed, [from, to) */
      windowMinutes: z.tuple([z.number(), z.number()]),
      /** arrivals per real (uncompressed) minute of the profile, over the window, unscaled */
      profilePerMinute: z.array(z.number()),
      durationSeconds: z.number(),
    })
    .nullable(),
  stack: z.object({
    /** the registration service's base URL */
    target: z.string(),
    /** true when the rehearsal started the stack itself (then knobs and capacities are known) */
    managed: z.boolean(),
    /** the registration service's knobs (EMAIL_DELIVERY, MINISTRY_CALLS, WORKERS, SCRYPT_N, ...) */
    knobs: z.record(z.string(), z.string()),
    /** the capacity file the mocks ran with (mock-services/capacity.ts shape), if known */
    capacity: z.unknown().nullable(),
  }),
  /** the machine the stack and the load generator shared (absent: unknown, e.g. a real k6 run elsewhere) */
  machine: z
    .object({
      /**
       * cores available to the processes (os.availableParallelism()); a simulated run's service
       * machine scaled by the rate factor (model/similitude.ts) has a share of a core
       */
      cores: z.number().positive(),
      cpu: z.string(),
      node: z.string(),
      /**
       * ms one write transaction held SQLite's lock on the run database's disk, by synchronous mode
       * (scripts/commit-probe.ts, before the load; absent: not probed, e.g. against a --target)
       */
      commitMs: z.object({ FULL: z.number().positive(), NORMAL: z.number().positive() }).strict().optional(),
      /**
       * ms the fastest of a few password hashes took at the run's scrypt cost N: the CPU's speed
       * before the load (scripts/hash-probe.ts; absent: not probed, e.g. against a --target)
       */
      hashMs: z.object({ n: z.int().positive(), ms: z.number().positive() }).strict().optional(),
      /**
       * cores the registration service used with no request to answer, its /metrics read at the
       * run's scrape rate, before the load (scripts/idle-probe.ts; absent: not probed, e.g.
       * against a --target)
       */
      serviceIdleCores: z.number().nonnegative().optional(),
    })
    .optional(),
  /** a simulated run: what it was simulated from (absent for a measured run) */
  simulation: z
    .object({
      /** the calibration file's source ("default", or the run directory it was fitted on) */
      calibration: z.string(),
      seed: z.int(),
      /** the service's cores and the overrides given (`--set`), as simulated */
      cores: z.number().positive(),
      overrides: z.record(z.string(), z.unknown()),
      events: z.int().nonnegative(),
      /**
       * what a reader should know of how the simulation departs from the run asked for: switches
       * it does not model, a waiting room's rate taken from the service profile (absent: none)
       */
      notes: z.array(z.string()).optional(),
    })
    .optional(),
  /**
   * How the capacity file, at full size, was scaled into this run (model/similitude.ts): the rate
   * factor (scale x compress), each dependency at full size and as enforced, what the scaling could
   * not keep, and what the service's CPU stands for. Absent: an older record, or a run whose
   * capacities are not known (--target).
   */
  similitude: z
    .object({
      factor: z.number().positive(),
      /** false: the file was enforced as it is (--absolute-capacity) */
      scaled: z.boolean(),
      /** the capacity file, at full size unless scaled is false */
      capacityFile: z.string(),
      stations: z.array(
        z.object({
          dependency: z.string(),
          fullConcurrency: z.number(),
          concurrency: z.number(),
          fullQueue: z.number(),
          queue: z.number(),
          serviceTimeStretch: z.number(),
        }),
      ),
      /** what the scaling could not keep; when scaled is false, the first says why not (the report shows it so) */
      notes: z.array(z.string()),
      /** the service's CPU: the run's cores at its hash cost, and the full-size cores they stand for */
      cpu: z
        .object({
          cores: z.number().positive(),
          scryptN: z.int(),
          fullSizeScryptN: z.int(),
          standsForCores: z.number().positive(),
          /** the full-size service's cores, when the capacity file states them */
          fullSizeCores: z.number().positive().nullable(),
        })
        .optional(),
      /**
       * the service's SMTP connections: each of the run's processes', and the full-size service's
       * processes (when the capacity file states them) with each one's; the run's total is its
       * share of the full-size total when the rehearsal chose it (model/similitude.ts)
       */
      smtpPool: z
        .object({
          workers: z.int().positive(),
          connections: z.int().positive(),
          fullSizeWorkers: z.int().positive().nullable(),
          fullSizeConnections: z.int().positive(),
        })
        .optional(),
    })
    .optional(),
  /**
   * The fault schedule as applied (`rehearse --faults` / `--chaos`), in order of planned start;
   * absent when none was given. Times are run seconds since the scenario's start (the
   * timeseries' t = 0): what was planned from the profile minute, and what happened.
   */
  faults: z.array(faultRecordSchema()).optional(),
  /**
   * Exact totals of the run, from the engine's own metrics (not re-added from the sampled series):
   * the funnel (funnel_stage counter by stage, outcome and reason; empty for a scenario without
   * one) and per-step request statistics (http_req_duration and http_req_failed by the step tag).
   */
  totals: z.object({
    arrivals: z.number(),
    funnel: z.array(
      z.object({ stage: z.string(), outcome: z.string(), reason: z.string().nullable(), count: z.number() }),
    ),
    steps: z.array(
      z.object({
        step: z.string(),
        requests: z.number(),
        failed: z.number(),
        p50Ms: z.number().nullable(),
        p90Ms: z.number().nullable(),
        p95Ms: z.number().nullable(),
        p99Ms: z.number().nullable(),
        maxMs: z.number().nullable(),
      }),
    ),
    droppedIterations: z.number(),
  }),
});
export type RunManifest = z.infer<typeof runManifestSchema>;

/**
 * The dependency_utilisation label of the registration service's SMTP connections in use over
 * its pool (gelombang_email_connections_busy / gelombang_email_connections, EMAIL_CONNECTIONS a
 * process): a dependency's servers can be idle while mails wait for the service's own connections.
 */
export const SMTP_POOL = 'smtp_pool';
/** The labels of the service's SQLite write lock and its event loops, which only a simulated run can read. */
export const WRITE_LOCK = 'sqlite';
export const EVENT_LOOP = 'event_loop';

/** the process_cpu_cores label of the load generator's own process (the runner, or the orchestrator of a k6 run) */
export const LOAD_GENERATOR_PROCESS = 'runner';

/**
 * The series a timeseries.json may hold. Every value is per sampling interval (not cumulative):
 * rates are per second over the interval, latencies are the interval's own percentiles, gauges are
 * the value at the interval's end. null: nothing to measure in that interval.
 */
const SERIES = {
  /** registrants arriving (iterations started), per second; labels {} */
  arrivals: 'per second',
  /** registrants ending a funnel stage with an outcome, per second; labels { stage, outcome } */
  stage_outcomes: 'per second',
  /** requests per second of a journey step; labels { step } */
  step_requests: 'per second',
  /** share of a step's requests that failed (http_req_failed); labels { step } */
  step_failed_ratio: 'ratio',
  /** a step's http_req_duration percentile over the interval; labels { step, quantile: '0.5'|'0.95'|'0.99' } */
  step_latency_ms: 'ms',
  /**
   * share of a step's requests in the interval that took longer than `above_ms`, the step's p95
   * objective when the run was recorded (model/slo.ts): with step_requests, how many were slow,
   * which a percentile of a few requests cannot say; labels { step, above_ms }
   */
  step_slow_ratio: 'ratio',
  /** VUs busy at the interval's end; labels {} */
  vus: 'count',
  /** iterations k6 could not start for want of a VU, per second; labels {} */
  dropped_iterations: 'per second',
  /**
   * a dependency's busy servers over its capacity (station_in_flight / station_capacity), the
   * highest seen in the interval; labels { dependency }. The registration service's own pools are
   * here too, under their own names: SMTP_POOL (its SMTP connections), and in a simulated run
   * WRITE_LOCK and EVENT_LOOP, by their busy share of the interval
   */
  dependency_utilisation: 'ratio',
  /** requests waiting for a server (station_queue_depth) over the queue's capacity, the highest seen in the interval; labels { dependency } */
  dependency_queue_ratio: 'ratio',
  /** refusals by the dependency (station_rejections_total) per second; labels { dependency, reason } */
  dependency_rejections: 'per second',
  /**
   * CPU seconds a process used per second of the interval (process_cpu_seconds_total, or the
   * runner's own process.cpuUsage()): 1.5 is one and a half cores busy; labels { process }
   */
  process_cpu_cores: 'cores',
  /**
   * services ended per second by a dependency's servers whose service time (station_service_seconds:
   * a server held from taking the request to its answer, queueing excluded) fell in one bucket of
   * the mocks' histogram: above `gt` and at most `le` ms (le '+Inf': above the last bound). Not
   * cumulative; a bucket with no service in the interval is null there, one with none in the whole
   * run has no series. The run's distribution (and its quantiles) is their sum over the intervals
   * (simulator/fit.ts). A simulated run bins its stations' services the same (simulator/interval-times.ts),
   * as it does the service's calls (dependency_call_buckets); labels { dependency, gt, le }
   */
  dependency_service_buckets: 'per second',
  /** the mean of those service times over the interval (the histogram's sum over its count); labels { dependency } */
  dependency_service_ms: 'ms',
  /**
   * the registration service's scrypt calls ended per second (gelombang_password_hash_duration_seconds:
   * the wall time of one hash or verification, the libuv pool's queue included) in one bucket, as
   * dependency_service_buckets; labels { operation: hash | verify, gt, le }
   */
  password_hash_buckets: 'per second',
  /** the mean of those scrypt times over the interval; labels { operation } */
  password_hash_ms: 'ms',
  /**
   * the registration service's calls to a dependency ended per second, as the service timed them
   * (gelombang_dependency_request_duration_seconds, every outcome: from the call to its answer, the
   * dependency's queue, the exchange over loopback and its service included) in one bucket, as
   * dependency_service_buckets; labels { dependency, gt, le }
   */
  dependency_call_buckets: 'per second',
  /** the mean of those calls over the interval; labels { dependency } */
  dependency_call_ms: 'ms',
  /** a Node process's event-loop delay p99 (nodejs_eventloop_lag_p99_seconds), the highest seen in the interval; labels { process } */
  event_loop_lag_ms: 'ms',
} as const;
export type SeriesName = keyof typeof SERIES;

export const timeseriesSchema = z.object({
  format: z.literal('gelombang/timeseries'),
  version: z.literal(RUN_RECORD_VERSION),
  intervalSeconds: z.number().positive(),
  /** epoch ms of t = 0 (the test's start) */
  startedAtMs: z.number(),
  /** seconds since the start at the end of each interval */
  t: z.array(z.number()),
  /** where the series came from: the runner, the services' /metrics, or Prometheus */
  sources: z.array(z.enum(['runner', 'services', 'prometheus', 'simulator'])),
  /** how a series departs from its definition above, when it had to (e.g. percentiles imported from Prometheus) */
  notes: z.array(z.string()).optional(),
  series: z.array(
    z.object({
      name: z.enum(Object.keys(SERIES) as [SeriesName, ...SeriesName[]]),
      labels,
      values: z.array(z.number().nullable()),
    }),
  ),
});
export type Timeseries = z.infer<typeof timeseriesSchema>;
export type Series = Timeseries['series'][number];

const summaryMetricSchema = z.object({
  type: z.enum(['counter', 'gauge', 'rate', 'trend']),
  contains: z.string(),
  values: z.record(z.string(), z.number().nullable()),
  thresholds: z.record(z.string(), z.object({ ok: z.boolean() })).optional(),
});
export const summarySchema = z
  .object({
    metrics: z.record(z.string(), summaryMetricSchema),
    root_group: z
      .object({
        checks: z.array(z.object({ name: z.string(), passes: z.number(), fails: z.number() }).loose()),
      })
      .loose(),
    state: z.object({ testRunDurationMs: z.number() }).loose(),
  })
  .loose();
export type Summary = z.infer<typeof summarySchema>;

export interface RunRecord {
  dir: string;
  manifest: RunManifest;
  summary: Summary;
  timeseries: Timeseries;
}

export class RunRecordError extends Error {
  override name = 'RunRecordError';
}

function readJson<T>(dir: string, file: string, schema: z.ZodType<T>): T {
  const path = join(dir, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new RunRecordError(
      `${path}: cannot read the run record (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new RunRecordError(`${path}: not JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new RunRecordError(
      `${path}: not a gelombang run record v${RUN_RECORD_VERSION}: ${issues.join('; ')}`,
    );
  }
  return parsed.data;
}

export function readRunRecord(dir: string): RunRecord {
  return {
    dir,
    manifest: readJson(dir, 'run.json', runManifestSchema),
    summary: readJson(dir, 'summary.json', summarySchema),
    timeseries: readJson(dir, 'timeseries.json', timeseriesSchema),
  };
}

export function writeRunRecord(
  dir: string,
  r: { manifest: RunManifest; summary: unknown; timeseries: Timeseries },
): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'run.json'), `${JSON.stringify(runManifestSchema.parse(r.manifest), null, 2)}\n`);
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(r.summary, null, 2)}\n`);
  writeFileSync(join(dir, 'timeseries.json'), `${JSON.stringify(timeseriesSchema.parse(r.timeseries))}\n`);
}

/** The labels of a step's step_slow_ratio: counted above its p95 objective as model/slo.ts has it now. */
export function slowRatioLabels(step: Step): Record<string, string> {
  return { step, above_ms: String(SLOS[step].p95Ms) };
}

/** The values of one series, or undefined when the record does not have it. */
/** A histogram's `le` (seconds) as the record's label, in ms; '+Inf' stays. */
export function leMs(le: string): string {
  const s = Number(le);
  return Number.isFinite(s) ? String(Number((s * 1000).toPrecision(6))) : '+Inf';
}

/**
 * What a histogram kept by bucket counted per second in each interval, its buckets added up:
 * those where `label` is `value`, or all of them; null when the record has none.
 */
export function bucketRates(
  ts: Timeseries,
  buckets: SeriesName,
  label?: string,
  value?: string,
): number[] | null {
  const rates = new Array<number>(ts.t.length).fill(0);
  let found = false;
  for (const s of ts.series) {
    if (s.name !== buckets || (label !== undefined && s.labels[label] !== value)) continue;
    found = true;
    s.values.forEach((v, i) => {
      rates[i] = (rates[i] as number) + (v ?? 0);
    });
  }
  return found ? rates : null;
}

/**
 * A histogram's mean over the whole run where `label` is `value`: each interval's mean (`mean`)
 * weighted by what its buckets (`buckets`) counted then; null when the record has no mean or no count.
 */
export function runMean(
  ts: Timeseries,
  mean: SeriesName,
  buckets: SeriesName,
  label: string,
  value: string,
): number | null {
  const means = seriesValues(ts, mean, { [label]: value });
  if (!means) return null;
  const counts = bucketRates(ts, buckets, label, value) ?? [];
  let sum = 0;
  let n = 0;
  means.forEach((m, i) => {
    if (m === null || m === undefined) return;
    sum += m * (counts[i] ?? 0);
    n += counts[i] ?? 0;
  });
  return n > 0 ? sum / n : null;
}

export function seriesValues(
  ts: Timeseries,
  name: SeriesName,
  match: Record<string, string> = {},
): Array<number | null> | undefined {
  const s = ts.series.find(
    (x) =>
      x.name === name &&
      Object.keys(match).length === Object.keys(x.labels).length &&
      Object.entries(match).every(([k, v]) => x.labels[k] === v),
  );
  return s?.values;
}
