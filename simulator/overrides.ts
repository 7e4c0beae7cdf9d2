import { z } from 'zod';
import { type Capacity, capacitySchema, describeIssues } from '../model/capacity.ts';

/**
 * `--set dukcapil.concurrency=400`: one field of what a simulation runs with, changed. The fields
 * are the capacity file's (model/capacity.ts) and the service's machine (`service.cores`); a path
 * that names no field is refused naming the field and what exists there, and the result is
 * validated whole, so `--set dukcapil.queue=-1` fails as the capacity file would.
 */

const machineSchema = z
  .object({
    /** CPUs of the machine(s) the registration service runs on */
    cores: z.int().min(1).max(100_000),
  })
  .strict();
type ServiceMachine = z.infer<typeof machineSchema>;

export class OverrideError extends Error {
  override name = 'OverrideError';
}

/** Reads `path=value` values: numbers and booleans as such, anything else as a string. */
function parseValue(raw: string): unknown {
  if (raw.trim() !== '' && Number.isFinite(Number(raw))) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  return raw;
}

function setPath(root: Record<string, unknown>, path: string, raw: string, flag: string): void {
  const keys = path.split('.');
  let at: Record<string, unknown> = root;
  keys.forEach((key, i) => {
    const where = keys.slice(0, i).join('.') || '(top level)';
    if (!(key in at)) {
      throw new OverrideError(
        `${flag} ${path}: no field '${key}' in ${where}; expected one of ${Object.keys(at).join(', ')}`,
      );
    }
    if (i === keys.length - 1) {
      at[key] = parseValue(raw);
      return;
    }
    const next = at[key];
    if (typeof next !== 'object' || next === null) {
      throw new OverrideError(
        `${flag} ${path}: ${keys.slice(0, i + 1).join('.')} is a value, not a group of fields`,
      );
    }
    at = next as Record<string, unknown>;
  });
}

/** Applies every override in order to a validated capacity and machine; returns both, validated again. */
export function applyOverrides(
  base: { capacity: Capacity; machine: ServiceMachine },
  sets: Record<string, string>,
  flag = '--set',
): { capacity: Capacity; machine: ServiceMachine } {
  const tree = structuredClone({ ...base.capacity, service: base.machine }) as Record<string, unknown>;
  for (const [path, raw] of Object.entries(sets)) setPath(tree, path, raw, flag);
  const { service, ...capacity } = tree;
  const cap = capacitySchema.safeParse(capacity);
  if (!cap.success) throw new OverrideError(`${flag}: ${describeIssues(cap.error)}`);
  const machine = machineSchema.safeParse(service);
  if (!machine.success) {
    throw new OverrideError(
      `${flag}: ${machine.error.issues.map((i) => `service.${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return { capacity: cap.data, machine: machine.data };
}
