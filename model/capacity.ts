import { z } from 'zod';
import { serviceTimeSchema, stationSchema } from './station.ts';

/**
 * The capacity file: one station per dependency, plus the few knobs that only one mock has. The
 * mocks enforce it and the capacity simulator models it, so one calibrated file drives both.
 * Reading the file from disk is the caller's business (mock-services/capacity.ts).
 */

export const capacitySchema = z
  .object({
    dukcapil: stationSchema,
    dapodik: stationSchema,
    dtks: stationSchema,
    email: stationSchema.extend({
      /** from SMTP acceptance to the message appearing in the mailbox */
      deliveryDelay: serviceTimeSchema,
      /**
       * mails the receiving providers take a second: accepted mail waits its turn (first come, first
       * delivered), then its delivery delay. Absent: no limit. On a surge the backlog grows and mail
       * arrives minutes or hours late: the 2020 "verification email never came".
       */
      deliveryPerSecond: z
        .number({ error: 'expected mails delivered a second, a number' })
        .gt(0, { error: 'expected mails delivered a second, more than 0 (leave it out for no limit)' })
        .optional(),
    }),
    upload: stationSchema.extend({
      /** all uploads together share this many bytes per second (the store's ingress link) */
      bandwidthBytesPerSecond: z.int().min(1024),
      maxObjectBytes: z.int().min(1),
    }),
  })
  .strict();

export type Capacity = z.infer<typeof capacitySchema>;
export type DependencyName = keyof Capacity;

/** The dependencies, in the capacity file's order: the `dependency` label everywhere. */
export const DEPENDENCIES = Object.keys(capacitySchema.shape) as DependencyName[];

/** One line per problem: the JSON path and what was expected there. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

export class CapacityFileError extends Error {}

/**
 * The registration service's machine, optional in a capacity file (`gelombang plan` writes it):
 * the capacity simulator runs the service on `cores` with `workers` processes (the WORKERS knob,
 * unless --knob sets it) and, with `admissionRate`, a waiting room (the ADMISSION_RATE knob, unless
 * --knob sets it). The mocks and a rehearsal read the stations only: a laptop cannot be
 * given cores, and WORKERS is the service's knob there.
 */
export const serviceSectionSchema = z
  .object({
    /** CPUs of the machine(s) the registration service runs on (the simulator's `service.cores`) */
    cores: z.int().min(1).max(100_000),
    /** processes behind one port: model/service-design.ts WORKERS, and its range */
    workers: z.int().min(1).max(64).optional(),
    /** sign-ups admitted a second by the waiting room: model/service-design.ts ADMISSION_RATE, and its range */
    admissionRate: z
      .number({ error: 'expected sign-ups admitted a second, a number' })
      .gt(0, { error: 'expected sign-ups admitted a second, more than 0 (leave it out for no waiting room)' })
      .max(1_000_000, { error: 'expected sign-ups admitted a second, at most 1000000' })
      .optional(),
    /**
     * write transactions the service's database commits a second. The reference service's SQLite
     * has one writer, and the simulator holds its lock for the calibrated commit time; a file at
     * full size states the database the day had instead (a rehearsal's SQLite is the laptop's disk,
     * and its report says what that stands for).
     */
    commitsPerSecond: z
      .number({ error: 'expected commits a second, a number' })
      .gt(0, { error: 'expected commits a second, more than 0' })
      .max(100_000_000, { error: 'expected commits a second, at most 100000000' })
      .optional(),
  })
  .strict();

export type ServiceSection = z.infer<typeof serviceSectionSchema>;

/** A capacity file: the stations, and the service's machine when the file gives it. */
export interface CapacityFile {
  capacity: Capacity;
  service?: ServiceSection;
}

/** A note for people: allowed at the top, in each station and in the service section; never read. */
const COMMENT = '$comment';

function withoutComment(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || !(COMMENT in value))
    return value;
  const { [COMMENT]: _note, ...rest } = value as Record<string, unknown>;
  return rest;
}

/** The stations and the optional service section, each `$comment` dropped; a problem names its path. */
export function parseCapacityFile(value: unknown, source: string): CapacityFile {
  const top = withoutComment(value);
  if (typeof top !== 'object' || top === null || Array.isArray(top)) {
    throw new CapacityFileError(`${source}: (root): expected an object of stations`);
  }
  const { service, ...rest } = top as Record<string, unknown>;
  const stations = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, withoutComment(v)]));
  const parsed = capacitySchema.safeParse(stations);
  if (!parsed.success) throw new CapacityFileError(`${source}: ${describeIssues(parsed.error)}`);
  if (service === undefined) return { capacity: parsed.data };
  const machine = serviceSectionSchema.safeParse(withoutComment(service));
  if (!machine.success) {
    throw new CapacityFileError(
      `${source}: ${machine.error.issues.map((i) => `service${i.path.length ? `.${i.path.join('.')}` : ''}: ${i.message}`).join('; ')}`,
    );
  }
  return { capacity: parsed.data, service: machine.data };
}

export function parseCapacity(value: unknown, source: string): Capacity {
  return parseCapacityFile(value, source).capacity;
}
