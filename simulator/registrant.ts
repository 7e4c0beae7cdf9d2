import { type BehaviourModel, backoffSeconds, type RetryPolicy, thinkSampler } from '../model/behaviour.ts';
import { LATER_STAGES, OUTCOMES, type Outcome, STAGES, STEP_OF_STAGE, type Stage } from '../model/funnel.ts';
import {
  MAILBOX_POLL_S,
  mailWaitSeconds,
  PHOTO_TIMEOUT_S,
  REQUEST_TIMEOUT_S,
  RETRYABLE_STATUSES,
  STILL_RUNNING_CODE,
  WAITING_ROOM_PATIENCE,
} from '../model/journey.ts';
import { DEFAULT_SHARES, type PopulationShares } from '../model/population.ts';
import { fmix32, type Rng } from '../model/random.ts';
import { COSTED_STEPS, type CostedStep } from './calibration.ts';
import type { EventQueue } from './events.ts';
import type { Recorder } from './metrics.ts';
import {
  type Account,
  type Answer,
  type AnswerSink,
  type PersonKind,
  PHOTO_CONFIRM,
  PHOTO_URL,
  type RegistrationService,
  WAITING_ROOM,
} from './service.ts';
import type { SimStation, StationCall } from './station.ts';
import { TimeoutLine } from './timeouts.ts';

/**
 * One registrant's way through the funnel, as scenarios/lib/registrant.ts and journey.ts walk it:
 * the kind of person from the first number of their stream (rngFor(seed, runKey, arrival)), then
 * per stage `decide` (three numbers each, so the same seed makes the same choices as on k6): leave,
 * or think and attempt, or be cut off as in progress when the attempt would come after the window.
 * Each step is up to `attempts` requests with a client timeout (30 s, 60 s for the photo); 0 (a
 * timeout), 429, 502, 503 and 504 are tried again after the registrant's own backoff, or the
 * Retry-After if longer (at most maxBackoffS); another 4xx is the rules' answer (rejected); another
 * 5xx a failure. The email stage first watches the mailbox every 0.5 s for `mailWaitS` of the day,
 * compressed as think times are (model/journey.ts mailWaitSeconds).
 */

interface JourneyOptions {
  seed: number;
  /** the scenarios key runs by their start second; a simulation is one run */
  runKey: number;
  model: BehaviourModel;
  thinkCompress: number;
  retry: RetryPolicy;
  minorShare: number;
  ineligibleShare: number;
  shares?: PopulationShares;
  /** ms at which the replayed window closes */
  windowEndMs: number;
  mailWaitS: number;
  /**
   * PHOTO_UPLOAD=presigned: the photo step is three requests (journey.ts uploadPhotoPresigned),
   * the URL from the service, the PUT of `photoBytes` to the store's station, the confirmation
   */
  presigned?: { store: SimStation; photoBytes: number };
  /** at most this many registrants at once (k6's maxVUs); arrivals beyond are dropped */
  maxVUs: number;
  /**
   * the VUs there are at the start (k6's preAllocatedVUs; default maxVUs): an arrival that finds
   * them all busy is dropped and one more is made for later arrivals, up to maxVUs
   */
  preAllocatedVUs?: number;
}

const POLL_MS = MAILBOX_POLL_S * 1000;
/** the waiting room's patience (model/journey.ts), whole seconds as the simulator counts them */
const ROOM_MAX_WAIT_S = WAITING_ROOM_PATIENCE.maxWaitS;
const ROOM_MAX_POLL_S = WAITING_ROOM_PATIENCE.maxPollS;
const TIMEOUT_MS = REQUEST_TIMEOUT_S * 1000;
const PHOTO_TIMEOUT_MS = PHOTO_TIMEOUT_S * 1000;
const RETRY_STREAM = 0x5e7;
const PERSON_STREAM = 0x9e5;

/** Statuses that are the step's success, and the rules' answers that are not failures (http_req_failed). */
const EXPECTED: Record<CostedStep, readonly number[]> = {
  create_account: [201],
  verify_email: [200],
  login: [201],
  submit_biodata: [200, 422],
  upload_photo: [201],
  submit_assessment: [200],
  join_wave: [201, 409],
};
const SUCCESS: Record<CostedStep, number> = {
  create_account: 201,
  verify_email: 200,
  login: 201,
  submit_biodata: 200,
  upload_photo: 201,
  submit_assessment: 200,
  join_wave: 201,
};
// Every stage is reached by a journey step, never by read_status.
const STEP_OF = STEP_OF_STAGE as Record<Stage, CostedStep>;
const RETRYABLE = new Set(RETRYABLE_STATUSES);

/** The state rngFor(seed, ...keys) starts its mulberry32 from (model/random.ts; the tests compare the streams). */
export function streamState(seed: number, k1: number, k2?: number, k3?: number): number {
  let h = fmix32((seed >>> 0) ^ 0x9e3779b9);
  h = mixKey(h, k1);
  if (k2 !== undefined) h = mixKey(h, k2);
  if (k3 !== undefined) h = mixKey(h, k3);
  return h;
}

function mixKey(h: number, k: number): number {
  const hi = Math.floor(k / 4294967296);
  h = fmix32(h ^ fmix32((k >>> 0) + 0x7f4a7c15));
  if (hi !== 0) h = fmix32(h ^ fmix32(hi >>> 0));
  return h;
}

/** mulberry32's next number from `state` (model/random.ts createRng), its new state in `out[0]`. */
function mulberry(state: number, out: Int32Array): number {
  const a = (state + 0x6d2b79f5) >>> 0;
  out[0] = a;
  let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

/**
 * rngFor(seed, ...keys) as model/random.ts makes it, with its state in a typed array rather than a
 * closure's variable, where each draw above 2^31 allocated a number: the stations' and the
 * service's streams draw millions of times a day.
 */
export function streamRng(seed: number, k1: number, k2?: number, k3?: number): Rng {
  const st = new Int32Array(1);
  st[0] = streamState(seed, k1, k2, k3);
  return () => mulberry(st[0] as number, st);
}

/**
 * What the service's database knows of a registrant. It outlives the registrant while the service
 * still works on their requests (a sign-up abandoned in a collapse); `owner` is the registrant's
 * slot while they are in flight, -1 after, so that a late answer finds nobody. The mail's arrival
 * is also written into the registrant's record, where the mailbox polls read it.
 */
class Registration implements Account {
  rows = 0;
  turnAt = Number.NaN;
  private arrives = Number.POSITIVE_INFINITY;
  constructor(
    readonly kind: PersonKind,
    public owner: number,
    private readonly journeys: Journeys,
    readonly arrival: number,
  ) {}

  get mailAt(): number {
    return this.arrives;
  }

  set mailAt(at: number) {
    this.arrives = at;
    if (this.owner >= 0) this.journeys.mailArrives(this.owner, at);
  }
}

// A registrant in flight is a slot of a table of 64-byte records: four numbers (F_*) then eight
// integers (I_*). Read after an hour of thinking, the record is one or two cache lines to fetch
// where an object, its boxed numbers and its stream's closure were spread over several; a
// finished registrant's slot is reused.
const RECORD_BYTES = 64;
const F_ARRIVED_AT = 0;
const F_SENT_AT = 1;
const F_TIMEOUT_AT = 2;
/** when the verification mail reaches the mailbox (Registration's mailAt), or Infinity */
const F_MAIL_AT = 3;
const I_ARRIVAL = 8;
/** the registrant's stream's state (mulberry32), kept where the last decision left it */
const I_STATE = 9;
/** the stage being attempted: 0 registered, 1..5 the later stages */
const I_STAGE = 10;
/** the step being attempted (its index in COSTED_STEPS) */
const I_STEP = 11;
const I_ATTEMPT = 12;
/** the ticket of the request's timeout in its line while waiting for an answer, -1 when not */
const I_TIMER = 13;
/**
 * the mailbox's looks at the email stage; at sign-up, the seconds waited in the waiting room; at
 * a presigned photo, the request it is at (PUT_URL, PUT_OBJECT, PUT_CONFIRM)
 */
const I_POLLS = 14;
const PUT_URL = 0;
const PUT_OBJECT = 1;
const PUT_CONFIRM = 2;
const I_REQUESTS = 15;

const STEP_INDEX = Object.fromEntries(COSTED_STEPS.map((s, i) => [s, i])) as Record<CostedStep, number>;
const OUTCOME_INDEX = Object.fromEntries(OUTCOMES.map((o, i) => [o, i])) as Record<Outcome, number>;
const LEFT_BY_CHOICE = OUTCOME_INDEX.left_by_choice;
const IN_PROGRESS = OUTCOME_INDEX.in_progress;
const LOGIN = STEP_INDEX.login;
const UPLOAD_PHOTO = STEP_INDEX.upload_photo;
const EXPECTED_BY_STEP = COSTED_STEPS.map((step) => EXPECTED[step]);
const SUCCESS_BY_STEP = COSTED_STEPS.map((step) => SUCCESS[step]);

export class Journeys implements AnswerSink {
  /** registrants in flight (k6's busy VUs) */
  inFlight = 0;
  /** the VUs made so far, busy or free */
  private vus: number;
  /** registrants in flight by the stage they are on, for the ones cut off at the hard stop */
  readonly onStage = new Float64Array(LATER_STAGES.length + 1);
  private readonly refusedByDukcapil: number;
  /** the funnel's stages; a registrant's stage is an index in it (STAGES is registered, then LATER_STAGES) */
  private readonly stages: readonly Stage[] = STAGES;
  /** each stage's step, by the stage's index (biodata_verified starts with the login) */
  private readonly stepOfStage: number[];
  private readonly timeouts: TimeoutLine<number>;
  private readonly photoTimeouts: TimeoutLine<number>;
  /** one stream function for every registrant: it draws from the state `cursor[0]` holds */
  private readonly cursor = new Int32Array(1);
  private readonly rng: Rng = () => mulberry(this.cursor[0] as number, this.cursor);
  /** decide's choice: the think time in seconds, or -1 to leave */
  private readonly think: (stage: (typeof LATER_STAGES)[number], rng: Rng) => number;
  /** looks at the mailbox before giving up on the mail: the day's patience, compressed (model/journey.ts) */
  private readonly mailPolls: number;
  // The registrants' table (see RECORD_BYTES).
  private f = new Float64Array(0);
  private i = new Int32Array(0);
  private accounts: Array<Registration | undefined> = [];
  /** PHOTO_UPLOAD=presigned: by slot, the PUT to the store in flight, abandoned at the registrant's timeout */
  private readonly puts: Array<StationCall<number> | undefined> = [];
  private freeSlots: number[] = [];
  private slotsUsed = 0;

  constructor(
    private readonly q: EventQueue,
    /** the service, or what answers in its place while it is down (day.ts) */
    private readonly service: Pick<RegistrationService, 'handleStep'>,
    private readonly rec: Recorder,
    private readonly o: JourneyOptions,
  ) {
    this.vus = Math.min(o.preAllocatedVUs ?? o.maxVUs, o.maxVUs);
    // A timeout is cancelled when its answer comes (onAnswer).
    this.timeouts = new TimeoutLine(q, TIMEOUT_MS, this.onTimeout);
    this.photoTimeouts = new TimeoutLine(q, PHOTO_TIMEOUT_MS, this.onTimeout);
    this.think = thinkSampler({ model: o.model, compress: o.thinkCompress });
    this.mailPolls = Math.max(1, Math.ceil((mailWaitSeconds(o.mailWaitS, o.thinkCompress) * 1000) / POLL_MS));
    this.stepOfStage = this.stages.map((stage) =>
      stage === 'biodata_verified' ? LOGIN : STEP_INDEX[STEP_OF[stage]],
    );
    this.grow(1024);
    // Among adults the rules refuse, the share Dukcapil refuses (NIK unknown or name mismatch); the
    // rest are refused after all three ministries answered (in formal education, not a citizen).
    const s = o.shares ?? DEFAULT_SHARES;
    const knownAndMatching = (1 - s.unknownNik) * (1 - s.nameMismatch);
    this.refusedByDukcapil =
      (1 - knownAndMatching) / (1 - knownAndMatching * (1 - s.nonCitizen) * (1 - s.studying));
  }

  private grow(slots: number): void {
    const buffer = new ArrayBuffer(slots * RECORD_BYTES);
    new Uint8Array(buffer).set(new Uint8Array(this.f.buffer));
    this.f = new Float64Array(buffer);
    this.i = new Int32Array(buffer);
  }

  /** A new arrival, number `arrival` (k6's iterationInTest). */
  arrive(arrival: number): void {
    if (this.inFlight >= this.vus) {
      // As k6's arrival-rate executors (and the embedded runner's): the arrival that finds no free
      // VU is dropped even below maxVUs, and a VU is made for the arrivals after it. k6 makes it in
      // the background, one at a time, so arrivals during its init are dropped too: not modelled
      // (the embedded runner makes it at once).
      this.rec.drop();
      if (this.vus < this.o.maxVUs) this.vus++;
      return;
    }
    this.inFlight++;
    this.rec.arrival();
    const cursor = this.cursor;
    const u = mulberry(streamState(this.o.seed, this.o.runKey, arrival), cursor);
    const state = cursor[0] as number;
    let kind: PersonKind = 'eligible';
    if (u < this.o.minorShare) kind = 'minor';
    else if (u < this.o.minorShare + this.o.ineligibleShare) {
      kind =
        mulberry(streamState(this.o.seed, PERSON_STREAM, arrival), cursor) < this.refusedByDukcapil
          ? 'refused_by_dukcapil'
          : 'refused_after_ministries';
    }
    let r = this.freeSlots.pop();
    if (r === undefined) {
      r = this.slotsUsed++;
      if (r * RECORD_BYTES === this.f.buffer.byteLength) this.grow(r * 2);
      this.accounts.push(undefined);
    }
    this.accounts[r] = new Registration(kind, r, this, arrival);
    const f = this.f;
    const i = this.i;
    const fo = r * 8;
    const io = r * 16;
    f[fo + F_ARRIVED_AT] = this.q.now;
    f[fo + F_MAIL_AT] = Number.POSITIVE_INFINITY;
    i[io + I_ARRIVAL] = arrival;
    i[io + I_STATE] = state;
    i[io + I_STAGE] = 0;
    i[io + I_REQUESTS] = 0;
    i[io + I_TIMER] = -1;
    i[io + I_POLLS] = 0;
    this.onStage[0] = (this.onStage[0] as number) + 1;
    this.startStep(r, STEP_INDEX.create_account);
  }

  /** Registrants still in flight at the hard stop: in progress at the stage they were on. */
  cutOff(): void {
    this.stages.forEach((stage, i) => {
      for (let k = 0; k < (this.onStage[i] as number); k++)
        this.rec.outcome(stage, 'in_progress', 'stopped_at_end');
      this.onStage[i] = 0;
    });
  }

  private startStep(r: number, step: number): void {
    this.i[r * 16 + I_STEP] = step;
    this.i[r * 16 + I_ATTEMPT] = 1;
    if (step === UPLOAD_PHOTO) this.i[r * 16 + I_POLLS] = PUT_URL;
    this.send(r);
  }

  /** The photo's requests have the photo's timeout, a presigned photo's service requests the others'. */
  private lineOf(r: number, step: number): TimeoutLine<number> {
    if (step !== UPLOAD_PHOTO) return this.timeouts;
    return !this.o.presigned || this.i[r * 16 + I_POLLS] === PUT_OBJECT ? this.photoTimeouts : this.timeouts;
  }

  private send(r: number): void {
    const f = this.f;
    const i = this.i;
    const step = i[r * 16 + I_STEP] as number;
    f[r * 8 + F_SENT_AT] = this.q.now;
    const line = this.lineOf(r, step);
    f[r * 8 + F_TIMEOUT_AT] = line.add(r);
    i[r * 16 + I_TIMER] = line.lastTicket;
    const token = (i[r * 16 + I_REQUESTS] as number) + 1;
    i[r * 16 + I_REQUESTS] = token;
    const presigned = this.o.presigned;
    if (presigned && step === UPLOAD_PHOTO) {
      const phase = i[r * 16 + I_POLLS] as number;
      if (phase === PUT_OBJECT) {
        // Straight to the store: its station, its link, none of the service. A refusal may answer
        // at once, before the call is returned.
        const call = presigned.store.call(this.onPut, r, presigned.photoBytes, token);
        if (i[r * 16 + I_TIMER] !== -1 && i[r * 16 + I_REQUESTS] === token) this.puts[r] = call;
        return;
      }
      this.service.handleStep(
        phase === PUT_URL ? PHOTO_URL : PHOTO_CONFIRM,
        this.accounts[r] as Registration,
        this,
        token,
      );
      return;
    }
    this.service.handleStep(step, this.accounts[r] as Registration, this, token);
  }

  /** The store's answer to a presigned PUT (journey.ts putToStore). */
  private readonly onPut = (c: StationCall<number>): void => {
    const r = c.ctx;
    const i = this.i;
    const timer = i[r * 16 + I_TIMER] as number;
    if (i[r * 16 + I_REQUESTS] !== c.tag || timer < 0) return;
    i[r * 16 + I_TIMER] = -1;
    this.photoTimeouts.cancel(timer);
    this.puts[r] = undefined;
    const ok = c.status === 201;
    this.rec.requestAt(UPLOAD_PHOTO, this.q.now - (this.f[r * 8 + F_SENT_AT] as number), !ok);
    if (ok) {
      i[r * 16 + I_POLLS] = PUT_CONFIRM;
      i[r * 16 + I_ATTEMPT] = 1;
      this.send(r);
      return;
    }
    this.putFailed(r, c.status, c.retryAfterS);
  };

  /**
   * A PUT the store failed: an object store's 5xx is tried again as a retryable status is (S3's
   * InternalError), anything else ends the step; either way the reason is the store's.
   */
  private putFailed(r: number, status: number, retryAfterS: number | undefined): void {
    if (RETRYABLE.has(status) || status >= 500) this.retryOrFail(r, retryAfterS, 'dependency:upload');
    else this.stepDone(r, 'failed', 'dependency:upload');
  }

  onAnswer(acct: Account, token: number, a: Answer): void {
    const r = (acct as Registration).owner;
    if (r < 0) return;
    const i = this.i;
    const timer = i[r * 16 + I_TIMER] as number;
    if (i[r * 16 + I_REQUESTS] !== token || timer < 0) return;
    i[r * 16 + I_TIMER] = -1;
    const step = i[r * 16 + I_STEP] as number;
    this.lineOf(r, step).cancel(timer);
    if (a.code === WAITING_ROOM) {
      // The room's answer is the service working as designed: a request, not a failed one.
      this.rec.requestAt(step, this.q.now - (this.f[r * 8 + F_SENT_AT] as number), false);
      this.waitInRoom(r, a.retryAfterS ?? 1);
      return;
    }
    const failed = !(EXPECTED_BY_STEP[step] as readonly number[]).includes(a.status);
    this.rec.requestAt(step, this.q.now - (this.f[r * 8 + F_SENT_AT] as number), failed);
    this.answered(
      r,
      a.status,
      a.retryAfterS,
      a.status === SUCCESS_BY_STEP[step] ? '' : reasonOf(a),
      a.status === 409 && a.code === STILL_RUNNING_CODE,
    );
  }

  private readonly onTimeout = (r: number): void => {
    const i = this.i;
    if ((i[r * 16 + I_TIMER] as number) < 0 || this.f[r * 8 + F_TIMEOUT_AT] !== this.q.now) return;
    i[r * 16 + I_TIMER] = -1;
    const step = i[r * 16 + I_STEP] as number;
    this.rec.requestAt(step, this.q.now - (this.f[r * 8 + F_SENT_AT] as number), true);
    const put = this.puts[r];
    if (put) {
      // The store holds the abandoned PUT as its mock holds a request whose client went away.
      this.puts[r] = undefined;
      this.o.presigned?.store.abandon(put as StationCall);
      this.putFailed(r, 0, undefined);
      return;
    }
    this.answered(r, 0, undefined, 'timeout');
  };

  /** `stillRunning`: a 409 that says the same request is still running (journey.ts retries it as a 503) */
  private answered(
    r: number,
    status: number,
    retryAfterS: number | undefined,
    reason: string,
    stillRunning = false,
  ): void {
    const i = this.i;
    const step = i[r * 16 + I_STEP] as number;
    if (status === SUCCESS_BY_STEP[step]) {
      if (step === UPLOAD_PHOTO && this.o.presigned && i[r * 16 + I_POLLS] === PUT_URL) {
        // The URL given: the PUT to the store, with its own tries.
        i[r * 16 + I_POLLS] = PUT_OBJECT;
        i[r * 16 + I_ATTEMPT] = 1;
        this.send(r);
        return;
      }
      this.stepDone(r, 'continued', null);
      return;
    }
    if (RETRYABLE.has(status) || stillRunning) {
      this.retryOrFail(r, retryAfterS, reason);
      return;
    }
    if (status >= 400 && status < 500) {
      this.stepDone(r, 'rejected', reason);
      return;
    }
    this.stepDone(r, 'failed', reason);
  }

  /** Another try after the registrant's backoff (or the Retry-After, if longer), or the step fails with its tries used up. */
  private retryOrFail(r: number, retryAfterS: number | undefined, reason: string): void {
    const i = this.i;
    const attempt = i[r * 16 + I_ATTEMPT] as number;
    if (attempt >= this.o.retry.attempts) {
      this.stepDone(r, 'failed', reason);
      return;
    }
    this.cursor[0] = streamState(
      this.o.seed,
      RETRY_STREAM,
      i[r * 16 + I_ARRIVAL] as number,
      i[r * 16 + I_REQUESTS] as number,
    );
    const own = backoffSeconds(this.o.retry, attempt, this.rng);
    const wait =
      retryAfterS === undefined ? own : Math.max(own, Math.min(retryAfterS, this.o.retry.maxBackoffS));
    i[r * 16 + I_ATTEMPT] = attempt + 1;
    this.q.schedule(this.q.now + wait * 1000, this.onRetry, r);
  }

  private readonly onRetry = (r: number): void => this.send(r);

  /**
   * As createAccount does: keep the ticket (the service keeps it on the account), sleep what the
   * room asked, at most a minute and at most the patience left, and come back with the retry
   * attempts whole again; out of patience, the sign-up fails with reason waiting_room.
   */
  private waitInRoom(r: number, askedS: number): void {
    const i = this.i;
    const waited = i[r * 16 + I_POLLS] as number;
    const left = ROOM_MAX_WAIT_S - waited;
    if (left <= 0) {
      this.stepDone(r, 'failed', WAITING_ROOM);
      return;
    }
    // Retry-After is whole seconds, so the waits and the patience stay whole seconds too.
    const wait = Math.max(1, Math.min(askedS, ROOM_MAX_POLL_S, left));
    i[r * 16 + I_POLLS] = waited + wait;
    i[r * 16 + I_ATTEMPT] = 1;
    this.q.schedule(this.q.now + wait * 1000, this.onRetry, r);
  }

  private stepDone(r: number, outcome: Outcome, reason: string | null): void {
    if (this.i[r * 16 + I_STEP] === LOGIN && outcome === 'continued') {
      this.startStep(r, STEP_INDEX.submit_biodata);
      return;
    }
    const current = this.i[r * 16 + I_STAGE] as number;
    this.rec.outcomeAt(current, OUTCOME_INDEX[outcome], reason);
    if (outcome !== 'continued') {
      this.finish(r);
      return;
    }
    this.towards(r, current + 1);
  }

  /** Decides, on reaching stage `next - 1`, whether and when to attempt stage `next`. */
  private towards(r: number, next: number): void {
    const i = this.i;
    const current = i[r * 16 + I_STAGE] as number;
    if (next > LATER_STAGES.length) {
      this.rec.journey.record(this.q.now - (this.f[r * 8 + F_ARRIVED_AT] as number));
      this.finish(r);
      return;
    }
    this.onStage[current] = (this.onStage[current] as number) - 1;
    i[r * 16 + I_STAGE] = next;
    this.onStage[next] = (this.onStage[next] as number) + 1;
    const stage = LATER_STAGES[next - 1] as (typeof LATER_STAGES)[number];
    // The stream's first number chose the person, then each earlier stage's decision took three.
    this.cursor[0] = i[r * 16 + I_STATE] as number;
    const thinkSeconds = this.think(stage, this.rng);
    i[r * 16 + I_STATE] = this.cursor[0] as number;
    if (thinkSeconds < 0) {
      this.rec.outcomeAt(next, LEFT_BY_CHOICE, null);
      this.finish(r);
      return;
    }
    const at = this.q.now + thinkSeconds * 1000;
    if (at > this.o.windowEndMs) {
      this.rec.outcomeAt(next, IN_PROGRESS, null);
      this.finish(r);
      return;
    }
    this.q.schedule(at, this.onThought, r);
  }

  private readonly onThought = (r: number): void => {
    const stage = this.i[r * 16 + I_STAGE] as number;
    if (this.stages[stage] === 'email_verified') {
      this.i[r * 16 + I_POLLS] = 0;
      this.f[r * 8 + F_SENT_AT] = this.q.now;
      this.poll(r);
      return;
    }
    this.startStep(r, this.stepOfStage[stage] as number);
  };

  /** Reads the mailbox every POLL_MS until the link is there, for at most mailWaitS. */
  private readonly poll = (r: number): void => {
    const polls = this.mailPolls;
    const start = this.f[r * 8 + F_SENT_AT] as number;
    const mailAt = this.f[r * 8 + F_MAIL_AT] as number;
    if (mailAt <= this.q.now) {
      this.startStep(r, STEP_INDEX.verify_email);
      return;
    }
    // A mail already on its way is found at the first look after it lands; skip the looks before.
    const look = Number.isFinite(mailAt)
      ? Math.ceil((mailAt - start) / POLL_MS)
      : (this.i[r * 16 + I_POLLS] as number) + 1;
    if (look >= polls) {
      this.q.schedule(start + polls * POLL_MS, this.onMailNeverCame, r);
      return;
    }
    this.i[r * 16 + I_POLLS] = look;
    this.q.schedule(start + look * POLL_MS, this.poll, r);
  };

  private readonly onMailNeverCame = (r: number): void => {
    this.rec.outcome('email_verified', 'failed', 'dependency:email');
    this.finish(r);
  };

  /** The verification mail of the registrant in slot `r` reaches the mailbox at `at`. */
  mailArrives(r: number, at: number): void {
    this.f[r * 8 + F_MAIL_AT] = at;
  }

  /** The registrant is done (whatever the outcome): nothing of theirs is pending, the slot is free. */
  private finish(r: number): void {
    const stage = this.i[r * 16 + I_STAGE] as number;
    this.onStage[stage] = (this.onStage[stage] as number) - 1;
    this.inFlight--;
    (this.accounts[r] as Registration).owner = -1;
    this.accounts[r] = undefined;
    this.freeSlots.push(r);
  }
}

/** The arrival number (k6's iterationInTest) of the registrant whose account `a` is. */
export const arrivalOf = (a: Account): number => (a as Registration).arrival;

/** Why the system failed a request, as journey.ts failureReason names it; the rules' code otherwise. */
function reasonOf(a: Answer): string {
  // The scenario's failureReason: status 0 is a transport error, here a connection the service's death closed or refused.
  if (a.status === 0) return 'connection';
  if (a.status >= 400 && a.status < 500 && a.status !== 429) return a.code;
  if (a.dependency) return `dependency:${a.dependency}`;
  if (a.status === 504) return 'timeout';
  return `http_${Math.floor(a.status / 100)}xx`;
}
