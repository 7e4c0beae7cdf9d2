import type { EventQueue } from './events.ts';
import { Fifo } from './fifo.ts';
import type { Pool } from './pool.ts';
import type { Account, RegistrationService } from './service.ts';

/**
 * EMAIL_DELIVERY=outbox: the account's insert also writes an outbox row, and each process runs
 * four senders (mailer.ts startOutboxSender) that claim a due row (a write), send it through the
 * process's mail client, and mark it sent (a write) or due again after 0.5 s x 2^attempts, at most
 * 60 s. An idle sender looks again every 200 ms, so a row waits for the next look.
 *
 * EMAIL_SEND_RATE > 0: every process's claims draw on one token bucket (db.ts claimOutboxAtRate,
 * in the shared database): it holds at most max(1, rate) tokens and refills at `rate` a second; a
 * sender that finds a row due and no token sleeps until one is due (the real one's waitMs), and
 * claims nothing meanwhile.
 */

const SENDERS_PER_PROCESS = 4;
const IDLE_MS = 200;

interface Row {
  acct: Account;
  attempts: number;
}

interface Sender {
  proc: number;
  /** when it last found nothing to do (its looks are IDLE_MS apart from then), or -1 when busy */
  idleSince: number;
  waking: boolean;
}

export class Outbox {
  private readonly due = new Fifo<Row>();
  private readonly idle: Sender[] = [];
  /** rows written and not yet sent */
  depth = 0;
  /** the send rate's bucket: tokens, as of `filledAt` */
  private tokens: number;
  private filledAt = 0;

  constructor(
    private readonly q: EventQueue,
    private readonly service: RegistrationService,
    private readonly mailers: Pool[],
    /** EMAIL_SEND_RATE: mails a second for every process together; 0, as fast as the senders go */
    private readonly ratePerSecond = 0,
  ) {
    this.tokens = Math.max(1, ratePerSecond);
    for (let p = 0; p < mailers.length; p++) {
      for (let i = 0; i < SENDERS_PER_PROCESS; i++) this.idle.push({ proc: p, idleSince: 0, waking: false });
    }
    service.onOutbox = (acct) => {
      this.depth++;
      this.enqueue({ acct, attempts: 0 });
    };
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

  private readonly wake = (s: Sender): void => {
    const i = this.idle.indexOf(s);
    if (i >= 0) this.idle.splice(i, 1);
    s.waking = false;
    this.work(s);
  };

  private work(s: Sender): void {
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
    this.service.backgroundWrite(s.proc, (claimed) => {
      if (!claimed) {
        this.due.push(row);
        return this.work(s);
      }
      const pool = this.mailers[s.proc] as Pool;
      pool.acquire(() => {
        this.service.sendMail(row.acct, (failure) => {
          pool.release();
          this.service.backgroundWrite(s.proc, () => {
            if (failure) {
              row.attempts++;
              const backoff = Math.min(60_000, 500 * 2 ** Math.min(row.attempts, 7));
              this.q.schedule(this.q.now + backoff, (r: Row) => this.enqueue(r), row);
            } else {
              this.depth--;
            }
            this.work(s);
          });
        });
      }, undefined);
    });
  }
}
