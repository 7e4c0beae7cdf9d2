import type { Capacity, DependencyName } from '../model/capacity.ts';
import { STILL_RUNNING_CODE } from '../model/journey.ts';
import { type Lognormal, sampleLognormal } from '../model/lognormal.ts';
import type { Rng } from '../model/random.ts';
import type { ServiceKnobs } from '../model/service-design.ts';
import { lognormalParams } from '../model/station.ts';
import { SimBreaker } from './breaker.ts';
import { type Calibration, COSTED_STEPS, type CostedStep, photoCpuMs, scryptCpuMs } from './calibration.ts';
import { CpuShare, type CpuStretchOverTime } from './cpu.ts';
import type { EventQueue } from './events.ts';
import { HASH_TIME_BINS, IntervalTimes } from './interval-times.ts';
import { Pool, type Unservable } from './pool.ts';
import { type QuantileTable, tableMean, tableQuantile } from './quantile-table.ts';
import { ANSWERED, type SimStation, type StationCall } from './station.ts';
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
 * MINISTRY_RETRIES more tries, each after a random wait under 0.2 x 2^try s, at least the
 * ministry's Retry-After, at most 2 s; with
 * MINISTRY_BREAKER=on each try goes through the ministry's breaker in its process first (breaker.ts),
 * which refuses it at once while open (503, not retried, Retry-After the time left), and with
 * MINISTRY_BULKHEAD > 0 through its bulkhead, whose wait counts in the timeout. A dependency's
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
  /** the turn (ms) of the waiting-room ticket the registrant holds (ADMISSION_RATE > 0); absent or NaN: none */
  turnAt?: number;
  /**
   * MINISTRY_CACHE=on: the registrant's answers in the processes' caches, by ministry: the process
   * (-1: none; numbered across restarts, RegistrationService procBase), when it was stored, and
   * the process's insertions counted when it was last used
   */
  cached?: Float64Array;
  /**
   * IDEMPOTENCY=on: the key of the registrant's latest keyed step (a step's attempts share one
   * key, and a registrant never goes back to a step), claimed at `since`; its stored answer once
   * final, undefined while the request holding it runs
   */
  key?: { step: number; since: number; answer: Answer | undefined };
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

const noop = (): void => {};

interface ServiceDesign {
  knobs: ServiceKnobs;
  cores: number;
  /** the database's commits a second: the write lock is held 1000/commitsPerSecond ms; absent: the calibration's */
  commitsPerSecond?: number;
  calibration: Calibration;
  capacity: Capacity;
  stations: Record<'dukcapil' | 'dapodik' | 'dtks' | 'email' | 'upload', SimStation>;
  photoBytes: number;
  /** slows every CPU operation: cores / the cores the service really had (other processes shared them) */
  cpuStretch: number;
  /** and by interval, over the run's average (DayOptions.cpuStretchOverTime) */
  cpuStretchOverTime?: CpuStretchOverTime;
  rng: Rng;
  /** each hash's draw of its CPU (calibration service.scryptSpread) */
  hashRng: Rng;
  /** the end of the run (ms): a pool may refuse waiters it could only serve later (pool.ts); absent: never */
  untilMs?: number;
  /** told of every sign-up the waiting room lets through (ADMISSION_RATE > 0), at the time it does */
  onAdmit?: (a: Account, atMs: number) => void;
  /** what the processes before this one left in the database and the world (a restart's); absent: a new day */
  durable?: Durable;
  /** the service's timing of its calls, kept across a restart so that an interval's calls are all counted */
  timing?: ServiceTiming;
  /**
   * which start of the service this is (0 first, then one more each restart): a process's answer
   * cache is its own, and a restarted process's is empty
   */
  generation?: number;
  /** whether it may be killed (kill): it then keeps its calls under way, to close them */
  killable?: boolean;
}

/**
 * What outlives the service's processes: the database's (the wave's places taken, the waiting
 * room's last turn; the accounts' rows are in Account) and the mail providers' pace.
 */
export interface Durable {
  joined: number;
  lastTurn: number;
  nextDeliveryAt: number;
}

/**
 * The interval's calls to each HTTP dependency (by index in HTTP_DEPENDENCIES) and sends of mail
 * as the service times them (gelombang_dependency_request_duration_seconds), every outcome; and
 * its scrypt calls by operation, from the call (the libuv pool's queue included) to the result
 * (gelombang_password_hash_duration_seconds).
 */
export interface ServiceTiming {
  http: IntervalTimes[];
  mail: IntervalTimes;
  hashes: { hash: IntervalTimes; verify: IntervalTimes };
}

/** A request whose connection the service's death closed, as k6 sees it: status 0, no body. */
export const CONNECTION_LOST: Answer = { status: 0, retryAfterS: undefined, code: '', dependency: undefined };

type Op =
  | { kind: 'cpu' }
  | { kind: 'scrypt' }
  | { kind: 'check'; test: (a: Account) => Answer | undefined }
  | { kind: 'write'; commit: (a: Account, s: RegistrationService) => Answer | undefined }
  /** a synchronous route: its CPU part and its transaction in one run of the event loop */
  | { kind: 'cpuWrite'; commit: (a: Account, s: RegistrationService) => Answer | undefined }
  /** the waiting room's guard before a sign-up (ADMISSION_RATE > 0) */
  | { kind: 'room' }
  /** IDEMPOTENCY=on: claim the step's key, or answer from it (idempotency.ts) */
  | { kind: 'key' }
  | { kind: 'mail' }
  | { kind: 'ministries' }
  | { kind: 'upload' }
  | { kind: 'answer'; status: number };

/** Who receives answers: the registrants' side. `token` tells one request of a registrant from another. */
export interface AnswerSink {
  onAnswer(acct: Account, token: number, a: Answer): void;
}

/**
 * A request is a number, an index into the service's request table (parallel typed arrays, no
 * object per request): in a collapse the service holds millions of them in its waiting lines.
 * Its index is reused once it is answered and none of its calls is still out (see release).
 */
type Request = number;
/** in reqFlags: the request was answered */
const ANSWERED_BIT = 1;
/** in reqFlags: the request holds its step's idempotency key, which its answer settles */
const CLAIMED_BIT = 2;

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
/** idempotency.ts: a repeat of a request still running, "retry in a second to get its answer" */
const STILL_RUNNING: Answer = {
  status: 409,
  retryAfterS: 1,
  code: STILL_RUNNING_CODE,
  dependency: undefined,
};
/** idempotency.ts isFinal: an answer a retry must get again (a 5xx or a 429 tells the client to retry, which must run) */
export const isFinal = (status: number) =>
  (status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 429);

const REFUSED = {
  internal_error: refuse(500, 'internal_error'),
  nik_not_verified: refuse(422, 'nik_not_verified'),
  in_formal_education: refuse(422, 'in_formal_education'),
  too_young: refuse(422, 'too_young'),
  duplicate_email: refuse(409, 'duplicate_email'),
  token_used: refuse(409, 'token_used'),
  already_verified: refuse(409, 'already_verified'),
  already_uploaded: refuse(409, 'already_uploaded'),
  photo_too_large: refuse(413, 'photo_too_large'),
  already_assessed: refuse(409, 'already_assessed'),
  already_joined: refuse(409, 'already_joined'),
  wave_full: refuse(409, 'wave_full'),
};
const unavailables = new Map<string, Map<number, Answer>>();
/** a dependency's 503 with Retry-After 1 s, the usual one */
const unavailableIn1s: Record<string, Answer> = {};
const unavailable = (dependency: string, retryAfterS: number | undefined): Answer => {
  if (retryAfterS === undefined || retryAfterS === 1) {
    const a = unavailableIn1s[dependency];
    if (a) return a;
  }
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
    if (wait === 1) unavailableIn1s[dependency] = a;
  }
  return a;
};
const MINISTRIES = ['dukcapil', 'dapodik', 'dtks'] as const;
type Ministry = (typeof MINISTRIES)[number];
type HttpDependency = Ministry | 'upload';
/** indices in HTTP_DEPENDENCIES (the ministries first, in MINISTRIES' order) */
const DUKCAPIL = 0;
const UPLOAD = 3;

/**
 * A call to a ministry or the store is the station's call itself: its context the request, its tag
 * the try (counted from 0) times 16, plus 8 if it holds a slot of the ministry's bulkhead, plus 4
 * if the ministry's breaker let it through as its probe, plus the dependency's index in
 * HTTP_DEPENDENCIES. It is settled (answered, or given up by the client) once the station answered
 * it or the client abandoned it.
 */
type Ask = StationCall<Request>;
const HTTP_DEPENDENCIES = ['dukcapil', 'dapodik', 'dtks', 'upload'] as const;
const settled = <T>(c: StationCall<T>): boolean => c.state === ANSWERED || c.abandoned;
const PROBE = 4;
const SLOT = 8;
const TRY = 16;
/**
 * The service's settings the simulator copies (it does not import the system it models), each from
 * the file of mock-services/registration/ it names; test/service-model.test.ts checks they agree.
 */
export const SERVICE_SETTINGS = {
  /** answer-cache.ts ANSWER_CACHE_DEFAULTS */
  answerCache: { maxEntries: 50_000, ttlMs: 10 * 60_000 },
  /** db.ts BUSY_TIMEOUT_MS: a write waits this long for the lock */
  busyTimeoutMs: 10_000,
  /** dependency-error.ts RETRYABLE_STATUSES: the ministry statuses a call is retried on */
  ministryRetryable: [429, 503, 504],
  /** ministry-client.ts RETRY_BASE_S, RETRY_CAP_S */
  ministryRetry: { baseS: 0.2, capS: 2 },
  /** idempotency.ts ABANDONED_MS: a key claimed this long ago by a request still running is taken over */
  keyAbandonedMs: 60_000,
  /** waiting-room.ts TICKET_TTL_MS: a ticket admits until 10 minutes after its turn */
  ticketTtlMs: 10 * 60_000,
};
const CACHE_MAX_ENTRIES = SERVICE_SETTINGS.answerCache.maxEntries;
const CACHE_TTL_MS = SERVICE_SETTINGS.answerCache.ttlMs;
const KEY_ABANDONED_MS = SERVICE_SETTINGS.keyAbandonedMs;

/**
 * ministry-client.ts retryDelayS: seconds before retry number `retry` (1, 2, ...), "full jitter"
 * under 0.2 x 2^retry s, the ministry's Retry-After a floor, 2 s the cap over both.
 */
export function ministryRetryDelayS(
  retry: number,
  retryAfterS: number | undefined,
  random: () => number,
): number {
  const { baseS, capS } = SERVICE_SETTINGS.ministryRetry;
  const jittered = random() * Math.min(capS, baseS * 2 ** retry);
  return Math.min(Math.max(jittered, retryAfterS ?? 0), capS);
}

/** A try waiting for a slot of its ministry's bulkhead: the request, the call's tag, since when. */
interface SlotWait {
  req: Request;
  tag: number;
  since: number;
}

/** A mail the outbox sends (the inline ones are the request's own calls, tag INLINE_MAIL). */
interface MailJob {
  acct: Account;
  then: (failure: Answer | undefined) => void;
  /** when the sender asked for a connection: the service's timing of the send counts from there */
  since: number;
}
const INLINE_MAIL = 1;

const STEP_INDEX = Object.fromEntries(COSTED_STEPS.map((s, i) => [s, i])) as Record<CostedStep, number>;
/**
 * PHOTO_UPLOAD=presigned: the service's two requests of the step upload_photo, as program indices
 * after the steps' (handleStep): the upload URL, and the confirmation once the client's PUT to the
 * store is done
 */
export const PHOTO_URL = COSTED_STEPS.length;
const LOGIN = STEP_INDEX.login;
export const PHOTO_CONFIRM = COSTED_STEPS.length + 1;

/** The time a request takes to reach a dependency on loopback: who gives up first at equal timeouts. */
export const NETWORK_LAG_MS = 0.05;
const RETRYABLE = new Set(SERVICE_SETTINGS.ministryRetryable);
const BUSY_TIMEOUT_MS = SERVICE_SETTINGS.busyTimeoutMs;
export const TICKET_TTL_MS = SERVICE_SETTINGS.ticketTtlMs;
/** the waiting room's code on its 429 (the scenarios' registrants keep their ticket and come back) */
export const WAITING_ROOM = 'waiting_room';
/** in reqNext while a sign-up is in the waiting room's transaction: what the transaction does */
const ROOM_ISSUE = 1;
const ROOM_ADMIT = 2;
const ROOM_WAIT = 3;

export class RegistrationService {
  readonly cores: CpuShare;
  readonly loops: Pool[];
  readonly threads: Pool[];
  readonly mailers: Pool[];
  readonly writeLock: Pool;
  /** the database's and the world's state, which a restarted service finds as the killed one left it */
  readonly durable: Durable;
  /** mails waiting in the outbox (EMAIL_DELIVERY=outbox); the sender drains it */
  onOutbox: ((a: Account) => void) | undefined;
  private nextProc = 0;
  /** each step's operations, by the step's index in COSTED_STEPS */
  private readonly programs: Array<readonly Op[]>;
  /** each step's CPU on the event loop (ms), by the step's index */
  private readonly stepMs: Float64Array;
  // The request table (see Request).
  private reqStep = new Uint8Array(1024);
  private reqPc = new Uint8Array(1024);
  private reqProc = new Uint8Array(1024);
  private reqFlags = new Uint8Array(1024);
  /** ministries: answers still awaited, and the next in sequence */
  private reqOut = new Uint8Array(1024);
  private reqNext = new Uint8Array(1024);
  /** calls to ministries and the store not settled yet (a retry waiting included) */
  private reqAsks = new Uint8Array(1024);
  private reqToken = new Float64Array(1024);
  /**
   * when the request began the operation the service times (metrics.ts): asked for a libuv thread
   * to hash, or for an SMTP connection to send its mail. One at a time: a request's operations run
   * one after the other, and one array, not one per operation, where a collapse holds millions
   */
  private reqTimedFrom = new Float64Array(1024);
  private readonly reqAcct: Array<Account | undefined> = [];
  private readonly reqSink: Array<AnswerSink | undefined> = [];
  /** the answer a request holds while its key's transaction settles it (IDEMPOTENCY=on) */
  private readonly reqHeld: Array<Answer | undefined> = [];
  private freeReqs: number[] = [];
  private reqsUsed = 0;
  /**
   * one scrypt's CPU; its time on the request's path over that (undefined: all of it); the CPU
   * each hash costs off the path (calibration service.scryptSpread)
   */
  private readonly scryptMs: number;
  private readonly scryptSpread: QuantileTable | undefined;
  private readonly scryptOffPathMs: number;
  private readonly writeMs: number;
  private readonly mailTimeouts: TimeoutLine<StationCall<Request | MailJob>>;
  private readonly ministryTimeouts: TimeoutLine<Ask>;
  /** MINISTRY_BREAKER=on: by process x 3 + ministry */
  private readonly breakers: SimBreaker[] | undefined;
  /** MINISTRY_BULKHEAD > 0: by process x 3 + ministry, a wait for a slot bounded by the call's timeout */
  private readonly bulkheads: Pool[] | undefined;
  /** MINISTRY_CACHE=on: answers each process's cache has taken in so far */
  private readonly cacheInsertions: Float64Array | undefined;
  private readonly uploadTimeouts: TimeoutLine<Ask>;
  private readonly httpStations: SimStation[];
  /** the mail's delivery delay (model/station.ts sampleServiceMs), its parameters worked out once */
  private readonly deliveryLognormal: Lognormal | undefined;
  private readonly deliveryConstantMs: number;
  /** the providers' pace (email.deliveryPerSecond): one mail every this many ms; 0: no limit */
  private readonly deliveryStepMs: number;
  /** the waiting room: turns 1000/ADMISSION_RATE ms apart, the last one handed out */
  private readonly turnStepMs: number;
  /**
   * the CPU on the event loop of a request answered before its route: the waiting room's "come
   * back later", an idempotency key's stored answer or "still running"
   */
  private readonly beforeRouteCpuMs: number;
  /** what a mail's SMTP exchange adds to the relay's service (calibration service.smtpExchangeMs) */
  private readonly smtpExchangeMs: number;
  readonly timing: ServiceTiming;
  /** killed: nothing it does is seen, written or sent any more */
  private dead = false;
  /** its calls under way to the HTTP dependencies and the relay (killable only), which its death closes */
  private readonly outstandingHttp: Set<Ask> | undefined;
  private readonly outstandingMail: Set<StationCall<Request | MailJob>> | undefined;
  /** this start's processes, numbered apart from every other start's (the answer caches' owners) */
  private readonly procBase: number;
  /** the 429s of the waiting room, one object per Retry-After */
  private readonly comeBack = new Map<number, Answer>();

  constructor(
    private readonly q: EventQueue,
    private readonly d: ServiceDesign,
  ) {
    const { knobs, calibration } = d;
    this.scryptMs = scryptCpuMs(calibration, knobs.SCRYPT_N) * d.cpuStretch;
    this.scryptSpread = calibration.service.scryptSpread;
    this.scryptOffPathMs = this.scryptSpread
      ? this.scryptMs * Math.max(0, 1 - tableMean(this.scryptSpread))
      : 0;
    this.writeMs =
      d.commitsPerSecond !== undefined
        ? 1000 / d.commitsPerSecond
        : calibration.service.writeMs[knobs.DB_SYNCHRONOUS];
    const untilMs = d.untilMs ?? Number.POSITIVE_INFINITY;
    this.cores = new CpuShare(q, d.cores, d.cpuStretchOverTime);
    const per = (n: number, u?: Unservable) =>
      Array.from({ length: knobs.WORKERS }, () => new Pool(q, n, Number.POSITIVE_INFINITY, u));
    // A photo's CPU, whichever design the calibration counted it in, over the requests that
    // carry it in the one simulated (calibration.ts photoCpuMs).
    const photoMs = photoCpuMs(calibration) * d.cpuStretch;
    this.stepMs = Float64Array.from([
      ...COSTED_STEPS.map((step) =>
        step === 'upload_photo' ? photoMs : calibration.service.stepCpuMs[step] * d.cpuStretch,
      ),
      photoMs / 2,
      photoMs / 2,
    ]);
    // An event loop is held for a step's CPU or a transaction (at least the commit, or the busy
    // timeout). No CPU run goes faster than its fitted cost (validate's stretch by interval is a
    // warm-up, 1 or more): a floor too high would drop work the run would serve.
    const loopHold = Math.min(this.writeMs, ...this.stepMs);
    this.loops = per(1, { minHoldMs: loopHold, parallel: 1, cores: Number.POSITIVE_INFINITY, untilMs });
    // A libuv thread is held for a scrypt's CPU, which the cores share with everything else.
    this.threads = per(calibration.service.threadPoolSize, {
      minHoldMs: this.scryptMs * (this.scryptSpread?.min ?? 1),
      parallel: calibration.service.threadPoolSize,
      cores: d.cores,
      untilMs,
    });
    this.mailers = per(knobs.EMAIL_CONNECTIONS);
    this.writeLock = new Pool(q, 1, BUSY_TIMEOUT_MS);
    const byStep = programs(knobs, d.photoBytes);
    this.programs = [...COSTED_STEPS.map((step) => byStep[step]), ...presignedPrograms(knobs, d.photoBytes)];
    // A client's timeout is cancelled when its answer comes (timed).
    this.mailTimeouts = new TimeoutLine(q, knobs.EMAIL_TIMEOUT_MS + NETWORK_LAG_MS, this.onMailTimeout);
    this.httpStations = HTTP_DEPENDENCIES.map((dep) => d.stations[dep]);
    const delivery = d.capacity.email.deliveryDelay;
    this.deliveryLognormal =
      delivery.distribution === 'lognormal' ? lognormalParams(delivery.medianMs, delivery.p99Ms) : undefined;
    this.deliveryConstantMs = delivery.distribution === 'constant' ? delivery.ms : 0;
    const perSecond = d.capacity.email.deliveryPerSecond;
    this.deliveryStepMs = perSecond === undefined ? 0 : 1000 / perSecond;
    this.ministryTimeouts = new TimeoutLine(q, knobs.MINISTRY_TIMEOUT_MS, this.onAskTimeout);
    // One breaker per ministry per process (ministry-client.ts guards), by proc x 3 + ministry.
    if (knobs.MINISTRY_BREAKER === 'on')
      this.breakers = Array.from({ length: this.loops.length * MINISTRIES.length }, () => new SimBreaker());
    if (knobs.MINISTRY_CACHE === 'on') this.cacheInsertions = new Float64Array(this.loops.length);
    // And one bulkhead (bulkhead.ts): at most MINISTRY_BULKHEAD calls in flight, MINISTRY_BULKHEAD_QUEUE waiting.
    if (knobs.MINISTRY_BULKHEAD > 0)
      this.bulkheads = Array.from(
        { length: this.loops.length * MINISTRIES.length },
        () => new Pool(q, knobs.MINISTRY_BULKHEAD, knobs.MINISTRY_TIMEOUT_MS),
      );
    this.uploadTimeouts = new TimeoutLine(q, knobs.UPLOAD_TIMEOUT_MS, this.onAskTimeout);
    this.turnStepMs = knobs.ADMISSION_RATE > 0 ? 1000 / knobs.ADMISSION_RATE : 0;
    // Not measured on its own: a 429 or a key's stored answer is routing, JSON and one indexed
    // lookup, the work of the lightest steps, so the least of the steps' costs.
    this.beforeRouteCpuMs = Math.min(...Object.values(calibration.service.stepCpuMs)) * d.cpuStretch;
    this.smtpExchangeMs = calibration.service.smtpExchangeMs ?? 0;
    this.durable = d.durable ?? {
      joined: 0,
      lastTurn: Number.NEGATIVE_INFINITY,
      nextDeliveryAt: Number.NEGATIVE_INFINITY,
    };
    this.timing = d.timing ?? {
      http: HTTP_DEPENDENCIES.map(() => new IntervalTimes()),
      mail: new IntervalTimes(),
      hashes: { hash: new IntervalTimes(HASH_TIME_BINS), verify: new IntervalTimes(HASH_TIME_BINS) },
    };
    this.procBase = (d.generation ?? 0) * knobs.WORKERS;
    if (d.killable) {
      this.outstandingHttp = new Set();
      this.outstandingMail = new Set();
    }
  }

  /**
   * SIGKILL of every process: each request it held, answered or not, whose answer had not left,
   * ends with its connection (CONNECTION_LOST); its calls under way are closed (an HTTP mock frees
   * the server at once, the relay finishes its send); its transactions not committed are rolled
   * back, so nothing it acknowledged is lost and nothing it had not is kept. It does nothing
   * after. Its processes' memory (the answer caches, the breakers, the bulkheads, the pools'
   * queues) goes with it; `durable` is what a restart finds.
   */
  kill(): void {
    if (this.dead) return;
    for (let req = 0; req < this.reqsUsed; req++) {
      const acct = this.reqAcct[req];
      if (!acct) continue;
      if (this.answered(req) && this.reqHeld[req] === undefined) continue;
      (this.reqSink[req] as AnswerSink).onAnswer(acct, this.reqToken[req] as number, CONNECTION_LOST);
    }
    this.dead = true;
    // Its queues go with it: what waited for an event loop, a thread, a connection, the write lock
    // or a bulkhead's slot is never served.
    for (const p of [
      ...this.loops,
      ...this.threads,
      ...this.mailers,
      this.writeLock,
      ...(this.bulkheads ?? []),
    ])
      p.halt();
    for (const c of this.outstandingHttp ?? [])
      (this.httpStations[c.tag & 3] as SimStation).abandon(c as StationCall);
    for (const c of this.outstandingMail ?? []) this.d.stations.email.abandon(c as StationCall);
    this.outstandingHttp?.clear();
    this.outstandingMail?.clear();
  }

  /** One request of `step` for the registrant whose rows are `acct`; the sink gets the answer once. */
  handle(step: CostedStep, acct: Account, sink: AnswerSink, token: number): void {
    this.handleStep(STEP_INDEX[step], acct, sink, token);
  }

  /** As handle, the step given by its index in COSTED_STEPS. */
  handleStep(step: number, acct: Account, sink: AnswerSink, token: number): void {
    let req = this.freeReqs.pop();
    if (req === undefined) {
      req = this.reqsUsed++;
      if (req === this.reqStep.length) this.growRequests();
      this.reqAcct.push(acct);
      this.reqSink.push(sink);
    } else {
      this.reqAcct[req] = acct;
      this.reqSink[req] = sink;
    }
    this.reqStep[req] = step;
    this.reqPc[req] = 0;
    this.reqProc[req] = this.nextProc;
    this.reqFlags[req] = 0;
    this.reqOut[req] = 0;
    this.reqNext[req] = 0;
    this.reqAsks[req] = 0;
    this.reqToken[req] = token;
    this.nextProc = this.nextProc + 1 === this.loops.length ? 0 : this.nextProc + 1;
    this.step(req);
  }

  private growRequests(): void {
    const grow = <A extends Uint8Array | Float64Array>(a: A, make: (n: number) => A): A => {
      const b = make(a.length * 2);
      b.set(a);
      return b;
    };
    const u8 = (n: number) => new Uint8Array(n);
    this.reqStep = grow(this.reqStep, u8);
    this.reqPc = grow(this.reqPc, u8);
    this.reqProc = grow(this.reqProc, u8);
    this.reqFlags = grow(this.reqFlags, u8);
    this.reqOut = grow(this.reqOut, u8);
    this.reqNext = grow(this.reqNext, u8);
    this.reqAsks = grow(this.reqAsks, u8);
    this.reqToken = grow(this.reqToken, (n) => new Float64Array(n));
    this.reqTimedFrom = grow(this.reqTimedFrom, (n) => new Float64Array(n));
  }

  private answered(req: Request): boolean {
    return ((this.reqFlags[req] as number) & ANSWERED_BIT) !== 0;
  }

  /**
   * The request's index may serve another: it is answered and none of its calls is out, or a pool
   * refused to keep it (it could only have been served after the end of the run).
   */
  private release(req: Request): void {
    this.reqAcct[req] = undefined;
    this.reqSink[req] = undefined;
    this.freeReqs.push(req);
  }

  /** Runs the request's operations until one has to wait. */
  private step(req: Request): void {
    if (this.dead) return;
    const ops = this.programs[this.reqStep[req] as number] as readonly Op[];
    for (;;) {
      const pc = this.reqPc[req] as number;
      this.reqPc[req] = pc + 1;
      const op = ops[pc] as Op;
      switch (op.kind) {
        case 'cpu':
        case 'cpuWrite':
          if (!(this.loops[this.reqProc[req] as number] as Pool).acquire(this.onLoopForCpu, req))
            this.release(req);
          return;
        case 'scrypt':
          this.reqTimedFrom[req] = this.q.now;
          if (!(this.threads[this.reqProc[req] as number] as Pool).acquire(this.onThread, req))
            this.release(req);
          return;
        case 'check': {
          const refusal = op.test(this.reqAcct[req] as Account);
          if (refusal) {
            this.answer(req, refusal);
            return;
          }
          break;
        }
        case 'write':
          if (!(this.loops[this.reqProc[req] as number] as Pool).acquire(this.onLoopForWrite, req))
            this.release(req);
          return;
        case 'room':
          if (!(this.loops[this.reqProc[req] as number] as Pool).acquire(this.onLoopForRoom, req))
            this.release(req);
          return;
        case 'key':
          if (!(this.loops[this.reqProc[req] as number] as Pool).acquire(this.onLoopForKey, req))
            this.release(req);
          return;
        case 'mail':
          this.reqTimedFrom[req] = this.q.now;
          if (!(this.mailers[this.reqProc[req] as number] as Pool).acquire(this.onMailer, req))
            this.release(req);
          return;
        case 'ministries':
          // Every call is counted before the first is sent: a refusal at once answers, and the
          // request must not be released while the others are still to be sent.
          if (this.d.knobs.MINISTRY_CALLS === 'parallel') {
            this.reqOut[req] = MINISTRIES.length;
            this.reqAsks[req] = MINISTRIES.length;
            for (let m = 0; m < MINISTRIES.length; m++) this.ask(req, m, 0);
          } else {
            this.reqOut[req] = 1;
            this.reqNext[req] = 1;
            this.reqAsks[req] = 1;
            this.ask(req, DUKCAPIL, 0);
          }
          return;
        case 'upload':
          this.reqAsks[req] = 1;
          this.ask(req, UPLOAD, 0);
          return;
        case 'answer':
          this.answer(req, SUCCESS[op.status] as Answer);
          return;
      }
    }
  }

  /** Answers the request (once); its index is released when none of its calls is still out. */
  private answer(req: Request, a: Answer): void {
    if (this.dead) return;
    const flags = this.reqFlags[req] as number;
    if ((flags & ANSWERED_BIT) !== 0) return;
    this.reqFlags[req] = flags | ANSWERED_BIT;
    if ((flags & CLAIMED_BIT) !== 0) {
      this.settleKey(req, a);
      return;
    }
    (this.reqSink[req] as AnswerSink).onAnswer(this.reqAcct[req] as Account, this.reqToken[req] as number, a);
    if (this.reqAsks[req] === 0) this.release(req);
  }

  // ---- idempotency keys (idempotency.ts): a claim before the route, the answer stored before it leaves

  private readonly onLoopForKey = (req: Request): void => {
    this.writeLock.acquire(this.onKeyLock, req, this.onWriteBusy);
  };

  /**
   * The claim's transaction (BEGIN IMMEDIATE). A key found, final or still running (and not
   * abandoned), changes nothing: SQLite writes nothing and the lock is held for a moment, left out
   * here as the waiting room's lookups are; the stored answer, or 409 "still running", goes at once.
   * A free key is claimed: one commit.
   */
  private readonly onKeyLock = (req: Request): void => {
    const a = this.reqAcct[req] as Account;
    const step = this.reqStep[req] as number;
    const now = this.q.now;
    const k = a.key;
    if (k && k.step === step && (k.answer !== undefined || now - k.since < KEY_ABANDONED_MS)) {
      this.writeLock.release();
      // The route never runs: the request's own CPU is the key's (its body's fingerprint, the
      // stored answer read and sent), the lightest steps' work, as a waiting room's 429.
      this.reqHeld[req] = k.answer ?? STILL_RUNNING;
      this.cores.run(this.beforeRouteCpuMs, this.onKeyReplayed, req);
      return;
    }
    this.q.schedule(now + this.writeMs, this.onKeyClaimed, req);
  };

  private readonly onKeyReplayed = (req: Request): void => {
    (this.loops[this.reqProc[req] as number] as Pool).release();
    const answer = this.reqHeld[req] as Answer;
    this.reqHeld[req] = undefined;
    this.answer(req, answer);
  };

  /** The claim committed (a kill before it rolled it back: the retry after the restart runs). */
  private readonly onKeyClaimed = (req: Request): void => {
    if (this.dead) return;
    // The write lock was held since the claim's lookup: nothing else claimed this key meanwhile.
    const a = this.reqAcct[req] as Account;
    const step = this.reqStep[req] as number;
    const since = this.q.now - this.writeMs;
    if (a.key) {
      a.key.step = step;
      a.key.since = since;
      a.key.answer = undefined;
    } else a.key = { step, since, answer: undefined };
    this.writeLock.release();
    (this.loops[this.reqProc[req] as number] as Pool).release();
    this.reqFlags[req] = (this.reqFlags[req] as number) | CLAIMED_BIT;
    this.step(req);
  };

  /**
   * The answer of a request holding its key is stored (final) or the key freed (a 5xx, a 429)
   * in one more transaction on its event loop before it leaves; a lock not had within the busy
   * timeout leaves the key claimed (taken over after KEY_ABANDONED_MS), and the answer goes out
   * regardless (before-answer.ts). The request is held meanwhile, as by a call still out.
   */
  private settleKey(req: Request, answer: Answer): void {
    this.reqAsks[req] = (this.reqAsks[req] as number) + 1;
    this.reqHeld[req] = answer;
    if (!(this.loops[this.reqProc[req] as number] as Pool).acquire(this.onLoopForSettle, req))
      this.delivered(req);
  }

  private readonly onLoopForSettle = (req: Request): void => {
    this.writeLock.acquire(this.onSettleLock, req, this.onSettleBusy);
  };
  private readonly onSettleLock = (req: Request): void => {
    this.q.schedule(this.q.now + this.writeMs, this.onSettled, req);
  };
  private readonly onSettled = (req: Request): void => {
    if (this.dead) return;
    this.writeLock.release();
    (this.loops[this.reqProc[req] as number] as Pool).release();
    const answer = this.reqHeld[req] as Answer;
    const key = (this.reqAcct[req] as Account).key;
    if (key) {
      if (isFinal(answer.status)) key.answer = answer;
      else key.step = -1;
    }
    this.deliverHeld(req);
  };
  private readonly onSettleBusy = (req: Request): void => {
    (this.loops[this.reqProc[req] as number] as Pool).release();
    this.deliverHeld(req);
  };

  private deliverHeld(req: Request): void {
    if (this.dead) return;
    const answer = this.reqHeld[req] as Answer;
    this.reqHeld[req] = undefined;
    (this.reqSink[req] as AnswerSink).onAnswer(
      this.reqAcct[req] as Account,
      this.reqToken[req] as number,
      answer,
    );
    this.delivered(req);
  }

  /** The settling's hold on the request ends. */
  private delivered(req: Request): void {
    const left = (this.reqAsks[req] as number) - 1;
    this.reqAsks[req] = left;
    if (left === 0) this.release(req);
  }

  // ---- CPU: the event loop, then a core

  private readonly onLoopForCpu = (req: Request): void =>
    this.cores.run(this.stepMs[this.reqStep[req] as number] as number, this.onCpuDone, req);
  private readonly onCpuDone = (req: Request): void => {
    // A synchronous route keeps its event loop into the transaction.
    if (this.currentOp(req).kind === 'cpuWrite') {
      this.writeLock.acquire(this.onWriteLock, req, this.onWriteBusy);
      return;
    }
    (this.loops[this.reqProc[req] as number] as Pool).release();
    this.step(req);
  };

  /** The operation the request is at (the last one step started). */
  private currentOp(req: Request): Op {
    return (this.programs[this.reqStep[req] as number] as readonly Op[])[
      (this.reqPc[req] as number) - 1
    ] as Op;
  }

  // ---- scrypt: a libuv thread, then a core

  private readonly onThread = (req: Request): void => {
    const spread = this.scryptSpread;
    const ms = spread ? this.scryptMs * tableQuantile(spread, this.d.hashRng()) : this.scryptMs;
    this.cores.run(ms, this.onScryptDone, req);
    if (this.scryptOffPathMs > 0) this.cores.run(this.scryptOffPathMs, noop, undefined);
  };
  private readonly onScryptDone = (req: Request): void => {
    // A hash under way at the kill died with its process: nobody timed it.
    if (this.dead) return;
    (this.threads[this.reqProc[req] as number] as Pool).release();
    const hashes = this.timing.hashes;
    // A log-in verifies its password; every other hash is a sign-up's (HASH_OPERATION in fit.ts).
    (this.reqStep[req] === LOGIN ? hashes.verify : hashes.hash).record(
      this.q.now - (this.reqTimedFrom[req] as number),
    );
    this.step(req);
  };

  // ---- a write transaction: the event loop blocks while it waits for the lock and commits

  private readonly onLoopForWrite = (req: Request): void => {
    this.writeLock.acquire(this.onWriteLock, req, this.onWriteBusy);
  };
  private readonly onWriteLock = (req: Request): void => {
    this.q.schedule(this.q.now + this.writeMs, this.onCommitted, req);
  };
  private readonly onWriteBusy = (req: Request): void => {
    (this.loops[this.reqProc[req] as number] as Pool).release();
    this.answer(req, REFUSED.internal_error);
  };
  private readonly onCommitted = (req: Request): void => {
    // A transaction the kill cut short never committed.
    if (this.dead) return;
    this.writeLock.release();
    (this.loops[this.reqProc[req] as number] as Pool).release();
    const op = this.currentOp(req) as Extract<Op, { kind: 'write' | 'cpuWrite' }>;
    const refusal = op.commit(this.reqAcct[req] as Account, this);
    if (refusal) this.answer(req, refusal);
    else this.step(req);
  };

  // ---- the waiting room (waiting-room.ts): a ticket, a turn, and "come back later" until then

  private readonly onLoopForRoom = (req: Request): void =>
    this.cores.run(this.beforeRouteCpuMs, this.onRoomCpu, req);

  /**
   * The guard decides. Still before its turn: 429 at once; the transaction that finds the ticket
   * changes nothing, so SQLite writes nothing and the lock is held for a moment, left out here.
   * A new ticket (none, or expired: the scenario's 410 and its new sign-up folded into one
   * request) is an INSERT, and when nobody is in line the lease that admits it at once is a second
   * commit; a ticket whose turn came is leased, one commit.
   */
  private readonly onRoomCpu = (req: Request): void => {
    const a = this.reqAcct[req] as Account;
    const turn = a.turnAt ?? Number.NaN;
    const now = this.q.now;
    if (!Number.isNaN(turn) && now < turn + TICKET_TTL_MS) {
      if (turn > now) {
        (this.loops[this.reqProc[req] as number] as Pool).release();
        this.answer(req, this.comeBackAnswer(turn, now));
        return;
      }
      this.reqNext[req] = ROOM_ADMIT;
    } else this.reqNext[req] = ROOM_ISSUE;
    this.writeLock.acquire(this.onRoomLock, req, this.onWriteBusy);
  };

  private readonly onRoomLock = (req: Request): void => {
    let commits = 1;
    if (this.reqNext[req] === ROOM_ISSUE) {
      // The turn is taken inside the transaction: turns follow the order of the commits.
      const now = this.q.now;
      const turn = Math.max(now, this.durable.lastTurn + this.turnStepMs);
      this.durable.lastTurn = turn;
      (this.reqAcct[req] as Account).turnAt = turn;
      if (turn <= now) commits = 2;
      this.reqNext[req] = turn <= now ? ROOM_ADMIT : ROOM_WAIT;
    }
    this.q.schedule(this.q.now + commits * this.writeMs, this.onRoomCommitted, req);
  };

  private readonly onRoomCommitted = (req: Request): void => {
    if (this.dead) return;
    this.writeLock.release();
    (this.loops[this.reqProc[req] as number] as Pool).release();
    const a = this.reqAcct[req] as Account;
    const wait = this.reqNext[req] === ROOM_WAIT;
    this.reqNext[req] = 0;
    if (wait) {
      this.answer(req, this.comeBackAnswer(a.turnAt as number, this.q.now));
      return;
    }
    this.d.onAdmit?.(a, this.q.now);
    this.step(req);
  };

  /** 429 waiting_room with Retry-After max(1, ceil(seconds to the turn)), as the guard answers. */
  private comeBackAnswer(turn: number, now: number): Answer {
    const s = Math.max(1, Math.ceil((turn - now) / 1000));
    let a = this.comeBack.get(s);
    if (!a) {
      a = { status: 429, retryAfterS: s, code: WAITING_ROOM, dependency: undefined };
      this.comeBack.set(s, a);
    }
    return a;
  }

  /** Background writes (the outbox's claim and mark) on process `proc`'s event loop; `then(ok)`. */
  backgroundWrite(proc: number, then: (ok: boolean) => void): void {
    if (this.dead) return;
    const loop = this.loops[proc] as Pool;
    const committed = () => {
      this.writeLock.release();
      loop.release();
      // Rolled back by the kill: the outbox's row is as it was before.
      if (!this.dead) then(true);
    };
    const busy = () => {
      loop.release();
      if (!this.dead) then(false);
    };
    loop.acquire(
      () =>
        this.writeLock.acquire(
          () => this.q.schedule(this.q.now + this.writeMs, committed, undefined),
          undefined,
          busy,
        ),
      undefined,
    );
  }

  /** Sets the client's timeout of `call`, which the station may have answered already (a refusal). */
  private timed<T>(line: TimeoutLine<StationCall<T>>, call: StationCall<T>): void {
    line.add(call);
    call.clientTimer = line.lastTicket;
    if (settled(call)) line.cancel(call.clientTimer);
  }

  // ---- the verification mail over SMTP, inline

  private readonly onMailer = (req: Request): void => {
    this.sendThrough(this.d.stations.email.call<Request | MailJob>(this.onMailAnswer, req, 0, INLINE_MAIL));
  };

  private sendThrough(call: StationCall<Request | MailJob>): void {
    this.timed(this.mailTimeouts, call);
    if (this.outstandingMail && !settled(call)) this.outstandingMail.add(call);
  }

  /** The inline mail's end: the mailer is free, the request goes on or answers the failure. */
  private mailSent(req: Request, failure: Answer | undefined): void {
    (this.mailers[this.reqProc[req] as number] as Pool).release();
    if (failure) this.answer(req, failure);
    else this.step(req);
  }

  /**
   * One SMTP send through the email station, with the mail client's timeout. The station's
   * deadline counts from the DATA command, the client's idle timer from the last byte sent, a
   * moment later: at equal timeouts the station's 451 comes first. `then(undefined)` on acceptance.
   */
  sendMail(acct: Account, then: (failure: Answer | undefined) => void, since = this.q.now): void {
    if (this.dead) return;
    const job: MailJob = { acct, then, since };
    this.sendThrough(this.d.stations.email.call<Request | MailJob>(this.onMailAnswer, job));
  }

  private readonly onMailAnswer = (c: StationCall<Request | MailJob>): void => {
    this.mailTimeouts.cancel(c.clientTimer);
    this.outstandingMail?.delete(c);
    // The exchange's commands and answers around the relay's service (calibration smtpExchangeMs):
    // the caller and its connection wait for them too.
    if (this.smtpExchangeMs > 0) this.q.schedule(this.q.now + this.smtpExchangeMs, this.onMailExchanged, c);
    else this.onMailExchanged(c);
  };

  private readonly onMailExchanged = (c: StationCall<Request | MailJob>): void => {
    const inline = c.tag === INLINE_MAIL;
    if (!this.dead) this.mailSendEnded(c);
    const acct = inline ? (this.reqAcct[c.ctx as Request] as Account) : (c.ctx as MailJob).acct;
    if (c.outcome !== 'ok') {
      if (inline) this.mailSent(c.ctx as Request, unavailable('email', 5));
      else (c.ctx as MailJob).then(unavailable('email', 5));
      return;
    }
    const delay = this.deliveryLognormal
      ? sampleLognormal(this.deliveryLognormal, this.d.rng)
      : this.deliveryConstantMs;
    // The providers take mail at their rate: it waits its turn, first come first delivered.
    let from = this.q.now;
    if (this.deliveryStepMs > 0) {
      from = Math.max(from, this.durable.nextDeliveryAt);
      this.durable.nextDeliveryAt = from + this.deliveryStepMs;
    }
    acct.mailAt = from + delay;
    // Taken by the relay before the kill: the mail goes out, its sender never hears of it.
    if (this.dead) return;
    if (inline) this.mailSent(c.ctx as Request, undefined);
    else (c.ctx as MailJob).then(undefined);
  };

  private readonly onMailTimeout = (c: StationCall<Request | MailJob>): void => {
    if (settled(c)) return;
    this.d.stations.email.abandon(c as StationCall);
    this.outstandingMail?.delete(c);
    this.mailSendEnded(c);
    if (c.tag === INLINE_MAIL) this.mailSent(c.ctx as Request, unavailable('email', undefined));
    else (c.ctx as MailJob).then(unavailable('email', undefined));
  };

  /** The interval's calls to `dep` as the service timed them. */
  callTimesOf(dep: DependencyName): IntervalTimes {
    if (dep === 'email') return this.timing.mail;
    return this.timing.http[HTTP_DEPENDENCIES.indexOf(dep)] as IntervalTimes;
  }

  /** A send's time as the service's histogram takes it (metrics.ts timeDependency): the wait for a connection included. */
  private mailSendEnded(c: StationCall<Request | MailJob>): void {
    const since =
      c.tag === INLINE_MAIL ? (this.reqTimedFrom[c.ctx as Request] as number) : (c.ctx as MailJob).since;
    this.timing.mail.record(this.q.now - since);
  }

  // ---- the ministries and the object store: HTTP calls with the client's timeout

  /**
   * One try of a call (the caller counted the call in reqAsks: a call and its retries count once,
   * until endAsk).
   */
  private ask(req: Request, dep: number, attempt: number): void {
    if (this.dead) return;
    const upload = dep === UPLOAD;
    if (!upload && this.cacheInsertions && this.fromCache(req, dep)) {
      if (this.endAsk(req)) this.ministryAnswered(req, dep);
      return;
    }
    let probe = 0;
    const breaker = upload ? undefined : this.breakerOf(req, dep);
    if (breaker) {
      const admitted = breaker.admit(this.q.now);
      if ('refusedForMs' in admitted) {
        // Shed without a status: not retried (ministry-client.ts withRetries); the registrant is
        // told when to come back.
        if (this.endAsk(req))
          this.answer(
            req,
            unavailable(
              HTTP_DEPENDENCIES[dep] as HttpDependency,
              Math.max(1, Math.ceil(admitted.refusedForMs / 1000)),
            ),
          );
        return;
      }
      probe = admitted.probe ? PROBE : 0;
    }
    const bulkhead = upload ? undefined : this.bulkheadOf(req, dep);
    if (!bulkhead) {
      this.send(req, attempt * TRY + probe + dep, undefined);
      return;
    }
    if (bulkhead.busy >= bulkhead.servers && bulkhead.queued >= this.d.knobs.MINISTRY_BULKHEAD_QUEUE) {
      // Full: shed at once, not retried, "try again in 1 s" (ministry-client.ts shedByBulkhead).
      breaker?.cancelled(probe !== 0);
      if (this.endAsk(req)) this.answer(req, unavailable(HTTP_DEPENDENCIES[dep] as HttpDependency, 1));
      return;
    }
    const wait: SlotWait = { req, tag: attempt * TRY + SLOT + probe + dep, since: this.q.now };
    bulkhead.acquire(this.onSlot, wait, this.onNoSlot);
  }

  /** The try with its slot: the call's timeout is what the wait for the slot left of it. */
  private readonly onSlot = (w: SlotWait): void => {
    if (this.q.now === w.since) {
      this.send(w.req, w.tag, undefined);
      return;
    }
    const left = this.d.knobs.MINISTRY_TIMEOUT_MS - (this.q.now - w.since);
    if (left < 1) {
      (this.bulkheadOf(w.req, w.tag & 3) as Pool).release();
      this.onNoSlot(w);
      return;
    }
    this.send(w.req, w.tag, left);
  };

  /** No slot within the call's timeout: a timeout, not counted by the breaker, not retried. */
  private readonly onNoSlot = (w: SlotWait): void => {
    const dep = w.tag & 3;
    this.breakerOf(w.req, dep)?.cancelled((w.tag & PROBE) !== 0);
    if (this.endAsk(w.req))
      this.answer(w.req, unavailable(HTTP_DEPENDENCIES[dep] as HttpDependency, undefined));
  };

  /** Sends a try; `timeoutMs`: its client timeout when shorter than the line's (a bulkhead's wait took the rest). */
  private send(req: Request, tag: number, timeoutMs: number | undefined): void {
    const dep = tag & 3;
    const upload = dep === UPLOAD;
    const call = (this.httpStations[dep] as SimStation).call(
      this.onAskAnswer,
      req,
      upload ? this.d.photoBytes : 0,
      tag,
    );
    if (this.outstandingHttp && !settled(call)) this.outstandingHttp.add(call);
    if (timeoutMs === undefined) {
      this.timed(upload ? this.uploadTimeouts : this.ministryTimeouts, call);
      return;
    }
    // Not in a line of one length: its own event, harmless once the call is settled.
    call.clientTimer = -1;
    if (!settled(call)) this.q.schedule(this.q.now + timeoutMs, this.onAskTimeout, call);
  }

  /** The bulkhead of ministry `dep` in the request's process, when MINISTRY_BULKHEAD > 0. */
  private bulkheadOf(req: Request, dep: number): Pool | undefined {
    return this.bulkheads?.[(this.reqProc[req] as number) * MINISTRIES.length + dep];
  }

  /** A call of the request is settled for good; false if the request was answered already (and is released if that was its last). */
  private endAsk(req: Request): boolean {
    const left = (this.reqAsks[req] as number) - 1;
    this.reqAsks[req] = left;
    if (!this.answered(req)) return true;
    if (left === 0) this.release(req);
    return false;
  }

  /**
   * Whether the request's process still has the registrant's answer from ministry `dep`
   * (answer-cache.ts, its defaults): stored under CACHE_TTL_MS ago, and fewer than
   * CACHE_MAX_ENTRIES answers taken in by the process since it was last used (least recently used
   * first out; an entry's place counted in insertions, the only thing that evicts). A hit counts
   * as a use.
   */
  private fromCache(req: Request, dep: number): boolean {
    const e = (this.reqAcct[req] as Account).cached;
    const proc = this.reqProc[req] as number;
    const ins = this.cacheInsertions as Float64Array;
    const i = dep * 3;
    if (!e || e[i] !== this.procBase + proc) return false;
    if (this.q.now - (e[i + 1] as number) >= CACHE_TTL_MS) return false;
    if ((ins[proc] as number) - (e[i + 2] as number) >= CACHE_MAX_ENTRIES) return false;
    e[i + 2] = ins[proc] as number;
    return true;
  }

  /** A ministry's answer kept in the request's process (only an answer: a failure never is). */
  private toCache(req: Request, dep: number): void {
    const acct = this.reqAcct[req] as Account;
    if (!acct.cached) acct.cached = new Float64Array(MINISTRIES.length * 3).fill(-1);
    const proc = this.reqProc[req] as number;
    const ins = this.cacheInsertions as Float64Array;
    const i = dep * 3;
    acct.cached[i] = this.procBase + proc;
    acct.cached[i + 1] = this.q.now;
    acct.cached[i + 2] = ins[proc] as number;
    ins[proc] = (ins[proc] as number) + 1;
  }

  /** The breaker of ministry `dep` in the request's process, when MINISTRY_BREAKER is on. */
  private breakerOf(req: Request, dep: number): SimBreaker | undefined {
    return this.breakers?.[(this.reqProc[req] as number) * MINISTRIES.length + dep];
  }

  private readonly onAskTimeout = (c: Ask): void => {
    if (settled(c)) return;
    const dep = c.tag & 3;
    (this.timing.http[dep] as IntervalTimes).record(this.q.now - c.arrivedAt);
    this.outstandingHttp?.delete(c);
    (this.httpStations[dep] as SimStation).abandon(c as StationCall);
    if (dep !== UPLOAD) this.breakerOf(c.ctx, dep)?.ended((c.tag & PROBE) !== 0, true, this.q.now);
    if ((c.tag & SLOT) !== 0) (this.bulkheadOf(c.ctx, dep) as Pool).release();
    if (this.endAsk(c.ctx))
      this.answer(c.ctx, unavailable(HTTP_DEPENDENCIES[dep] as HttpDependency, undefined));
  };

  private readonly onAskAnswer = (c: Ask): void => {
    const dep = c.tag & 3;
    (this.timing.http[dep] as IntervalTimes).record(this.q.now - c.arrivedAt);
    this.outstandingHttp?.delete(c);
    (dep === UPLOAD ? this.uploadTimeouts : this.ministryTimeouts).cancel(c.clientTimer);
    const req = c.ctx;
    // Every failure a station gives is the ministry's (a timeout, 5xx, 429): the breaker counts it.
    if (dep !== UPLOAD)
      this.breakerOf(req, dep)?.ended((c.tag & PROBE) !== 0, c.outcome !== 'ok', this.q.now);
    if ((c.tag & SLOT) !== 0) (this.bulkheadOf(req, dep) as Pool).release();
    if (c.outcome === 'ok') {
      if (dep !== UPLOAD && this.cacheInsertions) this.toCache(req, dep);
      if (!this.endAsk(req)) return;
      if (dep === UPLOAD) this.step(req);
      else this.ministryAnswered(req, dep);
      return;
    }
    const attempt = Math.floor(c.tag / TRY);
    // Only an overloaded ministry's explicit "later" is retried (ministry-client.ts).
    if (dep !== UPLOAD && RETRYABLE.has(c.status) && attempt < this.d.knobs.MINISTRY_RETRIES) {
      const waitS = ministryRetryDelayS(attempt + 1, c.retryAfterS, this.d.rng);
      this.q.schedule(this.q.now + waitS * 1000, this.onAskAgain, c);
      return;
    }
    if (this.endAsk(req))
      this.answer(req, unavailable(HTTP_DEPENDENCIES[dep] as HttpDependency, c.retryAfterS));
  };

  private readonly onAskAgain = (c: Ask): void => {
    if (!this.answered(c.ctx)) this.ask(c.ctx, c.tag & 3, Math.floor(c.tag / TRY) + 1);
    else this.endAsk(c.ctx);
  };

  /** A ministry said yes (the request not answered yet). */
  private ministryAnswered(req: Request, m: number): void {
    const out = (this.reqOut[req] as number) - 1;
    this.reqOut[req] = out;
    const kind = (this.reqAcct[req] as Account).kind;
    if (this.d.knobs.MINISTRY_CALLS === 'sequential') {
      if (m === DUKCAPIL && kind === 'refused_by_dukcapil') {
        this.answer(req, REFUSED.nik_not_verified);
        return;
      }
      const next = this.reqNext[req] as number;
      this.reqNext[req] = next + 1;
      if (next < MINISTRIES.length) {
        this.reqOut[req] = 1;
        this.reqAsks[req] = (this.reqAsks[req] as number) + 1;
        this.ask(req, next, 0);
        return;
      }
    }
    if (out > 0) return;
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

/**
 * PHOTO_UPLOAD=presigned (routes/photo.ts): the upload URL records the pending photo (an UPDATE),
 * and the confirmation reads the object back from the store (a GET that the store's station does
 * not hold, on loopback: left out), checks it and records the photo. Each opens with its key when
 * IDEMPOTENCY=on.
 */
function presignedPrograms(knobs: ServiceKnobs, photoBytes: number): [readonly Op[], readonly Op[]] {
  const cpu: Op = { kind: 'cpu' };
  const notYet: Op = {
    kind: 'check',
    test: (a) => ((a.rows & ROW.photo) !== 0 ? REFUSED.already_uploaded : undefined),
  };
  // The size the URL is asked for is the photo's: over PHOTO_MAX_BYTES, no URL.
  const tooLarge = photoTooLarge(knobs, photoBytes);
  const keyed = (ops: Op[]): readonly Op[] => (knobs.IDEMPOTENCY === 'on' ? [{ kind: 'key' }, ...ops] : ops);
  return [
    keyed([
      cpu,
      notYet,
      tooLarge,
      { kind: 'write', commit: () => undefined },
      { kind: 'answer', status: 201 },
    ]),
    keyed([
      cpu,
      notYet,
      {
        kind: 'write',
        // The conditional UPDATE: of two confirmations, one records the photo.
        commit: (a) => {
          if ((a.rows & ROW.photo) !== 0) return REFUSED.already_uploaded;
          a.rows |= ROW.photo;
          return undefined;
        },
      },
      { kind: 'answer', status: 201 },
    ]),
  ];
}

/** Each step's operations, as its route runs them under these knobs. */
/** PHOTO_MAX_BYTES: a photo over it is refused 413 photo_too_large, read (or declared) before anything is stored. */
function photoTooLarge(knobs: ServiceKnobs, photoBytes: number): Op {
  const refused = photoBytes > knobs.PHOTO_MAX_BYTES ? REFUSED.photo_too_large : undefined;
  return { kind: 'check', test: () => refused };
}

function programs(knobs: ServiceKnobs, photoBytes: number): Record<CostedStep, readonly Op[]> {
  const has = (a: Account, row: number) => (a.rows & row) !== 0;
  const cpu: Op = { kind: 'cpu' };
  const inline = knobs.EMAIL_DELIVERY === 'inline';
  const room = knobs.ADMISSION_RATE > 0;
  const byStep: Record<CostedStep, readonly Op[]> = {
    create_account: [
      ...(room ? [{ kind: 'room' } as Op] : []),
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
      // The ticket used up before the 201 leaves (beforeAnswer): one more commit. A failed
      // sign-up gives its ticket back with one too, left out: failures are few where it matters.
      ...(room ? [{ kind: 'write', commit: () => undefined } as Op] : []),
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
      photoTooLarge(knobs, photoBytes),
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
          if (s.durable.joined >= knobs.WAVE_QUOTA) return REFUSED.wave_full;
          s.durable.joined++;
          a.rows |= ROW.joined;
          return undefined;
        },
      },
      { kind: 'answer', status: 201 },
    ],
  };
  if (knobs.IDEMPOTENCY !== 'on') return byStep;
  // Every POST and PUT route opens with the key (app.ts), before the waiting room; a log-in's
  // answer carries a fresh session token, so it has none.
  const key: Op = { kind: 'key' };
  return Object.fromEntries(
    COSTED_STEPS.map((step) => [step, step === 'login' ? byStep[step] : [key, ...byStep[step]]]),
  ) as Record<CostedStep, readonly Op[]>;
}
