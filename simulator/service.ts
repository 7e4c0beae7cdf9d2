import type { Capacity } from '../model/capacity.ts';
import type { Rng } from '../model/random.ts';
import type { ServiceKnobs } from '../model/service-design.ts';
import { sampleServiceMs } from '../model/station.ts';
import { type Calibration, type CostedStep, scryptCpuMs } from './calibration.ts';
import { CpuShare } from './cpu.ts';
import type { EventQueue } from './events.ts';
import { Pool, type Unservable } from './pool.ts';
import type { SimStation, StationCall } from './station.ts';
import { TimeoutLine } from './timeouts.ts';

/**
 * The reference registration service (mock-services/registration/) as resources and a call graph
 * per step. Resources: `cores` CPUs shared by every runnable thread at once (cpu.ts); per process (WORKERS, requests dealt
 * round-robin as node:cluster does) one event loop, which runs the synchronous work and blocks on
 * every SQLite transaction (better-sqlite3 is synchronous), a libuv pool of `threadPoolSize`
 * threads for scrypt, and nodemailer's pool of connections; one SQLite write lock for all
 * processes, waited for at most busy_timeout (10 s, db.ts) before SQLITE_BUSY answers 500.
 *
 * The call graph follows the routes: create_account hashes, then (EMAIL_DELIVERY=inline) sends the
 * mail and only then inserts; submit_biodata refuses a minor before any call, asks Dukcapil, then
 * (sequential) Dapodik and DTKS unless Dukcapil refused, or all three at once (parallel, the first
 * failure answers); each ministry call has MINISTRY_TIMEOUT_MS and, on 429/503/504 only,
 * MINISTRY_RETRIES more tries after Retry-After (or 0.2 x 2^try s) capped at 2 s. A dependency's
 * failure answers 503 with its Retry-After, else 1 s; an SMTP refusal (421/451) 5 s.
 * The registrant's own timeout does not stop the service: an abandoned request finishes its work.
 */

/** Who the person behind an arrival is, as far as the rules go. */
export type PersonKind = 'eligible' | 'minor' | 'refused_by_dukcapil' | 'refused_after_ministries';

/** What the service's database knows of one registrant: bits of ROW, and when their mail arrives. */
export interface Account {
  rows: number;
  /** when the verification mail reaches the mailbox (ms), or Infinity */
  mailAt: number;
  kind: PersonKind;
}

export const ROW = {
  account: 1,
  verified: 2,
  biodata: 4,
  photo: 8,
  assessment: 16,
  joined: 32,
} as const;

export interface Answer {
  status: number;
  retryAfterS: number | undefined;
  /** the error code of the body, or the dependency a 503 names */
  code: string;
  dependency: string | undefined;
}

interface ServiceDesign {
  knobs: ServiceKnobs;
  cores: number;
  calibration: Calibration;
  capacity: Capacity;
  stations: Record<'dukcapil' | 'dapodik' | 'dtks' | 'email' | 'upload', SimStation>;
  photoBytes: number;
  /** slows every CPU operation: cores / the cores the service really had (other processes shared them) */
  cpuStretch: number;
  rng: Rng;
  /** the end of the run (ms): a pool may refuse waiters it could only serve later (pool.ts); absent: never */
  untilMs?: number;
}

type Op =
  | { kind: 'cpu' }
  | { kind: 'scrypt' }
  | { kind: 'check'; test: (a: Account) => Answer | undefined }
  | { kind: 'write'; commit: (a: Account, s: RegistrationService) => Answer | undefined }
  /** a synchronous route: its CPU part and its transaction in one run of the event loop */
  | { kind: 'cpuWrite'; commit: (a: Account, s: RegistrationService) => Answer | undefined }
  | { kind: 'mail' }
  | { kind: 'ministries' }
  | { kind: 'upload' }
  | { kind: 'answer'; status: number };

/** Who receives answers: the registrants' side. `token` tells one request of a registrant from another. */
export interface AnswerSink {
  onAnswer(acct: Account, token: number, a: Answer): void;
}

interface Request {
  step: CostedStep;
  acct: Account;
  proc: number;
  sink: AnswerSink;
  token: number;
  pc: number;
  ops: readonly Op[];
  ms: number;
  answered: boolean;
  /** ministries: calls still out, and the next in sequence */
  out: number;
  next: number;
}

const SUCCESS: Record<number, Answer> = {
  200: { status: 200, retryAfterS: undefined, code: '', dependency: undefined },
  201: { status: 201, retryAfterS: undefined, code: '', dependency: undefined },
};
// Answers are read, never changed: one object per distinct answer, not one per request.
const refuse = (status: number, code: string): Answer => ({
  status,
  retryAfterS: undefined,
  code,
  dependency: undefined,
});
const REFUSED = {
  internal_error: refuse(500, 'internal_error'),
  nik_not_verified: refuse(422, 'nik_not_verified'),
  in_formal_education: refuse(422, 'in_formal_education'),
  too_young: refuse(422, 'too_young'),
  duplicate_email: refuse(409, 'duplicate_email'),
  token_used: refuse(409, 'token_used'),
  already_verified: refuse(409, 'already_verified'),
  already_uploaded: refuse(409, 'already_uploaded'),
  already_assessed: refuse(409, 'already_assessed'),
  already_joined: refuse(409, 'already_joined'),
  wave_full: refuse(409, 'wave_full'),
};
const unavailables = new Map<string, Map<number, Answer>>();
const unavailable = (dependency: string, retryAfterS: number | undefined): Answer => {
  let byWait = unavailables.get(dependency);
  if (!byWait) {
    byWait = new Map();
    unavailables.set(dependency, byWait);
  }
  const wait = retryAfterS ?? 1;
  let a = byWait.get(wait);
  if (!a) {
    a = { status: 503, retryAfterS: wait, code: 'dependency_unavailable', dependency };
    byWait.set(wait, a);
  }
  return a;
};
const MINISTRIES = ['dukcapil', 'dapodik', 'dtks'] as const;
type Ministry = (typeof MINISTRIES)[number];
type HttpDependency = Ministry | 'upload';

/** One call to a ministry or the store, and whether its answer (or the client's timeout) came. */
interface Ask {
  req: Request;
  dep: HttpDependency;
  attempt: number;
  settled: boolean;
}

interface MailJob {
  acct: Account;
  then: (failure: Answer | undefined) => void;
  settled: boolean;
}

/** The time a request takes to reach a dependency on loopback: who gives up first at equal timeouts. */
export const NETWORK_LAG_MS = 0.05;
const RETRYABLE = new Set([429, 503, 504]);
const BUSY_TIMEOUT_MS = 10_000;

export class RegistrationService {
  readonly cores: CpuShare;
  readonly loops: Pool[];
  readonly threads: Pool[];
  readonly mailers: Pool[];
  readonly writeLock: Pool;
  /** joined places of the wave */
  joined = 0;
  /** mails waiting in the outbox (EMAIL_DELIVERY=outbox); the sender drains it */
  onOutbox: ((a: Account) => void) | undefined;
  private nextProc = 0;
  private readonly programs: Record<CostedStep, readonly Op[]>;
  private readonly scryptMs: number;
  private readonly writeMs: number;
  private readonly mailTimeouts: TimeoutLine<StationCall<MailJob>>;
  private readonly ministryTimeouts: TimeoutLine<StationCall<Ask>>;
  private readonly uploadTimeouts: TimeoutLine<StationCall<Ask>>;

  constructor(
    private readonly q: EventQueue,
    private readonly d: ServiceDesign,
  ) {
    const { knobs, calibration } = d;
    this.scryptMs = scryptCpuMs(calibration, knobs.SCRYPT_N) * d.cpuStretch;
    this.writeMs = calibration.service.writeMs[knobs.DB_SYNCHRONOUS];
    const untilMs = d.untilMs ?? Number.POSITIVE_INFINITY;
    this.cores = new CpuShare(q, d.cores);
    const per = (n: number, u?: Unservable) =>
      Array.from({ length: knobs.WORKERS }, () => new Pool(q, n, Number.POSITIVE_INFINITY, u));
    // An event loop is held for a step's CPU or a transaction (at least the commit, or the busy timeout).
    const loopHold = Math.min(
      this.writeMs,
      ...Object.values(calibration.service.stepCpuMs).map((m) => m * d.cpuStretch),
    );
    this.loops = per(1, { minHoldMs: loopHold, parallel: 1, cores: Number.POSITIVE_INFINITY, untilMs });
    // A libuv thread is held for a scrypt's CPU, which the cores share with everything else.
    this.threads = per(calibration.service.threadPoolSize, {
      minHoldMs: this.scryptMs,
      parallel: calibration.service.threadPoolSize,
      cores: d.cores,
      untilMs,
    });
    this.mailers = per(calibration.service.mailerConnections);
    this.writeLock = new Pool(q, 1, BUSY_TIMEOUT_MS);
    this.programs = programs(knobs);
    const unsettled = <T extends { settled: boolean }>(c: StationCall<T>) => !c.ctx.settled;
    this.mailTimeouts = new TimeoutLine(
      q,
      knobs.EMAIL_TIMEOUT_MS + NETWORK_LAG_MS,
      this.onMailTimeout,
      unsettled,
    );
    this.ministryTimeouts = new TimeoutLine(q, knobs.MINISTRY_TIMEOUT_MS, this.onAskTimeout, unsettled);
    this.uploadTimeouts = new TimeoutLine(q, knobs.UPLOAD_TIMEOUT_MS, this.onAskTimeout, unsettled);
  }

  /** One request of `step` for the registrant whose rows are `acct`; the sink gets the answer once. */
  handle(step: CostedStep, acct: Account, sink: AnswerSink, token: number): void {
    const req: Request = {
      step,
      acct,
      proc: this.nextProc,
      sink,
      token,
      pc: 0,
      ops: this.programs[step],
      ms: 0,
      answered: false,
      out: 0,
      next: 0,
    };
    this.nextProc = (this.nextProc + 1) % this.loops.length;
    this.step(req);
  }

  /** Runs the request's operations until one has to wait. */
  private step(req: Request): void {
    while (!req.answered) {
      const op = req.ops[req.pc++] as Op;
      switch (op.kind) {
        case 'cpu':
        case 'cpuWrite':
          req.ms = this.d.calibration.service.stepCpuMs[req.step] * this.d.cpuStretch;
          (this.loops[req.proc] as Pool).acquire(this.onLoopForCpu, req);
          return;
        case 'scrypt':
          (this.threads[req.proc] as Pool).acquire(this.onThread, req);
          return;
        case 'check': {
          const refusal = op.test(req.acct);
          if (refusal) this.answer(req, refusal);
          break;
        }
        case 'write':
          (this.loops[req.proc] as Pool).acquire(this.onLoopForWrite, req);
          return;
        case 'mail':
          (this.mailers[req.proc] as Pool).acquire(this.onMailer, req);
          return;
        case 'ministries':
          if (this.d.knobs.MINISTRY_CALLS === 'parallel') {
            req.out = MINISTRIES.length;
            for (const m of MINISTRIES) this.ask(req, m, 0);
          } else {
            req.out = 1;
            req.next = 1;
            this.ask(req, 'dukcapil', 0);
          }
          return;
        case 'upload':
          this.ask(req, 'upload', 0);
          return;
        case 'answer':
          this.answer(req, SUCCESS[op.status] as Answer);
          return;
      }
    }
  }

  private answer(req: Request, a: Answer): void {
    if (req.answered) return;
    req.answered = true;
    req.sink.onAnswer(req.acct, req.token, a);
  }

  // ---- CPU: the event loop, then a core

  private readonly onLoopForCpu = (req: Request): void => this.cores.run(req.ms, this.onCpuDone, req);
  private readonly onCpuDone = (req: Request): void => {
    // A synchronous route keeps its event loop into the transaction.
    if ((req.ops[req.pc - 1] as Op).kind === 'cpuWrite') {
      this.writeLock.acquire(this.onWriteLock, req, this.onWriteBusy);
      return;
    }
    (this.loops[req.proc] as Pool).release();
    this.step(req);
  };

  // ---- scrypt: a libuv thread, then a core

  private readonly onThread = (req: Request): void => this.cores.run(this.scryptMs, this.onScryptDone, req);
  private readonly onScryptDone = (req: Request): void => {
    (this.threads[req.proc] as Pool).release();
    this.step(req);
  };

  // ---- a write transaction: the event loop blocks while it waits for the lock and commits

  private readonly onLoopForWrite = (req: Request): void =>
    this.writeLock.acquire(this.onWriteLock, req, this.onWriteBusy);
  private readonly onWriteLock = (req: Request): void => {
    this.q.schedule(this.q.now + this.writeMs, this.onCommitted, req);
  };
  private readonly onWriteBusy = (req: Request): void => {
    (this.loops[req.proc] as Pool).release();
    this.answer(req, REFUSED.internal_error);
  };
  private readonly onCommitted = (req: Request): void => {
    this.writeLock.release();
    (this.loops[req.proc] as Pool).release();
    const op = req.ops[req.pc - 1] as Extract<Op, { kind: 'write' | 'cpuWrite' }>;
    const refusal = op.commit(req.acct, this);
    if (refusal) this.answer(req, refusal);
    else this.step(req);
  };

  /** Background writes (the outbox's claim and mark) on process `proc`'s event loop; `then(ok)`. */
  backgroundWrite(proc: number, then: (ok: boolean) => void): void {
    const loop = this.loops[proc] as Pool;
    loop.acquire(
      () =>
        this.writeLock.acquire(
          () =>
            this.q.schedule(
              this.q.now + this.writeMs,
              () => {
                this.writeLock.release();
                loop.release();
                then(true);
              },
              undefined,
            ),
          undefined,
          () => {
            loop.release();
            then(false);
          },
        ),
      undefined,
    );
  }

  // ---- the verification mail over SMTP, inline

  private readonly onMailer = (req: Request): void => {
    this.sendMail(req.acct, (failure) => {
      (this.mailers[req.proc] as Pool).release();
      if (failure) this.answer(req, failure);
      else this.step(req);
    });
  };

  /**
   * One SMTP send through the email station, with the mail client's timeout. The station's
   * deadline counts from the DATA command, the client's idle timer from the last byte sent, a
   * moment later: at equal timeouts the station's 451 comes first. `then(undefined)` on acceptance.
   */
  sendMail(acct: Account, then: (failure: Answer | undefined) => void): void {
    const job: MailJob = { acct, then, settled: false };
    this.mailTimeouts.add(this.d.stations.email.call(this.onMailAnswer, job));
  }

  private readonly onMailAnswer = (c: StationCall<MailJob>): void => {
    const job = c.ctx;
    if (job.settled) return;
    job.settled = true;
    if (c.outcome !== 'ok') {
      job.then(unavailable('email', 5));
      return;
    }
    job.acct.mailAt = this.q.now + sampleServiceMs(this.d.capacity.email.deliveryDelay, this.d.rng);
    job.then(undefined);
  };

  private readonly onMailTimeout = (c: StationCall<MailJob>): void => {
    const job = c.ctx;
    if (job.settled) return;
    job.settled = true;
    this.d.stations.email.abandon(c as StationCall);
    job.then(unavailable('email', undefined));
  };

  // ---- the ministries and the object store: HTTP calls with the client's timeout

  private ask(req: Request, dep: HttpDependency, attempt: number): void {
    const a: Ask = { req, dep, attempt, settled: false };
    const call = this.d.stations[dep].call(this.onAskAnswer, a, dep === 'upload' ? this.d.photoBytes : 0);
    (dep === 'upload' ? this.uploadTimeouts : this.ministryTimeouts).add(call);
  }

  private readonly onAskTimeout = (c: StationCall<Ask>): void => {
    const a = c.ctx;
    if (a.settled) return;
    a.settled = true;
    this.d.stations[a.dep].abandon(c as StationCall);
    this.answer(a.req, unavailable(a.dep, undefined));
  };

  private readonly onAskAnswer = (c: StationCall<Ask>): void => {
    const a = c.ctx;
    if (a.settled) return;
    a.settled = true;
    if (c.outcome === 'ok') {
      if (a.dep === 'upload') this.step(a.req);
      else this.ministryAnswered(a.req, a.dep);
      return;
    }
    // Only an overloaded ministry's explicit "later" is retried (ministry-client.ts).
    if (a.dep !== 'upload' && RETRYABLE.has(c.status) && a.attempt < this.d.knobs.MINISTRY_RETRIES) {
      const waitS = Math.min(c.retryAfterS ?? 0.2 * 2 ** (a.attempt + 1), 2);
      this.q.schedule(this.q.now + waitS * 1000, this.onAskAgain, a);
      return;
    }
    this.answer(a.req, unavailable(a.dep, c.retryAfterS));
  };

  private readonly onAskAgain = (a: Ask): void => {
    if (!a.req.answered) this.ask(a.req, a.dep, a.attempt + 1);
  };

  private ministryAnswered(req: Request, m: Ministry): void {
    if (req.answered) return;
    req.out--;
    const kind = req.acct.kind;
    if (this.d.knobs.MINISTRY_CALLS === 'sequential') {
      if (m === 'dukcapil' && kind === 'refused_by_dukcapil') {
        this.answer(req, REFUSED.nik_not_verified);
        return;
      }
      const next = MINISTRIES[req.next++];
      if (next) {
        req.out = 1;
        this.ask(req, next, 0);
        return;
      }
    }
    if (req.out > 0) return;
    if (kind === 'refused_by_dukcapil') {
      this.answer(req, REFUSED.nik_not_verified);
      return;
    }
    if (kind === 'refused_after_ministries') {
      this.answer(req, REFUSED.in_formal_education);
      return;
    }
    this.step(req);
  }
}

/** Each step's operations, as its route runs them under these knobs. */
function programs(knobs: ServiceKnobs): Record<CostedStep, readonly Op[]> {
  const has = (a: Account, row: number) => (a.rows & row) !== 0;
  const cpu: Op = { kind: 'cpu' };
  const inline = knobs.EMAIL_DELIVERY === 'inline';
  return {
    create_account: [
      cpu,
      { kind: 'check', test: (a) => (has(a, ROW.account) ? REFUSED.duplicate_email : undefined) },
      { kind: 'scrypt' },
      ...(inline ? [{ kind: 'mail' } as Op] : []),
      {
        kind: 'write',
        commit: (a, s) => {
          // The UNIQUE index settles a race between two sign-ups of one email.
          if (has(a, ROW.account)) return REFUSED.duplicate_email;
          a.rows |= ROW.account;
          if (!inline) s.onOutbox?.(a);
          return undefined;
        },
      },
      { kind: 'answer', status: 201 },
    ],
    verify_email: [
      {
        kind: 'cpuWrite',
        commit: (a) => {
          if (has(a, ROW.verified)) return REFUSED.token_used;
          a.rows |= ROW.verified;
          return undefined;
        },
      },
      { kind: 'answer', status: 200 },
    ],
    login: [
      cpu,
      { kind: 'scrypt' },
      { kind: 'write', commit: () => undefined },
      { kind: 'answer', status: 201 },
    ],
    submit_biodata: [
      cpu,
      { kind: 'check', test: (a) => (has(a, ROW.biodata) ? REFUSED.already_verified : undefined) },
      { kind: 'check', test: (a) => (a.kind === 'minor' ? REFUSED.too_young : undefined) },
      { kind: 'ministries' },
      {
        kind: 'write',
        commit: (a) => {
          if (has(a, ROW.biodata)) return REFUSED.already_verified;
          a.rows |= ROW.biodata;
          return undefined;
        },
      },
      { kind: 'answer', status: 200 },
    ],
    upload_photo: [
      cpu,
      { kind: 'check', test: (a) => (has(a, ROW.photo) ? REFUSED.already_uploaded : undefined) },
      { kind: 'upload' },
      {
        kind: 'write',
        commit: (a) => {
          a.rows |= ROW.photo;
          return undefined;
        },
      },
      { kind: 'answer', status: 201 },
    ],
    submit_assessment: [
      {
        kind: 'cpuWrite',
        commit: (a) => {
          if (has(a, ROW.assessment)) return REFUSED.already_assessed;
          a.rows |= ROW.assessment;
          return undefined;
        },
      },
      { kind: 'answer', status: 200 },
    ],
    join_wave: [
      {
        kind: 'cpuWrite',
        commit: (a, s) => {
          if (has(a, ROW.joined)) return REFUSED.already_joined;
          // BEGIN IMMEDIATE ... UPDATE ... WHERE joined < quota: never oversold.
          if (s.joined >= knobs.WAVE_QUOTA) return REFUSED.wave_full;
          s.joined++;
          a.rows |= ROW.joined;
          return undefined;
        },
      },
      { kind: 'answer', status: 201 },
    ],
  };
}
