import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { type AddressInfo, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Capacity } from '../../model/capacity.ts';
import { serve } from '../../test/support/listen.ts';
import { loadCapacity } from '../capacity.ts';
import { createEmailService } from '../email/server.ts';
import { parseConfig } from './config.ts';
import { openDb, Repository } from './db.ts';
import { Mailer, outboxBackoffMs, outboxMessageId, startOutboxSender, verificationMail } from './mailer.ts';
import { createServiceMetrics } from './metrics.ts';

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

const dbFile = () => join(mkdtempSync(join(tmpdir(), 'gelombang-outbox-')), 'db.sqlite');

/** The email mock on loopback ports: real SMTP in, the mailbox API out. */
async function emailMock(email: Partial<Capacity['email']> = {}) {
  const base = loadCapacity(new URL('../capacity.unlimited.json', import.meta.url));
  const svc = createEmailService({
    capacity: { email: { ...base.email, ...email } },
    adminToken: 'a',
    maxMessages: 1000,
  });
  svc.smtp.listen(0, '127.0.0.1');
  await once(svc.smtp.server, 'listening');
  const http = await serve(svc.app);
  closers.push(async () => {
    await http.close();
    await new Promise<void>((r) => svc.smtp.close(() => r()));
  });
  return {
    http: http.url,
    smtpUrl: `smtp://127.0.0.1:${(svc.smtp.server.address() as AddressInfo).port}`,
    station: svc.station,
  };
}

function mailerFor(smtpUrl: string, connections = parseConfig({}).EMAIL_CONNECTIONS) {
  const metrics = createServiceMetrics();
  const mailer = new Mailer(smtpUrl, 5000, metrics, connections);
  closers.push(() => mailer.close());
  return { mailer, metrics };
}

function queueMails(repo: Repository, n: number, prefix = 'r'): string[] {
  const addresses: string[] = [];
  for (let i = 0; i < n; i++) {
    const address = `${prefix}${i}@example.test`;
    const token = `token-${prefix}-${i}-${Math.random().toString(36).slice(2)}`;
    repo.createAccount(
      address,
      'hash',
      token,
      Date.now() + 60_000,
      verificationMail('http://127.0.0.1:9', token),
    );
    addresses.push(address);
  }
  return addresses;
}

/** Polls until `done` holds, with a deadline generous enough for a loaded machine. */
async function until(done: () => boolean | Promise<boolean>, what: string, deadlineMs = 60_000) {
  const end = Date.now() + deadlineMs;
  while (!(await done())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const outboxRows = (repo: Repository) =>
  repo.db.prepare('SELECT * FROM outbox ORDER BY id').all() as Array<{
    id: number;
    attempts: number;
    sent_at: number | null;
    dead_at: number | null;
    last_error: string | null;
  }>;

interface MailboxMessage {
  messageId: string | null;
  copies: number;
  links: string[];
}

const mailbox = async (url: string, address: string) =>
  (await (await fetch(`${url}/api/v1/mailboxes/${address}/messages`)).json()) as MailboxMessage[];

const gauge = async (g: { get(): Promise<{ values: Array<{ value: number }> }> }) =>
  (await g.get()).values[0]?.value;

describe("the service's SMTP pool (EMAIL_CONNECTIONS)", () => {
  it('holds at most its connections to the relay; the other mails wait in its queue, and the gauges say so', async () => {
    const mock = await emailMock({
      concurrency: 50,
      serviceTime: { distribution: 'lognormal', medianMs: 300, p99Ms: 400 },
    });
    const { mailer, metrics } = mailerFor(mock.smtpUrl, 2);
    const station = mock.station;
    let busiest = 0;
    const sends = Array.from({ length: 5 }, (_, i) =>
      mailer.send(`pool${i}@example.test`, verificationMail('http://127.0.0.1:9', `t${i}`)),
    );
    expect(await gauge(metrics.emailConnections)).toBe(2);
    expect(await gauge(metrics.emailConnectionsBusy)).toBe(2);
    expect(await gauge(metrics.emailWaiting)).toBe(3);
    let done = false;
    const all = Promise.all(sends).finally(() => {
      done = true;
    });
    while (!done) {
      busiest = Math.max(busiest, station.inFlight);
      await new Promise((r) => setTimeout(r, 5));
    }
    await all;
    // The relay had room for 50: the two were the pool's, not the relay's.
    expect(busiest).toBeGreaterThanOrEqual(1);
    expect(busiest).toBeLessThanOrEqual(2);
    expect(await gauge(metrics.emailConnectionsBusy)).toBe(0);
    expect(await gauge(metrics.emailWaiting)).toBe(0);
  });
});

describe("the service's connections to the relay", () => {
  it("turn Nagle's algorithm off, so a mail's end is not held for the relay's delayed ACK, and the mail arrives", async () => {
    const mock = await emailMock();
    const port = Number(new URL(mock.smtpUrl).port);
    const noDelay = vi.spyOn(Socket.prototype, 'setNoDelay');
    closers.push(() => noDelay.mockRestore());
    const { mailer } = mailerFor(mock.smtpUrl, 1);
    await mailer.send('nagle@example.test', verificationMail('http://127.0.0.1:9', 'tok-nagle'));
    // The calls made on a socket to the relay's port (the mock's own sockets are other ports' peers).
    const toRelay = noDelay.mock.contexts
      .map((socket, i) => ({ socket: socket as Socket, on: noDelay.mock.calls[i]?.[0] }))
      .filter((c) => c.socket.remotePort === port && c.on !== false);
    expect(toRelay.length).toBeGreaterThanOrEqual(1);
    const inbox = await mailbox(mock.http, 'nagle@example.test');
    expect(inbox.map((m) => m.links.some((l) => l.includes('tok-nagle')))).toEqual([true]);
  });

  it('a relay that is not listening fails the send as the email dependency, at once', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const { mailer } = mailerFor(`smtp://127.0.0.1:${closed}`, 1);
    await expect(
      mailer.send('nobody@example.test', verificationMail('http://127.0.0.1:9', 'tok-closed')),
    ).rejects.toMatchObject({ dependency: 'email' });
  });
});

describe('the outbox after a crash', () => {
  it("a mail claimed by a killed sender goes out at the next start, not after the claim's lease", () => {
    const repo = new Repository(openDb(dbFile()));
    repo.createAccount('a@example.test', 'hash', 'token', Date.now() + 60_000, {
      subject: 's',
      text: 't',
      html: 'h',
    });
    const claimed = repo.claimOutbox(Date.now(), 60_000);
    expect(claimed).toBeDefined();
    // The sender died holding the lease: nobody else may take the mail until it expires ...
    expect(repo.claimOutbox(Date.now(), 60_000)).toBeUndefined();
    // ... unless the service starts again, when no sender of the earlier run can be alive.
    expect(repo.releaseOutboxClaims()).toBe(1);
    expect(repo.claimOutbox(Date.now(), 60_000)?.id).toBe(claimed?.id);
    repo.outboxSent(claimed?.id as number);
    expect(repo.releaseOutboxClaims()).toBe(0);
  });

  it('a mail sent again after a crash keeps its Message-ID, and the mailbox shows it once with copies 2', async () => {
    const mock = await emailMock();
    const file = dbFile();
    const { mailer } = mailerFor(mock.smtpUrl);
    // The first run: SMTP accepts the mail, then the process dies before the row is marked sent.
    class DiesAfterSmtp extends Repository {
      override outboxSent(): void {
        throw new Error('killed before marking the mail sent');
      }
    }
    const first = new DiesAfterSmtp(openDb(file));
    const [address] = queueMails(first, 1, 'crash') as [string];
    const firstRun = startOutboxSender(first, mailer, { idleMs: 20 });
    await until(async () => (await mailbox(mock.http, address)).length === 1, 'the first copy');
    await firstRun.stop();
    const row = outboxRows(first)[0];
    expect(row?.sent_at).toBeNull();

    // The next start releases the dead run's lease and sends the mail again.
    const second = new Repository(openDb(file));
    expect(second.releaseOutboxClaims()).toBe(1);
    const secondRun = startOutboxSender(second, mailer, { idleMs: 20 });
    closers.push(() => secondRun.stop());
    await until(() => outboxRows(second)[0]?.sent_at !== null, 'the second send');
    await until(async () => (await mailbox(mock.http, address))[0]?.copies === 2, 'the second copy');

    const messages = await mailbox(mock.http, address);
    expect(messages).toHaveLength(1);
    const claimed = second.db.prepare('SELECT * FROM outbox').get() as Parameters<typeof outboxMessageId>[0];
    expect(messages[0]?.messageId).toBe(outboxMessageId(claimed));
    expect(messages[0]?.links.some((l) => l.includes('/verify-email?token='))).toBe(true);
    const metrics = await (await fetch(`${mock.http}/metrics`)).text();
    expect(metrics).toMatch(/^email_duplicate_messages_total 1$/m);
    expect(metrics).toMatch(/^email_delivered_total 2$/m);
  }, 90_000);

  it('two mails of one recipient (a resend) are two messages: the Message-ID is per outbox row', async () => {
    const repo = new Repository(openDb(dbFile()));
    const [address] = queueMails(repo, 1, 'twice') as [string];
    const account = repo.accountByEmail(address);
    repo.replaceEmailToken(account?.id as number, 'second-token', Date.now() + 60_000, {
      to: address,
      ...verificationMail('http://127.0.0.1:9', 'second-token'),
    });
    const rows = repo.db.prepare('SELECT * FROM outbox ORDER BY id').all() as Array<
      Parameters<typeof outboxMessageId>[0]
    >;
    expect(rows).toHaveLength(2);
    const ids = rows.map(outboxMessageId);
    expect(ids[0]).not.toBe(ids[1]);
    expect(ids[0]).toMatch(/^<outbox-\d+\.[0-9a-f]{16}@prakerja\.test>$/);
    // The same row, the same id, whoever computes it.
    expect(outboxMessageId({ ...(rows[0] as Parameters<typeof outboxMessageId>[0]) })).toBe(ids[0]);
  });
});

describe('the outbox send rate (EMAIL_SEND_RATE)', () => {
  it('two processes on one database together hand SMTP no more mails a second than the rate', async () => {
    const mock = await emailMock();
    const file = dbFile();
    const a = new Repository(openDb(file));
    const b = new Repository(openDb(file));
    queueMails(a, 20, 'rate');
    const rate = 5;
    const started = Date.now();
    // Two senders on two connections, as two cluster processes: each alone would be allowed the rate.
    for (const repo of [a, b]) {
      const sender = startOutboxSender(repo, mailerFor(mock.smtpUrl).mailer, {
        ratePerSecond: rate,
        idleMs: 20,
      });
      closers.push(() => sender.stop());
    }
    await until(() => outboxRows(a).every((r) => r.sent_at !== null), 'all 20 mails sent');
    const lastSent = Math.max(...outboxRows(a).map((r) => r.sent_at as number));
    // A second's worth may go at once, then one every 1/rate s: (20 - 5) / 5 = 3 s at the least.
    // Only a lower bound: a loaded machine makes it slower, never faster.
    expect(lastSent - started).toBeGreaterThanOrEqual(2500);
    for (const address of ['rate0@example.test', 'rate19@example.test'])
      await until(async () => (await mailbox(mock.http, address)).length === 1, `the mail to ${address}`);
  }, 90_000);

  it('without a rate (0) the bucket is not consulted: 20 mails go as fast as the senders', async () => {
    const mock = await emailMock();
    const repo = new Repository(openDb(dbFile()));
    queueMails(repo, 20, 'fast');
    const sender = startOutboxSender(repo, mailerFor(mock.smtpUrl).mailer, { idleMs: 20 });
    closers.push(() => sender.stop());
    await until(() => outboxRows(repo).every((r) => r.sent_at !== null), 'all 20 mails sent');
    expect(repo.db.prepare('SELECT COUNT(*) AS n FROM outbox_pace').get()).toEqual({ n: 0 });
  }, 90_000);

  it('the bucket: a second of tokens at first, then one every 1/rate s, and a wait that says when', () => {
    const repo = new Repository(openDb(dbFile()));
    queueMails(repo, 5, 'bucket');
    const t0 = Date.now() + 1000;
    expect(repo.claimOutboxAtRate(t0, 60_000, 2).row).toBeDefined();
    expect(repo.claimOutboxAtRate(t0, 60_000, 2).row).toBeDefined();
    const refused = repo.claimOutboxAtRate(t0, 60_000, 2);
    expect(refused).toEqual({ row: undefined, waitMs: 500 });
    expect(repo.claimOutboxAtRate(t0 + 499, 60_000, 2).row).toBeUndefined();
    expect(repo.claimOutboxAtRate(t0 + 500, 60_000, 2).row).toBeDefined();
    // No mail due: no token spent.
    repo.db.prepare('UPDATE outbox SET next_attempt_at = ? WHERE sent_at IS NULL').run(t0 + 100_000);
    expect(repo.claimOutboxAtRate(t0 + 1500, 60_000, 2)).toEqual({ row: undefined, waitMs: 0 });
    expect(repo.db.prepare('SELECT tokens, updated_at FROM outbox_pace').get()).toEqual({
      tokens: 0,
      updated_at: t0 + 500,
    });
  });
});

describe('dead letters (EMAIL_MAX_ATTEMPTS)', () => {
  it('a mail SMTP refuses every time is set aside after the last attempt, kept, counted and no longer retried', async () => {
    const mock = await emailMock({ errorRate: 1 });
    const repo = new Repository(openDb(dbFile()));
    const [address] = queueMails(repo, 1, 'refused') as [string];
    const { mailer, metrics } = mailerFor(mock.smtpUrl);
    const sender = startOutboxSender(repo, mailer, { maxAttempts: 3, backoffBaseMs: 10, idleMs: 20 });
    closers.push(() => sender.stop());
    await until(() => repo.outboxDeadLetters() === 1, 'the dead letter');
    const [row] = outboxRows(repo);
    expect(row).toMatchObject({ attempts: 3, sent_at: null });
    expect(row?.dead_at).not.toBeNull();
    expect(row?.last_error).toMatch(/SMTP temporary failure 451/);
    expect(repo.outboxDepth()).toBe(0);
    expect(repo.claimOutbox(Date.now() + 3_600_000, 60_000)).toBeUndefined();
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^gelombang_email_dead_letters_total 1$/m);
    expect(text).toMatch(/^gelombang_email_outbox_dead_letters 1$/m);
    expect(await mailbox(mock.http, address)).toEqual([]);
  }, 90_000);

  it('backs off exponentially with jitter: half the wait fixed, half random, capped at a minute', () => {
    expect(outboxBackoffMs(1, 500, () => 0)).toBe(500);
    expect(outboxBackoffMs(1, 500, () => 1)).toBe(1000);
    expect(outboxBackoffMs(3, 500, () => 0)).toBe(2000);
    expect(outboxBackoffMs(3, 500, () => 1)).toBe(4000);
    expect(outboxBackoffMs(30, 500, () => 1)).toBe(60_000);
    expect(outboxBackoffMs(30, 500, () => 0)).toBe(30_000);
  });
});
