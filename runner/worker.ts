import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parentPort } from 'node:worker_threads';
import { EXIT, type ExitCode } from './errors.ts';
import { type Engine, type ScenarioOf, ScenarioRun, scenarioMaxVUs } from './executors/common.ts';
import { runConstantArrivalRate } from './executors/constant-arrival-rate.ts';
import { runConstantVUs } from './executors/constant-vus.ts';
import { runPerVuIterations } from './executors/per-vu-iterations.ts';
import { runRampingArrivalRate } from './executors/ramping-arrival-rate.ts';
import { runRampingVUs } from './executors/ramping-vus.ts';
import { runSharedIterations } from './executors/shared-iterations.ts';
import type { Tags } from './metrics/api.ts';
import { defineBuiltins, type Metric, Store } from './metrics/store.ts';
import type { ExecutorName } from './options/schema.ts';
import type {
  InitMessage,
  MainToWorker,
  Point,
  ScenarioProgress,
  StartMessage,
  WorkerToMain,
} from './protocol.ts';
import { RUNTIME_KEY, type Runtime, type VuState, withVuTags } from './runtime.ts';
import { refusal } from './unsupported.ts';

/**
 * One worker thread of the runner: loads its own copy of the script (k6 gives each VU its own
 * runtime; here the VUs of a thread share one, which the portable subset allows: no module-level
 * state shared between iterations), runs its share of every scenario, and posts what it recorded.
 */

if (!parentPort) throw new Error('runner/worker.ts must run in a worker thread');
const port = parentPort;
const post = (m: WorkerToMain) => port.postMessage(m);

type IterationFn = (data?: unknown) => unknown;

let init: InitMessage;
let store: Store;
let iterationsMetric: Metric;
let iterationDurationMetric: Metric;
let dataSentMetric: Metric;
let dataReceivedMetric: Metric;
let script: Record<string, unknown> = {};
let stopping = false;
let startAt = 0;
let optionsSnapshot: unknown;
let minIterationDurationMs = 0;
const als = new AsyncLocalStorage<VuState>();
const progress: Record<string, ScenarioProgress> = {};
let points: Point[] = [];
let checksFailed = 0;
/** per scenario two Int32 shared by every thread: iterations claimed, iterations done */
let counters = new Int32Array(new SharedArrayBuffer(0));
const scenarioIndex = new Map<string, number>();
const runsByName = new Map<string, ScenarioRun>();
let completed = 0;
let interrupted = 0;
const warned = new Set<string>();
const callEndListeners: Array<(vu: VuState) => void> = [];
const errorCounts = new Map<string, number>();
const failedRequestCounts = new Map<string, number>();

/**
 * k6's randomSeed in this thread. A VU that calls it draws from a generator of its own from then on,
 * across its iterations. Called in the init context, it seeds the init context's draws only: k6
 * v0.47 gives each VU's runtime a fresh random source once its init context has run
 * (js/bundle.go instantiate), so an iteration's draws are not repeatable by it.
 */
let initRandom: (() => number) | undefined;
let seeded = false;
const nativeRandom = Math.random;
Math.random = () => {
  if (!seeded) return nativeRandom();
  const vu = als.getStore();
  if (vu) return vu.random ? vu.random() : nativeRandom();
  return initRandom ? initRandom() : nativeRandom();
};

/** mulberry32 on the seed's low 32 bits mixed with its high ones: floats in [0, 1). */
function seededRandom(seed: number): () => number {
  let a = (Math.trunc(seed) ^ Math.trunc(seed / 2 ** 32)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The first few of each kind, then every thousandth: a broken script must not drown the output. */
function bounded(counts: Map<string, number>, kind: string, line: () => string): void {
  const n = (counts.get(kind) ?? 0) + 1;
  counts.set(kind, n);
  // the line made only when printed: a run whose every request fails makes thousands a second
  if (n <= 3 || n % 1000 === 0) console.error(`${line()}${n > 3 ? ` (${n} times)` : ''}`);
}

function reportIterationError(err: unknown, scenario: string): void {
  const message = err instanceof Error ? err.message : String(err);
  bounded(errorCounts, message, () => `ERRO[scenario ${scenario}] ${message}`);
}

function makeRuntime(): Runtime {
  return {
    als,
    initPhase: true,
    env: init.env,
    scriptDir: init.scriptDir,
    globalTags: init.globalTags,
    define: (name, type, contains) => store.define(name, type, contains),
    emit(name: string, value: number, tags: Tags) {
      store.add(name, value, tags);
      if (init.points) points.push({ metric: name, time: Date.now(), value, tags: { ...tags } });
    },
    emitter(name: string) {
      const metric = store.metric(name);
      return (value: number, tags: Tags) => {
        store.addTo(metric, value, tags);
        if (init.points) points.push({ metric: name, time: Date.now(), value, tags: { ...tags } });
      };
    },
    check(name: string, passed: boolean, tags: Tags) {
      // k6's check path: its group's, then its name (setup() runs in the group '::setup')
      const lifecycle = als.getStore()?.lifecycle;
      store.addCheck(lifecycle ? `::${lifecycle}::${name}` : `::${name}`, passed);
      store.add('checks', passed ? 1 : 0, tags);
      if (!passed) checksFailed++;
      if (init.points)
        points.push({ metric: 'checks', time: Date.now(), value: passed ? 1 : 0, tags: { ...tags } });
    },
    abortTest(reason: string): never {
      stopScheduling();
      post({ type: 'abort', reason, exitCode: EXIT.scriptAborted });
      throw Object.assign(new Error(reason), { isTestAbort: true });
    },
    refuse(module: string, name: string): never {
      const message = `the script called what the embedded runner does not implement: ${refusal(module, name)}`;
      // In the init context the import fails, in setup() setup fails: both already end the test.
      throw refused(message, !this.initPhase && Boolean(als.getStore()?.executor));
    },
    options: () => optionsSnapshot,
    instance: () => ({
      iterationsCompleted: completed,
      iterationsInterrupted: interrupted,
      vusActive: Object.values(progress).reduce((a, p) => a + p.activeVUs, 0),
      vusInitialized: Object.values(progress).reduce((a, p) => a + p.initializedVUs, 0),
      currentTestRunDuration: startAt ? Date.now() - startAt : 0,
    }),
    scenarioProgress: (name) => runsByName.get(name)?.progressNow() ?? 0,
    sharedArrays: new Map(),
    warnOnce(key: string, message: string) {
      if (warned.has(key)) return;
      warned.add(key);
      console.error(`WARN ${message}`);
    },
    requestFailed(kind: string, detail: string) {
      if (!init.requestFailureWarnings) return;
      const vu = als.getStore();
      const where = vu?.lifecycle ?? `scenario ${vu?.scenario}`;
      bounded(
        failedRequestCounts,
        kind,
        () => `WARN[${where}] Request Failed error=${JSON.stringify(detail)}`,
      );
    },
    randomSeed(seed: number) {
      seeded = true;
      const vu = als.getStore();
      if (vu) vu.random = seededRandom(seed);
      else if (this.initPhase) initRandom = seededRandom(seed);
    },
    onCallEnd(listener) {
      callEndListeners.push(listener);
    },
  };
}

/** k6's open(): a file relative to the script, as text or (mode 'b') an ArrayBuffer; init context only. */
function open(path: string, mode?: string): string | ArrayBuffer {
  const rt = (globalThis as Record<string, unknown>)[RUNTIME_KEY] as Runtime;
  if (!rt.initPhase) throw new Error(`open("${path}") can only be called in the init context`);
  const file = isAbsolute(path) ? path : join(init.scriptDir, path);
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new Error(`open("${path}"): ${(err as Error).message}`);
  }
  if (mode === 'b') return new Uint8Array(bytes).buffer;
  return bytes.toString('utf8');
}

function installGlobals(rt: Runtime): void {
  const g = globalThis as Record<string, unknown>;
  g[RUNTIME_KEY] = rt;
  g.open = open;
  Object.defineProperty(g, '__ENV', { get: () => als.getStore()?.env ?? init.env, configurable: true });
  Object.defineProperty(g, '__VU', { get: () => als.getStore()?.idInTest ?? 0, configurable: true });
  Object.defineProperty(g, '__ITER', {
    get: () => als.getStore()?.iterationInScenario ?? 0,
    configurable: true,
  });
}

/** Waits of the scheduler end early when the test stops (test.abort, abortOnFail), not at the planned end. */
const wakeOnStop = new Set<() => void>();
const sleep = (ms: number) =>
  stopping
    ? Promise.resolve()
    : new Promise<void>((r) => {
        const done = () => {
          clearTimeout(timer);
          wakeOnStop.delete(done);
          r();
        };
        const timer = setTimeout(done, Math.max(0, ms));
        wakeOnStop.add(done);
      });
function stopScheduling(): void {
  stopping = true;
  for (const wake of [...wakeOnStop]) wake();
}
const isUnsupportedCall = (err: unknown) => (err as { unsupportedCall?: boolean })?.unsupportedCall === true;
const RUNNER_DIR = dirname(fileURLToPath(import.meta.url));

/**
 * A script's error for the user: its message and where in the script it was thrown (the
 * innermost frame in the script's own files, through the bundle's source map), not the engine's
 * frames below it. A refused call says it all in its message.
 */
function scriptError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (isUnsupportedCall(err)) return err.message;
  const head = err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  for (const line of (err.stack ?? '').split('\n').slice(1)) {
    const m = /^\s+at (?:.*? \()?(.+?):(\d+):(\d+)\)?$/.exec(line);
    const file = m?.[1]?.startsWith('file:') ? fileURLToPath(m[1]) : m?.[1];
    if (!m || !file || file.startsWith('node:') || file.startsWith(RUNNER_DIR)) continue;
    const near = relative(process.cwd(), file);
    return `${head} (at ${near.startsWith('..') ? file : near}:${m[2]}:${m[3]})`;
  }
  return head;
}
const copyData = (data: string | undefined): unknown => (data === undefined ? undefined : JSON.parse(data));

async function onInit(m: InitMessage): Promise<void> {
  init = m;
  store = new Store({ submetrics: m.submetrics, series: m.series });
  defineBuiltins(store);
  iterationsMetric = store.metric('iterations');
  iterationDurationMetric = store.metric('iteration_duration');
  dataSentMetric = store.metric('data_sent');
  dataReceivedMetric = store.metric('data_received');
  const rt = makeRuntime();
  installGlobals(rt);
  try {
    script = (await import(pathToFileURL(m.bundlePath).href)) as Record<string, unknown>;
  } catch (err) {
    post({
      type: 'error',
      phase: 'init',
      message: `the script failed in its init context: ${scriptError(err)}`,
      exitCode: EXIT.scriptException,
    });
    return;
  }
  rt.initPhase = false;
  // k6 gives each VU a fresh random source once its init context has run
  initRandom = undefined;
  const exportsList = Object.entries(script)
    .filter(([, v]) => typeof v === 'function')
    .map(([k]) => k);
  let options: unknown;
  try {
    options = script.options === undefined ? undefined : JSON.parse(JSON.stringify(script.options));
  } catch {
    post({
      type: 'error',
      phase: 'init',
      message: 'options: must be JSON-serialisable',
      exitCode: EXIT.invalidConfig,
    });
    return;
  }
  const metrics = [...store.metrics.values()].map(
    (x) => [x.name, x.type, x.contains] as [typeof x.name, typeof x.type, typeof x.contains],
  );
  post({ type: 'ready', exports: exportsList, options, metrics });
}

/** A rejection of the promise an async setup() or teardown() returned, as k6 tells it from a throw. */
class Rejected {
  constructor(readonly reason: unknown) {}
}

/**
 * setup() or teardown(): a throw rejects with the error, the rejection of a promise it returned
 * with that reason in a Rejected, since k6 ends the run differently (lifecycleFailure).
 */
async function callLifecycle(name: 'setup' | 'teardown', data?: unknown): Promise<unknown> {
  const fn = script[name] as IterationFn | undefined;
  if (typeof fn !== 'function') return undefined;
  const vu: VuState = {
    idInTest: 0,
    idInInstance: 0,
    iterationInInstance: 0,
    iterationInScenario: 0,
    iterationInTest: 0,
    scenario: name,
    executor: '',
    scenarioStartTime: Date.now(),
    env: init.env,
    tags: { ...init.globalTags, group: `::${name}` },
    lifecycle: name,
    traffic: { sent: 0, received: 0 },
  };
  const t0 = performance.now();
  let out: unknown;
  try {
    out = als.run(vu, () => fn(data));
  } catch (err) {
    // a throw, not a rejection: k6 tells them apart (lifecycleFailure)
    endOfCall(vu, performance.now() - t0, false);
    throw err;
  }
  let value: unknown;
  try {
    value = await out;
  } catch (err) {
    throw new Rejected(err);
  } finally {
    endOfCall(vu, performance.now() - t0, false);
  }
  if (vu.unawaited?.size) throw refused(UNAWAITED_SLEEP, false);
  return value;
}

/**
 * How k6 v0.47 ends a run whose setup() or teardown() failed: 108 for test.abort(), 107 for a
 * throw, and for a rejected promise its "Uncaught (in promise)" error, which carries no exit code.
 */
function lifecycleFailure(name: 'setup' | 'teardown', err: unknown): { message: string; exitCode: ExitCode } {
  const e = err instanceof Rejected ? err.reason : err;
  // A call the runner refuses exits 107 wherever it is made (README, "What it refuses").
  const inPromise = err instanceof Rejected && !isUnsupportedCall(e);
  const aborted = (e as { isTestAbort?: boolean })?.isTestAbort === true && !isUnsupportedCall(e);
  return {
    message: `${name}() failed: ${inPromise && !aborted ? 'Uncaught (in promise) ' : ''}${scriptError(e)}`,
    exitCode: aborted ? EXIT.scriptAborted : inPromise ? EXIT.uncaught : EXIT.scriptException,
  };
}

function flush(final = false): void {
  const delta = store.drain();
  post({ type: 'delta', delta, progress: JSON.parse(JSON.stringify(progress)), points, checksFailed });
  points = [];
  checksFailed = 0;
  if (final) post({ type: 'done' });
}

function record(metric: Metric, value: number, tags: Record<string, string>): void {
  store.addTo(metric, value, tags);
  if (init.points) points.push({ metric: metric.name, time: Date.now(), value, tags });
}

/**
 * What k6 records as a VU's call of the script ends (js/runner.go, the dialer's trail): the bytes
 * it moved, zero too, then its duration when it ran to its end (setup and teardown included), and
 * an iteration when it was one; all with the VU's tags as they are then.
 */
function endOfCall(vu: VuState, durationMs: number | undefined, iteration: boolean): void {
  for (const listener of callEndListeners) listener(vu);
  const tags = withVuTags(vu, init.globalTags);
  record(dataSentMetric, vu.traffic.sent, tags);
  record(dataReceivedMetric, vu.traffic.received, tags);
  vu.traffic = { sent: 0, received: 0 };
  if (durationMs === undefined) return;
  if (iteration) record(iterationsMetric, 1, tags);
  record(iterationDurationMetric, durationMs, tags);
}

/**
 * The error of what the runner refuses, which ends the test with exit 107 (README, "What it
 * refuses"); `inIteration`: stop the test now, where a failed init or setup() would not end it.
 */
function refused(message: string, inIteration: boolean): Error {
  if (inIteration) {
    stopScheduling();
    post({ type: 'abort', reason: message, exitCode: EXIT.scriptException });
  }
  return Object.assign(new Error(message), { isTestAbort: true, unsupportedCall: true });
}

/**
 * A call of the script ended with a sleep() still pending that nothing awaited: the call did not
 * wait as k6's blocking sleep would have. A run that is fast because it never slept is wrong,
 * not green.
 */
const UNAWAITED_SLEEP =
  'the script called sleep(...) without await: here sleep is a Promise and the script went on at once (k6 blocks); write await sleep(seconds), which works on both engines';

/** Runs one iteration of a VU and records it; resolves when it ends, never rejects. */
async function iterate(
  vu: VuState,
  fn: IterationFn,
  data: unknown,
  p: ScenarioProgress,
  deadline: number,
): Promise<void> {
  const t0 = performance.now();
  let aborted = false;
  try {
    await als.run(vu, () => fn(data));
    if (vu.unawaited?.size) throw refused(UNAWAITED_SLEEP, true);
  } catch (err) {
    if ((err as { isTestAbort?: boolean } | undefined)?.isTestAbort) aborted = true;
    else reportIterationError(err, vu.scenario);
  }
  // a sleep left behind by a throw is not the next iteration's
  vu.unawaited?.clear();
  vu.iterationInInstance++;
  vu.iterationInScenario++;
  Atomics.add(counters, 2 * (scenarioIndex.get(vu.scenario) as number) + 1, 1);
  // An iteration still running when the graceful stop ran out is interrupted, not completed.
  if (Date.now() > deadline || aborted) {
    endOfCall(vu, undefined, false);
    p.interrupted++;
    interrupted++;
    return;
  }
  const tookMs = performance.now() - t0;
  endOfCall(vu, tookMs, true);
  p.iterations++;
  completed++;
  // k6's minIterationDuration (js/runner.go RunOnce): after a full iteration, recorded as it
  // took, the VU waits out the rest, busy, until the iteration's deadline or the test's stop.
  const rest = Math.min(minIterationDurationMs - tookMs, deadline - Date.now());
  if (rest > 0) await sleep(rest);
}

/** k6's lib/executor: one module per executor, each running its share of a scenario in this thread. */
const EXECUTORS: { [E in ExecutorName]: (run: ScenarioRun<ScenarioOf<E>>) => Promise<void> } = {
  'shared-iterations': runSharedIterations,
  'per-vu-iterations': runPerVuIterations,
  'constant-vus': runConstantVUs,
  'ramping-vus': runRampingVUs,
  'constant-arrival-rate': runConstantArrivalRate,
  'ramping-arrival-rate': runRampingArrivalRate,
};

async function onStart(m: StartMessage): Promise<void> {
  startAt = m.startAt;
  optionsSnapshot = m.options;
  minIterationDurationMs = m.minIterationDurationMs;
  counters = new Int32Array(m.counters);
  const engine: Engine = {
    workers: init.workers,
    workerIndex: init.workerIndex,
    startAt,
    env: init.env,
    globalTags: init.globalTags,
    stopping: () => stopping,
    sleep,
    iterate: (vu, exec, data, p, deadline) => iterate(vu, script[exec] as IterationFn, data, p, deadline),
    drop: (tags) => record(store.metric('dropped_iterations'), 1, tags),
  };
  let vuOffset = 0;
  const runs = m.scenarios.map(async (s, index) => {
    const run = new ScenarioRun(
      s,
      engine,
      vuOffset,
      m.setupData,
      () => Atomics.add(counters, 2 * index, 1),
      () => Atomics.load(counters, 2 * index + 1),
    );
    scenarioIndex.set(s.name, index);
    runsByName.set(s.name, run);
    vuOffset += scenarioMaxVUs(s);
    progress[s.name] = run.progress;
    await sleep(run.startsAt - Date.now());
    await (EXECUTORS[s.executor] as (run: ScenarioRun) => Promise<void>)(run);
    run.progress.done = true;
  });
  try {
    await Promise.all(runs);
  } catch (err) {
    post({
      type: 'error',
      phase: 'run',
      message: (err as Error).stack ?? String(err),
      exitCode: EXIT.genericEngine,
    });
  }
  flush(true);
}

port.on('message', (m: MainToWorker) => {
  switch (m.type) {
    case 'init':
      void onInit(m);
      return;
    case 'configure': {
      // Before anything is recorded: the init context only defined metrics.
      store.useSubmetrics(m.submetrics);
      init = { ...init, submetrics: m.submetrics, globalTags: m.globalTags };
      const rt = (globalThis as Record<string, unknown>)[RUNTIME_KEY] as Runtime;
      rt.globalTags = m.globalTags;
      return;
    }
    case 'setup':
      Promise.resolve(callLifecycle('setup')).then(
        (data) => post({ type: 'setup-done', data: data === undefined ? undefined : JSON.stringify(data) }),
        (err: unknown) => post({ type: 'error', phase: 'setup', ...lifecycleFailure('setup', err) }),
      );
      return;
    case 'start':
      void onStart(m);
      return;
    case 'stop':
      stopScheduling();
      return;
    case 'flush':
      flush();
      post({ type: 'flushed', seq: m.seq });
      return;
    case 'teardown':
      Promise.resolve(callLifecycle('teardown', copyData(m.setupData))).then(
        () => {
          flush();
          post({ type: 'teardown-done' });
        },
        (err: unknown) => {
          flush();
          post({ type: 'error', phase: 'teardown', ...lifecycleFailure('teardown', err) });
        },
      );
      return;
    case 'summary': {
      const fn = script.handleSummary as ((data: unknown) => unknown) | undefined;
      if (typeof fn !== 'function') {
        post({ type: 'summary-done', outputs: undefined });
        return;
      }
      Promise.resolve(fn(m.data)).then(
        (out) => {
          const outputs: Record<string, string> = {};
          for (const [k, v] of Object.entries((out ?? {}) as Record<string, unknown>))
            outputs[k] = typeof v === 'string' ? v : JSON.stringify(v);
          post({ type: 'summary-done', outputs });
        },
        (err: unknown) =>
          post({
            type: 'error',
            phase: 'summary',
            message: `handleSummary() failed: ${(err as Error)?.message ?? String(err)}`,
            exitCode: EXIT.scriptException,
          }),
      );
    }
  }
});
