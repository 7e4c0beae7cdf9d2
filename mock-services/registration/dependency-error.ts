import type { DependencyOutcome } from './metrics.ts';

/** A dependency did not answer usefully: the journey step answers 503 naming it. */
export class DependencyError extends Error {
  constructor(
    readonly dependency: string,
    readonly outcome: Exclude<DependencyOutcome, 'ok'>,
    message: string,
    readonly retryAfterS?: number,
    /** the HTTP status the dependency answered, when it answered */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Overload answers worth one more try after a pause; anything else will not get better soon. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 503, 504]);

/**
 * Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or undefined when it
 * is absent or unreadable: `Number(null)` is 0, which would turn "no advice" into "retry at once".
 */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  // An HTTP date names its weekday and month; V8 would otherwise read "-3" as the year -3.
  const at = /^[A-Za-z]{3}, /.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

export function outcomeOf(err: unknown): DependencyOutcome {
  return err instanceof DependencyError ? err.outcome : 'error';
}

/** Maps a fetch failure or an HTTP status to an outcome. */
export function classifyStatus(status: number): Exclude<DependencyOutcome, 'ok'> {
  if (status === 429 || status === 503) return 'rejected';
  if (status === 504) return 'timeout';
  return 'error';
}

export function isTimeout(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}
