import { z } from 'zod';

/** A bench knob that cannot be read: the bench does not run on a NaN. */
export class BenchEnvError extends Error {}

// zod's number refuses NaN and the infinities that Number() would let through.
const number = z.coerce.number<string>();
const kinds = {
  /** a count: 1, 2, ... */
  count: number.pipe(z.number().int('not a whole number').positive('not above 0')),
  /** a size or a duration: above 0 */
  positive: number.pipe(z.number().positive('not above 0')),
  /** a seed: any whole number */
  int: number.pipe(z.number().int('not a whole number')),
  /** a switch: 0 or 1 */
  flag: z.enum(['0', '1']).transform((v) => v === '1'),
} as const;
type Kind = keyof typeof kinds;
const expected: Record<Kind, string> = {
  count: 'a whole number above 0',
  positive: 'a number above 0',
  int: 'a whole number',
  flag: '0 or 1',
};

/**
 * A bench's knob from the environment (BENCH_*), or its default (if any) when unset or empty. Read when
 * the bench's module loads, so bench/run.ts refuses a bad one before any bench has run.
 */
export function benchEnv<K extends Exclude<Kind, 'flag'>>(name: string, kind: K, fallback: number): number;
export function benchEnv<K extends Exclude<Kind, 'flag'>>(name: string, kind: K): number | undefined;
export function benchEnv(name: string, kind: 'flag', fallback: boolean): boolean;
export function benchEnv(
  name: string,
  kind: Kind,
  fallback?: number | boolean,
): number | boolean | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const parsed = kinds[kind].safeParse(raw.trim());
  if (!parsed.success)
    throw new BenchEnvError(
      `${name}=${JSON.stringify(raw)}: expected ${expected[kind]} (${parsed.error.issues[0]?.message ?? 'invalid'})`,
    );
  return parsed.data;
}
