import { z } from 'zod';

/**
 * A distribution given by a few of its quantiles, for what the simulator draws from measurements
 * rather than from a named law: the rehearsal's request overhead (ms), one scrypt's time on its
 * request's path over the CPU per hash (a ratio). Linear in the probability between the knots,
 * then on with the last slope.
 */
export interface QuantileTable {
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
}

export const KNOTS = [
  ['min', 0],
  ['p50', 0.5],
  ['p90', 0.9],
  ['p95', 0.95],
  ['p99', 0.99],
] as const;

/** A table whose every knot is f of its key and probability. */
export function tableOf(f: (key: keyof QuantileTable, p: number) => number): QuantileTable {
  return Object.fromEntries(KNOTS.map(([key, p]) => [key, f(key, p)])) as Record<keyof QuantileTable, number>;
}

/** The table's schema, its values nonnegative and in order. */
export function quantileTableSchema() {
  const v = z.number().finite().nonnegative();
  return z
    .object({ min: v, p50: v, p90: v, p95: v, p99: v })
    .strict()
    .refine((o) => o.min <= o.p50 && o.p50 <= o.p90 && o.p90 <= o.p95 && o.p95 <= o.p99, {
      message: 'expected min <= p50 <= p90 <= p95 <= p99',
    });
}

/** The value at probability u in [0, 1]. */
export function tableQuantile(o: QuantileTable, u: number): number {
  let px = 0;
  let py = o.min;
  for (const [key, p] of KNOTS) {
    if (u <= p) return p === px ? o[key] : py + ((u - px) / (p - px)) * (o[key] - py);
    px = p;
    py = o[key];
  }
  return o.p99 + ((u - 0.99) / 0.04) * (o.p99 - o.p95);
}

/** The mean of the draws tableQuantile gives for a uniform u: exact, each piece being linear. */
export function tableMean(o: QuantileTable): number {
  let mean = 0;
  let px = 0;
  let py = o.min;
  for (const p of [...KNOTS.map(([, p]) => p).slice(1), 1]) {
    const y = tableQuantile(o, p);
    mean += ((py + y) / 2) * (p - px);
    px = p;
    py = y;
  }
  return mean;
}
