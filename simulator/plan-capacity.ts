import { type Capacity, DEPENDENCIES, parseCapacityFile, type ServiceSection } from '../model/capacity.ts';

/**
 * The capacity file `plan` writes, each value the plan changed with a `$comment` saying so
 * (model/capacity.ts has its schema; mock-services/capacity.ts `loadCapacityFile` reads it).
 */

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
