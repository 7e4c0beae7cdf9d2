import type { ExecutorName, Scenario, Stage } from '../options/schema.ts';
import type { ScenarioProgress } from '../protocol.ts';
import type { VuState } from '../runtime.ts';

/**
 * What every executor shares: the scenario's clock and VUs (`ScenarioRun`), the two ways of
 * running iterations (arrivals for the open model, VU loops for the closed one), and the rules
 * that the main thread and every worker thread must compute alike (length, VUs, shares).
 * Threads agree without messages because all of this is a pure function of the scenario and time.
 */

export type ScenarioOf<E extends ExecutorName> = Extract<Scenario, { executor: E }>;

/** What an executor needs of the worker thread it runs in. */
export interface Engine {
  readonly workers: number;
  readonly workerIndex: number;
  /** epoch ms at which the test's clock starts, the same in every thread */
  readonly startAt: number;
  readonly env: Readonly<Record<string, string>>;
  readonly globalTags: Readonly<Record<string, string>>;
  /** true once the test is stopping (test.abort, abortOnFail, an engine error) */
  stopping(): boolean;
  /** resolves after `ms`, or at once when the test stops: no wait outlives a stop */
  sleep(ms: number): Promise<void>;
  /**
   * Runs one iteration of `exec` as `vu` and records it; never rejects. An iteration that ends
   * after `deadline` (epoch ms) counts as interrupted.
   */
  iterate(vu: VuState, exec: string, data: unknown, p: ScenarioProgress, deadline: number): Promise<void>;
  /** records one arrival that found no free VU (k6's dropped_iterations) */
  drop(tags: Record<string, string>): void;
}

function stagesDuration(stages: readonly Stage[]): number {
  return stages.reduce((a, s) => a + s.durationMs, 0);
}

/** The planned length of a scenario, graceful stop excluded (k6's "maxDuration" of the progress bar). */
export function scenarioDuration(s: Scenario): number {
  switch (s.executor) {
    case 'shared-iterations':
    case 'per-vu-iterations':
      return s.maxDurationMs;
    case 'constant-vus':
    case 'constant-arrival-rate':
      return s.durationMs;
    case 'ramping-vus':
    case 'ramping-arrival-rate':
      return stagesDuration(s.stages);
  }
}

/**
 * `exec.scenario.progress` as k6 v0.47's executors compute it (each one's progressFn), in [0, 1]:
 * iterations done (completed or interrupted) over the total for shared-iterations; the same for
 * per-vu-iterations until its maxDuration is over, then 1; elapsed time over the planned length
 * for the duration-based executors (the stages' sum for the ramping ones).
 */
export function scenarioProgress(s: Scenario, elapsedMs: number, iterationsDone: number): number {
  let p: number;
  if (s.executor === 'shared-iterations') p = iterationsDone / s.iterations;
  else if (s.executor === 'per-vu-iterations')
    p = elapsedMs > s.maxDurationMs ? 1 : iterationsDone / (s.vus * s.iterations);
  else {
    const planned = scenarioDuration(s);
    p = elapsedMs >= planned ? 1 : elapsedMs / planned;
  }
  return Math.min(1, Math.max(0, p));
}

/**
 * The most VUs a scenario can have (k6 initialises them all before the test). The one rule for
 * `vus_max`, for numbering VUs across scenarios and for how many VUs a ramp deals out: if these
 * disagreed, two scenarios' VUs could share an id.
 */
export function scenarioMaxVUs(s: Scenario): number {
  switch (s.executor) {
    case 'shared-iterations':
    case 'per-vu-iterations':
    case 'constant-vus':
      return s.vus;
    case 'ramping-vus':
      return Math.max(s.startVUs, ...s.stages.map((x) => x.target));
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate':
      return s.maxVUs;
  }
}

/** Splits n things over w workers as evenly as possible: the share of worker `index`. */
function share(n: number, workers: number, index: number): number {
  return Math.floor(n / workers) + (index < n % workers ? 1 : 0);
}

/** One scenario in one worker thread: its clock, its progress, its VUs and its iterations in flight. */
export class ScenarioRun<S extends Scenario = Scenario> {
  readonly progress: ScenarioProgress = {
    iterations: 0,
    interrupted: 0,
    dropped: 0,
    activeVUs: 0,
    initializedVUs: 0,
    done: false,
  };
  /** epoch ms of the scenario's start (the test's start plus its startTime) */
  readonly startsAt: number;
  readonly plannedEnd: number;
  /** the planned end plus the graceful stop: iterations still running then are abandoned */
  readonly hardEnd: number;
  /** iterations in flight, which the graceful stop waits for */
  readonly running = new Set<Promise<void>>();
  private readonly env: Record<string, string>;

  constructor(
    readonly scenario: S,
    readonly engine: Engine,
    /** VU ids of this scenario start after this (the VUs of the scenarios before it) */
    private readonly vuOffset: number,
    private readonly setupData: string | undefined,
    /** the scenario's counter shared by every thread: returns the value before adding one */
    readonly claim: () => number,
    /** iterations of the scenario done (completed or interrupted) in every thread so far */
    private readonly iterationsDone: () => number = () =>
      this.progress.iterations + this.progress.interrupted,
  ) {
    this.startsAt = engine.startAt + scenario.startTimeMs;
    this.plannedEnd = this.startsAt + scenarioDuration(scenario);
    this.hardEnd = this.plannedEnd + scenario.gracefulStopMs;
    this.env = { ...engine.env, ...scenario.env };
  }

  /** VU number `globalIndex` (1-based, counted across threads) of this scenario. */
  newVu(globalIndex: number): VuState {
    this.progress.initializedVUs++;
    const s = this.scenario;
    return {
      idInTest: this.vuOffset + globalIndex,
      idInInstance: this.vuOffset + globalIndex,
      iterationInInstance: 0,
      iterationInScenario: 0,
      iterationInTest: 0,
      scenario: s.name,
      executor: s.executor,
      scenarioStartTime: this.startsAt,
      env: this.env,
      tags: { ...this.engine.globalTags, ...s.tags, scenario: s.name, group: '' },
      traffic: { sent: 0, received: 0 },
    };
  }

  /** exec.scenario.progress now */
  progressNow(): number {
    return scenarioProgress(this.scenario, Date.now() - this.startsAt, this.iterationsDone());
  }

  /** A VU's own copy of setup()'s data, as k6 gives each VU one. */
  data(): unknown {
    return this.setupData === undefined ? undefined : JSON.parse(this.setupData);
  }

  iterate(vu: VuState, data: unknown): Promise<void> {
    return this.engine.iterate(vu, this.scenario.exec, data, this.progress, this.hardEnd);
  }

  /** Waits for the iterations in flight, at most until the graceful stop runs out. */
  async gracefulStop(): Promise<void> {
    const { engine } = this;
    while (this.running.size > 0 && Date.now() < this.hardEnd && !engine.stopping())
      await Promise.race([engine.sleep(this.hardEnd - Date.now()), ...this.running]);
  }
}

/**
 * The open model (constant- and ramping-arrival-rate): arrival i (at `arrivals`' i-th offset from
 * the scenario's start) runs on thread i mod W, on a free VU of that thread's share of
 * preAllocatedVUs. As k6: an arrival that finds no free VU is dropped, and a VU is added for later
 * arrivals while the thread is below its share of maxVUs.
 */
export async function runArrivals(
  run: ScenarioRun<ScenarioOf<'constant-arrival-rate' | 'ramping-arrival-rate'>>,
  arrivals: Iterable<number>,
): Promise<void> {
  const { engine, progress: p, scenario: s } = run;
  const W = engine.workers;
  const w = engine.workerIndex;
  const maxMine = share(s.maxVUs, W, w);
  const free: VuState[] = [];
  let created = 0;
  const createVu = () => run.newVu(w + 1 + created++ * W);
  for (let i = 0; i < share(s.preAllocatedVUs, W, w); i++) free.push(createVu());
  let i = 0;
  for (const at of arrivals) {
    if (engine.stopping()) break;
    const iterationInTest = i++;
    if (iterationInTest % W !== w) continue;
    const wait = run.startsAt + at - Date.now();
    if (wait > 1) await engine.sleep(wait);
    if (engine.stopping()) break;
    const vu = free.pop();
    if (!vu) {
      p.dropped++;
      // the executor's tags in k6 (getMetricTags): the test's and the scenario's name, not its tags
      engine.drop({ ...engine.globalTags, scenario: s.name });
      if (created < maxMine) free.push(createVu());
      continue;
    }
    vu.iterationInTest = iterationInTest;
    p.activeVUs++;
    const it: Promise<void> = run.iterate(vu, run.data()).then(() => {
      p.activeVUs--;
      free.push(vu);
      run.running.delete(it);
    });
    run.running.add(it);
  }
  await engine.sleep(run.plannedEnd - Date.now());
  await run.gracefulStop();
}

/**
 * The closed model (shared-iterations, per-vu-iterations, constant-vus, ramping-vus): VUs 1..vus
 * are dealt round-robin to the threads, and each runs iterations back to back until the planned
 * end or until `next` has no more for it.
 */
export async function runVuLoops(
  run: ScenarioRun,
  vus: number,
  /** the next iteration's number in the test for VU g that has done `done`, or undefined to stop */
  next: (g: number, done: number) => number | undefined,
  /** whether VU g may start an iteration now; an inactive VU waits (ramping-vus) */
  active: (g: number) => boolean = () => true,
): Promise<void> {
  const { engine, progress: p } = run;
  const mine: number[] = [];
  for (let g = 1; g <= vus; g++) if ((g - 1) % engine.workers === engine.workerIndex) mine.push(g);
  const vuLoop = async (g: number) => {
    const vu = run.newVu(g);
    const data = run.data();
    let done = 0;
    while (!engine.stopping() && Date.now() < run.plannedEnd) {
      if (!active(g)) {
        await engine.sleep(Math.min(50, run.plannedEnd - Date.now()));
        continue;
      }
      const n = next(g, done);
      if (n === undefined) break;
      vu.iterationInTest = n;
      p.activeVUs++;
      const it = run.iterate(vu, data);
      // Not a .then() as for arrivals: that adds a promise to every iteration, and each costs an async hook.
      run.running.add(it);
      await it;
      run.running.delete(it);
      p.activeVUs--;
      done++;
    }
  };
  // A VU loop ends on its own (no more iterations) or at the planned end with its last iteration
  // still running; the graceful stop bounds how long that may take.
  await Promise.race([Promise.all(mine.map(vuLoop)), engine.sleep(run.hardEnd - Date.now())]);
  await run.gracefulStop();
}
