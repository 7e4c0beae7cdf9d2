import { readFileSync } from 'node:fs';
import {
  type Capacity,
  type CapacityFile,
  CapacityFileError,
  DEPENDENCIES,
  parseCapacityFile,
  type ServiceSection,
} from '../model/capacity.ts';

/**
 * The capacity file with its optional service section (model/capacity.ts): read for `simulate`
 * and `plan`, and written by `plan`, each value the plan changed with a `$comment` saying so.
 * mock-services/capacity.ts reads the same files for the mocks (the stations only).
 */

export function loadCapacityFile(path: string): CapacityFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CapacityFileError(`${path}: cannot read the capacity file (${(err as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CapacityFileError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return parseCapacityFile(json, path);
}

export interface PlannedFile {
  /** the capacities the plan started from (the capacity file and --set) */
  from: { capacity: Capacity; service: ServiceSection };
  /** and the plan's */
  to: { capacity: Capacity; service: ServiceSection };
  /** one sentence: what was planned for, searched and verified */
  summary: string;
  /** "gelombang plan, --peak 80000/min for 30 min, 2026-05-01" */
  stamp: string;
}

const changes = (from: Record<string, unknown>, to: Record<string, unknown>): string[] =>
  Object.keys(to)
    .filter((k) => typeof to[k] !== 'object' && from[k] !== to[k])
    .map((k) => `${k} ${from[k] ?? '(unset)'} -> ${to[k]}`);

/**
 * The plan as a capacity file (the text written): every station and the service section, a
 * `$comment` at the top and one in each part whose values the plan changed. Validated as every
 * reader will read it before it is returned, so a file that is written is a file that is accepted.
 */
export function plannedCapacityJson(p: PlannedFile, source: string): string {
  const out: Record<string, unknown> = { $comment: p.summary };
  for (const dep of DEPENDENCIES) {
    const changed = changes(p.from.capacity[dep], p.to.capacity[dep]);
    out[dep] = changed.length
      ? { $comment: `${changed.join(', ')}: ${p.stamp}`, ...p.to.capacity[dep] }
      : p.to.capacity[dep];
  }
  const changed = changes(p.from.service, p.to.service);
  out.service = changed.length
    ? { $comment: `${changed.join(', ')}: ${p.stamp}`, ...p.to.service }
    : p.to.service;
  parseCapacityFile(out, source);
  return `${JSON.stringify(out, null, 2)}\n`;
}
