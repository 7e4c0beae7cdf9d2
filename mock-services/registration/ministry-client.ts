import type { z } from 'zod';
import {
  type DapodikResponse,
  type DtksResponse,
  type DukcapilRequest,
  type DukcapilResponse,
  dapodikResponseSchema,
  dtksResponseSchema,
  dukcapilResponseSchema,
  MINISTRIES,
  MINISTRY_PATHS,
  type Ministry,
} from '../ministry/api.ts';
import { AnswerCache, type AnswerCacheSettings } from './answer-cache.ts';
import { BREAKER_STATES, type BreakerSettings, type BreakerTicket, CircuitBreaker } from './breaker.ts';
import { Bulkhead, BulkheadRefused } from './bulkhead.ts';
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
 * overload (honouring Retry-After, with full jitter), and one metric per call by outcome. The
 * "ministry-guard" knobs add, per ministry and per process, a bulkhead (MINISTRY_BULKHEAD), a
 * circuit breaker (MINISTRY_BREAKER) and a cache of answers (MINISTRY_CACHE); all off, it behaves
 * as in 2020.
 */
export interface MinistryClientOptions {
  baseUrl: string;
  /** the whole of one attempt: the wait for a bulkhead slot and the request */
  timeoutMs: number;
  retries: number;
  metrics: ServiceMetrics;
  /** MINISTRY_BULKHEAD (limit 0 = none) and MINISTRY_BULKHEAD_QUEUE */
  bulkhead?: { limit: number; queue: number };
  /** MINISTRY_BREAKER=on; settings other than the defaults only in tests */
  breaker?: boolean | Partial<BreakerSettings>;
  /** MINISTRY_CACHE=on; settings other than the defaults only in tests */
  cache?: boolean | Partial<AnswerCacheSettings>;
  /** the clock of the breaker, the cache and the wait for a bulkhead slot, in ms */
  now?: () => number;
  /** the retries' jitter: a number in [0, 1) */
  random?: () => number;
  /** the pause before a retry */
  sleep?: (ms: number) => Promise<void>;
}

/** Retry backoff: the first retry waits up to 0.4 s, doubling, never more than 2 s (a registrant is waiting). */
export const RETRY_BASE_S = 0.2;
export const RETRY_CAP_S = 2;

/**
 * Seconds before retry number `attempt` (1, 2, ...): "full jitter", anywhere between 0 and the
 * exponential bound, so that registrants refused together do not all come back together. A
 * ministry's Retry-After is a floor; the cap holds even over it.
 */
export function retryDelayS(attempt: number, retryAfterS: number | undefined, random: () => number): number {
  const jittered = random() * Math.min(RETRY_CAP_S, RETRY_BASE_S * 2 ** attempt);
  return Math.min(Math.max(jittered, retryAfterS ?? 0), RETRY_CAP_S);
}

/**
 * A failure as the breaker counts it: the ministry is unwell (timeout, 5xx, 429, unreachable, a
 * body that breaks its contract). An answer that our request was wrong (another 4xx) is not; a
 * "not found" is a 200 with `found: false` and never reaches here.
 */
function isMinistryFailure(err: unknown): boolean {
  if (!(err instanceof DependencyError)) return true;
  if (err.status === undefined) return true;
  return err.status >= 500 || err.status === 429;
}

interface Guard {
  bulkhead?: Bulkhead;
  breaker?: CircuitBreaker;
}

export class MinistryClient {
  private readonly guards: Record<Ministry, Guard>;
  private readonly cache?: AnswerCache<unknown>;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** measures the wait for a bulkhead slot: monotonic unless a test gives its own clock */
  private readonly clock: () => number;

  constructor(private readonly o: MinistryClientOptions) {
    const now = o.now ?? Date.now;
    this.clock = o.now ?? (() => performance.now());
    this.random = o.random ?? Math.random;
    this.sleep = o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    const guard = (ministry: Ministry): Guard => ({
      bulkhead:
        o.bulkhead && o.bulkhead.limit > 0 ? new Bulkhead(o.bulkhead.limit, o.bulkhead.queue) : undefined,
      breaker: o.breaker
        ? new CircuitBreaker(o.breaker === true ? {} : o.breaker, now, (state) =>
            o.metrics.ministryBreakerState.set({ dependency: ministry }, BREAKER_STATES[state]),
          )
        : undefined,
    });
    this.guards = Object.fromEntries(MINISTRIES.map((m) => [m, guard(m)])) as Record<Ministry, Guard>;
    if (o.cache) this.cache = new AnswerCache(o.cache === true ? {} : o.cache, now);
  }

  /** The breaker's state of a ministry, or undefined without MINISTRY_BREAKER. */
  breakerState(ministry: Ministry) {
    return this.guards[ministry].breaker?.state;
  }

  private async call<T>(
    ministry: Ministry,
    path: string,
    init: RequestInit,
    schema: z.ZodType<T>,
    cacheKey: string,
  ): Promise<T> {
    const key = `${ministry} ${cacheKey}`;
    if (this.cache) {
      const hit = this.cache.get(key);
      this.o.metrics.ministryCache.inc({ dependency: ministry, result: hit === undefined ? 'miss' : 'hit' });
      if (hit !== undefined) return hit as T;
    }
    const answer = await this.withRetries(ministry, path, init, schema);
    // Only what the ministry answered and its schema accepted: a failure is never kept.
    this.cache?.set(key, answer);
    return answer;
  }

  /**
   * Every ministry call is a lookup (Dukcapil's POST included: it verifies, it stores nothing), so
   * asking twice is harmless and retries are safe.
   */
  private async withRetries<T>(
    ministry: Ministry,
    path: string,
    init: RequestInit,
    schema: z.ZodType<T>,
  ): Promise<T> {
    let attempt = 0;
    for (;;) {
      try {
        return await this.attempt(ministry, path, init, schema);
      } catch (err) {
        // Only an overloaded ministry's explicit "later" is retried; a call that timed out on our
        // side may still be working there, and retrying it adds load at the worst moment. A call
        // the breaker or the bulkhead shed carries no status: asking again at once would only be
        // shed again.
        const retryable =
          err instanceof DependencyError && err.status !== undefined && RETRYABLE_STATUSES.has(err.status);
        if (!retryable || attempt >= this.o.retries) throw err;
        attempt++;
        await this.sleep(retryDelayS(attempt, err.retryAfterS, this.random) * 1000);
      }
    }
  }

  /** One request, through the breaker and the bulkhead when they are on. */
  private async attempt<T>(
    ministry: Ministry,
    path: string,
    init: RequestInit,
    schema: z.ZodType<T>,
  ): Promise<T> {
    const { breaker, bulkhead } = this.guards[ministry];
    const ticket = breaker ? this.admit(ministry, breaker) : undefined;
    let release: (() => void) | undefined;
    let timeoutMs = this.o.timeoutMs;
    if (bulkhead) {
      const started = this.clock();
      try {
        release = await bulkhead.acquire(this.o.timeoutMs);
        // The wait for a slot is part of the call's time: the registrant is held no longer than
        // the timeout, and a slot that came too late is not spent on a request bound to time out.
        const left = this.o.timeoutMs - (this.clock() - started);
        if (left < 1) {
          release();
          throw new BulkheadRefused('timeout');
        }
        timeoutMs = Math.ceil(left);
      } catch (err) {
        ticket?.cancel();
        throw this.shedByBulkhead(ministry, bulkhead, err);
      }
    }
    try {
      const answer = await timeDependency(
        this.o.metrics,
        ministry,
        () => this.once(ministry, path, init, schema, timeoutMs),
        outcomeOf,
      );
      ticket?.success();
      return answer;
    } catch (err) {
      if (isMinistryFailure(err)) ticket?.failure();
      else ticket?.success();
      throw err;
    } finally {
      release?.();
    }
  }

  private admit(ministry: Ministry, breaker: CircuitBreaker): BreakerTicket {
    const admitted = breaker.admit();
    if (!('refused' in admitted)) return admitted;
    this.o.metrics.ministryCallsShed.inc({ dependency: ministry, reason: 'breaker' });
    const retryAfterS = Math.max(1, Math.ceil(admitted.retryAfterMs / 1000));
    const why =
      admitted.state === 'open'
        ? 'circuit open after repeated failures'
        : 'circuit half-open, a probe call is under way';
    throw new DependencyError(
      ministry,
      'rejected',
      `${ministry} not asked: ${why}; try again in ${retryAfterS} s`,
      retryAfterS,
    );
  }

  private shedByBulkhead(ministry: Ministry, bulkhead: Bulkhead, err: unknown): unknown {
    if (!(err instanceof BulkheadRefused)) return err;
    this.o.metrics.ministryCallsShed.inc({ dependency: ministry, reason: 'bulkhead' });
    if (err.reason === 'timeout')
      return new DependencyError(
        ministry,
        'timeout',
        `${ministry} did not answer within ${this.o.timeoutMs} ms (no free slot among its ${bulkhead.limit} calls in flight)`,
      );
    return new DependencyError(
      ministry,
      'rejected',
      `${ministry} not asked: ${bulkhead.limit} calls in flight and ${bulkhead.queue} waiting (bulkhead full)`,
      1,
    );
  }

  private async once<T>(
    ministry: Ministry,
    path: string,
    init: RequestInit,
    schema: z.ZodType<T>,
    timeoutMs: number,
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.o.baseUrl), {
        ...init,
        signal: AbortSignal.timeout(timeoutMs),
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
      // Everything Dukcapil matches on: the same NIK with another name is another question.
      JSON.stringify([req.nik, req.fullName, req.dateOfBirth]),
    );
  }

  enrolment(nik: string): Promise<DapodikResponse> {
    return this.call('dapodik', MINISTRY_PATHS.dapodik.replace(':nik', nik), {}, dapodikResponseSchema, nik);
  }

  recipient(nik: string): Promise<DtksResponse> {
    return this.call('dtks', MINISTRY_PATHS.dtks.replace(':nik', nik), {}, dtksResponseSchema, nik);
  }
}
