import { z } from 'zod';
import type { DependencyName } from '../model/capacity.ts';
import {
  describeFault,
  type FaultEntry,
  faultedStation,
  meanRate,
  planFaults,
  type ReplayClock,
} from '../model/faults.ts';
import { type Station, serviceTimeSchema, stationSchema } from '../model/station.ts';
import type { FaultRecord, RunRecord } from '../reports/record.ts';

/**
 * A rehearsal's faults in the simulation: the same schedule (model/faults.ts), each dependency's
 * station faulted the same way (faultedStation) from its start to its end on the simulated clock,
 * where the mocks reconfigure theirs (SimStation.reconfigure); a kill of the service from its
 * start until the restarted service answers again (RegistrationService.kill, day.ts).
 */

export type DependencyFault = Exclude<FaultEntry, { kind: 'kill' }>;
export type KillFault = Extract<FaultEntry, { kind: 'kill' }>;

/** The service killed at `startMs`, its restart begun at `restartMs`, answering again at `endMs` (Infinity: never). */
export interface SimKill {
  entry: KillFault;
  startMs: number;
  restartMs: number;
  endMs: number;
}

/**
 * A schedule's kills on a replay's clock, for `simulate --faults`: the restart begins the
 * schedule's restartAfter later, as rehearse's does, and the service answers `startupMs` after
 * (calibration service.restartMs).
 */
export function plannedSimKills(
  entries: readonly KillFault[],
  clock: ReplayClock,
  startupMs: number,
): SimKill[] {
  return planFaults(entries, clock).map((p) => ({
    entry: p.entry as KillFault,
    startMs: p.startSeconds * 1000,
    restartMs: p.endSeconds * 1000,
    endMs: p.endSeconds * 1000 + startupMs,
  }));
}

export interface SimFault {
  entry: DependencyFault;
  /** ms from the replay's start, the simulation's 0 */
  startMs: number;
  endMs: number;
}

/** A schedule (checked by loadFaults) on a replay's clock, for `simulate --faults`. */
export function plannedSimFaults(entries: readonly DependencyFault[], clock: ReplayClock): SimFault[] {
  return planFaults(entries, clock).map((p) => ({
    entry: p.entry as DependencyFault,
    startMs: p.startSeconds * 1000,
    endMs: p.endSeconds * 1000,
  }));
}

/** A checked schedule on a replay's clock: its dependency faults and its kills (plannedSimFaults, plannedSimKills). */
export function plannedSchedule(
  entries: readonly FaultEntry[],
  clock: ReplayClock,
  startupMs: number,
): { faults: SimFault[]; kills: SimKill[] } {
  return {
    faults: plannedSimFaults(
      entries.filter((e): e is DependencyFault => e.kind !== 'kill'),
      clock,
    ),
    kills: plannedSimKills(
      entries.filter((e): e is KillFault => e.kind === 'kill'),
      clock,
      startupMs,
    ),
  };
}

/** The record a simulated run keeps of each fault, in the form a rehearsal's has (reports read both), in order of start. */
export function simulatedFaultRecords(
  faults: readonly SimFault[],
  kills: readonly SimKill[],
  stations: Record<DependencyName, Station>,
  durationS: number,
): FaultRecord[] {
  const killed: Array<FaultRecord & { startMs: number }> = kills.map((k) => {
    const ended = Number.isFinite(k.endMs) && k.endMs / 1000 <= durationS;
    return {
      startMs: k.startMs,
      origin: k.entry.origin,
      kind: 'kill',
      target: k.entry.service,
      description: describeFault(k.entry),
      profileMinute: k.entry.at,
      profileSeconds: k.entry.restartAfterSeconds,
      plannedSeconds: k.startMs / 1000,
      plannedEndSeconds: k.restartMs / 1000,
      appliedSeconds: k.startMs / 1000,
      restoredSeconds: ended ? k.endMs / 1000 : null,
      kill: { pidBefore: null, pidAfter: null, downtimeSeconds: ended ? (k.endMs - k.startMs) / 1000 : null },
    };
  });
  const faulted: Array<FaultRecord & { startMs: number }> = faults.map((f) => ({
    startMs: f.startMs,
    origin: f.entry.origin,
    kind: f.entry.kind,
    target: f.entry.dependency,
    description: describeFault(f.entry),
    profileMinute: f.entry.at,
    profileSeconds: f.entry.forSeconds,
    plannedSeconds: f.startMs / 1000,
    plannedEndSeconds: Number.isFinite(f.endMs) ? f.endMs / 1000 : durationS,
    appliedSeconds: f.startMs / 1000,
    // Never restored (a rehearsal that ended during it): as its record said.
    restoredSeconds: Number.isFinite(f.endMs) ? f.endMs / 1000 : null,
    station: {
      before: stations[f.entry.dependency],
      during: faultedStation(stations[f.entry.dependency], f.entry),
    },
  }));
  return [...faulted, ...killed]
    .sort((a, b) => a.startMs - b.startMs)
    .map(({ startMs: _, ...record }) => record);
}

/** What of a recorded station says how it was faulted: its rate, and the errors it injected. */
const stationShape = z.object({
  concurrency: z.number().positive(),
  serviceTime: serviceTimeSchema,
  errorRate: z.number().min(0).max(1),
  errorStatus: stationSchema.shape.errorStatus,
});

/**
 * A measured run's faults as it applied them: each dependency fault from the second the mock took
 * it to the second it was restored (the run's end if never), the fault read back from the station
 * before and during it as the mock accepted them (a slowing: the rate during over the rate before);
 * each kill from the second the service died to the second the restarted one answered its health
 * check (never, if it did not). A fault never applied is left out; a record whose stations cannot
 * be read is named in `left`, which the simulation runs without.
 */
export function recordedFaults(r: RunRecord): { faults: SimFault[]; kills: SimKill[]; left: string[] } {
  const faults: SimFault[] = [];
  const kills: SimKill[] = [];
  const left: string[] = [];
  for (const f of r.manifest.faults ?? []) {
    if (f.appliedSeconds === null) continue;
    const at = `t=${f.appliedSeconds} s`;
    if (f.kind === 'kill') {
      const waitS = f.plannedEndSeconds - f.plannedSeconds;
      kills.push({
        entry: {
          kind: 'kill',
          at: f.profileMinute,
          origin: f.origin,
          service: 'registration',
          restartAfterSeconds: f.profileSeconds,
        },
        startMs: f.appliedSeconds * 1000,
        restartMs: (f.appliedSeconds + waitS) * 1000,
        endMs: (f.restoredSeconds ?? Number.POSITIVE_INFINITY) * 1000,
      });
      continue;
    }
    const before = stationShape.safeParse(f.station?.before);
    const during = stationShape.safeParse(f.station?.during);
    if (!before.success || !during.success) {
      left.push(`${f.description} at ${at} (its stations are not in the record)`);
      continue;
    }
    const common = { at: f.profileMinute, origin: f.origin, dependency: f.target as DependencyName };
    const entry: DependencyFault =
      f.kind === 'down'
        ? { ...common, kind: 'down', forSeconds: f.profileSeconds }
        : f.kind === 'slow'
          ? {
              ...common,
              kind: 'slow',
              factor: meanRate(during.data as Station) / meanRate(before.data as Station),
              forSeconds: f.profileSeconds,
            }
          : {
              ...common,
              kind: 'errorRate',
              errorRate: during.data.errorRate,
              errorStatus: during.data.errorStatus,
              forSeconds: f.profileSeconds,
            };
    faults.push({
      entry,
      startMs: f.appliedSeconds * 1000,
      endMs: (f.restoredSeconds ?? Number.POSITIVE_INFINITY) * 1000,
    });
  }
  return { faults, kills, left };
}
