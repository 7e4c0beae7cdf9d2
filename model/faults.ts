import { z } from 'zod';
import { DEPENDENCIES, type DependencyName } from './capacity.ts';
import { compressedBucketMs } from './replay.ts';
import { meanServiceMs, type ServiceTime, type Station } from './station.ts';

/**
 * A rehearsal's fault schedule: dependencies going down, slowing or failing, and the registration
 * service being killed, at minutes of the arrival profile (the 2020 day's clock), so that one file
 * works at any --compress and --window. Parsing, the checks against a replay's window, the
 * faulted station and the profile-to-run time arithmetic live here; applying a schedule to a
 * running stack is scripts/faults.ts. Pure: no I/O.
 */

export class FaultScheduleError extends Error {
  override name = 'FaultScheduleError';
}

/** The services a schedule may kill: the one under test (a mock's restart would lose its faults). */
export const KILLABLE = ['registration'] as const;

interface Common {
  /** profile minute the fault starts at */
  at: number;
  /** where it was given, for messages and the record: "faults.yaml: faults[2]" or "--chaos kill-service@40" */
  origin: string;
}

export type FaultEntry =
  | (Common & {
      kind: 'down';
      dependency: DependencyName;
      /** profile seconds */
      forSeconds: number;
    })
  | (Common & { kind: 'slow'; dependency: DependencyName; factor: number; forSeconds: number })
  | (Common & {
      kind: 'errorRate';
      dependency: DependencyName;
      errorRate: number;
      errorStatus?: Station['errorStatus'];
      forSeconds: number;
    })
  | (Common & { kind: 'kill'; service: (typeof KILLABLE)[number]; restartAfterSeconds: number });

export type FaultKind = FaultEntry['kind'];

const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/**
 * Seconds of a duration written as the k6 scenarios write them ("60s", "5m", "1m30s", "500ms",
 * "1h"), or undefined. A bare number is refused on purpose: "for: 5" would be five seconds to one
 * reader and five minutes to the next, in a file whose `at` counts minutes.
 */
export function parseDuration(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const t = text.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  let seconds = 0;
  let matched = 0;
  for (let m = re.exec(t); m !== null; m = re.exec(t)) {
    seconds += Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number);
    matched = re.lastIndex;
    if (matched === t.length) break;
  }
  return matched > 0 && matched === t.length && Number.isFinite(seconds) ? seconds : undefined;
}

const shown = (v: unknown): string =>
  typeof v === 'string' ? `'${v}'` : v === undefined ? 'nothing' : JSON.stringify(v);

const duration = z.unknown().transform((v, ctx) => {
  const s = parseDuration(v);
  if (s === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected a duration like 60s, 5m or 1m30s, got ${shown(v)}` });
    return z.NEVER;
  }
  return s;
});
const positiveDuration = duration.refine((s) => s > 0, { message: 'expected a duration above 0s' });

const minute = z.number({ error: (i) => `expected a profile minute (a number >= 0), got ${shown(i.input)}` });
const at = minute.finite().nonnegative({ error: (i) => `expected a profile minute >= 0, got ${i.input}` });
const dependency = z.enum(DEPENDENCIES as [DependencyName, ...DependencyName[]], {
  error: (i) =>
    `expected one of ${DEPENDENCIES.join(', ')} (the capacity file's stations), got ${shown(i.input)}`,
});

const downSchema = z.strictObject({ at, dependency, down: positiveDuration });
const slowSchema = z.strictObject({
  at,
  dependency,
  slow: z
    .number({ error: (i) => `expected a share of the dependency's rate in (0, 1), got ${shown(i.input)}` })
    .gt(0, { error: (i) => `expected a share of the dependency's rate in (0, 1), got ${i.input}` })
    .lt(1, { error: (i) => `expected a share of the dependency's rate in (0, 1), got ${i.input}` }),
  for: positiveDuration,
});
const errorRateSchema = z.strictObject({
  at,
  dependency,
  errorRate: z
    .number({ error: (i) => `expected a share of requests in (0, 1], got ${shown(i.input)}` })
    .gt(0, { error: (i) => `expected a share of requests in (0, 1], got ${i.input}` })
    .max(1, { error: (i) => `expected a share of requests in (0, 1], got ${i.input}` }),
  errorStatus: z
    .union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)], {
      error: (i) => `expected 500, 502, 503 or 504, got ${shown(i.input)}`,
    })
    .optional(),
  for: positiveDuration,
});
const killSchema = z.strictObject({
  at,
  kill: z.enum(KILLABLE, {
    error: (i) =>
      `expected ${KILLABLE.join(' or ')} (a mock's restart would lose its faults), got ${shown(i.input)}`,
  }),
  restartAfter: duration.optional(),
});

const KINDS = ['down', 'slow', 'errorRate', 'kill'] as const;

function issuesOf(error: z.ZodError, where: string): string {
  return error.issues
    .map((i) => {
      if (i.code === 'unrecognized_keys')
        return `${where}: unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k}'`).join(', ')}`;
      const path = i.path.map(String).join('.');
      return `${where}${path ? `.${path}` : ''}: ${i.message}`;
    })
    .join('; ');
}

/** One entry of the file, by which fault key it has. */
function parseEntry(value: unknown, where: string): FaultEntry {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FaultScheduleError(
      `${where}: expected an entry like { at: 12, dependency: dukcapil, down: 60s }`,
    );
  const keys = KINDS.filter((k) => k in value);
  if (keys.length === 0)
    throw new FaultScheduleError(
      `${where}: expected one of the keys down, slow, errorRate (each with a dependency) or kill`,
    );
  if (keys.length > 1)
    throw new FaultScheduleError(
      `${where}: ${keys.join(' and ')} in one entry; expected one fault per entry (two entries may share a minute on different dependencies)`,
    );
  const kind = keys[0] as FaultKind;
  const fail = (e: z.ZodError) => new FaultScheduleError(issuesOf(e, where));
  switch (kind) {
    case 'down': {
      const p = downSchema.safeParse(value);
      if (!p.success) throw fail(p.error);
      return { kind, at: p.data.at, origin: where, dependency: p.data.dependency, forSeconds: p.data.down };
    }
    case 'slow': {
      const p = slowSchema.safeParse(value);
      if (!p.success) throw fail(p.error);
      return {
        kind,
        at: p.data.at,
        origin: where,
        dependency: p.data.dependency,
        factor: p.data.slow,
        forSeconds: p.data.for,
      };
    }
    case 'errorRate': {
      const p = errorRateSchema.safeParse(value);
      if (!p.success) throw fail(p.error);
      return {
        kind,
        at: p.data.at,
        origin: where,
        dependency: p.data.dependency,
        errorRate: p.data.errorRate,
        ...(p.data.errorStatus !== undefined ? { errorStatus: p.data.errorStatus } : {}),
        forSeconds: p.data.for,
      };
    }
    case 'kill': {
      const p = killSchema.safeParse(value);
      if (!p.success) throw fail(p.error);
      return {
        kind,
        at: p.data.at,
        origin: where,
        service: p.data.kill,
        restartAfterSeconds: p.data.restartAfter ?? 0,
      };
    }
  }
}

/**
 * The entries of a parsed schedule file (YAML or JSON, already parsed by the caller): `{ faults:
 * [...] }` and nothing else. Every problem names `source`, the entry and the field.
 */
export function parseFaultSchedule(value: unknown, source: string): FaultEntry[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FaultScheduleError(`${source}: expected a mapping with a 'faults' list`);
  const unknown = Object.keys(value).filter((k) => k !== 'faults');
  if (unknown.length > 0)
    throw new FaultScheduleError(
      `${source}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}; expected only 'faults'`,
    );
  const list = (value as { faults?: unknown }).faults;
  if (!Array.isArray(list))
    throw new FaultScheduleError(`${source}: faults: expected a list of faults, got ${shown(list)}`);
  if (list.length === 0)
    throw new FaultScheduleError(`${source}: faults: the list is empty; expected at least one fault`);
  return list.map((v, i) => parseEntry(v, `${source}: faults[${i}]`));
}

/** `--chaos kill-service@M`: a kill of the registration service at profile minute M. */
export function parseChaos(text: string, flag = '--chaos'): FaultEntry {
  const m = /^kill-service@(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (!m)
    throw new FaultScheduleError(
      `${flag}: expected kill-service@MINUTE (a profile minute, e.g. kill-service@40), got '${text}'`,
    );
  return {
    kind: 'kill',
    at: Number(m[1]),
    origin: `${flag} ${text.trim()}`,
    service: 'registration',
    restartAfterSeconds: 0,
  };
}

/** What the fault affects: a dependency, or the killed service. */
export function faultTarget(f: FaultEntry): string {
  return f.kind === 'kill' ? f.service : f.dependency;
}

/** How long the fault lasts in profile seconds (a kill: until its restart begins). */
export function faultSeconds(f: FaultEntry): number {
  return f.kind === 'kill' ? f.restartAfterSeconds : f.forSeconds;
}

const fmtMinute = (m: number) => String(Math.round(m * 1000) / 1000);

/** An entry's field for a message: a --chaos flag has no fields, it is named whole. */
const fieldOf = (f: FaultEntry, field: string) =>
  f.origin.startsWith('--') ? f.origin : `${f.origin}.${field}`;

/**
 * Why the schedule cannot run on a replay of profile minutes [fromMinute, toMinute), or undefined:
 * an entry outside the window, a fault running past its end (refused, not clipped: a clipped fault
 * is not the one the file describes, and its restore would race the end of the run), or two
 * faults on the same target at once (the second's "as it was" would be the first's fault).
 */
export function scheduleProblem(
  faults: readonly FaultEntry[],
  window: { fromMinute: number; toMinute: number },
): string | undefined {
  const span = `the replay's window, profile minutes ${fmtMinute(window.fromMinute)}-${fmtMinute(window.toMinute)}`;
  for (const f of faults) {
    if (f.at < window.fromMinute || f.at >= window.toMinute)
      return `${fieldOf(f, 'at')}: minute ${fmtMinute(f.at)} is outside ${span}`;
    const end = f.at + faultSeconds(f) / 60;
    if (end > window.toMinute + 1e-9) {
      const field = f.kind === 'kill' ? 'restartAfter' : f.kind === 'down' ? 'down' : 'for';
      return `${fieldOf(f, field)}: from minute ${fmtMinute(f.at)} it lasts to minute ${fmtMinute(end)}, past the end of ${span}; shorten it or widen --window`;
    }
  }
  for (let i = 0; i < faults.length; i++) {
    for (let j = i + 1; j < faults.length; j++) {
      const a = faults[i] as FaultEntry;
      const b = faults[j] as FaultEntry;
      if (faultTarget(a) !== faultTarget(b)) continue;
      const [a0, a1] = [a.at * 60, a.at * 60 + faultSeconds(a)];
      const [b0, b1] = [b.at * 60, b.at * 60 + faultSeconds(b)];
      if (a0 === b0 || (a0 < b1 && b0 < a1))
        return `${b.origin}: overlaps ${a.origin} on ${faultTarget(a)} (minutes ${fmtMinute(a.at)}-${fmtMinute(a1 / 60)} and ${fmtMinute(b.at)}-${fmtMinute(b1 / 60)}); expected one fault at a time per ${a.kind === 'kill' ? 'service' : 'dependency'}`;
    }
  }
  return undefined;
}

/** How a replay maps the profile's clock onto the run's (model/replay.ts's arithmetic). */
export interface ReplayClock {
  fromMinute: number;
  compress: number;
  /** the profile's bucket: 60 (per-minute) or 1 (per-second) */
  bucketSeconds?: number;
}

/** Run seconds that `profileSeconds` of the profile last, on replay()'s rounded clock. */
export function runDuration(profileSeconds: number, clock: ReplayClock): number {
  const bucket = clock.bucketSeconds ?? 60;
  return ((profileSeconds / bucket) * compressedBucketMs(bucket, clock.compress)) / 1000;
}

/** Run seconds (since the scenario's start) at which profile minute `minute` is replayed. */
export function runSecondOf(minute: number, clock: ReplayClock): number {
  return runDuration((minute - clock.fromMinute) * 60, clock);
}

export interface PlannedFault {
  entry: FaultEntry;
  /** run seconds since the scenario's start */
  startSeconds: number;
  /** when it is restored (a kill: when its restart begins) */
  endSeconds: number;
}

/** The schedule on the run's clock, in order of start. */
export function planFaults(faults: readonly FaultEntry[], clock: ReplayClock): PlannedFault[] {
  return faults
    .map((entry) => {
      const startSeconds = runSecondOf(entry.at, clock);
      return { entry, startSeconds, endSeconds: startSeconds + runDuration(faultSeconds(entry), clock) };
    })
    .sort((a, b) => a.startSeconds - b.startSeconds);
}

/** Requests a second a station can serve with every server busy: concurrency over mean service time. */
export function meanRate(station: Station): number {
  return (station.concurrency * 1000) / meanServiceMs(station.serviceTime);
}

function stretched(st: ServiceTime, k: number): ServiceTime {
  return st.distribution === 'constant'
    ? { ...st, ms: st.ms * k }
    : { ...st, medianMs: st.medianMs * k, p99Ms: st.p99Ms * k };
}

/**
 * The station during a dependency fault.
 *
 * - down: every served request answered 503 (errorRate 1, errorStatus 503); servers, queue and
 *   service time unchanged, so a down dependency still takes its time to say so, as a gateway in
 *   front of a dead backend does.
 * - slow f: the rate the station can serve, concurrency / mean service time, becomes f times its
 *   own. Servers are cut first, to ceil(c x f) (at least 1), and service times stretched by what
 *   that rounding leaves, c' / (c x f): the rate is exactly f of it, and a request is slowed only
 *   as much as the rounding needs (at 16 servers, 10 %: 2 servers, each 1.25 times slower).
 * - errorRate r: that share of served requests fails with its errorStatus (the station's own
 *   unless the entry gives one).
 */
export function faultedStation<S extends Station>(station: S, f: FaultEntry): S {
  switch (f.kind) {
    case 'down':
      return { ...station, errorRate: 1, errorStatus: 503 };
    case 'slow': {
      const servers = Math.max(1, Math.ceil(station.concurrency * f.factor - 1e-9));
      const k = servers / (station.concurrency * f.factor);
      return { ...station, concurrency: servers, serviceTime: stretched(station.serviceTime, k) };
    }
    case 'errorRate':
      return { ...station, errorRate: f.errorRate, ...(f.errorStatus ? { errorStatus: f.errorStatus } : {}) };
    case 'kill':
      throw new Error(`${f.origin}: a kill changes no station`);
  }
}

function durationWords(seconds: number): string {
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${Math.round(seconds * 1000) / 1000} s`;
}

/** The fault in words, e.g. "dukcapil down (503 to every request) for 1 min of profile time". */
export function describeFault(f: FaultEntry): string {
  switch (f.kind) {
    case 'down':
      return `${f.dependency} down (503 to every request) for ${durationWords(f.forSeconds)} of profile time`;
    case 'slow':
      return `${f.dependency} slowed to ${Math.round(f.factor * 1000) / 10} % of its rate for ${durationWords(f.forSeconds)} of profile time`;
    case 'errorRate':
      return `${f.dependency} failing ${Math.round(f.errorRate * 1000) / 10} % of requests${f.errorStatus ? ` with ${f.errorStatus}` : ''} for ${durationWords(f.forSeconds)} of profile time`;
    case 'kill':
      return `${f.service} killed (SIGKILL) and restarted${f.restartAfterSeconds > 0 ? ` after ${durationWords(f.restartAfterSeconds)} of profile time` : ''}`;
  }
}
