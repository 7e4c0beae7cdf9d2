/**
 * k6 durations: "1h30m", "90s", "1.5s", "500ms", "100us"/"100µs", or a number of milliseconds.
 */
const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001,
};
const PART = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/gy;

export class DurationError extends Error {}

export function parseDuration(value: unknown, path: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new DurationError(`${path}: expected a duration >= 0, got ${value}`);
    return value;
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new DurationError(
      `${path}: expected a duration such as "30s", "1m30s" or "500ms", got ${JSON.stringify(value)}`,
    );
  }
  const text = value.trim();
  if (text === '0') return 0;
  let ms = 0;
  PART.lastIndex = 0;
  let consumed = 0;
  let m: RegExpExecArray | null = PART.exec(text);
  while (m) {
    ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    consumed = PART.lastIndex;
    m = PART.exec(text);
  }
  if (consumed !== text.length || consumed === 0) {
    throw new DurationError(
      `${path}: "${value}" is not a duration: expected a number with a unit h, m, s, ms or us, such as "30s" or "1m30s"`,
    );
  }
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${Number.isInteger(s) ? s : s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  return rest ? `${m}m${rest}s` : `${m}m`;
}
