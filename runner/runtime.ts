import type { AsyncLocalStorage } from 'node:async_hooks';
import type { MetricType, Tags, ValueType } from './metrics/api.ts';

/**
 * What the k6 modules (runner/modules/*) see of the engine. The worker creates one and puts it on
 * globalThis before loading the script bundle; the modules read it at call time, so the same
 * bundled module code serves every VU of the worker.
 */

export interface VuState {
  idInTest: number;
  idInInstance: number;
  iterationInInstance: number;
  iterationInScenario: number;
  /** the iteration's index in the whole test, across workers */
  iterationInTest: number;
  scenario: string;
  executor: string;
  scenarioStartTime: number;
  /** the scenario's env merged over the global one */
  env: Record<string, string>;
  /**
   * The tags of every sample this VU makes, as k6's VU state holds them (exec.vu.tags): the test's,
   * the scenario's, `scenario` and `group` ('' in an iteration); in setup() and teardown() the
   * test's and `group` '::setup' or '::teardown', no scenario.
   */
  tags: Record<string, string>;
  /** set in setup() and teardown(), which run outside any scenario */
  lifecycle?: 'setup' | 'teardown';
  /** bytes on the wire since the iteration began: k6 counts them per iteration, not per request */
  traffic: { sent: number; received: number };
  /** its sleep() calls pending that nothing has awaited yet: one left when its call ends never will be */
  unawaited?: Set<object>;
  /** its Math.random once randomSeed() was called (k6 seeds each VU's runtime) */
  random?: () => number;
}

export interface Runtime {
  als: AsyncLocalStorage<VuState>;
  /** true while the script's init context runs (open() is allowed only then) */
  initPhase: boolean;
  env: Record<string, string>;
  scriptDir: string;
  globalTags: Record<string, string>;
  define(name: string, type: MetricType, contains?: ValueType): void;
  emit(name: string, value: number, tags: Tags): void;
  /** emit() for one metric, looked up once: for the samples that every request records */
  emitter(name: string): (value: number, tags: Tags) => void;
  check(name: string, passed: boolean, tags: Tags): void;
  abortTest(reason: string): never;
  /**
   * A call of k6's API that the runner does not implement (`module` 'k6', 'k6/http', 'Response',
   * or 'Response.json' with the selector as `name`): stops the test with exit 107 naming it, and
   * throws.
   */
  refuse(module: string, name: string): never;
  options(): unknown;
  instance(): {
    iterationsCompleted: number;
    iterationsInterrupted: number;
    vusActive: number;
    vusInitialized: number;
    currentTestRunDuration: number;
  };
  scenarioProgress(name: string): number;
  sharedArrays: Map<string, readonly unknown[]>;
  /** warnings the modules want the user to see once */
  warnOnce(key: string, message: string): void;
  /**
   * A request that got no answer: k6 warns "Request Failed" with Go's error (`detail`: the method,
   * the URL and the error); `kind` (the error's k6 words) is what the warnings are counted by.
   */
  requestFailed(kind: string, detail: string): void;
  /**
   * k6's randomSeed: Math.random repeatable from here on, in the VU that calls it, or (in the init
   * context, which k6 runs in every VU) in every VU from its first draw.
   */
  randomSeed(seed: number): void;
  /** `listener` runs as each call of the script (an iteration, setup, teardown) ends, with its VU */
  onCallEnd(listener: (vu: VuState) => void): void;
}

export const RUNTIME_KEY = '__gelombangRuntime';

export function runtime(): Runtime {
  const r = (globalThis as Record<string, unknown>)[RUNTIME_KEY] as Runtime | undefined;
  if (!r) throw new Error('k6 modules can only be used inside a script run by the gelombang runner');
  return r;
}

/**
 * A new tag set: the VU's tags (`testTags` in the init context), then `more` over them. Copied
 * key by key: an object spread of the VU's tags in the request path ran the runner at two thirds
 * of its rate (bench/README.md, "The runner after k6's VU tags").
 */
export function withVuTags(
  vu: VuState | undefined,
  testTags: Readonly<Record<string, string>>,
  more?: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  const base = vu?.tags ?? testTags;
  for (const k in base) out[k] = base[k] as string;
  if (more) for (const k in more) out[k] = more[k] as string;
  return out;
}

/** The current VU (in setup and teardown, theirs), or undefined in the init context. */
export function currentVu(): VuState | undefined {
  return runtime().als.getStore();
}

/** Thrown by exec.test.abort(): ends the whole test with exit code 108. */
export class TestAbortedError extends Error {
  readonly isTestAbort = true;
}
