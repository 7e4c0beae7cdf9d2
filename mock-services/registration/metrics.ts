import type { NextFunction, Request, Response } from 'express';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The service's Prometheus metrics: RED per route, the funnel, every dependency call by outcome,
 * and what is in flight. One registry per process; with node:cluster the primary aggregates them.
 */

type Dependency = 'dukcapil' | 'dapodik' | 'dtks' | 'email' | 'upload';
export type DependencyOutcome = 'ok' | 'rejected' | 'timeout' | 'error';

/**
 * scrypt's buckets, seconds: 1 ms to 2.5 s, each 1.1 x the one before (four digits). One hash's
 * time varies by about a tenth from call to call, so the buckets are that fine: the spread is read
 * off them (simulator/fit.ts), and a p95 that moves by 10 % shows on the dashboard.
 */
export const HASH_BUCKETS_S = Array.from({ length: 83 }, (_, k) => Number((0.001 * 1.1 ** k).toPrecision(4)));

export function createServiceMetrics(registry: Registry = new Registry()) {
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'gelombang_http_requests_total',
      help: 'HTTP requests answered, by route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'gelombang_http_request_duration_seconds',
      help: 'HTTP request duration by route pattern and status class',
      labelNames: ['method', 'route', 'status_class'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'gelombang_http_requests_in_flight',
      help: 'HTTP requests being handled now',
      registers: [registry],
    }),
    stageReached: new Counter({
      name: 'gelombang_funnel_stage_reached_total',
      help: 'Registrants who reached a funnel stage',
      labelNames: ['stage'] as const,
      registers: [registry],
    }),
    rejections: new Counter({
      name: 'gelombang_funnel_rejections_total',
      help: 'Requests refused at a funnel stage, by error code',
      labelNames: ['stage', 'code'] as const,
      registers: [registry],
    }),
    dependencyDuration: new Histogram({
      name: 'gelombang_dependency_request_duration_seconds',
      help: 'Calls to a dependency (ministry API, SMTP, object store) by outcome',
      labelNames: ['dependency', 'outcome'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    dependencyInFlight: new Gauge({
      name: 'gelombang_dependency_in_flight',
      help: 'Calls to a dependency waiting for an answer now',
      labelNames: ['dependency'] as const,
      registers: [registry],
    }),
    emailConnections: new Gauge({
      name: 'gelombang_email_connections',
      help: 'SMTP connections the service may hold at once (EMAIL_CONNECTIONS in each process)',
      registers: [registry],
    }),
    emailConnectionsBusy: new Gauge({
      name: 'gelombang_email_connections_busy',
      help: 'SMTP connections sending a mail (or opening to send one) now',
      registers: [registry],
    }),
    emailWaiting: new Gauge({
      name: 'gelombang_email_waiting',
      help: 'Mails waiting for a free SMTP connection of the pool now',
      registers: [registry],
    }),
    ministryBreakerState: new Gauge({
      name: 'gelombang_ministry_breaker_state',
      help: 'Circuit breaker of each ministry (MINISTRY_BREAKER=on): 0 closed, 1 half-open, 2 open',
      labelNames: ['dependency'] as const,
      registers: [registry],
      // Each process has its own breaker: the cluster shows the worst of them.
      aggregator: 'max',
    }),
    ministryCallsShed: new Counter({
      name: 'gelombang_ministry_calls_shed_total',
      help: 'Calls to a ministry refused before they were made, by the circuit breaker or the bulkhead',
      labelNames: ['dependency', 'reason'] as const,
      registers: [registry],
    }),
    ministryCache: new Counter({
      name: 'gelombang_ministry_cache_total',
      help: 'Ministry answers looked up in the cache (MINISTRY_CACHE=on), by result: hit or miss',
      labelNames: ['dependency', 'result'] as const,
      registers: [registry],
    }),
    emailDeadLetters: new Counter({
      name: 'gelombang_email_dead_letters_total',
      help: 'Outbox mails set aside after EMAIL_MAX_ATTEMPTS failed attempts (never sent, kept in the outbox)',
      registers: [registry],
    }),
    scryptDuration: new Histogram({
      name: 'gelombang_password_hash_duration_seconds',
      help: 'scrypt hashing and verification time (the CPU cost of accounts and logins)',
      labelNames: ['operation'] as const,
      buckets: HASH_BUCKETS_S,
      registers: [registry],
    }),
    idempotency: new Counter({
      name: 'gelombang_idempotency_keys_total',
      help: 'Requests with an Idempotency-Key (IDEMPOTENCY=on), by outcome: first (ran), replayed, in_progress, reused (another body)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    waitingRoomAdmissions: new Counter({
      name: 'gelombang_waiting_room_admissions_total',
      help: 'Sign-ups let through the waiting room (ADMISSION_RATE>0) that succeeded: each ticket counts once',
      registers: [registry],
    }),
  };
}

export type ServiceMetrics = ReturnType<typeof createServiceMetrics>;

/** Times a dependency call and records its outcome; the call itself classifies the outcome. */
export async function timeDependency<T>(
  m: ServiceMetrics,
  dependency: Dependency,
  call: () => Promise<T>,
  classify: (err: unknown) => DependencyOutcome,
): Promise<T> {
  const end = m.dependencyDuration.startTimer({ dependency });
  m.dependencyInFlight.inc({ dependency });
  try {
    const result = await call();
    end({ outcome: 'ok' });
    return result;
  } catch (err) {
    end({ outcome: classify(err) });
    throw err;
  } finally {
    m.dependencyInFlight.dec({ dependency });
  }
}

/** RED per route. The route label is express's pattern (bounded), never the raw URL. */
export function redMiddleware(m: ServiceMetrics) {
  return (req: Request, res: Response, next: NextFunction) => {
    const start = process.hrtime.bigint();
    m.inFlight.inc();
    res.once('close', () => {
      m.inFlight.dec();
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      m.requests.inc({ method: req.method, route, status: String(res.statusCode) });
      m.duration.observe(
        { method: req.method, route, status_class: `${Math.floor(res.statusCode / 100)}xx` },
        seconds,
      );
    });
    next();
  };
}
