import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import nodemailer, { type Transporter } from 'nodemailer';
import { Gauge } from 'prom-client';
import type { OutboxRow, Repository } from './db.ts';
import { DependencyError, isTimeout, outcomeOf } from './dependency-error.ts';
import { log } from './mask.ts';
import { type ServiceMetrics, timeDependency } from './metrics.ts';

/**
 * Verification mail over real SMTP (a pooled nodemailer transport), either inline in the request
 * (2020: a slow mail system makes account creation slow or fail) or through a transactional
 * outbox drained in the background (the account is acknowledged at once and the mail retried).
 */

interface VerificationMail {
  subject: string;
  text: string;
  html: string;
}

export function verificationMail(publicUrl: string, token: string): VerificationMail {
  const link = `${publicUrl.replace(/\/$/, '')}/verify-email?token=${token}`;
  return {
    subject: 'Verifikasi email Kartu Prakerja',
    text: `Terima kasih telah mendaftar. Klik tautan berikut untuk memverifikasi email Anda:\n${link}\n`,
    html: `<p>Terima kasih telah mendaftar.</p><p><a href="${link}">Verifikasi email</a></p>`,
  };
}

/**
 * A connection to the relay with Nagle's algorithm off, which nodemailer leaves on: a mail's last
 * bytes (the DATA's end) then waited for the relay's delayed ACK, 40 ms on Linux, with the relay's
 * server and the pool's connection held all along (a mail that the relay serves in 1 ms took
 * 45-50 ms a send, 4-7 ms without). nodemailer uses a socket given this way only once connected.
 */
function connectNoDelay(
  host: string,
  port: number,
  timeoutMs: number,
  callback: (err: Error | null, socketOptions?: { connection: Socket }) => void,
): void {
  const socket = connect({ host, port });
  socket.setNoDelay(true);
  const failed = (err: Error) => callback(err);
  socket.once('error', failed);
  socket.setTimeout(timeoutMs, () =>
    socket.destroy(new Error(`connection to the relay at ${host}:${port} timed out after ${timeoutMs} ms`)),
  );
  socket.once('connect', () => {
    socket.off('error', failed);
    socket.setTimeout(0);
    callback(null, { connection: socket });
  });
}

export class Mailer {
  private readonly transport: Transporter;
  /** sends begun and not ended: those beyond `connections` wait in nodemailer's queue */
  private sending = 0;

  constructor(
    smtpUrl: string,
    timeoutMs: number,
    readonly metrics: ServiceMetrics,
    /** the pool's connections (EMAIL_CONNECTIONS) */
    readonly connections: number,
  ) {
    metrics.emailConnections.set(connections);
    const u = new URL(smtpUrl);
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(u.port || 25);
    this.transport = nodemailer.createTransport({
      host,
      port,
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: connections,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      getSocket: (_options, callback) => connectNoDelay(host, port, timeoutMs, callback),
    });
  }

  /** `messageId`: the outbox's own (every attempt of one mail the same); else nodemailer makes one. */
  async send(to: string, mail: VerificationMail, messageId?: string): Promise<void> {
    this.counted(1);
    try {
      await this.transmit(to, mail, messageId);
    } finally {
      this.counted(-1);
    }
  }

  /**
   * nodemailer gives a queued mail the next free connection, so with n sends under way
   * min(n, connections) hold one (or are opening it) and the rest wait: the pool's own use,
   * which the dependency's in-flight gauge (the wait included) does not tell.
   */
  private counted(delta: number): void {
    this.sending += delta;
    this.metrics.emailConnectionsBusy.set(Math.min(this.sending, this.connections));
    this.metrics.emailWaiting.set(Math.max(0, this.sending - this.connections));
  }

  private async transmit(to: string, mail: VerificationMail, messageId?: string): Promise<void> {
    await timeDependency(
      this.metrics,
      'email',
      async () => {
        try {
          await this.transport.sendMail({
            from: 'noreply@prakerja.test',
            to,
            ...mail,
            ...(messageId ? { messageId } : {}),
          });
        } catch (err) {
          const code = (err as { responseCode?: number }).responseCode;
          if (isTimeout(err) || (err as { code?: string }).code === 'ETIMEDOUT') {
            throw new DependencyError('email', 'timeout', `SMTP timed out: ${(err as Error).message}`);
          }
          if (code !== undefined && code >= 400 && code < 500) {
            throw new DependencyError('email', 'rejected', `SMTP temporary failure ${code}`, 5);
          }
          throw new DependencyError('email', 'error', `SMTP failed: ${(err as Error).message}`);
        }
      },
      outcomeOf,
    );
  }

  close(): void {
    this.transport.close();
  }
}

/** How long a claimed mail is reserved to its sender; then another may take it (at-least-once). */
const LEASE_MS = 60_000;

/**
 * The Message-ID of an outbox mail: the same for every attempt of one row, so a mail sent again
 * after a crash (SMTP accepted it, the process died before marking the row sent) is recognisably
 * the same mail, and a mail client shows it once. The row id alone would repeat on a fresh
 * database; the digest of the recipient and the body (which holds the one-time token) does not.
 */
export function outboxMessageId(row: Pick<OutboxRow, 'id' | 'to_address' | 'body_text'>): string {
  const digest = createHash('sha256')
    .update(`${row.to_address}\n${row.body_text}`)
    .digest('hex')
    .slice(0, 16);
  return `<outbox-${row.id}.${digest}@prakerja.test>`;
}

/**
 * The outbox senders' settings a deployment does not set: four senders a process (mails in flight
 * beside the request path's own), an idle sender's look every 200 ms, and a first retry after
 * 0.5-1 s doubling up to a minute.
 */
export const OUTBOX_SENDER_DEFAULTS = {
  concurrency: 4,
  idleMs: 200,
  backoffBaseMs: 500,
  backoffCapMs: 60_000,
};

/**
 * The wait before a failed mail's next attempt: exponential in the attempts made (up to a minute),
 * with half of it random, so that mails failed together by one outage come back spread out
 * rather than all at once.
 */
export function outboxBackoffMs(attempts: number, baseMs: number, random: () => number): number {
  const ceiling = Math.min(
    OUTBOX_SENDER_DEFAULTS.backoffCapMs,
    baseMs * 2 ** Math.min(Math.max(attempts, 1), 16),
  );
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface OutboxSenderOptions {
  /**
   * Mails handed to SMTP per second by every process on the database together (a token bucket
   * in SQLite, Repository.claimOutboxAtRate); 0 = as fast as the senders go.
   */
  ratePerSecond?: number;
  /** attempts per mail; after the last one fails the mail is a dead letter */
  maxAttempts?: number;
  /** mails in flight from this process */
  concurrency?: number;
  idleMs?: number;
  /** the backoff after a first failure (it doubles with each attempt made) */
  backoffBaseMs?: number;
  random?: () => number;
}

/**
 * Drains the outbox: claims one due row at a time (a lease, so N processes never send at once),
 * at the shared rate when one is set, retrying with jittered backoff until the mail is sent or
 * its attempts are used up.
 */
export function startOutboxSender(repo: Repository, mailer: Mailer, opts: OutboxSenderOptions = {}) {
  let stopped = false;
  const idleMs = opts.idleMs ?? OUTBOX_SENDER_DEFAULTS.idleMs;
  const rate = opts.ratePerSecond ?? 0;
  const maxAttempts = opts.maxAttempts ?? 8;
  const baseMs = opts.backoffBaseMs ?? OUTBOX_SENDER_DEFAULTS.backoffBaseMs;
  const random = opts.random ?? Math.random;
  const registry = mailer.metrics.registry;
  if (!registry.getSingleMetric('gelombang_email_outbox_dead_letters')) {
    new Gauge({
      name: 'gelombang_email_outbox_dead_letters',
      help: 'Outbox mails set aside as dead letters, in the database (survives restarts)',
      registers: [registry],
      // Every process reads the same database: take one value, never the sum.
      aggregator: 'max',
      collect() {
        this.set(repo.outboxDeadLetters());
      },
    });
  }
  // stop() wakes every sleeping sender at once rather than waiting out a long wait for a token.
  const sleepers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });
  const claim = () =>
    rate > 0
      ? repo.claimOutboxAtRate(Date.now(), LEASE_MS, rate)
      : { row: repo.claimOutbox(Date.now(), LEASE_MS), waitMs: 0 };
  const attempt = async (row: OutboxRow) => {
    try {
      await mailer.send(
        row.to_address,
        { subject: row.subject, text: row.body_text, html: row.body_html },
        outboxMessageId(row),
      );
    } catch (err) {
      const reason = (err as Error).message;
      if (row.attempts >= maxAttempts) {
        repo.outboxDead(row.id, reason);
        mailer.metrics.emailDeadLetters.inc();
        log.error(`registration: outbox mail ${row.id} set aside after ${row.attempts} attempts: ${reason}`);
      } else {
        repo.outboxFailed(row.id, Date.now() + outboxBackoffMs(row.attempts, baseMs, random), reason);
      }
      return;
    }
    // Should this fail (or the process die first), the lease lapses and the mail goes again,
    // under the same Message-ID.
    repo.outboxSent(row.id);
  };
  const loop = async () => {
    while (!stopped) {
      try {
        const { row, waitMs } = claim();
        if (!row) {
          await sleep(waitMs > 0 ? waitMs : idleMs);
          continue;
        }
        await attempt(row);
      } catch (err) {
        // The database busy beyond its timeout: the rows are where they were, try again shortly.
        log.error(`registration: outbox sender: ${(err as Error).message}`);
        await sleep(idleMs);
      }
    }
  };
  const loops = Array.from({ length: opts.concurrency ?? OUTBOX_SENDER_DEFAULTS.concurrency }, () => loop());
  return {
    async stop() {
      stopped = true;
      for (const wake of [...sleepers]) wake();
      await Promise.all(loops);
    },
  };
}
