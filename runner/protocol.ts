import type { MetricDelta, MetricType, ValueType } from './metrics/api.ts';
import type { Scenario } from './options/schema.ts';

/** Messages between the runner's main thread and its worker threads. */

export interface InitMessage {
  type: 'init';
  bundlePath: string;
  scriptDir: string;
  env: Record<string, string>;
  workerIndex: number;
  workers: number;
  submetrics: string[];
  series: boolean;
  points: boolean;
  globalTags: Record<string, string>;
  /** k6's "Request Failed" warnings, bounded (RunOptions.requestFailureWarnings) */
  requestFailureWarnings: boolean;
}

export interface StartMessage {
  type: 'start';
  scenarios: Scenario[];
  /** epoch ms at which the test's clock starts (the same in every worker) */
  startAt: number;
  setupData: string | undefined;
  /**
   * two Int32 counters per scenario: iterations claimed (shared-iterations, iterationInTest of
   * closed models) and iterations done (exec.scenario.progress)
   */
  counters: SharedArrayBuffer;
  options: unknown;
  /** k6's minIterationDuration in ms (0: none) */
  minIterationDurationMs: number;
}

export type MainToWorker =
  | InitMessage
  /** the first worker's, once the script's options are known: it was started before they were */
  | { type: 'configure'; submetrics: string[]; globalTags: Record<string, string> }
  | { type: 'setup' }
  | StartMessage
  | { type: 'stop' }
  | { type: 'teardown'; setupData: string | undefined }
  /** send the metrics so far now, then `flushed` with the same seq (the main thread samples its outputs after) */
  | { type: 'flush'; seq: number }
  | { type: 'summary'; data: unknown };

export interface ScenarioProgress {
  iterations: number;
  interrupted: number;
  dropped: number;
  activeVUs: number;
  initializedVUs: number;
  done: boolean;
}

export interface Point {
  metric: string;
  time: number;
  value: number;
  tags: Record<string, string>;
}

export type WorkerToMain =
  | { type: 'ready'; exports: string[]; options: unknown; metrics: Array<[string, MetricType, ValueType]> }
  | {
      type: 'error';
      phase: 'init' | 'setup' | 'teardown' | 'summary' | 'run';
      message: string;
      exitCode: number;
    }
  | { type: 'setup-done'; data: string | undefined }
  | { type: 'teardown-done' }
  | { type: 'summary-done'; outputs: Record<string, string> | undefined }
  | {
      type: 'delta';
      delta: MetricDelta;
      progress: Record<string, ScenarioProgress>;
      points: Point[];
      checksFailed: number;
    }
  | { type: 'abort'; reason: string; exitCode: number }
  | { type: 'flushed'; seq: number }
  | { type: 'done' };
