import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { tokenHash } from '../../mock-services/registration/auth.ts';
import { STEPS as FUNNEL_STEPS, type Step as FunnelStep } from '../../model/funnel.ts';
import type { Person } from '../../model/population.ts';
import { type Rng, rngFor } from '../../model/random.ts';
import {
  type Answer,
  type Body,
  type ErrorBody,
  FIXTURES,
  RegistrantClient,
} from '../../scripts/registrant-client.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';
import { people } from './population.ts';

/**
 * One crash round, shared by the suite (test/crash-rounds.test.ts) and the bench
 * (bench/crash.bench.ts): a fresh stack, registrants going through the journey at the same time
 * and retrying as a real app does, the registration service killed with SIGKILL at a seeded moment
 * in the middle of it and restarted, then the database read to prove that every acknowledged step
 * is there, that no place was given twice or beyond the quota, and that every account got its mail.
 */

/** The journey's steps that change something: read_status only reads. */
export type Step = Exclude<FunnelStep, 'read_status'>;
export const STEPS = FUNNEL_STEPS.filter((s): s is Step => s !== 'read_status');

const SUCCESS: Record<Step, number> = {
  create_account: 201,
  verify_email: 200,
  login: 201,
  submit_biodata: 200,
  upload_photo: 201,
  submit_assessment: 200,
  join_wave: 201,
};

/**
 * How each step says "already done" (409): what a retried request meets when its first attempt
 * was committed but its answer died with the process. A log-in has none: a retry opens another
 * session.
 */
const ALREADY_DONE: Partial<Record<Step, string>> = {
  create_account: 'duplicate_email',
  verify_email: 'token_used',
  submit_biodata: 'already_verified',
  upload_photo: 'already_uploaded',
  submit_assessment: 'already_assessed',
  join_wave: 'already_joined',
};

/** A retried step gives up after this long: longer than a restart takes on a loaded 2-core machine. */
const RETRY_BUDGET_MS = 20_000;
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 500;

export interface CrashRoundOptions {
  /** names the round in messages; with `seed`, decides the people, the moment of the kill and the jitter */
  round: number;
  seed: number;
  registrants: number;
  /** places in wave 1; fewer than the registrants, so that the quota is contended */
  quota: number;
  /** processes of the registration service (node:cluster with 2: the primary is the one killed) */
  workers: number;
  /** the whole round once the stack is up: the load, the restart and the checks */
  deadlineMs: number;
  /**
   * at-least-once: every account has one mail or more (the outbox may send a mail again after a
   * crash); exactly-once: one per account as the registrant's mailbox shows it (the email mock
   * folding messages of one Message-ID)
   */
  mail: 'at-least-once' | 'exactly-once';
}

export interface CrashRoundResult {
  round: number;
  seed: number;
  workers: number;
  registrants: number;
  quota: number;
  /** the kill came when this many steps had been acknowledged ... */
  killAfter: number;
  /** ... of this many a round acknowledges at most (every step of every registrant) */
  stepsPlanned: number;
  /** requests in flight when the kill was sent */
  inFlightAtKill: number;
  /** from the kill to the restarted service answering /healthz */
  downMs: number;
  /** steps answered 2xx */
  acknowledged: number;
  /** steps a retry found done (their 409 "already done"): committed, but their answer lost */
  alreadyDone: number;
  /** acknowledged steps (2xx or "already done") the database does not hold */
  lost: number;
  /** places given beyond the quota */
  oversold: number;
  /** join rows beyond one per account */
  duplicateJoins: number;
  joined: number;
  toldWaveFull: number;
  /** requests refused on the connection (ECONNREFUSED): the service was down */
  refusedWhileDown: number;
  /** requests whose connection broke under them (the kill) */
  cutByCrash: number;
  /** 5xx answers (retried) */
  serverErrors: number;
  accounts: number;
  accountsWithoutMail: number;
  /** accounts whose mailbox shows the verification mail more than once */
  accountsWithSeveralMails: number;
  /**
   * copies delivered again of a mail the mailbox already showed (same Message-ID): the outbox
   * sending again after the kill, as at-least-once allows, folded by the mailbox
   */
  mailsDeliveredAgain: number;
  /** every violation, in words; empty: the round proved what it should */
  problems: string[];
  ms: { start: number; load: number; total: number };
}

export class CrashRoundError extends Error {}

/** The environment the suite and the bench read, validated: a bad value is named with what was expected. */
const envSchema = z.object({
  GELOMBANG_CRASH_SEED: z.coerce
    .number({ error: 'expected an integer seed' })
    .int('expected an integer seed')
    .min(0, 'expected an integer seed >= 0')
    .max(2 ** 31, 'expected an integer seed <= 2^31')
    .default(2020),
  BENCH_CRASH_ROUNDS: z.coerce
    .number({ error: 'expected a whole number of rounds' })
    .int('expected a whole number of rounds')
    .min(1, 'expected at least 1 round')
    .max(1000, 'expected at most 1000 rounds')
    .default(20),
  BENCH_CRASH_REGISTRANTS: z.coerce
    .number({ error: 'expected a whole number of registrants' })
    .int('expected a whole number of registrants')
    .min(4, 'expected at least 4 registrants (the quota is three quarters of them)')
    .max(1000, 'expected at most 1000 registrants (the round is bounded in time)')
    .default(40),
});

export function crashEnv(env: Record<string, string | undefined>) {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid environment: ${lines.join('; ')}`);
  }
  return parsed.data;
}

interface Acknowledgement {
  how: 'answered' | 'already_done';
  body: Body;
}

interface Registrant {
  index: number;
  email: string;
  person: Person;
  acks: Map<Step, Acknowledgement>;
  /** where it is now, for the message of a round that ran out of time */
  at: Step | 'waiting_for_mail' | 'starting' | 'done';
  outcome: 'joined' | 'wave_full' | 'failed' | 'unfinished';
  failure?: string;
}

/** What the load did to the service, counted by the registrants' clients. */
class Load {
  over = false;
  inFlight = 0;
  acknowledged = 0;
  alreadyDone = 0;
  refused = 0;
  cut = 0;
  serverErrors = 0;
  onAcknowledged: () => void = () => {};

  check(): void {
    if (this.over) throw new CrashRoundError('the round is over');
  }
}

/** The code of a connection failure under fetch's "fetch failed", or undefined for any other error. */
function connectionFailure(err: unknown): string | undefined {
  if (!(err instanceof TypeError)) return undefined;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}

type CallOptions = Parameters<RegistrantClient['call']>[2];

/** The registrant's app: a request that failed on the connection or with a 5xx is sent again, with backoff. */
class RetryingClient extends RegistrantClient {
  /** requests sent for the last step (1: no retry) */
  attempts = 0;

  constructor(
    urls: { registration: string; email: string },
    email: string,
    private readonly load: Load,
    private readonly rng: Rng,
  ) {
    super(urls, email);
  }

  override async call<T = Body>(method: string, path: string, opts: CallOptions = {}): Promise<Answer<T>> {
    const started = Date.now();
    let backoff = FIRST_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      this.load.check();
      this.attempts = attempt;
      let failure: string;
      this.load.inFlight++;
      try {
        const answer = await super.call<T>(method, path, opts);
        if (answer.status < 500) return answer;
        this.load.serverErrors++;
        failure = `${answer.status} ${JSON.stringify(answer.body)}`;
      } catch (err) {
        const code = connectionFailure(err);
        if (code === undefined) throw err;
        if (code === 'ECONNREFUSED') this.load.refused++;
        else this.load.cut++;
        failure = `connection failed (${code})`;
      } finally {
        this.load.inFlight--;
      }
      const wait = backoff * (0.5 + this.rng());
      if (Date.now() - started + wait > RETRY_BUDGET_MS)
        throw new Error(
          `${method} ${path}: still failing after ${attempt} attempts in ${Date.now() - started} ms: ${failure}`,
        );
      await new Promise((r) => setTimeout(r, wait));
      backoff = Math.min(MAX_BACKOFF_MS, backoff * 2);
    }
  }
}

async function journey(
  r: Registrant,
  c: RetryingClient,
  load: Load,
  photo: Uint8Array,
  mailWithinMs: () => number,
): Promise<void> {
  const step = async (name: Step, send: () => Promise<Answer>): Promise<Answer | undefined> => {
    r.at = name;
    const a = await send();
    if (a.status === SUCCESS[name]) {
      r.acks.set(name, { how: 'answered', body: a.body });
      load.acknowledged++;
      load.onAcknowledged();
      return a;
    }
    const code = (a.body as Partial<ErrorBody> | null)?.error?.code;
    if (a.status === 409 && code !== undefined && code === ALREADY_DONE[name]) {
      // Only a retry may find its step done: on a first attempt it would be the service inventing work.
      if (c.attempts === 1)
        throw new Error(`${name}: 409 ${code} to its first request, which nothing had sent before`);
      r.acks.set(name, { how: 'already_done', body: a.body });
      load.alreadyDone++;
      return a;
    }
    if (name === 'join_wave' && a.status === 409 && code === 'wave_full') return undefined;
    throw new Error(
      `${name}: unexpected ${a.status} ${JSON.stringify(a.body)} after ${c.attempts} request(s)`,
    );
  };

  await step('create_account', () => c.createAccount());
  r.at = 'waiting_for_mail';
  const token = await c.verificationToken(mailWithinMs());
  await step('verify_email', () => c.verifyEmail(token));
  await step('login', () => c.login());
  await step('submit_biodata', () => c.submitBiodata(r.person));
  await step('upload_photo', () => c.uploadPhoto(photo));
  await step('submit_assessment', () => c.submitAssessment());
  const joined = await step('join_wave', () => c.joinWave(1));
  r.outcome = joined ? 'joined' : 'wave_full';
  r.at = 'done';
}

interface AccountRow {
  id: number;
  email: string;
  email_verified_at: number | null;
  nik: string | null;
  biodata_at: number | null;
  photo_key: string | null;
  photo_at: number | null;
  assessment_score: number | null;
  assessment_at: number | null;
}

/** Waits, within the round's deadline, until the outbox has handed every mail to SMTP. */
async function outboxDrained(dbPath: string, until: number): Promise<string | undefined> {
  for (;;) {
    const db = new Database(dbPath, { readonly: true });
    let unsent: number;
    try {
      unsent = (db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL').get() as { n: number })
        .n;
    } finally {
      db.close();
    }
    if (unsent === 0) return undefined;
    if (Date.now() > until)
      return `${unsent} mail(s) of the outbox not sent at the deadline (still queued, or set aside as dead letters)`;
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface MailboxMessage {
  links?: string[];
  /** how many times the mail was delivered (the email mock folds copies of one Message-ID) */
  copies?: number;
}

async function mailboxOf(stack: RunningStack, email: string): Promise<MailboxMessage[]> {
  const res = await fetch(
    new URL(`/api/v1/mailboxes/${encodeURIComponent(email)}/messages`, stack.urls.email),
    {
      signal: AbortSignal.timeout(10_000),
    },
  );
  if (!res.ok) throw new Error(`the email mock's mailbox of ${email} answered ${res.status}`);
  return (await res.json()) as MailboxMessage[];
}

/** Reads the database (read-only) and the mailboxes against what the registrants were told. */
async function verify(
  stack: RunningStack,
  registrants: readonly Registrant[],
  opts: CrashRoundOptions,
  problems: string[],
): Promise<
  Pick<
    CrashRoundResult,
    | 'lost'
    | 'oversold'
    | 'duplicateJoins'
    | 'joined'
    | 'toldWaveFull'
    | 'accounts'
    | 'accountsWithoutMail'
    | 'accountsWithSeveralMails'
    | 'mailsDeliveredAgain'
  >
> {
  const db = new Database(join(stack.dataDir, 'registration.db'), { readonly: true });
  let lost = 0;
  const missing = (r: Registrant, step: Step, what: string) => {
    lost++;
    problems.push(`registrant ${r.index}: ${step} acknowledged (${r.acks.get(step)?.how}) but ${what}`);
  };
  try {
    const account = db.prepare('SELECT * FROM accounts WHERE email = ?');
    const session = db.prepare('SELECT account_id FROM sessions WHERE token_hash = ?');
    const member = db.prepare('SELECT wave_number FROM wave_members WHERE account_id = ?');
    for (const r of registrants) {
      const a = account.get(r.email) as AccountRow | undefined;
      const ack = (s: Step) => r.acks.get(s);
      const answered = (s: Step) => (ack(s)?.how === 'answered' ? ack(s)?.body : undefined);
      if (ack('create_account')) {
        if (!a) {
          missing(r, 'create_account', 'no account has its email');
          // Nothing further can be found for it; each later acknowledgement is lost too.
          for (const s of STEPS.slice(1)) if (ack(s)) missing(r, s, 'its account is missing');
          continue;
        }
        const id = answered('create_account')?.accountId;
        if (id !== undefined && id !== a.id)
          missing(r, 'create_account', `the account is ${a.id}, not ${id}`);
      }
      if (!a) continue;
      if (ack('verify_email') && a.email_verified_at === null)
        missing(r, 'verify_email', 'the email is not verified');
      const token = answered('login')?.token;
      if (typeof token === 'string') {
        const s = session.get(tokenHash(token)) as { account_id: number } | undefined;
        if (s?.account_id !== a.id) missing(r, 'login', 'its session is not stored');
      }
      if (ack('submit_biodata') && (a.biodata_at === null || a.nik !== r.person.nik))
        missing(
          r,
          'submit_biodata',
          `the biodata is ${a.biodata_at === null ? 'missing' : 'of another NIK'}`,
        );
      const key = answered('upload_photo')?.key;
      if (ack('upload_photo') && (a.photo_at === null || (key !== undefined && a.photo_key !== key)))
        missing(
          r,
          'upload_photo',
          a.photo_at === null ? 'no photo is recorded' : 'another object is recorded',
        );
      const score = answered('submit_assessment')?.score;
      if (
        ack('submit_assessment') &&
        (a.assessment_at === null || (score !== undefined && a.assessment_score !== score))
      )
        missing(r, 'submit_assessment', 'the assessment is missing or has another score');
      const row = member.get(a.id) as { wave_number: number } | undefined;
      if (ack('join_wave') && row?.wave_number !== 1) missing(r, 'join_wave', 'it has no place in wave 1');
      if (r.outcome === 'wave_full' && row)
        problems.push(
          `registrant ${r.index} was told wave_full but holds a place in wave ${row.wave_number}`,
        );
    }

    const members = db
      .prepare(
        'SELECT COUNT(*) AS n, COUNT(DISTINCT account_id) AS accounts FROM wave_members WHERE wave_number = 1',
      )
      .get() as { n: number; accounts: number };
    const wave = db.prepare('SELECT quota, joined FROM waves WHERE number = 1').get() as
      | { quota: number; joined: number }
      | undefined;
    if (!wave) problems.push('wave 1 does not exist');
    else {
      if (wave.quota !== opts.quota) problems.push(`wave 1 has a quota of ${wave.quota}, not ${opts.quota}`);
      if (wave.joined !== members.n)
        problems.push(`wave 1 counts ${wave.joined} places taken, but ${members.n} join rows exist`);
    }
    const oversold = Math.max(0, members.n - opts.quota);
    if (oversold > 0) problems.push(`wave 1 oversold: ${members.n} members for a quota of ${opts.quota}`);
    const duplicateJoins = members.n - members.accounts;
    if (duplicateJoins > 0) problems.push(`${duplicateJoins} join row(s) beyond one per account`);
    const joined = registrants.filter((r) => r.outcome === 'joined').length;
    const toldWaveFull = registrants.filter((r) => r.outcome === 'wave_full').length;
    if (joined !== members.n)
      problems.push(`${joined} registrants were told they joined, but wave 1 has ${members.n} members`);
    if (toldWaveFull > 0 && members.n < opts.quota)
      problems.push(
        `${toldWaveFull} registrant(s) told wave_full while ${opts.quota - members.n} place(s) were left`,
      );

    const emails = new Set(registrants.map((r) => r.email.toLowerCase()));
    const accounts = db.prepare('SELECT email FROM accounts').all() as Array<{ email: string }>;
    let accountsWithoutMail = 0;
    let accountsWithSeveralMails = 0;
    let mailsDeliveredAgain = 0;
    for (const { email } of accounts) {
      if (!emails.has(email.toLowerCase())) problems.push(`an account nobody created: ${email}`);
      const mails = (await mailboxOf(stack, email)).filter((m) =>
        (m.links ?? []).some((l) => l.includes('verify-email?token=')),
      );
      for (const m of mails) mailsDeliveredAgain += Math.max(0, (m.copies ?? 1) - 1);
      if (mails.length === 0) {
        accountsWithoutMail++;
        problems.push(`the account of ${email} has no verification mail in its mailbox`);
      } else if (mails.length > 1) {
        accountsWithSeveralMails++;
        if (opts.mail === 'exactly-once')
          problems.push(`the mailbox of ${email} shows ${mails.length} verification mails, not one`);
      }
    }
    return {
      lost,
      oversold,
      duplicateJoins,
      joined,
      toldWaveFull,
      accounts: accounts.length,
      accountsWithoutMail,
      accountsWithSeveralMails,
      mailsDeliveredAgain,
    };
  } finally {
    db.close();
  }
}

/** The registrant photo, read once: every upload sends the same whole JPEG. */
let photoBytes: Uint8Array | undefined;

/** A round's stack, started: with the registration service's last lines, for failure messages. */
export interface CrashStack {
  stack: RunningStack;
  lastLines: string[];
  startMs: number;
}

/**
 * Starts the stack of a round: the mocks with no delay or fault (the crash is the story), the
 * service with its outbox, the round's processes and quota. Separate from the round so that a
 * caller may start the next round's stack while this one runs (the start is most of a round).
 */
export async function startCrashStack(opts: CrashRoundOptions): Promise<CrashStack> {
  if (opts.quota >= opts.registrants)
    throw new Error(
      `quota ${opts.quota} must be below the registrants (${opts.registrants}) to be contended`,
    );
  const t0 = Date.now();
  const lastLines: string[] = [];
  const stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: {
      registration: {
        EMAIL_DELIVERY: 'outbox',
        WORKERS: String(opts.workers),
        WAVE_QUOTA: String(opts.quota),
        SCRYPT_N: '1024',
      },
    },
    log: (service, line) => {
      if (service !== 'registration') return;
      lastLines.push(line);
      if (lastLines.length > 8) lastLines.shift();
    },
  });
  return { stack, lastLines, startMs: Date.now() - t0 };
}

/**
 * Runs one round on a stack of its own (started here, or by startCrashStack beforehand) and stops
 * it. Resolves with the result, its violations in `problems`; rejects with a CrashRoundError
 * naming the round, the seed and where every unfinished registrant was when the round ran out of
 * time or the service died on its own.
 */
export async function runCrashRound(
  opts: CrashRoundOptions,
  prepared: Promise<CrashStack> = startCrashStack(opts),
): Promise<CrashRoundResult> {
  const { stack, lastLines, startMs } = await prepared;
  const started = Date.now();
  const deadline = started + opts.deadlineMs;
  const rng = rngFor(opts.seed, opts.round);
  const stepsPlanned = opts.registrants * STEPS.length;
  // In the middle of the load: after a fifth to seven tenths of the steps a round can acknowledge.
  const killAfter = Math.max(1, Math.floor(stepsPlanned * (0.2 + 0.5 * rng())));
  // The population of seed 2020 is the one the ministry mock knows; each round takes its own part.
  const pool = people(2020, (opts.seed % 1000) * 10_000 + opts.round * 200);
  const registrants: Registrant[] = Array.from({ length: opts.registrants }, (_, index) => ({
    index,
    email: `crash.${opts.seed}.${opts.round}.${index}.${started}@example.test`,
    person: pool.take(),
    acks: new Map(),
    at: 'starting',
    outcome: 'unfinished',
  }));
  const load = new Load();
  const problems: string[] = [];
  let inFlightAtKill = 0;
  let downMs = 0;
  let crash: Promise<void> | undefined;
  load.onAcknowledged = () => {
    if (crash || load.acknowledged < killAfter) return;
    inFlightAtKill = load.inFlight;
    const killedAt = Date.now();
    crash = (async () => {
      await stack.kill('registration', 'SIGKILL');
      await stack.restart('registration');
      downMs = Date.now() - killedAt;
    })();
    // The registrants' retries wait for the restart; a failed restart is reported with the load.
    crash.catch(() => {});
  };
  const where = (prefix: string) => {
    const unfinished = registrants.filter((r) => r.outcome === 'unfinished' || r.outcome === 'failed');
    const at = unfinished
      .slice(0, 10)
      .map((r) => `${r.index}@${r.at}${r.failure ? ` (${r.failure})` : ''}`)
      .join(', ');
    return (
      `round ${opts.round} (seed ${opts.seed}, ${opts.workers} process(es), kill after ${killAfter} of ` +
      `${stepsPlanned} steps): ${prefix}; ${load.acknowledged} acknowledged, ${unfinished.length} unfinished` +
      `${at ? `: ${at}` : ''}; the service's last lines: ${lastLines.join(' | ') || '(none)'}`
    );
  };

  let timer: NodeJS.Timeout | undefined;
  try {
    photoBytes ??= readFileSync(join(FIXTURES, 'ktp-small.jpg'));
    const photo = photoBytes;
    const runs = registrants.map(async (r) => {
      const c = new RetryingClient(stack.urls, r.email, load, rngFor(opts.seed, opts.round, r.index));
      // Arrivals spread over a few hundred milliseconds, as a burst of real people is.
      await new Promise((res) => setTimeout(res, rng() * 300));
      try {
        await journey(r, c, load, photo, () => Math.max(1000, deadline - Date.now()));
      } catch (err) {
        if (err instanceof CrashRoundError) return;
        r.outcome = 'failed';
        r.failure = (err as Error).message;
      }
    });
    const outOfTime = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new CrashRoundError(where(`no end within the deadline of ${opts.deadlineMs} ms`))),
        Math.max(0, deadline - Date.now()),
      );
    });
    const died = stack.died.then((exit) => {
      throw new CrashRoundError(where(`a service died on its own: ${exit.message}`));
    });
    await Promise.race([Promise.all(runs), outOfTime, died]);
    const loadMs = Date.now() - started;
    if (!crash)
      problems.push(
        `the kill never came: ${load.acknowledged} steps acknowledged, the kill was due after ${killAfter}`,
      );
    else
      await Promise.race([
        crash.catch((err: Error) => {
          throw new CrashRoundError(where(`the restart failed: ${err.message}`));
        }),
        outOfTime,
      ]);
    for (const r of registrants)
      if (r.outcome === 'failed') problems.push(`registrant ${r.index} did not finish: ${r.failure}`);
    const unsent = await Promise.race([
      outboxDrained(join(stack.dataDir, 'registration.db'), deadline),
      outOfTime,
    ]);
    if (unsent) problems.push(unsent);
    const checked = await Promise.race([verify(stack, registrants, opts, problems), outOfTime]);
    return {
      round: opts.round,
      seed: opts.seed,
      workers: opts.workers,
      registrants: opts.registrants,
      quota: opts.quota,
      killAfter,
      stepsPlanned,
      inFlightAtKill,
      downMs,
      acknowledged: load.acknowledged,
      alreadyDone: load.alreadyDone,
      refusedWhileDown: load.refused,
      cutByCrash: load.cut,
      serverErrors: load.serverErrors,
      ...checked,
      problems: problems.map((p) => `round ${opts.round} (seed ${opts.seed}): ${p}`),
      ms: { start: startMs, load: loadMs, total: startMs + Date.now() - started },
    };
  } finally {
    clearTimeout(timer);
    load.over = true;
    await stack.stop();
  }
}

/** One line for a log: what the round did and what it proved. */
export function describeRound(r: CrashRoundResult): string {
  return (
    `round ${r.round} (seed ${r.seed}, ${r.workers} process(es)): killed after ${r.killAfter}/${r.stepsPlanned} steps ` +
    `with ${r.inFlightAtKill} request(s) in flight, down ${r.downMs} ms; ${r.acknowledged} acknowledged, ` +
    `${r.alreadyDone} found done by a retry, ${r.lost} lost; ${r.joined} joined, ${r.toldWaveFull} told wave_full ` +
    `(quota ${r.quota}), oversold ${r.oversold}, duplicate joins ${r.duplicateJoins}; ${r.refusedWhileDown} refused ` +
    `while down, ${r.cutByCrash} cut by the kill, ${r.serverErrors} 5xx; ${r.accounts} accounts, ` +
    `${r.accountsWithoutMail} without mail, ${r.accountsWithSeveralMails} shown it more than once, ` +
    `${r.mailsDeliveredAgain} copies delivered again; ` +
    `${r.ms.start} ms to start, ${r.ms.load} ms of load, ${r.ms.total} ms in all`
  );
}
