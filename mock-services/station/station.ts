import type { NextFunction, Request, Response } from 'express';
import { type Station, sampleServiceMs } from '../../model/station.ts';
import { MAX_TIMER_MS } from './bounds.ts';
import type { StationMetrics } from './metrics.ts';

/**
 * Enforces a station on real requests: `concurrency` servers, a FIFO waiting room of `queue`
 * places, a service time drawn from the station's distribution, the dependency's own timeout and
 * injected errors. Reconfigurable while running: new limits apply to new arrivals and to the
 * queue as servers free up; nothing already admitted is dropped.
 */

export type Outcome = 'ok' | 'error' | 'rejected' | 'timeout';

interface Waiter {
  grant: () => void;
  cancelled: boolean;
}

export interface Ticket {
  /** ms since epoch after which the dependency gives up on this request */
  deadline: number;
  arrivedAt: number;
  /**
   * frees the server; idempotent. The hold is observed as a service time (station_service_seconds)
   * unless it ran to the deadline or `abandoned` (the caller went away mid-service): those were cut,
   * and would read as shorter service than the station gives.
   */
  release: (abandoned?: boolean) => void;
}

export type Admission =
  | { admitted: true; ticket: Ticket }
  | { admitted: false; reason: 'queue_full' | 'timeout' };

export class StationRuntime {
  private busy = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly dependency: string,
    private cfg: Station,
    private readonly metrics: StationMetrics,
    private readonly random: () => number = Math.random,
  ) {
    this.publishLimits();
    this.metrics.inFlight.set({ dependency }, 0);
    this.metrics.queueDepth.set({ dependency }, 0);
  }

  get config(): Station {
    return this.cfg;
  }

  get inFlight(): number {
    return this.busy;
  }

  get queued(): number {
    return this.waiting.length;
  }

  reconfigure(next: Station): void {
    this.cfg = next;
    this.publishLimits();
    this.metrics.configChanges.inc({ dependency: this.dependency });
    this.drain();
  }

  /** Waits for a server, or is refused at once when the waiting room is full. */
  async admit(): Promise<Admission> {
    const arrivedAt = Date.now();
    const deadline = arrivedAt + this.cfg.timeoutMs;
    if (this.busy < this.cfg.concurrency && this.waiting.length === 0) {
      return { admitted: true, ticket: this.take(arrivedAt, deadline) };
    }
    if (this.waiting.length >= this.cfg.queue) return { admitted: false, reason: 'queue_full' };
    return new Promise<Admission>((resolve) => {
      const waiter: Waiter = {
        cancelled: false,
        grant: () => resolve({ admitted: true, ticket: this.take(arrivedAt, deadline) }),
      };
      this.waiting.push(waiter);
      this.metrics.queueDepth.set({ dependency: this.dependency }, this.waiting.length);
      // The dependency's own timeout also covers time spent waiting for a server.
      setTimeout(
        () => {
          if (waiter.cancelled) return;
          const i = this.waiting.indexOf(waiter);
          if (i < 0) return; // already granted
          this.waiting.splice(i, 1);
          waiter.cancelled = true;
          this.metrics.queueDepth.set({ dependency: this.dependency }, this.waiting.length);
          resolve({ admitted: false, reason: 'timeout' });
        },
        Math.min(MAX_TIMER_MS, Math.max(0, deadline - Date.now())),
      ).unref();
    });
  }

  /** A service time for one request, from the station's distribution. */
  serviceMs(): number {
    return sampleServiceMs(this.cfg.serviceTime, this.random);
  }

  /** Whether this served request fails by injection. */
  injectError(): boolean {
    return this.cfg.errorRate > 0 && this.random() < this.cfg.errorRate;
  }

  /** Records one answered request. */
  observe(
    outcome: Outcome,
    arrivedAt: number,
    reason?: 'queue_full' | 'timeout' | 'injected_error' | 'bad_request',
  ) {
    const labels = { dependency: this.dependency, outcome };
    this.metrics.requests.inc(labels);
    this.metrics.duration.observe(labels, (Date.now() - arrivedAt) / 1000);
    if (reason) this.metrics.rejections.inc({ dependency: this.dependency, reason });
  }

  private take(arrivedAt: number, deadline: number): Ticket {
    this.busy++;
    this.metrics.inFlight.set({ dependency: this.dependency }, this.busy);
    const takenAt = performance.now();
    let released = false;
    return {
      arrivedAt,
      deadline,
      release: (abandoned = false) => {
        if (released) return;
        released = true;
        // Date.now() for the deadline, which is on that clock; a timer may fire up to 1 ms early.
        if (!abandoned && Date.now() < deadline - 1)
          this.metrics.service.observe({ dependency: this.dependency }, (performance.now() - takenAt) / 1000);
        this.busy--;
        this.metrics.inFlight.set({ dependency: this.dependency }, this.busy);
        this.drain();
      },
    };
  }

  private drain(): void {
    while (this.busy < this.cfg.concurrency && this.waiting.length > 0) {
      const next = this.waiting.shift();
      if (next && !next.cancelled) next.grant();
    }
    this.metrics.queueDepth.set({ dependency: this.dependency }, this.waiting.length);
  }

  private publishLimits(): void {
    this.metrics.capacity.set({ dependency: this.dependency }, this.cfg.concurrency);
    this.metrics.queueCapacity.set({ dependency: this.dependency }, this.cfg.queue);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function sendError(
  res: Response,
  status: number,
  code: string,
  message: string,
  field?: string,
): void {
  if (res.headersSent) return;
  res.status(status).json({ error: { code, message, ...(field ? { field } : {}) } });
}

/**
 * Puts an express route behind a station: refuses when the waiting room is full (rejectStatus +
 * Retry-After), holds a server for the sampled service time, answers 504 at the deadline, injects
 * errors, and otherwise hands over to the route, releasing the server when the answer is sent.
 */
export function stationMiddleware(station: StationRuntime) {
  return async (_req: Request, res: Response, next: NextFunction): Promise<void> => {
    const arrivedAt = Date.now();
    const admission = await station.admit();
    if (!admission.admitted) {
      const cfg = station.config;
      if (admission.reason === 'queue_full') {
        res.setHeader('Retry-After', String(cfg.retryAfterSeconds));
        sendError(res, cfg.rejectStatus, 'overloaded', `${station.dependency} is at capacity: queue full`);
        station.observe('rejected', arrivedAt, 'queue_full');
      } else {
        sendError(
          res,
          504,
          'timeout',
          `${station.dependency} timed out after ${cfg.timeoutMs} ms waiting for capacity`,
        );
        station.observe('timeout', arrivedAt, 'timeout');
      }
      return;
    }
    const { ticket } = admission;
    let answered = false;
    const deadlineTimer = setTimeout(
      () => {
        if (answered) return;
        answered = true;
        sendError(
          res,
          504,
          'timeout',
          `${station.dependency} timed out after ${station.config.timeoutMs} ms`,
        );
        station.observe('timeout', arrivedAt, 'timeout');
        ticket.release();
      },
      Math.min(MAX_TIMER_MS, Math.max(0, ticket.deadline - Date.now())),
    );
    res.on('close', () => {
      clearTimeout(deadlineTimer);
      // Closed before any answer: the caller gave up while served.
      ticket.release(!answered);
    });
    // A draw far in the tail is cut at the deadline, where the timer above answers 504 anyway.
    await sleep(Math.min(station.serviceMs(), Math.max(0, ticket.deadline - Date.now()) + 1));
    if (answered) return;
    if (station.injectError()) {
      answered = true;
      clearTimeout(deadlineTimer);
      const cfg = station.config;
      sendError(res, cfg.errorStatus, 'injected_error', `${station.dependency} failed (injected fault)`);
      station.observe('error', arrivedAt, 'injected_error');
      ticket.release();
      return;
    }
    res.on('finish', () => {
      if (answered) return;
      answered = true;
      clearTimeout(deadlineTimer);
      station.observe(
        res.statusCode >= 500 ? 'error' : 'ok',
        arrivedAt,
        res.statusCode === 400 ? 'bad_request' : undefined,
      );
      ticket.release();
    });
    next();
  };
}
