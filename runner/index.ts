import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleForRunner } from './bundle.ts';
import { EXIT, type ExitCode, RunError } from './errors.ts';
import { scenarioDuration, scenarioMaxVUs } from './executors/common.ts';
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
  type Threshold,
  ThresholdError,
  type ThresholdResult,
  textSummary,
  thresholdsToAbort,
} from './metrics/index.ts';
import { type MetricsView, metricsView } from './metrics/view.ts';
import {
  applyCliOverrides,
  normaliseOptions,
  type Options,
  type RawOptions,
  type SummaryTimeUnit,
} from './options/schema.ts';
import type { Output } from './outputs/index.ts';
import { jsonOutput } from './outputs/json.ts';
import { type PrometheusAddress, PrometheusOutput } from './outputs/prometheus.ts';
import { mergeProgress, Progress } from './progress.ts';
import type { ScenarioProgress, WorkerToMain } from './protocol.ts';
import { spawnWorker, type WorkerHandle, withTimeout } from './threads.ts';

/**
 * The embedded k6-compatible runner: `runTest` runs a k6 script (TypeScript or JavaScript) on
 * worker threads and returns k6's exit code and summary. Generic: it knows nothing of what it loads.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
/** how long the outputs' sample waits for the workers' metrics (flushWorkers) */
const FLUSH_WAIT_MS = 100;

export interface RunOptions {
  script: string;
  /** -e KEY=VALUE; merged over the process environment, as k6 does by default */
  env?: Record<string, string>;
  vus?: number;
  duration?: string;
  iterations?: number;
  /** --summary-trend-stats, over the script's summaryTrendStats */
  summaryTrendStats?: string[];
  /** --summary-time-unit, over the script's summaryTimeUnit */
  summaryTimeUnit?: SummaryTimeUnit;
  workers?: number;
  summaryExport?: string;
  /** --out json=FILE: every sample as k6's JSON output lines */
  outJson?: string;
  /** --out prometheus: serve the live metrics on this address (k6 remote-write names) */
  prometheus?: PrometheusAddress;
  /** outputs besides those two, e.g. one sampling the metrics as the test runs */
  outputs?: readonly Output[];
  quiet?: boolean;
  noThresholds?: boolean;
  noSummary?: boolean;
  /** progress display: default tty when stderr is a terminal, plain otherwise */
  progress?: 'tty' | 'plain' | 'none';
  tags?: Record<string, string>;
  /**
   * k6's "Request Failed" warning for a request that got no answer (default on): the first three
   * of each kind of failure, then every thousandth with its count. A rehearsal turns them off: its
   * report counts the failures, and a planned kill would print them by the hundred.
   */
  requestFailureWarnings?: boolean;
  allowRemoteTargets?: boolean;
  /** where summary text and handleSummary's stdout go (default process.stdout) */
  stdout?: (text: string) => void;
}

export interface RunResult {
  exitCode: ExitCode;
  summary?: SummaryData;
  /** why the run ended early, when it did */
  error?: string;
  thresholds: ThresholdResult[];
  /** the test's final metrics */
  metrics: MetricsView;
}

export type { MetricsView, TrendSnapshot } from './metrics/view.ts';

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

export function runTest(o: RunOptions): Promise<RunResult> {
  return new TestRun(o).run();
}

/**
 * What k6 refuses before a test's first request, without running it: the script compiles and
 * calls nothing the runner lacks, its init context runs (with `o.env`), its options and thresholds
 * are valid. A caller that must start something first (a stack to load) checks here before.
 */
export function inspectTest(o: RunOptions): Promise<{ exitCode: ExitCode; error?: string }> {
  return new TestRun({ ...o, workers: 1 }).inspect();
}

/** One call of runTest: the worker threads, the merged metrics, the outputs, and why it stopped. */
class TestRun {
  private readonly store: Store;
  private readonly metrics: MetricsView;
  private readonly outputs: Output[] = [];
  private readonly started: Output[] = [];
  private readonly workers: number;
  private readonly cacheDir: string;
  /** the script's exported functions */
  private exports = new Set<string>();
  private handles: WorkerHandle[] = [];
  private readonly progressByWorker: Array<Record<string, ScenarioProgress>> = [];
  private checksFailed = 0;
  /** the flush each worker was last asked for, answered when its `flushed` comes (see flushWorkers) */
  private flushSeq = 0;
  private readonly flushWaits: Array<{ seq: number; done: () => void } | undefined> = [];
  private abortReason: string | undefined;
  private abortCode: ExitCode | undefined;
  private thresholds: ThresholdResult[] = [];
  /** the test-wide tags: the script's options.tags, or the command line's in their place */
  private globalTags: Record<string, string> = {};

  constructor(private readonly o: RunOptions) {
    if (o.outJson) this.outputs.push(jsonOutput(o.outJson));
    if (o.prometheus)
      this.outputs.push(
        new PrometheusOutput(o.prometheus, () => prometheusText(this.store, { extraLabels: o.tags ?? {} })),
      );
    this.outputs.push(...(o.outputs ?? []));
    this.store = new Store({ series: this.needs('tagSeries') });
    defineBuiltins(this.store);
    this.metrics = metricsView(this.store);
    this.workers = Math.max(1, o.workers ?? defaultWorkers());
    this.cacheDir = join(ROOT, 'node_modules', '.cache', 'gelombang', `run-${process.pid}-${Date.now()}`);
  }

  private needs(what: 'points' | 'tagSeries'): boolean {
    return this.outputs.some((x) => x.needs?.[what]);
  }

  async run(): Promise<RunResult> {
    const { o, store, metrics } = this;
    try {
      const { options, raw, thresholds } = await this.load();
      await this.startOutputs();

      const setupHandle = this.handles[0] as WorkerHandle;
      let setupData: string | undefined;
      if (raw.noSetup !== true) {
        setupHandle.post({ type: 'setup' });
        const setupDone = await withTimeout(
          setupHandle.next('setup-done'),
          options.setupTimeoutMs,
          'setup()',
          EXIT.setupTimeout,
        );
        setupData = setupDone.data;
      }

      const testRunDurationMs = await this.execute(options, raw, thresholds, setupData);

      if (this.abortCode !== EXIT.scriptException && raw.noTeardown !== true) {
        setupHandle.post({ type: 'teardown', setupData });
        await withTimeout(
          setupHandle.next('teardown-done'),
          options.teardownTimeoutMs,
          'teardown()',
          EXIT.teardownTimeout,
        );
        await new Promise((r) => setTimeout(r, 20));
      }
      this.thresholds = thresholds.length ? evaluateThresholds(store, thresholds, testRunDurationMs) : [];
      const summary = buildSummaryData(store, {
        // k6 makes a group of setup() and of teardown() when the script has them and runs them
        groups: (['setup', 'teardown'] as const).filter(
          (f) => this.exports.has(f) && raw[f === 'setup' ? 'noSetup' : 'noTeardown'] !== true,
        ),
        thresholds: this.thresholds,
        testRunDurationMs,
        summaryTrendStats: options.summaryTrendStats,
        summaryTimeUnit: raw?.summaryTimeUnit,
        isStdOutTTY: Boolean(process.stdout.isTTY),
        isStdErrTTY: Boolean(process.stderr.isTTY),
      });
      if (o.summaryExport)
        writeFileSync(o.summaryExport, `${JSON.stringify(summaryExport(summary), null, 4)}\n`);
      await this.handleSummary(setupHandle, summary);
      const failed = this.thresholds.some((t) => !t.ok);
      const exitCode: ExitCode = this.abortCode ?? (failed ? EXIT.thresholdsFailed : EXIT.ok);
      return { exitCode, summary, error: this.abortReason, thresholds: this.thresholds, metrics };
    } catch (err) {
      if (err instanceof RunError)
        return { exitCode: err.exitCode, error: err.message, thresholds: this.thresholds, metrics };
      throw err;
    } finally {
      await this.cleanup();
    }
  }

  async inspect(): Promise<{ exitCode: ExitCode; error?: string }> {
    try {
      await this.load(false);
      return { exitCode: EXIT.ok };
    } catch (err) {
      if (err instanceof RunError) return { exitCode: err.exitCode, error: err.message };
      throw err;
    } finally {
      await this.cleanup();
    }
  }

  /**
   * Compiles the script and loads it in every worker (its init context); the first worker tells
   * the options, which are checked with the thresholds against the metrics the script defined.
   * `everyWorker` false: the first worker only, for an inspection.
   */
  private async load(
    everyWorker = true,
  ): Promise<{ options: Options; raw: RawOptions; thresholds: Threshold[] }> {
    const { o, store } = this;
    const script = resolve(o.script);
    const bundle = await bundleForRunner(script);
    mkdirSync(this.cacheDir, { recursive: true });
    const bundlePath = join(this.cacheDir, 'script.mjs');
    writeFileSync(bundlePath, bundle.code);

    const first = spawnWorker(this.onMessage(0));
    this.handles.push(first);
    const initBase = {
      bundlePath,
      scriptDir: dirname(script),
      env: scriptEnv(o),
      workers: this.workers,
      series: this.needs('tagSeries'),
      points: this.needs('points'),
      globalTags: o.tags ?? {},
      requestFailureWarnings: o.requestFailureWarnings ?? true,
    };
    first.post({ type: 'init', ...initBase, workerIndex: 0, submetrics: [] });
    const ready = await first.next('ready');

    const raw = applyCliOverrides(ready.options as RawOptions | undefined, {
      vus: o.vus,
      duration: o.duration,
      iterations: o.iterations,
      summaryTrendStats: o.summaryTrendStats,
      summaryTimeUnit: o.summaryTimeUnit,
    });
    this.exports = new Set(ready.exports);
    const options = normaliseOptions(raw, o.script, this.exports);
    const types = new Map<string, 'counter' | 'gauge' | 'rate' | 'trend'>();
    for (const m of store.metrics.values()) types.set(m.name, m.type);
    for (const [name, type] of ready.metrics) types.set(name, type);
    let thresholds: Threshold[] = [];
    try {
      thresholds = o.noThresholds ? [] : parseThresholds(options.thresholds, (n) => types.get(n));
    } catch (err) {
      if (err instanceof ThresholdError)
        throw new RunError(EXIT.invalidConfig, `${o.script}: ${err.message}`);
      throw err;
    }
    if (!everyWorker) return { options, raw, thresholds };
    const submetrics = [
      ...submetricSelectors(options.thresholds),
      'http_req_duration{expected_response:true}',
    ];
    // The command line's --tag replaces the script's options.tags, not merged key by key: k6 v0.47's
    // Options.Apply (lib/options.go) takes the later RunTags whole.
    const globalTags = o.tags && Object.keys(o.tags).length > 0 ? { ...o.tags } : { ...(raw?.tags ?? {}) };
    this.globalTags = globalTags;
    // The first worker was initialised before the submetrics and the tags were known: it is told
    // them (it has recorded nothing yet), and the others start with them.
    first.post({ type: 'configure', submetrics, globalTags });
    for (let w = 1; w < this.workers; w++) {
      const h = spawnWorker(this.onMessage(w));
      this.handles.push(h);
      h.post({ type: 'init', ...initBase, globalTags, workerIndex: w, submetrics });
    }
    await Promise.all(this.handles.slice(1).map((h) => h.next('ready')));
    const local = new Store({ submetrics, series: this.needs('tagSeries') });
    defineBuiltins(local);
    // Re-home the main store with the submetrics (nothing recorded yet).
    Object.assign(store, { metrics: local.metrics, checks: local.checks });
    for (const [name, type, contains] of ready.metrics) store.define(name, type, contains);
    return { options, raw, thresholds };
  }

  private onMessage(w: number) {
    return (m: WorkerToMain) => {
      if (m.type === 'delta') {
        this.store.merge(m.delta);
        this.progressByWorker[w] = m.progress;
        this.checksFailed += m.checksFailed;
        if (m.points.length > 0) for (const out of this.outputs) out.onPoints?.(m.points);
      } else if (m.type === 'flushed') {
        const wait = this.flushWaits[w];
        if (wait?.seq === m.seq) {
          this.flushWaits[w] = undefined;
          wait.done();
        }
      } else if (m.type === 'abort') {
        this.stop(m.reason, m.exitCode as ExitCode);
      } else if (m.type === 'error') {
        this.stop(m.message, m.exitCode as ExitCode);
      }
    };
  }

  /**
   * Has every worker send its metrics so far before the outputs are sampled: a worker that sent
   * them on a clock of its own (once a second, as they did) let an interval end just before that
   * second and count nothing, the next twice as much. A worker busy with a long synchronous
   * iteration is not waited for beyond FLUSH_WAIT_MS; its metrics come with the next sample.
   */
  private async flushWorkers(): Promise<void> {
    const seq = ++this.flushSeq;
    const answered = this.handles.map(
      (h, w) =>
        new Promise<void>((done) => {
          this.flushWaits[w] = { seq, done };
          h.post({ type: 'flush', seq });
        }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(answered),
      new Promise((r) => {
        timer = setTimeout(r, FLUSH_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Stops every worker's scheduling; the first reason wins. */
  private stop(reason: string, code: ExitCode): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.abortCode = code;
    for (const h of this.handles) h.post({ type: 'stop' });
  }

  private async startOutputs(): Promise<void> {
    for (const out of this.outputs) {
      try {
        await out.start?.(this.metrics);
      } catch (err) {
        throw new RunError(EXIT.invalidConfig, `${out.description}: ${(err as Error).message}`);
      }
      this.started.push(out);
    }
  }

  /**
   * Starts every worker on the same clock, then every 250 ms until they are done: the `vus`
   * gauges, the outputs' samples, the abortOnFail thresholds and the progress. Returns the test's
   * duration.
   */
  private async execute(
    options: Options,
    raw: RawOptions,
    thresholds: readonly Threshold[],
    setupData: string | undefined,
  ): Promise<number> {
    const { o, store } = this;
    const startAt = Date.now() + 100;
    const counters = new SharedArrayBuffer(8 * options.scenarios.length);
    const optionsForScript = {
      ...raw,
      scenarios: Object.fromEntries(options.scenarios.map((s) => [s.name, s])),
    };
    // A worker that reports an error instead of finishing stops the test with its exit code.
    const dones = this.handles.map((h) =>
      h.next('done').catch((err: unknown) => {
        if (!(err instanceof RunError)) throw err;
        this.stop(err.message, err.exitCode);
      }),
    );
    for (const h of this.handles) {
      h.post({
        type: 'start',
        scenarios: options.scenarios,
        startAt,
        setupData,
        counters,
        options: optionsForScript,
        minIterationDurationMs: options.minIterationDurationMs,
      });
    }
    const progress = new Progress(
      o.quiet ? 'none' : (o.progress ?? (process.stderr.isTTY ? 'tty' : 'plain')),
    );
    const vusMax = options.scenarios.reduce((a, s) => a + scenarioMaxVUs(s), 0);
    // k6 emits vus and vus_max once a second, with the test's tags (execution/scheduler.go
    // emitVUsAndVUsMax): so do the outputs' Points; the store takes every tick.
    const points = this.needs('points');
    let nextVusPointMs = 1000;
    let finished = false;
    const allDone = Promise.all(dones).then(() => {
      finished = true;
    });
    while (!finished) {
      // Every 250 ms, and once more as soon as the workers are done: a test no longer waits out
      // the tick it ends in (up to 250 ms at the end of every run, the tests' many short ones too).
      let tick: NodeJS.Timeout | undefined;
      await Promise.race([allDone, new Promise((r) => (tick = setTimeout(r, 250)))]);
      clearTimeout(tick);
      await this.flushWorkers();
      const elapsed = Date.now() - startAt;
      const active = this.progressByWorker.reduce(
        (a, p) => a + Object.values(p ?? {}).reduce((b, s) => b + s.activeVUs, 0),
        0,
      );
      store.add('vus', active);
      store.add('vus_max', vusMax);
      if (points && elapsed >= nextVusPointMs) {
        nextVusPointMs = (Math.floor(elapsed / 1000) + 1) * 1000;
        const time = Date.now();
        const vusPoints = [
          { metric: 'vus', time, value: active, tags: { ...this.globalTags } },
          { metric: 'vus_max', time, value: vusMax, tags: { ...this.globalTags } },
        ];
        for (const out of this.outputs) out.onPoints?.(vusPoints);
      }
      for (const out of this.outputs) out.onSample?.(this.metrics, elapsed);
      if (thresholds.length && !this.abortReason) {
        const fired = thresholdsToAbort(evaluateThresholds(store, thresholds, elapsed), elapsed);
        if (fired.length)
          this.stop(
            `thresholds on metrics '${fired.map((f) => f.threshold.key).join("', '")}' were crossed; at least one has abortOnFail enabled, stopping test prematurely`,
            EXIT.thresholdsFailed,
          );
      }
      progress.render(
        options.scenarios.map((s) => ({
          name: s.name,
          plannedMs: scenarioDuration(s),
          startMs: s.startTimeMs,
          p: mergeProgress(this.progressByWorker.map((p) => p?.[s.name])),
        })),
        elapsed,
        this.checksFailed,
      );
    }
    return Date.now() - startAt;
  }

  /**
   * handleSummary()'s outputs if the script has one, k6's text summary otherwise. A handleSummary()
   * that fails is logged and leaves the exit code as it was, as k6 does (nor does k6 then print
   * its own summary).
   */
  private async handleSummary(setupHandle: WorkerHandle, summary: SummaryData): Promise<void> {
    const { o } = this;
    const stdout = o.stdout ?? ((t: string) => process.stdout.write(t));
    setupHandle.post({ type: 'summary', data: summary });
    let outputs: Record<string, string> | undefined;
    try {
      ({ outputs } = await setupHandle.next('summary-done'));
    } catch (err) {
      if (!(err instanceof RunError)) throw err;
      console.error(`ERRO failed to handle the end-of-test summary: ${err.message}`);
      return;
    }
    if (outputs) {
      for (const [target, content] of Object.entries(outputs)) {
        if (target === 'stdout') stdout(content);
        else if (target === 'stderr') process.stderr.write(content);
        else writeFileSync(resolve(target), content);
      }
    } else if (!o.noSummary && !o.quiet) {
      stdout(`\n${textSummary(summary, { indent: ' ', enableColors: Boolean(process.stdout.isTTY) })}\n\n`);
    }
  }

  private async cleanup(): Promise<void> {
    await Promise.all(this.handles.map((h) => h.worker.terminate()));
    const stopped = await Promise.allSettled(this.started.map((out) => out.stop?.()));
    rmSync(this.cacheDir, { recursive: true, force: true });
    for (const [i, s] of stopped.entries())
      if (s.status === 'rejected')
        throw new Error(`${this.started[i]?.description}: ${(s.reason as Error)?.message ?? s.reason}`);
  }
}

/** The script's __ENV: the process environment, then -e, as k6 does by default. */
function scriptEnv(o: RunOptions): Record<string, string> {
  return {
    ...(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== undefined)) as Record<
      string,
      string
    >),
    ...(o.env ?? {}),
    ...(o.allowRemoteTargets ? { GELOMBANG_ALLOW_REMOTE: '1' } : {}),
  };
}

export type { ExitCode } from './errors.ts';
export { EXIT, RunError } from './errors.ts';
export { SUMMARY_TIME_UNITS, type SummaryTimeUnit, trendStatProblem } from './options/schema.ts';
