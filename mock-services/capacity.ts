import { readFileSync } from 'node:fs';
import { type Capacity, CapacityFileError, parseCapacity } from '../model/capacity.ts';

/** Reads a capacity file (model/capacity.ts holds its schema) from disk. */

export const DEFAULT_CAPACITY_FILE = new URL('./capacity.default.json', import.meta.url);

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
