import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { describeBoundIssues, mockBoundIssues } from '../mock-services/station/bounds.ts';
import type { Capacity, DependencyName } from '../model/capacity.ts';
import {
  describeFault,
  type FaultEntry,
  FaultScheduleError,
  faultedStation,
  faultSeconds,
  faultTarget,
  type PlannedFault,
  parseChaos,
  parseFaultSchedule,
  type ReplayClock,
  scheduleProblem,
} from '../model/faults.ts';
import { parseProfileCsv } from '../model/profile.ts';
import type { FaultRecord, RunManifest } from '../reports/record.ts';
import type { RunningStack } from './stack.ts';

/**
 * A rehearsal's fault schedule (model/faults.ts) read from its file and applied to a running
 * stack: each dependency fault is a PATCH of the mock's /admin/config (the station as it was read
 * just before, restored when the fault ends), each kill a SIGKILL of the registration service
 * through the stack (so its exit is expected, not a death) and a restart. Every change is logged
 * and recorded with the run second it actually happened.
 */

/** The mock that enforces each dependency's station. */
export const MOCK_OF: Record<DependencyName, 'ministry' | 'email' | 'upload'> = {
  dukcapil: 'ministry',
  dapodik: 'ministry',
  dtks: 'ministry',
  email: 'email',
  upload: 'upload',
};

/** A schedule file, YAML or JSON (YAML reads both); a FaultScheduleError names the file and the field. */
export function readFaultFile(file: string): FaultEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FaultScheduleError(
      `${file}: cannot read the fault schedule (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new FaultScheduleError(`${file}: not YAML or JSON (${(err as Error).message.split('\n')[0]})`);
  }
  return parseFaultSchedule(value, file);
}

/**
 * The schedule of --faults and --chaos together, checked against the replay's window and, when
 * the stations are known, against what the mocks accept (a slowed station whose median no longer
 * fits in its timeout is refused here, not by the mock mid-run). A problem names the flag, or the
 * file and the entry.
 */
export function loadFaults(o: {
  file?: string;
  chaos: readonly string[];
  window: { fromMinute: number; toMinute: number };
  capacity: Capacity | null;
}): { entries: FaultEntry[] } | { problem: string } {
  let entries: FaultEntry[];
  try {
    entries = [...(o.file ? readFaultFile(o.file) : []), ...o.chaos.map((c) => parseChaos(c))];
  } catch (err) {
    if (err instanceof FaultScheduleError) return { problem: err.message };
    throw err;
  }
  const problem = scheduleProblem(entries, o.window);
  if (problem) return { problem };
  if (o.capacity)
    for (const f of entries) {
      if (f.kind === 'kill') continue;
      const during = faultedStation(o.capacity[f.dependency], f);
      const issues = mockBoundIssues({ [f.dependency]: during });
      if (issues.length > 0)
        return {
          problem: `${f.origin}: during the fault ${f.dependency}'s station would be one its mock refuses: ${describeBoundIssues(issues)}`,
        };
    }
  return { entries };
}

/** The replay's clock for a recorded replay (its profile read again for the bucket length). */
export function clockOf(replay: NonNullable<RunManifest['replay']>): ReplayClock {
  const profile = parseProfileCsv(readFileSync(replay.profile, 'utf8'), replay.profile);
  return {
    fromMinute: replay.windowMinutes[0],
    compress: replay.compress,
    bucketSeconds: profile.bucketSeconds,
  };
}

/** What of a running stack the schedule uses (RunningStack has it all; a test may pass a part). */
export type FaultStack = Pick<RunningStack, 'urls' | 'adminToken' | 'kill' | 'restart' | 'process'>;

export interface RunningFaults {
  /** the record of each planned fault so far, in order of planned start */
  readonly records: readonly FaultRecord[];
  /**
   * Ends the schedule: faults not yet started are recorded as not applied, faults still on are
   * restored now (and say so), a kill under way is awaited. Resolves with the records.
   */
  finish(): Promise<FaultRecord[]>;
}

async function adminConfig(
  stack: FaultStack,
  mock: 'ministry' | 'email' | 'upload',
  body?: unknown,
): Promise<Record<string, unknown>> {
  const method = body === undefined ? 'GET' : 'PATCH';
  const res = await fetch(`${stack.urls[mock]}/admin/config`, {
    method,
    headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok)
    throw new Error(`${method} ${mock} /admin/config answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

const secondsOf = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Starts the schedule on the run's clock: `originMs` is the epoch ms of the scenario's start (the
 * record's t = 0). Timers of Node run late, never early, on a busy machine: what actually
 * happened is what gets recorded.
 */
export function startFaults(
  plan: readonly PlannedFault[],
  stack: FaultStack,
  o: {
    originMs: number;
    log: (line: string) => void;
    /** told when the schedule leaves the stack without a service (a restart that failed) */
    onLostService?: (message: string) => void;
  },
): RunningFaults {
  const now = () => secondsOf((Date.now() - o.originMs) / 1000);
  let wake: () => void = () => {};
  const finishing = new Promise<void>((r) => {
    wake = r;
  });
  let finished = false;
  /** Waits until run second `at`; false when the schedule was finished first. */
  const until = (at: number) =>
    new Promise<boolean>((resolve) => {
      if (finished) return resolve(false);
      const timer = setTimeout(() => resolve(true), Math.max(0, o.originMs + at * 1000 - Date.now()));
      // The schedule never keeps a process alive by itself: whoever started it finishes it.
      timer.unref();
      void finishing.then(() => {
        clearTimeout(timer);
        resolve(false);
      });
    });
  const records: FaultRecord[] = plan.map((p) => ({
    origin: p.entry.origin,
    kind: p.entry.kind,
    target: faultTarget(p.entry),
    description: describeFault(p.entry),
    profileMinute: p.entry.at,
    profileSeconds: faultSeconds(p.entry),
    plannedSeconds: secondsOf(p.startSeconds),
    plannedEndSeconds: secondsOf(p.endSeconds),
    appliedSeconds: null,
    restoredSeconds: null,
  }));
  const say = (rec: FaultRecord, line: string) =>
    o.log(`fault at t=${now().toFixed(1)} s (profile minute ${rec.profileMinute}, ${rec.origin}): ${line}`);
  const fail = (rec: FaultRecord, problem: string) => {
    rec.problem = rec.problem ? `${rec.problem}; ${problem}` : problem;
    o.log(`error: fault ${rec.origin}: ${problem}`);
  };

  const dependencyFault = async (p: PlannedFault, rec: FaultRecord, dependency: DependencyName) => {
    const mock = MOCK_OF[dependency];
    let before: unknown;
    try {
      // Read at the fault's start, not at the run's: the station as it is now is what comes back.
      before = (await adminConfig(stack, mock))[dependency];
      const during = faultedStation(before as Capacity[typeof dependency], p.entry);
      const accepted = await adminConfig(stack, mock, { [dependency]: during });
      rec.appliedSeconds = now();
      rec.station = { before, during: accepted[dependency] };
      say(rec, `${rec.description}: ${mock} mock's ${dependency} station changed`);
    } catch (err) {
      return fail(rec, `not applied: ${(err as Error).message}`);
    }
    const onTime = await until(p.endSeconds);
    try {
      await adminConfig(stack, mock, { [dependency]: before });
      rec.restoredSeconds = now();
      if (!onTime)
        fail(
          rec,
          `the run ended before its planned end (t=${rec.plannedEndSeconds} s): restored at t=${rec.restoredSeconds} s`,
        );
      say(rec, `${dependency} restored as it was`);
    } catch (err) {
      fail(rec, `not restored: ${(err as Error).message}`);
    }
  };

  const kill = async (p: PlannedFault, rec: FaultRecord) => {
    const pidBefore = stack.process('registration').pid ?? null;
    rec.kill = { pidBefore, pidAfter: null, downtimeSeconds: null };
    say(rec, `killing registration (pid ${pidBefore}) with SIGKILL`);
    try {
      await stack.kill('registration', 'SIGKILL');
    } catch (err) {
      return fail(rec, `not killed: ${(err as Error).message}`);
    }
    const killedAt = now();
    rec.appliedSeconds = killedAt;
    // The wait is from the kill, which may come late on a busy machine, not from the plan.
    if (!(await until(killedAt + (p.endSeconds - p.startSeconds)))) {
      fail(rec, 'the run ended before its restart: not restarted');
      o.onLostService?.(
        `registration was killed by ${rec.origin} at t=${killedAt} s and the run ended before its restart`,
      );
      return;
    }
    say(rec, 'restarting registration');
    try {
      await stack.restart('registration');
    } catch (err) {
      fail(rec, `did not restart: ${(err as Error).message}`);
      o.onLostService?.(
        `registration was killed by ${rec.origin} at t=${killedAt} s and did not restart: ${(err as Error).message}`,
      );
      return;
    }
    rec.restoredSeconds = now();
    rec.kill.pidAfter = stack.process('registration').pid ?? null;
    rec.kill.downtimeSeconds = secondsOf(rec.restoredSeconds - killedAt);
    say(rec, `registration ready again (pid ${rec.kill.pidAfter}) after ${rec.kill.downtimeSeconds} s down`);
  };

  // One fault at a time per target, in order: the schedule refuses overlaps in profile time, but
  // a restart takes seconds of the run whatever the compression, and the next fault must find
  // the service restarted (or the station restored) before it starts.
  const lastOn = new Map<string, { task: Promise<void>; done: boolean }>();
  const tasks = plan.map((p, i) => {
    const rec = records[i] as FaultRecord;
    const previous = lastOn.get(rec.target);
    const state = { task: Promise.resolve(), done: false };
    state.task = (async () => {
      if (!(await until(p.startSeconds))) return fail(rec, 'the run ended before its time: not applied');
      if (previous && !previous.done) {
        say(rec, `waiting for the previous fault on ${rec.target} to end`);
        await previous.task;
        if (finished) return fail(rec, 'the run ended before its time: not applied');
      }
      if (p.entry.kind === 'kill') return kill(p, rec);
      return dependencyFault(p, rec, p.entry.dependency);
    })().finally(() => {
      state.done = true;
    });
    lastOn.set(rec.target, state);
    return state.task;
  });

  return {
    records,
    async finish() {
      finished = true;
      wake();
      await Promise.all(tasks);
      return records;
    },
  };
}
