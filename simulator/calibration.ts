import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { describeIssues } from '../model/capacity.ts';
import { STEPS, type Step } from '../model/funnel.ts';
import { serviceKnobsSchema } from '../model/service-design.ts';
import { serviceTimeSchema } from '../model/station.ts';
import { quantileTableSchema, tableMean } from './quantile-table.ts';

/**
 * The calibration file: what the simulator cannot read from the capacity file or the knobs, i.e.
 * what the service's work costs on a machine (each step's CPU, scrypt by cost, a commit) and, when
 * fitted from a measured run, each station's observed service time and effective capacity, and
 * the latency the rehearsal machine adds to every request beyond what the model simulates.
 * Versioned and validated on read; an unknown station or field is an error naming it.
 *
 * Versions: 1, then 2 (adds service.requestOverheadMs), then 3 (adds service.scryptSpread), then 4
 * (adds service.warmUp), then 5 (drops service.mailerConnections: the service's SMTP connections
 * are its knob EMAIL_CONNECTIONS, a design choice and not a cost), then 6 (adds
 * service.smtpExchangeMs), then 7 (adds service.restartMs), then 8 (adds service.workerStartMs),
 * then 9 (service.effectiveCores no longer counts the cores the other processes took: a replay
 * takes those interval by interval). An older file is read as it is: a version 1 file has no
 * overhead, none before 3 a spread, none before 4 a warm-up, none before 6 an SMTP exchange, none
 * before 7 a restart's time, none before 8 a cluster worker's; its mailerConnections must be the
 * knob's default, or the file would say something the simulator no longer reads from it; its
 * effectiveCores, before 9, is left out (the machine's cores), as it counted the others' cores a
 * second time. Files are written as version 9.
 */

export const CALIBRATION_VERSION = 9;
const READABLE_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9] as const;

/** The journey steps whose cost the service pays (read_status is not in the journey). */
export type CostedStep = Exclude<Step, 'read_status'>;
export const COSTED_STEPS = STEPS.filter((s): s is CostedStep => s !== 'read_status');

const ms = z.number().finite().nonnegative();
const positiveMs = z.number().finite().positive();
/** the most a warm-up may add at the start: the fit searches 0 to this */
export const WARM_UP_MAX_EXTRA = 1;

const stationFitSchema = z
  .object({
    /** the service time the station showed (queueing excluded) */
    serviceTime: serviceTimeSchema.optional(),
    /** servers the station behaved as having */
    concurrency: z.int().min(1).optional(),
  })
  .strict();

const calibrationSchema = z
  .object({
    format: z.literal('gelombang/calibration'),
    version: z.union(
      READABLE_VERSIONS.map((v) => z.literal(v)),
      { error: (i) => `expected version ${READABLE_VERSIONS.join(' or ')}, got ${JSON.stringify(i.input)}` },
    ),
    /** what it was fitted from: "default", or the run directory */
    source: z.string().min(1),
    measuredOn: z.string().optional(),
    service: z
      .object({
        /**
         * CPU per request besides scrypt and the commit, ms; upload_photo's per request of the step
         * as the design in `photoUpload` counts them
         */
        stepCpuMs: z
          .object(Object.fromEntries(COSTED_STEPS.map((s) => [s, ms])) as Record<CostedStep, typeof ms>)
          .strict(),
        /**
         * The photo upload the costs were fitted on (PHOTO_UPLOAD): through the service, one
         * request of the step a photo, or presigned, three (the URL, the PUT to the store, the
         * confirmation), of which the service serves two. Absent: service.
         */
        photoUpload: z.enum(['service', 'presigned']).optional(),
        /** CPU of one scrypt at N=1024 and N=16384, ms (r=8, p=1) */
        scryptCpuMs: z.object({ n1024: positiveMs, n16384: positiveMs }).strict(),
        /** how long a write transaction holds SQLite's write lock, by DB_SYNCHRONOUS, ms */
        writeMs: z.object({ FULL: positiveMs, NORMAL: positiveMs }).strict(),
        threadPoolSize: z.int().min(1).max(1024),
        /** before version 5 only: the service's SMTP connections a process (now EMAIL_CONNECTIONS) */
        mailerConnections: z.int().min(1).max(10_000).optional(),
        /**
         * the machine's cores as fast as they ran the service's work in the measured run (what
         * the load generator and the mocks took is the run's, by interval: not in it)
         */
        effectiveCores: z.number().positive().optional(),
        /**
         * What the rehearsal machine added to every request's latency beyond the model (loopback
         * HTTP through loaded event loops, the scheduler of a shared machine, the load generator's
         * own delay), ms, by quantile: `gelombang validate` adds it, drawn independently, to each
         * simulated request's latency. A property of the rehearsal, not of the system: simulate,
         * plan and the full-scale prediction leave it out. Version 2.
         */
        requestOverheadMs: quantileTableSchema().optional(),
        /**
         * What a mail's SMTP exchange added to the relay's service, ms on average: the service's
         * own time for a send (gelombang_dependency_request_duration_seconds) less the relay's
         * (station_service_seconds) where the relay queued nothing: the commands before the DATA
         * and the answers after it, each through both event loops. The simulator holds the mail's
         * caller and its SMTP connection this much longer than the relay's service. Absent: 0.
         * Version 6.
         */
        smtpExchangeMs: ms.optional(),
        /**
         * From a restart's start to the restarted service answering its health check, ms: the
         * processes' start (Node, the modules, the database opened, the port listened on). A
         * fault schedule's kill leaves the service down for its restartAfter and then this long.
         * Absent: no time (the service answers as its restart begins). For one process (WORKERS=1);
         * a cluster's is restartDurationMs. Version 7.
         */
        restartMs: ms.optional(),
        /**
         * What each worker of a cluster (WORKERS > 1) adds to its restart, ms with a core of its
         * own: the workers the primary forks start together, sharing the cores (restartDurationMs).
         * Absent: as long as restartMs. Version 8.
         */
        workerStartMs: ms.optional(),
        /**
         * One scrypt's time on its request's path over scryptCpuMs, by quantile: the simulator
         * holds a thread and a core for scryptCpuMs times a draw, and spends the rest of
         * scryptCpuMs (1 less the table's mean; the mean is at most 1) off the path, in parallel:
         * CPU the fit charged to the hashes that they did not spend on their path (with no idle
         * level probed, the process's CPU between requests among it). Absent: every hash takes
         * scryptCpuMs on the path. Version 3.
         */
        scryptSpread: quantileTableSchema()
          .refine((o) => tableMean(o) <= 1 + 1e-3, {
            message: 'expected a mean of at most 1 (the CPU per hash)',
          })
          .optional(),
        /**
         * A freshly started service's CPU per unit of work over the level it settles at:
         * 1 + extra x e^(-t / tauS), t the seconds since the rehearsal's load began. The costs
         * above are the settled level. A property of the rehearsal, which starts the service
         * afresh: `gelombang validate` applies it to a run whose stack the rehearsal started;
         * simulate, plan and the full-scale prediction leave it out. Version 4.
         */
        warmUp: z
          .object({ extra: z.number().finite().min(0).max(WARM_UP_MAX_EXTRA), tauS: positiveMs })
          .strict()
          .optional(),
      })
      .strict(),
    stations: z
      .object({
        dukcapil: stationFitSchema.optional(),
        dapodik: stationFitSchema.optional(),
        dtks: stationFitSchema.optional(),
        email: stationFitSchema.optional(),
        upload: stationFitSchema.optional(),
      })
      .strict(),
    /** why each value is what it is: JSON path -> reason */
    reasons: z.record(z.string(), z.string()).optional(),
  })
  .strict();

export type Calibration = z.infer<typeof calibrationSchema>;

/**
 * A warm-up's factor on the CPU of interval `i` (`dt` s long, from the load's start), at its
 * middle: from the service's last start before then, the load's or a restart's (`restartsS`, run
 * seconds when a killed service answered again), each process new and cold.
 */
export function warmUpFactor(
  w: NonNullable<Calibration['service']['warmUp']>,
  i: number,
  dt: number,
  restartsS: readonly number[] = [],
): number {
  const t = (i + 0.5) * dt;
  let since = t;
  for (const at of restartsS) if (at <= t && t - at < since) since = t - at;
  return 1 + w.extra * Math.exp(-since / w.tauS);
}

/** The run seconds at which a run's killed service answered again (its schedule's kills), for warmUpFactor. */
export function restartsOf(
  faults: ReadonlyArray<{ kind: string; restoredSeconds: number | null }> = [],
): number[] {
  return faults.flatMap((f) => (f.kind === 'kill' && f.restoredSeconds !== null ? [f.restoredSeconds] : []));
}

export class CalibrationFileError extends Error {
  override name = 'CalibrationFileError';
}

export const DEFAULT_CALIBRATION_FILE = fileURLToPath(new URL('./calibration.default.json', import.meta.url));

export function parseCalibration(value: unknown, source: string): Calibration {
  const parsed = calibrationSchema.safeParse(value);
  if (!parsed.success) throw new CalibrationFileError(`${source}: ${describeIssues(parsed.error)}`);
  const { version, service } = parsed.data;
  for (const [field, since] of [
    ['requestOverheadMs', 2],
    ['scryptSpread', 3],
    ['warmUp', 4],
    ['smtpExchangeMs', 6],
    ['restartMs', 7],
    ['workerStartMs', 8],
  ] as const)
    if (version < since && service[field] !== undefined)
      throw new CalibrationFileError(
        `${source}: service.${field}: a version ${since} field in a version ${version} file (set version to ${since})`,
      );
  const pool = service.mailerConnections;
  const knob = serviceKnobsSchema.shape.EMAIL_CONNECTIONS.parse(undefined);
  if (pool !== undefined && (version >= 5 || pool !== knob))
    throw new CalibrationFileError(
      `${source}: service.mailerConnections: ${version >= 5 ? `not a field of a version ${version} file` : `${pool} in a version ${version} file`}: the service's SMTP connections a process are its knob EMAIL_CONNECTIONS (default ${knob}) since version 5; remove the field${pool !== knob ? ` and give --knob EMAIL_CONNECTIONS=${pool}` : ''}`,
    );
  if (version < 9 && service.effectiveCores !== undefined) {
    const { effectiveCores, ...rest } = service;
    return {
      ...parsed.data,
      service: rest,
      reasons: {
        ...parsed.data.reasons,
        'service.effectiveCores': `Left out of ${source}: a version ${version} file's (${effectiveCores}) counted the cores the other processes took, which a replay takes from the cores interval by interval since version 9. The machine's cores.`,
      },
    };
  }
  return parsed.data;
}

export function loadCalibration(path: string = DEFAULT_CALIBRATION_FILE): Calibration {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CalibrationFileError(`${path}: cannot read the calibration file (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CalibrationFileError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseCalibration(json, path);
}

/**
 * From a restart's start to the service answering again, ms, for a design of `workers` processes
 * on `cores` cores: restartMs for one process; for a cluster, restartMs and then its workers'
 * starts, which share the cores (workerStartMs each on a core of its own). Measured on 2 cores
 * (simulator/calibration.default.json's reason): a cluster's restart grows with its workers, 1.4 s
 * for two and 2.6 s for four against 0.7 s for one process.
 */
export function restartDurationMs(
  service: Pick<Calibration['service'], 'restartMs' | 'workerStartMs'>,
  workers: number,
  cores: number,
): number {
  const one = service.restartMs ?? 0;
  if (workers <= 1) return one;
  return one + (service.workerStartMs ?? one) * (workers / Math.min(workers, cores));
}

/** CPU ms of one scrypt at cost `n`: linear in N through the two measured points. */
export function scryptCpuMs(c: Calibration, n: number): number {
  const { n1024, n16384 } = c.service.scryptCpuMs;
  const perN = (n16384 - n1024) / (16384 - 1024);
  return Math.max(0.01, n1024 + perN * (n - 1024));
}

/** The requests of the step upload_photo one photo takes, by PHOTO_UPLOAD (scenarios/lib/journey.ts uploadPhoto). */
export const PHOTO_REQUESTS = { service: 1, presigned: 3 } as const;

/**
 * The service's CPU for one photo, ms besides its commits: the upload's cost per request of the
 * step times the requests the calibration's design counted a photo. The simulator takes it as the
 * same in either design, the photo's bytes passing through the service once either way (taken in
 * and sent on to the store, or read back from it to be checked): an assumption where the
 * calibration's design is not the one simulated.
 */
export function photoCpuMs(c: Calibration): number {
  return c.service.stepCpuMs.upload_photo * PHOTO_REQUESTS[c.service.photoUpload ?? 'service'];
}

/**
 * CPU ms of one registrant's whole journey at hash cost `n`: each step's own CPU, and two hashes
 * (the sign-up's, the login's verify). The work per registrant the CPU similitude keeps in
 * proportion (model/similitude.ts similarScryptN).
 */
export function journeyCpuMs(c: Calibration, n: number): number {
  const steps = COSTED_STEPS.reduce(
    (a, s) => a + (s === 'upload_photo' ? photoCpuMs(c) : c.service.stepCpuMs[s]),
    0,
  );
  return steps + 2 * scryptCpuMs(c, n);
}
