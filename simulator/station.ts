import { type Lognormal, sampleLognormal } from '../model/lognormal.ts';
import type { Rng } from '../model/random.ts';
import { lognormalParams, type Station } from '../model/station.ts';
import type { EventQueue, Handler } from './events.ts';
import { Fifo } from './fifo.ts';
import { IntervalTimes } from './interval-times.ts';
import { TimeoutLine } from './timeouts.ts';

/**
 * A dependency's station in simulated time, with the rules mock-services/station/station.ts
 * enforces on real requests: `concurrency` servers; an arrival is served at once only when a server
 * is free and nobody waits; otherwise it waits in a FIFO room of `queue` places, or is refused at
 * once with `rejectStatus` and Retry-After when the room is full. The deadline (`timeoutMs` from
 * arrival, waiting included) answers 504. A served request draws its service time when it gets a
 * server; one whose service would end at or after the deadline answers 504 at the deadline. At the
 * end of service an injected error (`errorRate`) answers `errorStatus`. The upload store then
 * receives the body through one link shared by every upload (mock-services/upload/bandwidth.ts).
 *
 * A caller that gives up frees a server it holds at once (the mock's `res.on('close')`); one that
 * gives up while waiting stays in the room, and if it is granted later it holds its server until
 * its deadline, because the mock registers its close listener only after admission and Node sends
 * no 'finish' for an answer to a closed socket (measured: .tmp/simulator/finish-after-close.mjs).
 * The email mock releases after the service time instead (its SMTP handler's `finally`).
 */

type StationOutcome = 'ok' | 'error' | 'rejected' | 'timeout';
type RejectionReason = 'queue_full' | 'timeout' | 'injected_error';

export interface StationCall<T = unknown> {
  arrivedAt: number;
  /** when it got a server (serving and after) */
  startedAt: number;
  deadline: number;
  bytes: number;
  /** waiting, serving, answered; abandoned by the caller */
  state: 0 | 1 | 2;
  abandoned: boolean;
  outcome: StationOutcome;
  status: number;
  /** the Retry-After the answer carried, seconds (rejections only) */
  retryAfterS: number | undefined;
  done: Handler<StationCall<T>>;
  ctx: T;
  /** the caller's own use (which try of a retried call) */
  tag: number;
  /** the ticket of the wait's deadline (waiting calls only) */
  waitTimer: number;
  /** the caller's own use: the ticket of its timeout */
  clientTimer: number;
}

const WAITING = 0;
const SERVING = 1;
export const ANSWERED = 2;

interface StationStats {
  ok: number;
  error: number;
  rejected: number;
  timeout: number;
}

interface UploadLink {
  bytesPerSecond: number;
  maxObjectBytes: number;
}

/** A service time's parameters, worked out once rather than at every draw (model/station.ts sampleServiceMs). */
function drawnFrom(st: Station['serviceTime']): [Lognormal | undefined, number] {
  return st.distribution === 'lognormal' ? [lognormalParams(st.medianMs, st.p99Ms), 0] : [undefined, st.ms];
}

export class SimStation {
  busy = 0;
  private waitingCount = 0;
  private readonly waiting = new Fifo<StationCall>();
  private linkBusyUntil = 0;
  /** answers by outcome */
  counts: StationStats = { ok: 0, error: 0, rejected: 0, timeout: 0 };
  /** refusals by reason since the day last read them */
  reasons: Record<RejectionReason, number> = { queue_full: 0, timeout: 0, injected_error: 0 };
  /** service times drawn (ms), for calibration checks */
  servedMs = 0;
  served = 0;
  /**
   * the interval's services as the mock's histogram observes them (station_service_seconds): from
   * the server's grant to its release, for a call answered before its deadline and not given up
   */
  readonly serviceTimes = new IntervalTimes();

  private readonly waitDeadlines: TimeoutLine<StationCall>;
  private readonly lagMs: number;
  /** the service time's parameters, worked out once rather than at every draw (model/station.ts sampleServiceMs) */
  private lognormal: Lognormal | undefined;
  private constantMs: number;
  private station: Station;

  constructor(
    private readonly q: EventQueue,
    readonly name: string,
    cfg: Station,
    private readonly rng: Rng,
    private readonly o: {
      /** an HTTP mock (close frees the server, late grants hold it to the deadline); false: the SMTP mock */
      http: boolean;
      link?: UploadLink;
      /** ms from the caller's send to the dependency's arrival (default 0) */
      lagMs?: number;
    },
  ) {
    this.lagMs = o.lagMs ?? 0;
    this.station = cfg;
    [this.lognormal, this.constantMs] = drawnFrom(cfg.serviceTime);
    // A wait's deadline is cancelled when the call gets a server (free).
    this.waitDeadlines = new TimeoutLine(q, this.lagMs + cfg.timeoutMs, this.onWaitDeadline);
  }

  get queued(): number {
    return this.waitingCount;
  }

  /** The station as it is now (a fault's, while one lasts). */
  get cfg(): Station {
    return this.station;
  }

  /**
   * The station becomes `next` (a fault begins or ends), as the mock's reconfigure does: requests
   * being served keep the time they drew, an injected error is decided at the end of service by
   * the station then, and the waiting are served at once if `next` has more servers free. The
   * deadline's length cannot change (a fault keeps the timeout).
   */
  reconfigure(next: Station): void {
    if (next.timeoutMs !== this.station.timeoutMs)
      throw new RangeError(
        `${this.name}: a fault cannot change timeoutMs (${this.station.timeoutMs} -> ${next.timeoutMs})`,
      );
    this.station = next;
    [this.lognormal, this.constantMs] = drawnFrom(next.serviceTime);
    this.drain();
  }

  /**
   * Sends one request; `done(call)` is called once with its answer unless the caller abandons it.
   * The deadline counts from `lagMs` later: the time the request takes to reach the dependency,
   * which decides who gives up first when the caller's timeout equals the station's.
   */
  call<T>(done: Handler<StationCall<T>>, ctx: T, bytes = 0, tag = 0): StationCall<T> {
    const now = this.q.now;
    const c: StationCall<T> = {
      arrivedAt: now,
      startedAt: now,
      deadline: now + this.lagMs + this.cfg.timeoutMs,
      bytes,
      state: WAITING,
      abandoned: false,
      outcome: 'ok',
      status: 0,
      retryAfterS: undefined,
      done,
      ctx,
      tag,
      waitTimer: -1,
      clientTimer: -1,
    };
    const call = c as StationCall;
    if (this.busy < this.cfg.concurrency && this.waitingCount === 0) {
      this.serve(call);
    } else if (this.waitingCount >= this.cfg.queue) {
      this.answer(call, 'rejected', this.cfg.rejectStatus, 'queue_full', this.cfg.retryAfterSeconds);
    } else {
      this.waiting.push(call);
      this.waitingCount++;
      this.waitDeadlines.add(call);
      call.waitTimer = this.waitDeadlines.lastTicket;
    }
    return c;
  }

  /** The caller gave up (its own timeout): a held server is freed at once, a waiter stays. */
  abandon(call: StationCall): void {
    if (call.abandoned || call.state === ANSWERED) return;
    call.abandoned = true;
    if (call.state === SERVING && this.o.http) {
      call.state = ANSWERED;
      this.free();
    }
  }

  private readonly onWaitDeadline = (call: StationCall): void => {
    if (call.state !== WAITING) return;
    call.state = ANSWERED;
    this.waitingCount--;
    this.answer(call, 'timeout', 504, 'timeout', undefined);
  };

  private serve(call: StationCall): void {
    this.busy++;
    call.state = SERVING;
    const now = this.q.now;
    call.startedAt = now;
    const ms = this.lognormal ? sampleLognormal(this.lognormal, this.rng) : this.constantMs;
    this.servedMs += ms;
    this.served++;
    if (call.abandoned) {
      // Nobody listens for this answer: the server is held as the mock holds it (see above).
      const error = this.injects();
      const end = error || !this.o.http ? Math.min(now + ms, call.deadline) : call.deadline;
      this.q.schedule(end, this.onZombieEnd, call);
      return;
    }
    if (now + ms >= call.deadline) this.q.schedule(call.deadline, this.onServiceDeadline, call);
    else this.q.schedule(now + ms, this.onServed, call);
  }

  private readonly onZombieEnd = (call: StationCall): void => {
    if (call.state !== SERVING) return;
    call.state = ANSWERED;
    // The SMTP mock's handler ends its service whoever listens; an HTTP mock's ends at the deadline.
    if (!this.o.http && this.q.now < call.deadline) this.observe(call);
    this.free();
  };

  private readonly onServiceDeadline = (call: StationCall): void => {
    if (call.state !== SERVING) return;
    call.state = ANSWERED;
    this.free();
    this.answer(call, 'timeout', 504, 'timeout', undefined);
  };

  private readonly onServed = (call: StationCall): void => {
    if (call.state !== SERVING) return;
    if (this.injects()) {
      call.state = ANSWERED;
      this.observe(call);
      this.free();
      this.answer(call, 'error', this.cfg.errorStatus, 'injected_error', undefined);
      return;
    }
    const link = this.o.link;
    if (link) {
      if (call.bytes > link.maxObjectBytes) {
        call.state = ANSWERED;
        this.observe(call);
        this.free();
        this.answer(call, 'error', 413, undefined, undefined);
        return;
      }
      const now = this.q.now;
      this.linkBusyUntil = Math.max(now, this.linkBusyUntil) + (call.bytes / link.bytesPerSecond) * 1000;
      if (this.linkBusyUntil >= call.deadline) {
        this.q.schedule(call.deadline, this.onServiceDeadline, call);
        return;
      }
      if (this.linkBusyUntil > now) {
        this.q.schedule(this.linkBusyUntil, this.onReceived, call);
        return;
      }
    }
    this.onReceived(call);
  };

  private readonly onReceived = (call: StationCall): void => {
    if (call.state !== SERVING) return;
    call.state = ANSWERED;
    this.observe(call);
    this.free();
    this.answer(call, 'ok', this.o.link ? 201 : 200, undefined, undefined);
  };

  private observe(call: StationCall): void {
    this.serviceTimes.record(this.q.now - call.startedAt);
  }

  private injects(): boolean {
    return this.cfg.errorRate > 0 && this.rng() < this.cfg.errorRate;
  }

  private free(): void {
    this.busy--;
    this.drain();
  }

  private drain(): void {
    while (this.busy < this.cfg.concurrency && this.waitingCount > 0) {
      const next = this.waiting.shift() as StationCall;
      if (next.state !== WAITING) continue;
      this.waitingCount--;
      this.waitDeadlines.cancel(next.waitTimer);
      this.serve(next);
    }
  }

  private answer(
    call: StationCall,
    outcome: StationOutcome,
    status: number,
    reason: RejectionReason | undefined,
    retryAfterS: number | undefined,
  ): void {
    call.state = ANSWERED;
    call.outcome = outcome;
    call.status = status;
    call.retryAfterS = retryAfterS;
    this.counts[outcome]++;
    if (reason) this.reasons[reason]++;
    if (!call.abandoned) call.done(call);
  }
}
