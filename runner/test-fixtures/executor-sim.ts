import { vi } from 'vitest';
import { type Engine, ScenarioRun } from '../executors/common.ts';
import { normaliseOptions, type Scenario } from '../options/schema.ts';
import type { ScenarioProgress } from '../protocol.ts';

/**
 * An executor's run loop in every one of W simulated worker threads at once, on vitest's fake
 * clock: iterations take exactly the time the test says, so counts and start times are exact and
 * a busy machine cannot change them.
 */

export interface Started {
  worker: number;
  vu: number;
  iterationInTest: number;
  /** ms after the scenario's start */
  at: number;
}

export interface Simulated {
  started: Started[];
  /** each thread's progress, in thread order */
  progress: ScenarioProgress[];
  dropped: number;
  /** every thread's progress added up */
  total: { iterations: number; interrupted: number; dropped: number; initializedVUs: number };
}

/** The one scenario `s` of a script's options, as the runner normalises it. */
export function scenario(s: Record<string, unknown>): Scenario {
  const [only] = normaliseOptions({ scenarios: { s } }, 'test.ts', new Set(['default'])).scenarios;
  return only as Scenario;
}

// biome-ignore lint/suspicious/noExplicitAny: any executor's run function, whatever its scenario type
type RunFn = (run: ScenarioRun<any>) => Promise<void>;

export async function simulate(
  s: Scenario,
  executor: RunFn,
  o: { workers: number; iterationMs: number },
): Promise<Simulated> {
  vi.useFakeTimers();
  try {
    const startAt = Date.now();
    const started: Started[] = [];
    let claimed = 0;
    let dropped = 0;
    const runs = Array.from({ length: o.workers }, (_, workerIndex) => {
      const engine: Engine = {
        workers: o.workers,
        workerIndex,
        startAt,
        env: {},
        globalTags: {},
        stopping: () => false,
        sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))),
        async iterate(vu, _exec, _data, p, deadline) {
          started.push({
            worker: workerIndex,
            vu: vu.idInTest,
            iterationInTest: vu.iterationInTest,
            at: Date.now() - startAt,
          });
          await new Promise((r) => setTimeout(r, o.iterationMs));
          vu.iterationInScenario++;
          if (Date.now() > deadline) p.interrupted++;
          else p.iterations++;
        },
        drop: () => {
          dropped++;
        },
      };
      return new ScenarioRun(s, engine, 0, undefined, () => claimed++);
    });
    const done = Promise.all(runs.map((r) => executor(r)));
    await vi.runAllTimersAsync();
    await done;
    const progress = runs.map((r) => r.progress);
    const sum = (k: 'iterations' | 'interrupted' | 'dropped' | 'initializedVUs') =>
      progress.reduce((a, p) => a + p[k], 0);
    return {
      started,
      progress,
      dropped,
      total: {
        iterations: sum('iterations'),
        interrupted: sum('interrupted'),
        dropped: sum('dropped'),
        initializedVUs: sum('initializedVUs'),
      },
    };
  } finally {
    vi.useRealTimers();
  }
}

/** 0, 1, ..., n - 1 */
export const range = (n: number) => Array.from({ length: n }, (_, i) => i);
