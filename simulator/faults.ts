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
 * A rehearsal's dependency faults in the simulation: the same schedule (model/faults.ts), the
 * station faulted the same way (faultedStation) from its start to its end on the simulated clock,
 * where the mocks reconfigure theirs (SimStation.reconfigure). A killed service is not modelled:
 * the simulated service does not restart.
 */

export type DependencyFault = Exclude<FaultEntry, { kind: 'kill' }>;

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

/** The record a simulated run keeps of each fault, in the form a rehearsal's has (reports read both). */
export function simulatedFaultRecords(
  faults: readonly SimFault[],
  stations: Record<DependencyName, Station>,
  durationS: number,
): FaultRecord[] {
  return faults.map((f) => ({
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
 * before and during it as the mock accepted them (a slowing: the rate during over the rate before).
 * A fault never applied is left out; a kill, or a record whose stations cannot be read, is named
 * in `left`, which the simulation runs without.
 */
export function recordedFaults(r: RunRecord): { faults: SimFault[]; left: string[] } {
  const faults: SimFault[] = [];
  const left: string[] = [];
  for (const f of r.manifest.faults ?? []) {
    if (f.appliedSeconds === null) continue;
    const at = `t=${f.appliedSeconds} s`;
    if (f.kind === 'kill') {
      left.push(`${f.description} at ${at}`);
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
  return { faults, left };
}
