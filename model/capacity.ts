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

export function parseCapacity(value: unknown, source: string): Capacity {
  const parsed = capacitySchema.safeParse(value);
  if (!parsed.success) throw new CapacityFileError(`${source}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
