import type { DependencyOutcome } from './metrics.ts';

/** A dependency did not answer usefully: the journey step answers 503 naming it. */
export class DependencyError extends Error {
  constructor(
    readonly dependency: string,
    readonly outcome: Exclude<DependencyOutcome, 'ok'>,
    message: string,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
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
