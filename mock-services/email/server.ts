import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { simpleParser } from 'mailparser';
import { Counter, Gauge, Histogram } from 'prom-client';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { type Capacity, capacitySchema } from '../../model/capacity.ts';
import { sampleServiceMs } from '../../model/station.ts';
import { createMockApp } from '../admin.ts';
import { MOCK_LIMITS } from '../station/bounds.ts';
import { createStationMetrics } from '../station/metrics.ts';
import { StationRuntime, sendError } from '../station/station.ts';
import { extractLinks, Mailboxes } from './mailboxes.ts';

/**
 * An SMTP server that accepts the reference service's mail through the email station (a full
 * queue answers 421, an injected fault 451: real SMTP temporary failures that nodemailer sees),
 * delivers each message into its recipient's mailbox after its turn at the receiving providers'
 * rate (email.deliveryPerSecond, when given) and its delivery delay, and an HTTP API to read
 * mailboxes as Mailpit does, so a virtual registrant can fetch its verification link.
 */

export interface EmailOptions {
  capacity: Pick<Capacity, 'email'>;
  adminToken: string;
  maxMessages: number;
  log?: (line: string) => void;
  random?: () => number;
}

class SmtpError extends Error {
  constructor(
    message: string,
    readonly responseCode: number,
  ) {
    super(message);
  }
}

export function createEmailService(opts: EmailOptions): {
  app: Express;
  smtp: SMTPServer;
  mailboxes: Mailboxes;
  station: StationRuntime;
} {
  const metrics = createStationMetrics();
  let capacity: Pick<Capacity, 'email'> = { email: opts.capacity.email };
  const random = opts.random ?? Math.random;
  const station = new StationRuntime('email', capacity.email, metrics, random);
  const mailboxes = new Mailboxes(opts.maxMessages);
  const delivered = new Counter({
    name: 'email_delivered_total',
    help: 'Messages delivered into mailboxes',
    registers: [metrics.registry],
  });
  const duplicates = new Counter({
    name: 'email_duplicate_messages_total',
    help: 'Copies delivered of a message (same Message-ID) the mailbox already held: shown once, counted here',
    registers: [metrics.registry],
  });
  const deliveryDelay = new Histogram({
    name: 'email_delivery_delay_seconds',
    help: 'From SMTP acceptance to the message appearing in the mailbox',
    // Up to hours: with a delivery rate (email.deliveryPerSecond) a surge leaves a backlog.
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 1800, 3600],
    registers: [metrics.registry],
  });
  let pending = 0;
  new Gauge({
    name: 'email_delivery_pending',
    help: 'Messages accepted over SMTP and not yet in their mailbox (waiting for the delivery rate, or their delay)',
    registers: [metrics.registry],
    collect() {
      this.set(pending);
    },
  });
  // The receiving providers take mail at email.deliveryPerSecond, first come first delivered.
  let nextDeliveryAt = 0;
  const deliveryStart = (now: number): number => {
    const perSecond = capacity.email.deliveryPerSecond;
    if (perSecond === undefined) return now;
    const at = Math.max(now, nextDeliveryAt);
    nextDeliveryAt = at + 1000 / perSecond;
    return at;
  };
  new Gauge({
    name: 'email_mailbox_messages',
    help: 'Messages held in mailboxes now',
    registers: [metrics.registry],
    collect() {
      this.set(mailboxes.size);
    },
  });
  new Gauge({
    name: 'email_evicted_total',
    help: 'Messages evicted because the mailboxes were full (MAILBOX_MAX_MESSAGES)',
    registers: [metrics.registry],
    collect() {
      this.set(mailboxes.evicted);
    },
  });

  const accept = async (stream: SMTPServerDataStream, session: SMTPServerSession): Promise<void> => {
    const arrivedAt = Date.now();
    // The mail is received and parsed before it takes a server, as the ministries' mocks have read
    // a request's body before theirs: a server is held for the capacity file's service time, not
    // also for the sender's pace or this mock's own parsing, which the file does not describe and
    // the simulator does not model (on a loaded 2-core machine they held each mail 60-130 ms more).
    const parsed = await simpleParser(stream);
    const admission = await station.admit();
    if (!admission.admitted) {
      if (admission.reason === 'queue_full') {
        station.observe('rejected', arrivedAt, 'queue_full');
        throw new SmtpError('4.3.2 mail system at capacity, try again later', 421);
      }
      station.observe('timeout', arrivedAt, 'timeout');
      throw new SmtpError('4.4.7 timed out waiting for the mail system', 451);
    }
    try {
      const remaining = admission.ticket.deadline - Date.now();
      const serviceMs = station.serviceMs();
      if (serviceMs >= remaining) {
        await new Promise((r) => setTimeout(r, Math.max(0, remaining)));
        station.observe('timeout', arrivedAt, 'timeout');
        throw new SmtpError('4.4.7 mail system timed out', 451);
      }
      await new Promise((r) => setTimeout(r, serviceMs));
      if (station.injectError()) {
        station.observe('error', arrivedAt, 'injected_error');
        throw new SmtpError('4.3.0 temporary failure (injected fault)', 451);
      }
      const text = parsed.text ?? '';
      const html = typeof parsed.html === 'string' ? parsed.html : '';
      const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
      const acceptedAt = Date.now();
      for (const rcpt of session.envelope.rcptTo) {
        // A log-normal's far tail is capped: a timer cannot wait longer than 2^31-1 ms, nor should a mail.
        const delayMs = Math.min(
          deliveryStart(acceptedAt) - acceptedAt + sampleServiceMs(capacity.email.deliveryDelay, random),
          MOCK_LIMITS.deliveryDelayMs,
        );
        pending++;
        setTimeout(() => {
          pending--;
          const outcome = mailboxes.deliver({
            id: randomUUID(),
            messageId: parsed.messageId ?? null,
            copies: 1,
            from,
            to: rcpt.address,
            subject: parsed.subject ?? '',
            text,
            html,
            receivedAt: new Date().toISOString(),
            links: extractLinks(text, html),
          });
          if (outcome === 'duplicate') duplicates.inc();
          delivered.inc();
          deliveryDelay.observe((Date.now() - acceptedAt) / 1000);
        }, delayMs).unref();
      }
      station.observe('ok', arrivedAt);
    } finally {
      admission.ticket.release();
    }
  };

  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    banner: 'gelombang email mock',
    size: 1024 * 1024,
    onData(stream, session, callback) {
      accept(stream, session).then(
        () => callback(),
        (err: unknown) => {
          const e = err instanceof SmtpError ? err : new SmtpError(`4.3.0 ${(err as Error).message}`, 451);
          callback(Object.assign(new Error(e.message), { responseCode: e.responseCode }));
        },
      );
    },
  });
  smtp.on('error', (err) => opts.log?.(`smtp error: ${err.message}`));

  const { app, finish } = createMockApp(metrics.registry, {
    token: opts.adminToken,
    schema: capacitySchema.pick({ email: true }),
    get: () => capacity,
    apply: (next) => {
      capacity = next;
      station.reconfigure(next.email);
    },
    log: opts.log,
  });
  const address = (raw: string | undefined) => {
    const a = String(raw ?? '');
    return /^[^\s@]+@[^\s@]+$/.test(a) ? a : undefined;
  };
  app.get('/api/v1/mailboxes/:address/messages', (req, res) => {
    const a = address(req.params.address);
    if (!a) return sendError(res, 400, 'invalid_field', 'expected an email address', 'address');
    res.json(mailboxes.list(a));
  });
  app.delete('/api/v1/mailboxes/:address', (req, res) => {
    const a = address(req.params.address);
    if (!a) return sendError(res, 400, 'invalid_field', 'expected an email address', 'address');
    res.json({ deleted: mailboxes.clear(a) });
  });
  app.get('/api/v1/messages/:id', (req, res) => {
    const m = mailboxes.get(req.params.id);
    if (!m) return sendError(res, 404, 'not_found', `no message ${req.params.id}`);
    res.json(m);
  });
  finish();
  return { app, smtp, mailboxes, station };
}
