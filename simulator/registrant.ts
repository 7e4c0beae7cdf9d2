import { type BehaviourModel, backoffSeconds, decide, type RetryPolicy } from '../model/behaviour.ts';
import { LATER_STAGES, type Outcome, STEP_OF_STAGE, type Stage } from '../model/funnel.ts';
import { DEFAULT_SHARES, type PopulationShares } from '../model/population.ts';
import { type Rng, rngFor } from '../model/random.ts';
import type { CostedStep } from './calibration.ts';
import type { EventQueue } from './events.ts';
import type { Recorder } from './metrics.ts';
import type { Account, Answer, AnswerSink, PersonKind, RegistrationService } from './service.ts';
import { TimeoutLine } from './timeouts.ts';

/**
 * One registrant's way through the funnel, as scenarios/lib/registrant.ts and journey.ts walk it:
 * the kind of person from the first number of their stream (rngFor(seed, runKey, arrival)), then
 * per stage `decide` (three numbers each, so the same seed makes the same choices as on k6): leave,
 * or think and attempt, or be cut off as in progress when the attempt would come after the window.
 * Each step is up to `attempts` requests with a client timeout (30 s, 60 s for the photo); 0 (a
 * timeout), 429, 502, 503 and 504 are tried again after the registrant's own backoff, or the
 * Retry-After if longer (at most maxBackoffS); another 4xx is the rules' answer (rejected); another
 * 5xx a failure. The email stage first watches the mailbox every 0.5 s for `mailWaitS`.
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
  /** at most this many registrants at once (k6's maxVUs); arrivals beyond are dropped */
  maxVUs: number;
}

const POLL_MS = 500;
const TIMEOUT_MS = 30_000;
const PHOTO_TIMEOUT_MS = 60_000;
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
const RETRYABLE = new Set([0, 429, 502, 503, 504]);

class Registrant implements Account {
  rows = 0;
  mailAt = Number.POSITIVE_INFINITY;
  /** the stage being attempted: 0 registered, 1..5 the later stages */
  stage = 0;
  step: CostedStep = 'create_account';
  attempt = 1;
  sentAt = 0;
  waiting = false;
  timeoutAt = 0;
  polls = 0;
  requests = 0;
  constructor(
    readonly arrival: number,
    readonly arrivedAt: number,
    readonly kind: PersonKind,
    /** the registrant's stream, kept where the last decision left it (rather than re-derived at each stage) */
    readonly rng: Rng,
  ) {}
}

export class Journeys implements AnswerSink {
  /** registrants in flight (k6's busy VUs) */
  inFlight = 0;
  /** registrants in flight by the stage they are on, for the ones cut off at the hard stop */
  readonly onStage = new Float64Array(LATER_STAGES.length + 1);
  private readonly refusedByDukcapil: number;
  private readonly stages: readonly Stage[] = ['registered', ...LATER_STAGES];
  private readonly timeouts: TimeoutLine<Registrant>;
  private readonly photoTimeouts: TimeoutLine<Registrant>;

  constructor(
    private readonly q: EventQueue,
    private readonly service: RegistrationService,
    private readonly rec: Recorder,
    private readonly o: JourneyOptions,
  ) {
    // Among adults the rules refuse, the share Dukcapil refuses (NIK unknown or name mismatch); the
    // rest are refused after all three ministries answered (in formal education, not a citizen).
    const waiting = (r: Registrant) => r.waiting && r.timeoutAt >= q.now;
    this.timeouts = new TimeoutLine(q, TIMEOUT_MS, this.onTimeout, waiting);
    this.photoTimeouts = new TimeoutLine(q, PHOTO_TIMEOUT_MS, this.onTimeout, waiting);
    const s = o.shares ?? DEFAULT_SHARES;
    const knownAndMatching = (1 - s.unknownNik) * (1 - s.nameMismatch);
    this.refusedByDukcapil =
      (1 - knownAndMatching) / (1 - knownAndMatching * (1 - s.nonCitizen) * (1 - s.studying));
  }

  /** A new arrival, number `arrival` (k6's iterationInTest). */
  arrive(arrival: number): void {
    if (this.inFlight >= this.o.maxVUs) {
      this.rec.drop();
      return;
    }
    this.inFlight++;
    this.rec.arrival();
    const rng = rngFor(this.o.seed, this.o.runKey, arrival);
    const u = rng();
    let kind: PersonKind = 'eligible';
    if (u < this.o.minorShare) kind = 'minor';
    else if (u < this.o.minorShare + this.o.ineligibleShare) {
      kind =
        rngFor(this.o.seed, PERSON_STREAM, arrival)() < this.refusedByDukcapil
          ? 'refused_by_dukcapil'
          : 'refused_after_ministries';
    }
    const r = new Registrant(arrival, this.q.now, kind, rng);
    this.onStage[0] = (this.onStage[0] as number) + 1;
    this.startStep(r, 'create_account');
  }

  /** Registrants still in flight at the hard stop: in progress at the stage they were on. */
  cutOff(): void {
    this.stages.forEach((stage, i) => {
      for (let k = 0; k < (this.onStage[i] as number); k++)
        this.rec.outcome(stage, 'in_progress', 'stopped_at_end');
      this.onStage[i] = 0;
    });
  }

  private startStep(r: Registrant, step: CostedStep): void {
    r.step = step;
    r.attempt = 1;
    this.send(r);
  }

  private send(r: Registrant): void {
    r.sentAt = this.q.now;
    r.waiting = true;
    r.timeoutAt = (r.step === 'upload_photo' ? this.photoTimeouts : this.timeouts).add(r);
    this.service.handle(r.step, r, this, ++r.requests);
  }

  onAnswer(acct: Account, token: number, a: Answer): void {
    const r = acct as Registrant;
    if (r.requests !== token || !r.waiting) return;
    r.waiting = false;
    const failed = !EXPECTED[r.step].includes(a.status);
    this.rec.request(r.step, this.q.now - r.sentAt, failed);
    this.answered(r, a.status, a.retryAfterS, a.status === SUCCESS[r.step] ? '' : reasonOf(a));
  }

  private readonly onTimeout = (r: Registrant): void => {
    if (!r.waiting || r.timeoutAt !== this.q.now) return;
    r.waiting = false;
    this.rec.request(r.step, this.q.now - r.sentAt, true);
    this.answered(r, 0, undefined, 'timeout');
  };

  private answered(r: Registrant, status: number, retryAfterS: number | undefined, reason: string): void {
    if (status === SUCCESS[r.step]) {
      this.stepDone(r, 'continued', null);
      return;
    }
    if (RETRYABLE.has(status)) {
      if (r.attempt >= this.o.retry.attempts) {
        this.stepDone(r, 'failed', reason);
        return;
      }
      const own = backoffSeconds(this.o.retry, r.attempt, this.retryRng(r));
      const wait =
        retryAfterS === undefined ? own : Math.max(own, Math.min(retryAfterS, this.o.retry.maxBackoffS));
      r.attempt++;
      this.q.schedule(this.q.now + wait * 1000, this.onRetry, r);
      return;
    }
    if (status >= 400 && status < 500) {
      this.stepDone(r, 'rejected', reason);
      return;
    }
    this.stepDone(r, 'failed', reason);
  }

  private readonly onRetry = (r: Registrant): void => this.send(r);

  private retryRng(r: Registrant): Rng {
    return rngFor(this.o.seed, RETRY_STREAM, r.arrival, r.requests);
  }

  private stepDone(r: Registrant, outcome: Outcome, reason: string | null): void {
    if (r.step === 'login' && outcome === 'continued') {
      this.startStep(r, 'submit_biodata');
      return;
    }
    const stage = this.stages[r.stage] as Stage;
    this.rec.outcome(stage, outcome, reason);
    if (outcome !== 'continued') {
      this.finish(r);
      return;
    }
    this.towards(r, r.stage + 1);
  }

  /** Decides, on reaching stage `next - 1`, whether and when to attempt stage `next`. */
  private towards(r: Registrant, next: number): void {
    this.onStage[r.stage] = (this.onStage[r.stage] as number) - 1;
    if (next > LATER_STAGES.length) {
      this.rec.journey.record(this.q.now - r.arrivedAt);
      this.inFlight--;
      return;
    }
    r.stage = next;
    this.onStage[next] = (this.onStage[next] as number) + 1;
    const stage = LATER_STAGES[next - 1] as (typeof LATER_STAGES)[number];
    // The stream's first number chose the person, then each earlier stage's decision took three.
    const d = decide(stage, r.rng, { model: this.o.model, compress: this.o.thinkCompress });
    if (d.outcome === 'left_by_choice') {
      this.rec.outcome(stage, 'left_by_choice', null);
      this.finish(r);
      return;
    }
    const at = this.q.now + d.thinkSeconds * 1000;
    if (at > this.o.windowEndMs) {
      this.rec.outcome(stage, 'in_progress', null);
      this.finish(r);
      return;
    }
    this.q.schedule(at, this.onThought, r);
  }

  private readonly onThought = (r: Registrant): void => {
    const stage = this.stages[r.stage] as Stage;
    if (stage === 'email_verified') {
      r.polls = 0;
      r.sentAt = this.q.now;
      this.poll(r);
      return;
    }
    this.startStep(r, stage === 'biodata_verified' ? 'login' : STEP_OF[stage]);
  };

  /** Reads the mailbox every POLL_MS until the link is there, for at most mailWaitS. */
  private readonly poll = (r: Registrant): void => {
    const polls = Math.max(1, Math.ceil((this.o.mailWaitS * 1000) / POLL_MS));
    const start = r.sentAt;
    if (r.mailAt <= this.q.now) {
      this.startStep(r, 'verify_email');
      return;
    }
    // A mail already on its way is found at the first look after it lands; skip the looks before.
    const look = Number.isFinite(r.mailAt) ? Math.ceil((r.mailAt - start) / POLL_MS) : r.polls + 1;
    if (look >= polls) {
      this.q.schedule(start + polls * POLL_MS, this.onMailNeverCame, r);
      return;
    }
    r.polls = look;
    this.q.schedule(start + look * POLL_MS, this.poll, r);
  };

  private readonly onMailNeverCame = (r: Registrant): void => {
    this.rec.outcome('email_verified', 'failed', 'dependency:email');
    this.finish(r);
  };

  private finish(r: Registrant): void {
    this.onStage[r.stage] = (this.onStage[r.stage] as number) - 1;
    this.inFlight--;
  }
}

/** Why the system failed a request, as journey.ts failureReason names it; the rules' code otherwise. */
function reasonOf(a: Answer): string {
  if (a.status >= 400 && a.status < 500 && a.status !== 429) return a.code;
  if (a.dependency) return `dependency:${a.dependency}`;
  if (a.status === 504) return 'timeout';
  return `http_${Math.floor(a.status / 100)}xx`;
}
