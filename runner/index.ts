import { once } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { bundleForRunner } from './bundle.ts';
import { EXIT, type ExitCode, RunError } from './errors.ts';
import { scenarioDuration, scenarioMaxVUs } from './executors/schedule.ts';
import {
  buildSummaryData,
  defineBuiltins,
  evaluateThresholds,
  parseThresholds,
  prometheusText,
  Store,
  type SummaryData,
  submetricSelectors,
  summaryExport,
  ThresholdError,
  type ThresholdResult,
  textSummary,
  thresholdsToAbort,
} from './metrics/index.ts';
import { applyCliOverrides, normaliseOptions, type Options, type RawOptions } from './options/schema.ts';
import { Progress } from './progress.ts';
import type { MainToWorker, Point, ScenarioProgress, WorkerToMain } from './protocol.ts';

/**
 * The embedded k6-compatible runner: `runTest` runs a k6 script (TypeScript or JavaScript) on
 * worker threads and returns k6's exit code and summary. Generic: it knows nothing of what it loads.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');

export interface RunOptions {
  script: string;
  /** -e KEY=VALUE; merged over the process environment, as k6 does by default */
  env?: Record<string, string>;
  vus?: number;
  duration?: string;
  iterations?: number;
  workers?: number;
  summaryExport?: string;
  /** --out json=FILE: every sample as k6's JSON output lines */
  outJson?: string;
  /**
   * serve the live metrics on this address (k6 remote-write names); `lingerMs` keeps serving the
   * final values that long after the test, so that a scraper's last scrape sees every count (k6's
   * remote-write output flushes at the end for the same reason)
   */
  prometheus?: { host: string; port: number; lingerMs?: number };
  quiet?: boolean;
  noThresholds?: boolean;
  noSummary?: boolean;
  /** progress display: default tty when stderr is a terminal, plain otherwise */
  progress?: 'tty' | 'plain' | 'none';
  tags?: Record<string, string>;
  allowRemoteTargets?: boolean;
  /** where summary text and handleSummary's stdout go (default process.stdout) */
  stdout?: (text: string) => void;
  /** called with the merged live store after each worker update (reports sample it) */
  onSample?: (store: Store, elapsedMs: number) => void;
}

export interface RunResult {
  exitCode: ExitCode;
  summary?: SummaryData;
  /** why the run ended early, when it did */
  error?: string;
  thresholds: ThresholdResult[];
  store: Store;
}

interface WorkerHandle {
  worker: Worker;
  next: <T extends WorkerToMain['type']>(type: T) => Promise<Extract<WorkerToMain, { type: T }>>;
  post: (m: MainToWorker) => void;
}

function spawnWorker(onMessage: (m: WorkerToMain) => void): WorkerHandle {
  const worker = new Worker(join(HERE, 'worker-boot.mjs'));
  const waiters: Array<{ type: string; resolve: (m: WorkerToMain) => void; reject: (e: Error) => void }> = [];
  worker.on('message', (m: WorkerToMain) => {
    if (m.type === 'error') {
      const w = waiters.shift();
      if (w) w.reject(new RunError(m.exitCode as ExitCode, m.message));
      else onMessage(m);
      return;
    }
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(m);
    else onMessage(m);
  });
  worker.on('error', (err) => {
    for (const w of waiters.splice(0))
      w.reject(new RunError(EXIT.genericEngine, `worker crashed: ${err.stack ?? err.message}`));
  });
  return {
    worker,
    post: (m) => worker.postMessage(m),
    next: (type) =>
      new Promise((res, rej) => {
        waiters.push({ type, resolve: res as (m: WorkerToMain) => void, reject: rej });
      }) as never,
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string, code: ExitCode): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, rej) => {
      timer = setTimeout(() => rej(new RunError(code, `${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}

/**
 * Worker threads when --workers is not given: one core fewer than the machine has, at most 4.
 * The main thread merges every worker's metrics each second and draws the progress, and on
 * loopback the system under test shares the cores: measured on 2 cores against a hello-world
 * server, one worker made 0.77x autocannon's rate and two made 0.58x, for the threads' context
 * switches (bench/README.md).
 */
export function defaultWorkers(cores = cpus().length): number {
  return Math.max(1, Math.min(cores - 1, 4));
}

export async function runTest(o: RunOptions): Promise<RunResult> {
  const store = new Store({ series: o.prometheus !== undefined });
  defineBuiltins(store);
  const stdout = o.stdout ?? ((t: string) => process.stdout.write(t));
  const script = resolve(o.script);
  const env: Record<string, string> = {
    ...(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >),
    ...(o.env ?? {}),
    ...(o.allowRemoteTargets ? { GELOMBANG_ALLOW_REMOTE: '1' } : {}),
  };
  const workers = Math.max(1, o.workers ?? defaultWorkers());
  const cacheDir = join(ROOT, 'node_modules', '.cache', 'gelombang', `run-${process.pid}-${Date.now()}`);
  const handles: WorkerHandle[] = [];
  let server: Server | undefined;
  let thresholds: ThresholdResult[] = [];
  const progressByWorker: Array<Record<string, ScenarioProgress>> = [];
  let checksFailed = 0;
  let abortReason: string | undefined;
  let abortCode: ExitCode | undefined;
  const jsonLines: string[] = [];
  const cleanup = async () => {
    await Promise.all(handles.map((h) => h.worker.terminate()));
    if (server && o.prometheus?.lingerMs) await new Promise((r) => setTimeout(r, o.prometheus?.lingerMs));
    server?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  };

  try {
    // 1. compile
    const bundle = await bundleForRunner(script);
    mkdirSync(cacheDir, { recursive: true });
    const bundlePath = join(cacheDir, 'script.mjs');
    writeFileSync(bundlePath, bundle.code);

    // 2. load the script in every worker (its init context); the first tells us its options
    const onMessage = (w: number) => (m: WorkerToMain) => {
      if (m.type === 'delta') {
        store.merge(m.delta);
        progressByWorker[w] = m.progress;
        checksFailed += m.checksFailed;
        if (o.outJson) for (const p of m.points) jsonLines.push(pointLine(p));
      } else if (m.type === 'abort' && !abortReason) {
        abortReason = m.reason;
        abortCode = EXIT.scriptAborted;
        for (const h of handles) h.post({ type: 'stop' });
      } else if (m.type === 'error' && !abortReason) {
        abortReason = m.message;
        abortCode = m.exitCode as ExitCode;
        for (const h of handles) h.post({ type: 'stop' });
      }
    };
    const first = spawnWorker(onMessage(0));
    handles.push(first);
    const initBase = {
      bundlePath,
      scriptDir: dirname(script),
      env,
      workers,
      series: o.prometheus !== undefined,
      points: o.outJson !== undefined,
      globalTags: o.tags ?? {},
    };
    first.post({ type: 'init', ...initBase, workerIndex: 0, submetrics: [] });
    const ready = await first.next('ready');

    // 3. options: the script's, overridden by the command line; thresholds checked against the metrics
    const raw = applyCliOverrides(ready.options as RawOptions | undefined, {
      vus: o.vus,
      duration: o.duration,
      iterations: o.iterations,
    });
    const options: Options = normaliseOptions(raw, o.script, new Set(ready.exports));
    const types = new Map<string, 'counter' | 'gauge' | 'rate' | 'trend'>();
    for (const m of store.metrics.values()) types.set(m.name, m.type);
    for (const [name, type] of ready.metrics) types.set(name, type);
    let parsedThresholds: ReturnType<typeof parseThresholds> = [];
    try {
      parsedThresholds = o.noThresholds ? [] : parseThresholds(options.thresholds, (n) => types.get(n));
    } catch (err) {
      if (err instanceof ThresholdError)
        throw new RunError(EXIT.invalidConfig, `${o.script}: ${err.message}`);
      throw err;
    }
    const submetrics = [
      ...submetricSelectors(options.thresholds),
      'http_req_duration{expected_response:true}',
    ];
    // The first worker was initialised before the submetrics were known: start it again with them.
    await first.worker.terminate();
    handles.length = 0;
    for (let w = 0; w < workers; w++) {
      const h = spawnWorker(onMessage(w));
      handles.push(h);
      h.post({ type: 'init', ...initBase, workerIndex: w, submetrics });
    }
    await Promise.all(handles.map((h) => h.next('ready')));
    const local = new Store({ submetrics, series: o.prometheus !== undefined });
    defineBuiltins(local);
    // Re-home the main store with the submetrics (nothing recorded yet).
    Object.assign(store, { metrics: local.metrics, checks: local.checks });
    for (const [name, type, contains] of ready.metrics) store.define(name, type, contains);

    if (o.prometheus) {
      server = createServer((req, res) => {
        if (req.url !== '/metrics') {
          res.writeHead(404).end();
          return;
        }
        res
          .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
          .end(prometheusText(store, { extraLabels: o.tags ?? {} }));
      });
      server.listen(o.prometheus.port, o.prometheus.host);
      await once(server, 'listening');
    }

    // 4. setup
    const setupHandle = handles[0] as WorkerHandle;
    setupHandle.post({ type: 'setup' });
    const setupDone = await withTimeout(
      setupHandle.next('setup-done'),
      options.setupTimeoutMs,
      'setup()',
      EXIT.setupTimeout,
    );

    // 5. run
    const startAt = Date.now() + 100;
    const counters = new SharedArrayBuffer(4 * options.scenarios.length);
    const optionsForScript = {
      ...raw,
      scenarios: Object.fromEntries(options.scenarios.map((s) => [s.name, s])),
    };
    const dones = handles.map((h) => h.next('done'));
    for (const h of handles) {
      h.post({
        type: 'start',
        scenarios: options.scenarios,
        startAt,
        setupData: setupDone.data,
        counters,
        options: optionsForScript,
      });
    }
    const progress = new Progress(
      o.quiet ? 'none' : (o.progress ?? (process.stderr.isTTY ? 'tty' : 'plain')),
    );
    const vusMax = options.scenarios.reduce((a, s) => a + scenarioMaxVUs(s), 0);
    let finished = false;
    void Promise.all(dones).then(() => {
      finished = true;
    });
    while (!finished) {
      await new Promise((r) => setTimeout(r, 250));
      const elapsed = Date.now() - startAt;
      const active = progressByWorker.reduce(
        (a, p) => a + Object.values(p ?? {}).reduce((b, s) => b + s.activeVUs, 0),
        0,
      );
      store.add('vus', active);
      store.add('vus_max', vusMax);
      o.onSample?.(store, elapsed);
      if (parsedThresholds.length && !abortReason) {
        const fired = thresholdsToAbort(evaluateThresholds(store, parsedThresholds, elapsed), elapsed);
        if (fired.length) {
          abortReason = `thresholds on metrics '${fired.map((f) => f.threshold.key).join("', '")}' were crossed; at least one has abortOnFail enabled, stopping test prematurely`;
          abortCode = EXIT.thresholdsFailed;
          for (const h of handles) h.post({ type: 'stop' });
        }
      }
      progress.render(
        options.scenarios.map((s) => ({
          name: s.name,
          plannedMs: scenarioDuration(s),
          startMs: s.startTimeMs,
          p: mergeProgress(progressByWorker.map((p) => p?.[s.name])),
        })),
        elapsed,
        checksFailed,
      );
    }
    const testRunDurationMs = Date.now() - startAt;

    // 6. teardown, then the summary
    if (abortCode !== EXIT.scriptException) {
      setupHandle.post({ type: 'teardown', setupData: setupDone.data });
      await withTimeout(
        setupHandle.next('teardown-done'),
        options.teardownTimeoutMs,
        'teardown()',
        EXIT.teardownTimeout,
      );
      await new Promise((r) => setTimeout(r, 20));
    }
    thresholds = parsedThresholds.length
      ? evaluateThresholds(store, parsedThresholds, testRunDurationMs)
      : [];
    const summary = buildSummaryData(store, {
      thresholds,
      testRunDurationMs,
      summaryTrendStats: options.summaryTrendStats,
      isStdOutTTY: Boolean(process.stdout.isTTY),
      isStdErrTTY: Boolean(process.stderr.isTTY),
    });
    if (o.summaryExport)
      writeFileSync(o.summaryExport, `${JSON.stringify(summaryExport(summary), null, 4)}\n`);
    if (o.outJson) writeFileSync(o.outJson, `${metricLines(store).concat(jsonLines).join('\n')}\n`);
    setupHandle.post({ type: 'summary', data: summary });
    const { outputs } = await setupHandle.next('summary-done');
    if (outputs) {
      for (const [target, content] of Object.entries(outputs)) {
        if (target === 'stdout') stdout(content);
        else if (target === 'stderr') process.stderr.write(content);
        else writeFileSync(resolve(target), content);
      }
    } else if (!o.noSummary && !o.quiet) {
      stdout(`\n${textSummary(summary, { indent: ' ', enableColors: Boolean(process.stdout.isTTY) })}\n\n`);
    }
    const failed = thresholds.some((t) => !t.ok);
    const exitCode: ExitCode = abortCode ?? (failed ? EXIT.thresholdsFailed : EXIT.ok);
    return { exitCode, summary, error: abortReason, thresholds, store };
  } catch (err) {
    if (err instanceof RunError) return { exitCode: err.exitCode, error: err.message, thresholds, store };
    throw err;
  } finally {
    await cleanup();
  }
}

function mergeProgress(list: Array<ScenarioProgress | undefined>): ScenarioProgress {
  const out: ScenarioProgress = {
    iterations: 0,
    interrupted: 0,
    dropped: 0,
    activeVUs: 0,
    initializedVUs: 0,
    done: list.length > 0,
  };
  for (const p of list) {
    if (!p) {
      out.done = false;
      continue;
    }
    out.iterations += p.iterations;
    out.interrupted += p.interrupted;
    out.dropped += p.dropped;
    out.activeVUs += p.activeVUs;
    out.initializedVUs += p.initializedVUs;
    out.done &&= p.done;
  }
  return out;
}

/** k6's JSON output: a Metric line per metric, then a Point line per sample. */
function metricLines(store: Store): string[] {
  return [...store.metrics.values()].map((m) =>
    JSON.stringify({
      type: 'Metric',
      data: { name: m.name, type: m.type, contains: m.contains, thresholds: [], submetrics: null },
      metric: m.name,
    }),
  );
}

function pointLine(p: Point): string {
  return JSON.stringify({
    metric: p.metric,
    type: 'Point',
    data: { time: new Date(p.time).toISOString(), value: p.value, tags: p.tags },
  });
}

export type { ExitCode } from './errors.ts';
export { EXIT, RunError } from './errors.ts';
