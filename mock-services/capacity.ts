import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { serviceTimeSchema, stationSchema } from './station/schema.ts';

/**
 * The capacity file: one station per dependency, plus the few knobs that only one mock has. The
 * mocks enforce it and the capacity simulator models it, so one calibrated file drives both.
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
export type CapacityInput = z.input<typeof capacitySchema>;
export type DependencyName = keyof Capacity;
export const DEPENDENCY_NAMES: readonly DependencyName[] = ['dukcapil', 'dapodik', 'dtks', 'email', 'upload'];

export const DEFAULT_CAPACITY_FILE = new URL('./capacity.default.json', import.meta.url);

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

export function loadCapacity(
  path: string | URL = process.env.GELOMBANG_CAPACITY_FILE || DEFAULT_CAPACITY_FILE,
): Capacity {
  const source = String(path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CapacityFileError(`${source}: cannot read the capacity file (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CapacityFileError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const { $comment: _comment, ...rest } = json as Record<string, unknown>;
  return parseCapacity(rest, source);
}

/** Deep-merges a partial update (from the admin endpoint) into a station-shaped object. */
export function deepMerge(base: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return patch;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) out[k] = deepMerge(out[k], v);
  return out;
}
