/**
 * Reading scenario knobs from __ENV with defaults and precise errors: a typo in `-e SCALE=0,01`
 * must stop the run before any load is sent, naming the variable and what was expected.
 */

export function envString(env: Record<string, string | undefined>, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v === '' ? fallback : v;
}

export function envNumber(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  range: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  const what = `${range.integer ? 'a whole number' : 'a number'}${range.min !== undefined ? ` >= ${range.min}` : ''}${
    range.max !== undefined ? ` <= ${range.max}` : ''
  }`;
  if (!Number.isFinite(n) || (range.integer && !Number.isInteger(n))) {
    throw new Error(`environment variable ${name}: expected ${what}, got '${raw}'`);
  }
  if ((range.min !== undefined && n < range.min) || (range.max !== undefined && n > range.max)) {
    throw new Error(`environment variable ${name}: expected ${what}, got ${raw}`);
  }
  return n;
}

/** The stack's URLs; defaults are the stack's default loopback ports. */
export function endpoints(env: Record<string, string | undefined>): { registration: string; email: string } {
  return {
    registration: envString(env, 'BASE_URL', 'http://127.0.0.1:3000').replace(/\/$/, ''),
    email: envString(env, 'EMAIL_URL', 'http://127.0.0.1:3102').replace(/\/$/, ''),
  };
}
