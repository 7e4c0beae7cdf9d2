import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCapacityFile } from '../mock-services/capacity.ts';
import { describeBoundIssues, mockBoundIssues } from '../mock-services/station/bounds.ts';
import { type Capacity, type CapacityFile, CapacityFileError } from '../model/capacity.ts';
import { type ServiceKnobs, serviceKnobsSchema } from '../model/service-design.ts';
import {
  rateFactor,
  type ScaledStation,
  scaleCapacity,
  scaleCapacityFile,
  similarConnections,
  similarScryptN,
  standsForCores,
} from '../model/similitude.ts';
import type { RunManifest } from '../reports/record.ts';
import { DEFAULT_CALIBRATION_FILE, journeyCpuMs, loadCalibration } from '../simulator/calibration.ts';

/**
 * A rehearsal's capacities by similitude (model/similitude.ts): the capacity file states every
 * dependency at full size, and a run that brings a share of the day's arrival rate gets the same
 * share of each capacity, so that each dependency is as busy as on the day. The service's CPU
 * follows the same rule through the hash cost. One place for the CLI (which checks a fault
 * schedule against the stations the mocks will enforce) and runRehearsal (which starts them).
 */

/** The capacity file of a rehearsal that names none (the CLI's default and runRehearsal's). */
export const DEFAULT_REHEARSAL_CAPACITY = fileURLToPath(
  new URL('../mock-services/capacity.2020.json', import.meta.url),
);

/** The scenarios whose arrival rate is a share of the day's: their capacities are scaled by it. */
export const RATE_SCENARIOS: readonly string[] = ['registration-day', 'opening-spike'];

/** opening-spike's SCALE and COMPRESS when -e does not set them (scenarios/opening-spike.ts) */
const OPENING_SPIKE_DEFAULTS = { SCALE: 0.002, COMPRESS: 15 } as const;

export type Similitude = NonNullable<RunManifest['similitude']>;

/** What decides a run's rate factor: the replay's flags, or the scenario's own knobs. */
export interface RateInputs {
  scenario: string;
  scale: number;
  compress: number;
  env: Record<string, string>;
  /** enforce the file as it is (--absolute-capacity) */
  absoluteCapacity?: boolean;
  /**
   * The command's words, for its problems: how the user gave scale and compress (default --scale,
   * --compress) and how to enforce the file as it is instead (default --absolute-capacity).
   */
  flags?: { scale: string; compress: string; asIs: string };
}

export type RunRate = { factor: number; scaled: true } | { factor: number; scaled: false; why: string };

const fmt = (x: number) => Number(x.toPrecision(3)).toString();

/**
 * The run's rate factor, whether the capacities are scaled by it and, if not, why; or what is
 * wrong (named by flag), checked before anything starts.
 */
export function runRate(o: RateInputs): RunRate | { problem: string } {
  let factor: number;
  let names: string;
  if (o.scenario === 'registration-day') {
    factor = rateFactor(o);
    names = `${o.flags?.scale ?? '--scale'} x ${o.flags?.compress ?? '--compress'} (${fmt(o.scale)} x ${fmt(o.compress)})`;
  } else if (o.scenario === 'opening-spike') {
    const knob = (key: 'SCALE' | 'COMPRESS'): number | string => {
      const raw = o.env[key];
      if (raw === undefined) return OPENING_SPIKE_DEFAULTS[key];
      const n = Number(raw);
      return raw.trim() !== '' && Number.isFinite(n) && n > 0
        ? n
        : `-e ${key}: expected a number above 0, got '${raw}'`;
    };
    const scale = knob('SCALE');
    const compress = knob('COMPRESS');
    if (typeof scale === 'string') return { problem: scale };
    if (typeof compress === 'string') return { problem: compress };
    factor = rateFactor({ scale, compress });
    names = `-e SCALE x -e COMPRESS (${fmt(scale)} x ${fmt(compress)})`;
  } else {
    return {
      factor: 1,
      scaled: false,
      why: `the ${o.scenario} scenario brings no arrival rate tied to the 2020 day (registration-day and opening-spike do), so there is no rate factor to scale the capacity file by: it was enforced as it is`,
    };
  }
  if (o.absoluteCapacity)
    return {
      factor,
      scaled: false,
      why: '--absolute-capacity: the capacity file was enforced as it is, not scaled by the rate factor',
    };
  if (factor > 1)
    return {
      problem: `${names} = ${fmt(factor)}: more than the day's own arrival rate, and a capacity file at full size is not scaled up (model/similitude.ts); lower them, or ${o.flags?.asIs ?? 'give --absolute-capacity'} to enforce the file as it is`,
    };
  return { factor, scaled: true };
}

/** A capacity file as a run enforces it: the file at full size, the stations the mocks get, and the record's account. */
export interface RunCapacity {
  file: string;
  /** the file as it states itself (at full size, unless not scaled) */
  full: CapacityFile;
  /** what the mocks enforce */
  capacity: Capacity;
  /** the run record's `similitude`, without its `cpu` and `smtpPool` (cpuSimilitude and poolSimilitude add them) */
  similitude: Similitude;
}

/**
 * Reads the capacity file and scales it by the run's rate; a file the mocks could not honour once
 * scaled (a stretched service time beyond its timeout) is a CapacityFileError naming the file,
 * the factor and the field.
 */
export function runCapacity(file: string, rate: RunRate, asIs = 'give --absolute-capacity'): RunCapacity {
  const full = loadCapacityFile(file);
  if (!rate.scaled) {
    const issues = mockBoundIssues(full.capacity);
    if (issues.length > 0) throw new CapacityFileError(`${file}: ${describeBoundIssues(issues)}`);
    return {
      file,
      full,
      capacity: full.capacity,
      similitude: {
        factor: rate.factor,
        scaled: false,
        capacityFile: file,
        // at factor 1 every station is as the file states it
        stations: recordedStations(scaleCapacity(full.capacity, 1).stations),
        notes: [rate.why],
      },
    };
  }
  const scaled = scaleCapacityFile(full, rate.factor);
  const issues = mockBoundIssues(scaled.capacity);
  if (issues.length > 0)
    throw new CapacityFileError(
      `${file}, scaled by this run's rate factor ${fmt(rate.factor)}: ${describeBoundIssues(issues)} (a larger scale or compression stretches the service times less; or ${asIs} to enforce the file as it is)`,
    );
  const s = full.service;
  const notes = [...scaled.notes];
  if (s)
    notes.push(
      `service: the file's service section (${[
        `${s.cores} cores`,
        ...(s.workers !== undefined ? [`${s.workers} workers`] : []),
        ...(s.commitsPerSecond !== undefined ? [`${s.commitsPerSecond} commits a second`] : []),
      ].join(
        ', ',
      )}) is the full-size service, for the "At full scale" prediction; this run's service ran on this machine with its own WORKERS and SQLite`,
    );
  return {
    file,
    full,
    capacity: scaled.capacity,
    similitude: {
      factor: rate.factor,
      scaled: true,
      capacityFile: file,
      stations: recordedStations(scaled.stations),
      notes,
    },
  };
}

/** What a run on the stack enforces and stands for, by similitude (see similarRun). */
export interface SimilarRun {
  /** the capacity file, at full size and as the mocks enforce it */
  run: RunCapacity;
  /** the service's knobs: those given, with the hash cost and SMTP pool the similitude chose */
  knobs: Record<string, string>;
  /** the run record's account of it */
  similitude: Similitude;
}

/**
 * The stack of a run by similitude, one rule for `rehearse` and `stack --scale --compress`: the
 * capacity file (default DEFAULT_REHEARSAL_CAPACITY) scaled by the run's rate factor, and the
 * service's hash cost and SMTP connections by the same rule (cpuSimilitude, poolSimilitude) unless
 * given as knobs. A flag that is wrong is a problem; a capacity file that is wrong, or that the
 * mocks could not honour once scaled, a CapacityFileError.
 */
export function similarRun(
  o: RateInputs & { capacityFile?: string; knobs: Record<string, string> },
): SimilarRun | { problem: string } {
  const rate = runRate(o);
  if ('problem' in rate) return rate;
  const run = runCapacity(resolve(o.capacityFile ?? DEFAULT_REHEARSAL_CAPACITY), rate, o.flags?.asIs);
  if (!rate.scaled) return { run, knobs: o.knobs, similitude: run.similitude };
  const hash = cpuSimilitude({ factor: rate.factor, knobs: o.knobs, full: run.full });
  const pool = poolSimilitude({ factor: rate.factor, knobs: o.knobs, full: run.full });
  return {
    run,
    knobs: {
      ...o.knobs,
      ...(hash.chosen ? { SCRYPT_N: String(hash.scryptN) } : {}),
      ...(pool.chosen ? { EMAIL_CONNECTIONS: String(pool.connections) } : {}),
    },
    similitude: { ...run.similitude, cpu: hash.cpu, smtpPool: pool.smtpPool },
  };
}

/**
 * What capacities a run enforces (rehearse, stack) or simulates (simulate), in one wording for
 * the three: the line, then the similitude's notes (a station whose share rounds, a queue that
 * rounds to none), each on a line of its own, which a stack has no record to keep.
 */
export function capacitiesLines(
  s: Pick<Similitude, 'capacityFile' | 'scaled' | 'factor' | 'notes'>,
): string[] {
  if (!s.scaled) return [`capacities: ${s.capacityFile} as it is (${s.notes[0] ?? 'not scaled'})`];
  return [
    `capacities: ${s.capacityFile} at full size x ${fmt(s.factor)} (the run's share of the day's arrival rate)`,
    ...s.notes.map((n) => `  ${n}`),
  ];
}

/**
 * The stations a run's mocks enforce, as the file they read (GELOMBANG_CAPACITY_FILE), in a
 * directory of its own; `remove` deletes it once the mocks are stopped.
 */
export function enforcedCapacityFile(
  run: RunCapacity,
  comment: string,
): { file: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'gelombang-capacity-'));
  const file = join(dir, 'capacity.json');
  writeFileSync(file, `${JSON.stringify({ $comment: comment, ...run.capacity }, null, 2)}\n`);
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The stations as the run record holds them (without the ratio that is 1 by construction). */
export function recordedStations(rows: readonly ScaledStation[]): Similitude['stations'] {
  return rows.map(({ capacityRatio: _, ...row }) => row);
}

/**
 * A knob as the service reads it: the given string through its own schema, or its default when
 * not given. One field at a time, since the knobs also hold SERVICE_PROFILE, no knob of the schema.
 */
function knob<K extends 'SCRYPT_N' | 'EMAIL_CONNECTIONS' | 'WORKERS'>(
  knobs: Record<string, string>,
  key: K,
): ServiceKnobs[K] {
  return serviceKnobsSchema.shape[key].parse(knobs[key]) as ServiceKnobs[K];
}

/**
 * The service's CPU by the rule the stations follow. The design's hash cost is its SCRYPT_N (the
 * profile's, under --knob); a SCRYPT_N the caller set is kept, since it is the design asked for.
 * Otherwise, when the file states the full-size service's cores, the service hashes at the cost
 * that keeps this machine's cores no busier than the full-size service's (similarScryptN).
 * Either way the record says what this machine's cores stood for.
 */
export function cpuSimilitude(o: {
  factor: number;
  knobs: Record<string, string>;
  full: CapacityFile;
  cores?: number;
}): { scryptN: number; chosen: boolean; cpu: NonNullable<Similitude['cpu']> } {
  const given = o.knobs.SCRYPT_N;
  const fullSizeScryptN = knob(o.knobs, 'SCRYPT_N');
  const calibration = loadCalibration(DEFAULT_CALIBRATION_FILE);
  const rule = {
    cores: o.cores ?? availableParallelism(),
    factor: o.factor,
    fullSizeScryptN,
    journeyCpuMs: (n: number) => journeyCpuMs(calibration, n),
  };
  const fullSizeCores = o.full.service?.cores ?? null;
  const chosen = given === undefined && fullSizeCores !== null;
  const scryptN = chosen ? similarScryptN({ ...rule, fullSizeCores }) : fullSizeScryptN;
  return {
    scryptN,
    chosen,
    cpu: {
      cores: rule.cores,
      scryptN,
      fullSizeScryptN,
      standsForCores: standsForCores(rule, scryptN),
      fullSizeCores,
    },
  };
}

/**
 * The service's SMTP connections by the rule the stations follow (model/similitude.ts
 * similarConnections): when the file states the full-size service's workers and EMAIL_CONNECTIONS
 * was not given, the run's processes share the run's share of the full-size pool. A given
 * EMAIL_CONNECTIONS is the design asked for, and kept; a file with no workers leaves the pool as
 * the design has it (one process's pool stands for nothing known).
 */
export function poolSimilitude(o: { factor: number; knobs: Record<string, string>; full: CapacityFile }): {
  connections: number;
  chosen: boolean;
  smtpPool: NonNullable<Similitude['smtpPool']>;
} {
  const given = o.knobs.EMAIL_CONNECTIONS;
  const perProcess = knob(o.knobs, 'EMAIL_CONNECTIONS');
  const workers = knob(o.knobs, 'WORKERS');
  const fullSizeWorkers = o.full.service?.workers ?? null;
  const chosen = given === undefined && fullSizeWorkers !== null;
  const connections = chosen
    ? Math.min(
        MAX_CONNECTIONS,
        similarConnections({ factor: o.factor, fullSizeWorkers, perProcess, workers }),
      )
    : perProcess;
  return {
    connections,
    chosen,
    smtpPool: {
      workers,
      connections,
      fullSizeWorkers,
      fullSizeConnections: perProcess,
    },
  };
}

/** EMAIL_CONNECTIONS' largest value (model/service-design.ts) */
const MAX_CONNECTIONS = serviceKnobsSchema.shape.EMAIL_CONNECTIONS.unwrap().maxValue ?? 10_000;
