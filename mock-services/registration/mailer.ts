import nodemailer, { type Transporter } from 'nodemailer';
import type { Repository } from './db.ts';
import { DependencyError, isTimeout, outcomeOf } from './dependency-error.ts';
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

export class Mailer {
  private readonly transport: Transporter;

  constructor(
    smtpUrl: string,
    timeoutMs: number,
    private readonly metrics: ServiceMetrics,
  ) {
    const u = new URL(smtpUrl);
    this.transport = nodemailer.createTransport({
      host: u.hostname,
      port: Number(u.port || 25),
      secure: false,
      ignoreTLS: true,
      pool: true,
      maxConnections: 16,
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
    });
  }

  async send(to: string, mail: VerificationMail): Promise<void> {
    await timeDependency(
      this.metrics,
      'email',
      async () => {
        try {
          await this.transport.sendMail({ from: 'noreply@prakerja.test', to, ...mail });
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

/** Drains the outbox: claims one due row at a time (a lease, so N processes never send twice). */
export function startOutboxSender(
  repo: Repository,
  mailer: Mailer,
  opts: { concurrency?: number; idleMs?: number } = {},
) {
  let stopped = false;
  const idleMs = opts.idleMs ?? 200;
  const loop = async () => {
    while (!stopped) {
      const row = repo.claimOutbox(Date.now(), 60_000);
      if (!row) {
        await new Promise((r) => setTimeout(r, idleMs));
        continue;
      }
      try {
        await mailer.send(row.to_address, { subject: row.subject, text: row.body_text, html: row.body_html });
        repo.outboxSent(row.id);
      } catch (err) {
        const backoffMs = Math.min(60_000, 500 * 2 ** Math.min(row.attempts, 7));
        repo.outboxFailed(row.id, Date.now() + backoffMs, (err as Error).message);
      }
    }
  };
  const loops = Array.from({ length: opts.concurrency ?? 4 }, () => loop());
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
    },
  };
}
