/**
 * k6's durations, the one grammar of the runner (options, thresholds' delayAbortEval, request
 * timeouts, the CLI's --duration):
 *
 * - Go's time.ParseDuration, which k6's CLI flags use as is: an optional sign, then one or more
 *   decimal numbers each with a unit (ns, us, µs, ms, s, m, h), "1h2m3.5s", ".5s", "0";
 * - k6's ParseExtendedDuration (lib/types), which options and request params use: also a bare
 *   number as milliseconds ("1500", "1e3") and whole days in front ("2d", "1d12h").
 *
 * Results are milliseconds; Go counts in whole nanoseconds, so do we, and a value past Go's
 * int64 nanoseconds (about 2,562,047 hours) is refused as Go refuses it.
 */

const NS_PER_UNIT: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  µs: 1_000n, // U+00B5, as Go's unitMap has it
  μs: 1_000n, // U+03BC
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const MAX_NS = (1n << 63n) - 1n;
const EXAMPLES = 'e.g. "30s", "1m30s", "1.5h", "500ms" (units h, m, s, ms, us, ns)';

export class DurationError extends Error {}

/**
 * The fraction's nanoseconds as Go computes them (leadingFraction, then float64 arithmetic
 * truncated): digits past int64's range are dropped, so "1.0000001ms" is 1 ms, as in k6.
 */
function fractionNs(digits: string, ns: bigint): bigint {
  let f = 0n;
  let scale = 1;
  for (const c of digits) {
    const next = f * 10n + BigInt(c);
    if (next > MAX_NS) break;
    f = next;
    scale *= 10;
  }
  return BigInt(Math.trunc(Number(f) * (Number(ns) / scale)));
}

/** Go's parse of `text`, in nanoseconds, or the reason it is not one. */
function goNanoseconds(text: string): bigint | string {
  let s = text;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') return 'no number';
  let total = 0n;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s) as RegExpExecArray;
    const whole = m[1] ?? '';
    const fraction = m[2] ?? '';
    if (whole === '' && fraction === '') return 'a number must have a digit';
    s = s.slice(m[0].length);
    const unitLength = s.search(/[\d.]/);
    const unit = unitLength < 0 ? s : s.slice(0, unitLength);
    s = s.slice(unit.length);
    if (unit === '') return 'missing unit';
    const ns = NS_PER_UNIT[unit];
    if (ns === undefined) return `unknown unit "${unit}"`;
    total += BigInt(whole || '0') * ns + fractionNs(fraction, ns);
    if (total > MAX_NS + (negative ? 1n : 0n)) return 'out of range';
  }
  return negative ? -total : total;
}

function fail(path: string, value: unknown, reason: string): never {
  throw new DurationError(`${path}: ${JSON.stringify(value)} is not a duration: ${reason}; ${EXAMPLES}`);
}

const toMs = (ns: bigint) => Number(ns) / 1e6;

/** Go's time.ParseDuration (k6's CLI flags), in milliseconds; negative durations are kept. */
export function parseGoDuration(text: string, path: string): number {
  const ns = goNanoseconds(text);
  if (typeof ns === 'string') fail(path, text, ns);
  return toMs(ns);
}

/** strconv.ParseFloat's decimal forms; its inf, nan and hexadecimal forms are refused here. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** k6's ParseExtendedDuration, in milliseconds. */
function extendedMs(text: string, path: string): number {
  // time.Duration(t * float64(time.Millisecond)): whole nanoseconds
  if (DECIMAL.test(text)) return Math.trunc(Number(text) * 1e6) / 1e6;
  const d = text.indexOf('d');
  if (d < 0) return parseGoDuration(text, path);
  const days = text.slice(0, d);
  if (!/^[+-]?\d+$/.test(days)) fail(path, text, `"${days}" before "d" is not a whole number of days`);
  const rest = text.slice(d + 1);
  const hours = rest === '' ? 0 : parseGoDuration(rest, path);
  if (hours < 0) fail(path, text, `"${rest}" after the days must not be negative`);
  const n = Number(days);
  return n * 86_400_000 + (n < 0 ? -hours : hours);
}

/**
 * A duration option as k6 reads it: a number of milliseconds, or a string in k6's grammar.
 * Negative durations, which k6 parses and then refuses in its validation, are refused here.
 */
export function parseDuration(value: unknown, path: string): number {
  let ms: number;
  if (typeof value === 'number') ms = value;
  else if (typeof value === 'string') ms = extendedMs(value, path);
  else fail(path, value, 'expected a string or a number of milliseconds');
  if (!Number.isFinite(ms) || ms < 0) fail(path, value, 'expected a duration >= 0');
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
