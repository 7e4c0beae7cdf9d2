import type { Rng } from '../model/random.ts';
import type { EventQueue } from './events.ts';
import { Fifo } from './fifo.ts';
import type { Pool } from './pool.ts';
import type { Account, RegistrationService } from './service.ts';

/**
 * EMAIL_DELIVERY=outbox: the account's insert also writes an outbox row, and each process runs
 * four senders (mailer.ts startOutboxSender) that claim a due row (a write), send it through the
 * process's mail client, and mark it sent (a write) or due again after a jittered backoff
 * (`outboxBackoffMs`), or, its EMAIL_MAX_ATTEMPTS used, set it aside (a dead letter: that mail never
 * comes). An idle sender looks again every 200 ms, so a row waits for the next look.
 *
 * EMAIL_SEND_RATE > 0: every process's claims draw on one token bucket (db.ts claimOutboxAtRate,
 * in the shared database): it holds at most max(1, rate) tokens and refills at `rate` a second; a
 * sender that finds a row due and no token sleeps until one is due (the real one's waitMs), and
 * claims nothing meanwhile.
 */

/**
 * mock-services/registration/mailer.ts OUTBOX_SENDER_DEFAULTS, copied (the simulator does not import
 * the service it models); test/service-model.test.ts checks the two agree.
 */
export const OUTBOX_SENDER = { concurrency: 4, idleMs: 200, backoffBaseMs: 500, backoffCapMs: 60_000 };
const SENDERS_PER_PROCESS = OUTBOX_SENDER.concurrency;
const IDLE_MS = OUTBOX_SENDER.idleMs;

/**
 * mailer.ts outboxBackoffMs: after a row's `attempts`-th failed attempt, a wait between half and
 * all of 0.5 s x 2^attempts, at most a minute.
 */
export function outboxBackoffMs(attempts: number, random: Rng): number {
  const { backoffBaseMs, backoffCapMs } = OUTBOX_SENDER;
  const ceiling = Math.min(backoffCapMs, backoffBaseMs * 2 ** Math.min(Math.max(attempts, 1), 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

interface Row {
  acct: Account;
  attempts: number;
}

interface Sender {
  proc: number;
  /** the start of the service it runs in (Outbox.generation): a killed one's senders stop */
  gen: number;
  /** when it last found nothing to do (its looks are IDLE_MS apart from then), or -1 when busy */
  idleSince: number;
  waking: boolean;
}

export class Outbox {
  private readonly due = new Fifo<Row>();
  private readonly idle: Sender[] = [];
  /** rows a sender took and has not marked sent or due again: a kill leaves them due (at least once) */
  private readonly taken = new Set<Row>();
  /** the service's starts so far: each restart's senders are new */
  private generation = 0;
  /** rows written and not yet sent (nor set aside) */
  depth = 0;
  /** the send rate's bucket: tokens, as of `filledAt` */
  private tokens: number;
  private filledAt = 0;

  private mailers: Pool[];

  constructor(
    private readonly q: EventQueue,
    private service: RegistrationService,
    /** EMAIL_SEND_RATE: mails a second for every process together; 0, as fast as the senders go */
    private readonly ratePerSecond: number,
    /** EMAIL_MAX_ATTEMPTS: a mail failed this often is set aside, never sent */
    private readonly maxAttempts: number,
    /** the retries' jitter */
    private readonly rng: Rng,
  ) {
    this.tokens = Math.max(1, ratePerSecond);
    this.mailers = service.mailers;
    this.start(0);
  }

  /** The senders of the service's processes, idle from `at`; the rows due are looked at then. */
  private start(at: number): void {
    const service = this.service;
    for (let p = 0; p < this.mailers.length; p++) {
      for (let i = 0; i < SENDERS_PER_PROCESS; i++)
        this.idle.push({ proc: p, gen: this.generation, idleSince: at, waking: false });
    }
    service.onOutbox = (acct) => {
      this.depth++;
      this.enqueue({ acct, attempts: 0 });
    };
    for (let k = Math.min(this.due.length, this.idle.length); k > 0; k--) {
      const s = this.idle.find((x) => !x.waking) as Sender;
      s.waking = true;
      this.q.schedule(at, this.wake, s);
    }
  }

  /** The service was killed: its senders stop; what they had taken is due again, as its rows are. */
  kill(): void {
    this.generation++;
    this.idle.length = 0;
    for (const row of this.taken) this.due.push(row);
    this.taken.clear();
  }

  /** The service restarted: its processes' senders begin with the rows due. */
  restart(service: RegistrationService): void {
    this.service = service;
    this.mailers = service.mailers;
    this.start(this.q.now);
  }

  private enqueue(row: Row): void {
    this.due.push(row);
    // The first idle sender not already on its way looks at its next tick.
    const s = this.idle.find((x) => !x.waking);
    if (!s) return;
    s.waking = true;
    const since = this.q.now - s.idleSince;
    const at = s.idleSince + Math.max(1, Math.ceil(since / IDLE_MS)) * IDLE_MS;
    this.q.schedule(at, this.wake, s);
  }

  private readonly retry = (s: Sender): void => this.work(s);

  private readonly requeue = (row: Row): void => this.enqueue(row);

  private readonly wake = (s: Sender): void => {
    if (s.gen !== this.generation) return;
    const i = this.idle.indexOf(s);
    if (i >= 0) this.idle.splice(i, 1);
    s.waking = false;
    this.work(s);
  };

  private work(s: Sender): void {
    if (s.gen !== this.generation) return;
    if (this.ratePerSecond > 0 && this.due.length > 0) {
      const rate = this.ratePerSecond;
      const now = this.q.now;
      this.tokens = Math.min(Math.max(1, rate), this.tokens + ((now - this.filledAt) / 1000) * rate);
      this.filledAt = now;
      if (this.tokens < 1) {
        this.q.schedule(now + Math.ceil(((1 - this.tokens) / rate) * 1000), this.retry, s);
        return;
      }
      this.tokens -= 1;
    }
    const row = this.due.shift();
    if (!row) {
      s.idleSince = this.q.now;
      this.idle.push(s);
      return;
    }
    this.taken.add(row);
    const service = this.service;
    service.backgroundWrite(s.proc, (claimed) => {
      if (!claimed) {
        this.taken.delete(row);
        this.due.push(row);
        return this.work(s);
      }
      const pool = this.mailers[s.proc] as Pool;
      const asked = this.q.now;
      pool.acquire(() => {
        service.sendMail(
          row.acct,
          (failure) => {
            pool.release();
            service.backgroundWrite(s.proc, () => {
              this.taken.delete(row);
              row.attempts++;
              if (failure && row.attempts < this.maxAttempts) {
                this.q.schedule(this.q.now + outboxBackoffMs(row.attempts, this.rng), this.requeue, row);
              } else {
                // Sent, or a dead letter: its registrant's mail never comes.
                this.depth--;
              }
              this.work(s);
            });
          },
          asked,
        );
      }, undefined);
    });
  }
}
