import type { z } from 'zod';
import {
  type DapodikResponse,
  type DtksResponse,
  type DukcapilRequest,
  type DukcapilResponse,
  dapodikResponseSchema,
  dtksResponseSchema,
  dukcapilResponseSchema,
  MINISTRY_PATHS,
  type Ministry,
} from '../ministry/api.ts';
import {
  classifyStatus,
  DependencyError,
  isTimeout,
  outcomeOf,
  parseRetryAfter,
  RETRYABLE_STATUSES,
} from './dependency-error.ts';
import { type ServiceMetrics, timeDependency } from './metrics.ts';

/**
 * The service's client of the ministries' APIs: a timeout per call, optional bounded retries on
 * overload (honouring Retry-After), and one metric per call by outcome.
 */
interface MinistryClientOptions {
  baseUrl: string;
  timeoutMs: number;
  retries: number;
  metrics: ServiceMetrics;
}

export class MinistryClient {
  constructor(private readonly o: MinistryClientOptions) {}

  private async call<T>(
    ministry: Ministry,
    path: string,
    init: RequestInit,
    schema: z.ZodType<T>,
  ): Promise<T> {
    let attempt = 0;
    for (;;) {
      try {
        return await timeDependency(
          this.o.metrics,
          ministry,
          () => this.once(ministry, path, init, schema),
          outcomeOf,
        );
      } catch (err) {
        // Only an overloaded ministry's explicit "later" is retried; a call that timed out on our
        // side may still be working there, and retrying it adds load at the worst moment.
        const retryable =
          err instanceof DependencyError && err.status !== undefined && RETRYABLE_STATUSES.has(err.status);
        if (!retryable || attempt >= this.o.retries) throw err;
        attempt++;
        // Honour Retry-After, but never hold a registrant's request longer than a couple of seconds.
        const waitS = Math.min(err.retryAfterS ?? 0.2 * 2 ** attempt, 2);
        await new Promise((r) => setTimeout(r, waitS * 1000));
      }
    }
  }

  private async once<T>(
    ministry: Ministry,
    path: string,
    init: RequestInit,
    schema: z.ZodType<T>,
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.o.baseUrl), {
        ...init,
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
    } catch (err) {
      if (isTimeout(err))
        throw new DependencyError(
          ministry,
          'timeout',
          `${ministry} did not answer within ${this.o.timeoutMs} ms`,
        );
      throw new DependencyError(ministry, 'error', `${ministry} unreachable: ${(err as Error).message}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new DependencyError(
        ministry,
        classifyStatus(res.status),
        `${ministry} answered HTTP ${res.status}`,
        parseRetryAfter(res.headers.get('retry-after')),
        res.status,
      );
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch (err) {
      if (isTimeout(err))
        throw new DependencyError(ministry, 'timeout', `${ministry} did not finish its answer in time`);
      throw new DependencyError(ministry, 'error', `${ministry} answered a body that is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success)
      throw new DependencyError(ministry, 'error', `${ministry} answered an unexpected body`);
    return parsed.data;
  }

  verifyNik(req: DukcapilRequest): Promise<DukcapilResponse> {
    return this.call(
      'dukcapil',
      MINISTRY_PATHS.dukcapil,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(req) },
      dukcapilResponseSchema,
    );
  }

  enrolment(nik: string): Promise<DapodikResponse> {
    return this.call('dapodik', MINISTRY_PATHS.dapodik.replace(':nik', nik), {}, dapodikResponseSchema);
  }

  recipient(nik: string): Promise<DtksResponse> {
    return this.call('dtks', MINISTRY_PATHS.dtks.replace(':nik', nik), {}, dtksResponseSchema);
  }
}
