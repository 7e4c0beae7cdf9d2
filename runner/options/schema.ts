import { z } from 'zod';
import { configError, RunError } from '../errors.ts';
import { DurationError, parseDuration } from './duration.ts';

/**
 * k6's options, validated as k6 validates them: unknown executors, unknown or mistyped fields,
 * bad durations and missing exec functions stop the run before any load, with exit code 104 and
 * the option's path. Shortcuts (vus, duration, iterations, stages) become one scenario "default"
 * exactly as k6 derives it.
 */

const duration = z.union([z.string(), z.number()]);
const tags = z.record(z.string(), z.string());
const stage = z.object({ duration, target: z.int().min(0) }).strict();

const common = {
  startTime: duration.optional(),
  gracefulStop: duration.optional(),
  exec: z.string().min(1).optional(),
  env: z.record(z.string(), z.string()).optional(),
  tags: tags.optional(),
};

const executorSchemas = {
  'shared-iterations': z
    .object({
      executor: z.literal('shared-iterations'),
      vus: z.int().min(1).optional(),
      iterations: z.int().min(1).optional(),
      maxDuration: duration.optional(),
      ...common,
    })
    .strict(),
  'per-vu-iterations': z
    .object({
      executor: z.literal('per-vu-iterations'),
      vus: z.int().min(1).optional(),
      iterations: z.int().min(1).optional(),
      maxDuration: duration.optional(),
      ...common,
    })
    .strict(),
  'constant-vus': z
    .object({ executor: z.literal('constant-vus'), vus: z.int().min(1).optional(), duration, ...common })
    .strict(),
  'ramping-vus': z
    .object({
      executor: z.literal('ramping-vus'),
      startVUs: z.int().min(0).optional(),
      stages: z.array(stage).min(1),
      gracefulRampDown: duration.optional(),
      ...common,
    })
    .strict(),
  'constant-arrival-rate': z
    .object({
      executor: z.literal('constant-arrival-rate'),
      rate: z.int().min(1),
      timeUnit: duration.optional(),
      duration,
      preAllocatedVUs: z.int().min(0),
      maxVUs: z.int().min(0).optional(),
      ...common,
    })
    .strict(),
  'ramping-arrival-rate': z
    .object({
      executor: z.literal('ramping-arrival-rate'),
      startRate: z.int().min(0).optional(),
      timeUnit: duration.optional(),
      stages: z.array(stage).min(1),
      preAllocatedVUs: z.int().min(0),
      maxVUs: z.int().min(0).optional(),
      ...common,
    })
    .strict(),
} as const;

export type ExecutorName = keyof typeof executorSchemas;
export const EXECUTORS = Object.keys(executorSchemas) as ExecutorName[];

/** The units k6's summary can put every time in (summary.js unitMap). */
export const SUMMARY_TIME_UNITS = ['s', 'ms', 'us'] as const;
export type SummaryTimeUnit = (typeof SUMMARY_TIME_UNITS)[number];

const thresholdEntry = z.union([
  z.string(),
  z
    .object({
      threshold: z.string(),
      abortOnFail: z.boolean().optional(),
      delayAbortEval: duration.optional(),
    })
    .strict(),
]);

/**
 * Options k6 knows that the embedded runner accepts and ignores: batch and batchPerHost (it has no
 * http.batch), ext and cloud (k6 Cloud's), httpDebug (it prints no request dumps).
 */
const ignoredOptions = {
  batch: z.int().optional(),
  batchPerHost: z.int().optional(),
  httpDebug: z.string().optional(),
  ext: z.record(z.string(), z.unknown()).optional(),
  cloud: z.record(z.string(), z.unknown()).optional(),
};

const optionsSchema = z
  .object({
    vus: z.int().min(0).optional(),
    duration: duration.optional(),
    iterations: z.int().min(0).optional(),
    stages: z.array(stage).optional(),
    scenarios: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
    thresholds: z.record(z.string(), z.array(thresholdEntry)).optional(),
    summaryTrendStats: z
      .array(z.string())
      .superRefine((stats, ctx) => {
        for (const stat of stats) {
          const problem = trendStatProblem(stat);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }
      })
      .optional(),
    /** every time of the text summary in one unit (k6 refuses another on its command line) */
    summaryTimeUnit: z.enum(SUMMARY_TIME_UNITS).optional(),
    setupTimeout: duration.optional(),
    teardownTimeout: duration.optional(),
    tags: tags.optional(),
    /** https without verifying the server's certificate (k6/http reads it from the test's options) */
    insecureSkipTLSVerify: z.boolean().optional(),
    /** redirects a request follows unless its params say (k6's default 10) */
    maxRedirects: z.int().min(0).optional(),
    /** keep each VU's cookies from one iteration to the next (k6 empties its jar per iteration) */
    noCookiesReset: z.boolean().optional(),
    /** responses without their bodies unless a request's responseType says (k6/http) */
    discardResponseBodies: z.boolean().optional(),
    /** the User-Agent of every request ('' sends none) unless its headers set one */
    userAgent: z.string().optional(),
    /** a connection per request: every request asks the server to close it */
    noConnectionReuse: z.boolean().optional(),
    /** each VU's idle connections closed as each iteration, setup and teardown ends */
    noVUConnectionReuse: z.boolean().optional(),
    /** a VU that ends an iteration sooner waits out the rest before its next */
    minIterationDuration: duration.optional(),
    /** a request that gets no answer rejects (throws in an await) instead of resolving with its error */
    throw: z.boolean().optional(),
    /** setup() and teardown() not run (the iterations get no setup data) */
    noSetup: z.boolean().optional(),
    noTeardown: z.boolean().optional(),
    ...ignoredOptions,
  })
  .strict();

export type RawOptions = z.infer<typeof optionsSchema>;

export interface Stage {
  durationMs: number;
  target: number;
}

interface ScenarioBase {
  name: string;
  executor: ExecutorName;
  startTimeMs: number;
  gracefulStopMs: number;
  exec: string;
  env: Record<string, string>;
  tags: Record<string, string>;
}

export type Scenario = ScenarioBase &
  (
    | { executor: 'shared-iterations'; vus: number; iterations: number; maxDurationMs: number }
    | { executor: 'per-vu-iterations'; vus: number; iterations: number; maxDurationMs: number }
    | { executor: 'constant-vus'; vus: number; durationMs: number }
    | { executor: 'ramping-vus'; startVUs: number; stages: Stage[]; gracefulRampDownMs: number }
    | {
        executor: 'constant-arrival-rate';
        rate: number;
        timeUnitMs: number;
        durationMs: number;
        preAllocatedVUs: number;
        maxVUs: number;
      }
    | {
        executor: 'ramping-arrival-rate';
        startRate: number;
        timeUnitMs: number;
        stages: Stage[];
        preAllocatedVUs: number;
        maxVUs: number;
      }
  );

export interface Options {
  scenarios: Scenario[];
  thresholds: NonNullable<RawOptions['thresholds']>;
  summaryTrendStats?: string[];
  setupTimeoutMs: number;
  teardownTimeoutMs: number;
  /** k6's minIterationDuration: a VU that finished an iteration sooner waits out the rest (0: none) */
  minIterationDurationMs: number;
  tags: Record<string, string>;
  raw: RawOptions;
}

function issuePath(prefix: string, issue: z.core.$ZodIssue): string {
  const p = issue.path.map(String).join('.');
  return p ? `${prefix}.${p}` : prefix;
}

/** k6 v0.47's options (lib/options.go) that the runner does not implement: refused as k6's, not as unknown. */
const K6_OPTIONS_NOT_IMPLEMENTED = new Set([
  'paused',
  'executionSegment',
  'executionSegmentSequence',
  'rps',
  'dns',
  'tlsCipherSuites',
  'tlsVersion',
  'tlsAuth',
  'blacklistIPs',
  'blockHostnames',
  'hosts',
  'systemTags',
  'metricSamplesBufferSize',
  'consoleOutput',
  'localIPs',
]);

function describe(prefix: string, error: z.ZodError): string {
  const i = error.issues[0] as z.core.$ZodIssue;
  if (i.code === 'unrecognized_keys') {
    const k6s = i.keys.filter((k) => K6_OPTIONS_NOT_IMPLEMENTED.has(k));
    if (k6s.length)
      return `${issuePath(prefix, i)}: k6's option '${k6s.join("', '")}' is not implemented by the embedded runner (run the script on k6, or leave the option out)`;
    return `${issuePath(prefix, i)}: unknown option '${i.keys.join("', '")}'`;
  }
  return `${issuePath(prefix, i)}: ${i.message}`;
}

function d(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback;
  try {
    return parseDuration(value, path);
  } catch (err) {
    if (err instanceof DurationError) throw configError(err.message);
    throw err;
  }
}

/**
 * k6's derivation of the scenarios from the shortcut options (its DeriveScenariosFromShortcuts):
 * iterations win over duration over stages, two of them (or one with `scenarios`) are a conflict,
 * and `vus` alone replaces the scenarios with `vus` shared iterations, as k6 does (with a warning).
 */
function deriveScenarios(raw: RawOptions, where: string): Record<string, Record<string, unknown>> {
  const hasStages = (raw.stages?.length ?? 0) > 0;
  const conflict = (a: string, b: string) =>
    configError(`${where}: options: using \`${a}\` and \`${b}\` options simultaneously is not allowed`);
  if (raw.iterations !== undefined) {
    if (hasStages) throw conflict('iterations', 'stages');
    if (raw.scenarios) throw conflict('iterations', 'scenarios');
    const vus = raw.vus ?? 1;
    return {
      default: {
        executor: 'shared-iterations',
        vus,
        iterations: raw.iterations,
        ...(raw.duration !== undefined ? { maxDuration: raw.duration } : {}),
      },
    };
  }
  if (raw.duration !== undefined) {
    if (hasStages) throw conflict('duration', 'stages');
    if (raw.scenarios) throw conflict('duration', 'scenarios');
    if (d(raw.duration, `${where}: options.duration`, 0) <= 0)
      throw configError(
        `${where}: options.duration: expected more than 0, got ${JSON.stringify(raw.duration)}`,
      );
    return { default: { executor: 'constant-vus', vus: raw.vus ?? 1, duration: raw.duration } };
  }
  if (hasStages) {
    if (raw.scenarios) throw conflict('stages', 'scenarios');
    return { default: { executor: 'ramping-vus', startVUs: raw.vus ?? 1, stages: raw.stages } };
  }
  if (raw.vus !== undefined) {
    if (raw.scenarios) process.emitWarning(`${where}: \`vus=${raw.vus}\` overrides the scenarios, as in k6`);
    return { default: { executor: 'shared-iterations', vus: raw.vus, iterations: raw.vus } };
  }
  if (raw.scenarios && Object.keys(raw.scenarios).length > 0) return raw.scenarios;
  return { default: { executor: 'per-vu-iterations', vus: 1, iterations: 1 } };
}

/** Validates and normalises a script's options; `exported` are the functions a scenario may name. */
export function normaliseOptions(input: unknown, where: string, exported: ReadonlySet<string>): Options {
  try {
    return normalise(input, where, exported);
  } catch (err) {
    // Every message names the script, whichever check raised it.
    if (err instanceof RunError && !err.message.startsWith(`${where}:`))
      throw configError(`${where}: ${err.message}`);
    throw err;
  }
}

function normalise(input: unknown, where: string, exported: ReadonlySet<string>): Options {
  const parsed = optionsSchema.safeParse(input ?? {});
  if (!parsed.success) throw configError(`${where}: invalid options: ${describe('options', parsed.error)}`);
  const raw = parsed.data;
  const scenarioInputs = deriveScenarios(raw, where);

  const scenarios: Scenario[] = [];
  for (const [name, cfg] of Object.entries(scenarioInputs)) {
    const prefix = `options.scenarios.${name}`;
    if (!/^[A-Za-z0-9_-]+$/.test(name))
      throw configError(`${where}: ${prefix}: scenario names may only contain letters, digits, _ and -`);
    const executor = cfg.executor;
    if (typeof executor !== 'string' || !(executor in executorSchemas)) {
      throw configError(
        `${where}: ${prefix}.executor: unknown executor ${JSON.stringify(executor)}: expected one of ${EXECUTORS.join(', ')}`,
      );
    }
    const r = executorSchemas[executor as ExecutorName].safeParse(cfg);
    if (!r.success) throw configError(`${where}: invalid options: ${describe(prefix, r.error)}`);
    const c = r.data as Record<string, unknown>;
    const exec = (c.exec as string | undefined) ?? 'default';
    if (!exported.has(exec)) {
      throw configError(`${where}: ${prefix}.exec: the script exports no function '${exec}' to run`);
    }
    const base: ScenarioBase = {
      name,
      executor: executor as ExecutorName,
      startTimeMs: d(c.startTime, `${prefix}.startTime`, 0),
      gracefulStopMs: d(c.gracefulStop, `${prefix}.gracefulStop`, 30_000),
      exec,
      env: (c.env as Record<string, string> | undefined) ?? {},
      tags: (c.tags as Record<string, string> | undefined) ?? {},
    };
    const stages = (list: unknown) =>
      (list as Array<{ duration: unknown; target: number }>).map((s, i) => ({
        durationMs: d(s.duration, `${prefix}.stages.${i}.duration`, 0),
        target: s.target,
      }));
    switch (executor as ExecutorName) {
      case 'shared-iterations':
      case 'per-vu-iterations': {
        const vus = (c.vus as number | undefined) ?? 1;
        const iterations = (c.iterations as number | undefined) ?? 1;
        if (executor === 'shared-iterations' && iterations < vus) {
          throw configError(
            `${where}: ${prefix}: the number of iterations (${iterations}) can't be less than the number of VUs (${vus})`,
          );
        }
        scenarios.push({
          ...base,
          executor: executor as 'shared-iterations',
          vus,
          iterations,
          maxDurationMs: d(c.maxDuration, `${prefix}.maxDuration`, 600_000),
        });
        break;
      }
      case 'constant-vus':
        scenarios.push({
          ...base,
          executor: 'constant-vus',
          vus: (c.vus as number | undefined) ?? 1,
          durationMs: d(c.duration, `${prefix}.duration`, 0),
        });
        break;
      case 'ramping-vus':
        scenarios.push({
          ...base,
          executor: 'ramping-vus',
          startVUs: (c.startVUs as number | undefined) ?? 1,
          stages: stages(c.stages),
          gracefulRampDownMs: d(c.gracefulRampDown, `${prefix}.gracefulRampDown`, 30_000),
        });
        break;
      case 'constant-arrival-rate': {
        const pre = c.preAllocatedVUs as number;
        const max = (c.maxVUs as number | undefined) ?? pre;
        if (max < pre)
          throw configError(`${where}: ${prefix}.maxVUs: must be >= preAllocatedVUs (${pre}), got ${max}`);
        const durationMs = d(c.duration, `${prefix}.duration`, 0);
        if (durationMs <= 0) throw configError(`${where}: ${prefix}.duration: must be > 0`);
        scenarios.push({
          ...base,
          executor: 'constant-arrival-rate',
          rate: c.rate as number,
          timeUnitMs: d(c.timeUnit, `${prefix}.timeUnit`, 1000),
          durationMs,
          preAllocatedVUs: pre,
          maxVUs: max,
        });
        break;
      }
      case 'ramping-arrival-rate': {
        const pre = c.preAllocatedVUs as number;
        const max = (c.maxVUs as number | undefined) ?? pre;
        if (max < pre)
          throw configError(`${where}: ${prefix}.maxVUs: must be >= preAllocatedVUs (${pre}), got ${max}`);
        scenarios.push({
          ...base,
          executor: 'ramping-arrival-rate',
          startRate: (c.startRate as number | undefined) ?? 0,
          timeUnitMs: d(c.timeUnit, `${prefix}.timeUnit`, 1000),
          stages: stages(c.stages),
          preAllocatedVUs: pre,
          maxVUs: max,
        });
        break;
      }
    }
  }
  if (scenarios.length === 0) throw configError(`${where}: options.scenarios: no scenario to run`);
  return {
    scenarios,
    thresholds: raw.thresholds ?? {},
    summaryTrendStats: raw.summaryTrendStats,
    setupTimeoutMs: d(raw.setupTimeout, 'options.setupTimeout', 60_000),
    teardownTimeoutMs: d(raw.teardownTimeout, 'options.teardownTimeout', 60_000),
    minIterationDurationMs: d(raw.minIterationDuration, 'options.minIterationDuration', 0),
    tags: raw.tags ?? {},
    raw,
  };
}

/**
 * Why k6 v0.47 refuses a trend stat (metrics/sample.go GetResolversForTrendColumns), in its words:
 * avg, min, med, max, count or p(N), N from 0 to 100.
 */
export function trendStatProblem(stat: string): string | undefined {
  if (['avg', 'min', 'med', 'max', 'count'].includes(stat)) return undefined;
  if (!stat.startsWith('p(') || !stat.endsWith(')')) return `invalid trend stat '${stat}', unknown format`;
  const n = stat.slice(2, -1).trim() === '' ? Number.NaN : Number(stat.slice(2, -1));
  if (!(n >= 0 && n <= 100))
    return `invalid percentile trend stat value '${stat}', provide a number between 0 and 100`;
  return undefined;
}

/**
 * k6 lets CLI flags override the script: --vus/--duration/--iterations replace its scenarios,
 * --summary-trend-stats and --summary-time-unit its options of those names.
 */
export function applyCliOverrides(
  input: RawOptions | undefined,
  cli: {
    vus?: number;
    duration?: string;
    iterations?: number;
    summaryTrendStats?: string[];
    summaryTimeUnit?: SummaryTimeUnit;
  },
): RawOptions {
  const out: RawOptions = { ...(input ?? {}) };
  if (cli.summaryTrendStats !== undefined) out.summaryTrendStats = cli.summaryTrendStats;
  if (cli.summaryTimeUnit !== undefined) out.summaryTimeUnit = cli.summaryTimeUnit;
  if (cli.duration !== undefined || cli.iterations !== undefined) {
    delete out.scenarios;
    delete out.stages;
    if (cli.duration !== undefined) out.duration = cli.duration;
    if (cli.iterations !== undefined) out.iterations = cli.iterations;
  }
  if (cli.vus !== undefined) out.vus = cli.vus;
  return out;
}
