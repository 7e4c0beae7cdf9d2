import { readFileSync } from 'node:fs';
import { type Capacity, type CapacityFile, CapacityFileError, parseCapacityFile } from '../model/capacity.ts';
import { describeBoundIssues, mockBoundIssues } from './station/bounds.ts';

/** Reads a capacity file (model/capacity.ts holds its schema) from disk. */

export const DEFAULT_CAPACITY_FILE = new URL('./capacity.default.json', import.meta.url);

/**
 * A capacity file: its stations and, when it gives one, the service section (`gelombang plan`
 * writes it; the simulator reads it, the mocks ignore it); `$comment`s anywhere are notes.
 */
export function loadCapacityFile(
  path: string | URL = process.env.GELOMBANG_CAPACITY_FILE || DEFAULT_CAPACITY_FILE,
): CapacityFile {
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
  return parseCapacityFile(json, source);
}

export function loadCapacity(
  path: string | URL = process.env.GELOMBANG_CAPACITY_FILE || DEFAULT_CAPACITY_FILE,
): Capacity {
  return loadCapacityFile(path).capacity;
}

/**
 * The capacity file as a mock reads it at start: valid against the schema and within what a mock
 * can honour with real timers (station/bounds.ts); else a CapacityFileError naming the field.
 */
export function loadMockCapacity(
  path: string | URL = process.env.GELOMBANG_CAPACITY_FILE || DEFAULT_CAPACITY_FILE,
): Capacity {
  const capacity = loadCapacity(path);
  const issues = mockBoundIssues(capacity);
  if (issues.length > 0) throw new CapacityFileError(`${String(path)}: ${describeBoundIssues(issues)}`);
  return capacity;
}

/**
 * Deep-merges a partial update (from the admin endpoint) into a station-shaped object. A service
 * time that changes its distribution is replaced whole: the old one's fields (`ms`, or `medianMs`
 * and `p99Ms`) mean nothing to the new one, and the strict schema would refuse them.
 */
export function deepMerge(base: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return patch;
  const distribution = (patch as { distribution?: unknown }).distribution;
  if (distribution !== undefined && distribution !== (base as { distribution?: unknown }).distribution)
    return patch;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) out[k] = deepMerge(out[k], v);
  return out;
}
