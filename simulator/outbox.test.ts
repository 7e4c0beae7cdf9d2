import { describe, expect, it } from 'vitest';
import { createRng } from '../model/random.ts';
import { EventQueue } from './events.ts';
import { OUTBOX_SENDER, Outbox, outboxBackoffMs } from './outbox.ts';
import { Pool } from './pool.ts';
import type { Account, Answer, RegistrationService } from './service.ts';

/**
 * The outbox's senders against a service whose writes commit in 1 ms and whose mails take 10 ms:
 * when each of 60 mails written at once is handed to SMTP, with and without EMAIL_SEND_RATE.
 */
function sendTimes(ratePerSecond: number, processes = 2): number[] {
  return run({ ratePerSecond, processes, mails: 60 }).sent.map((s) => s.at);
}

function run(o: {
  ratePerSecond: number;
  processes: number;
  mails: number;
  fails?: boolean;
  maxAttempts?: number;
}) {
  const q = new EventQueue();
  const sent: { acct: Account; at: number }[] = [];
  const service = {
    mailers: Array.from({ length: o.processes }, () => new Pool(q, 16)),
    onOutbox: undefined as ((a: Account) => void) | undefined,
    backgroundWrite(_proc: number, then: (ok: boolean) => void) {
      q.schedule(q.now + 1, () => then(true), undefined);
    },
    sendMail(acct: Account, then: (failure: Answer | undefined) => void) {
      sent.push({ acct, at: q.now });
      const failure: Answer | undefined = o.fails
        ? { status: 503, retryAfterS: 1, code: 'dependency_unavailable', dependency: 'email' }
        : undefined;
      q.schedule(q.now + 10, () => then(failure), undefined);
    },
  };
  const outbox = new Outbox(
    q,
    service as unknown as RegistrationService,
    o.ratePerSecond,
    o.maxAttempts ?? 8,
    createRng(7),
  );
  for (let i = 0; i < o.mails; i++) service.onOutbox?.({} as Account);
  q.run();
  return { sent, outbox };
}

describe('the outbox', () => {
  it('killed with the service, leaves due what its senders had taken; restarted, sends every mail at least once', () => {
    const q = new EventQueue();
    const sent: Account[] = [];
    // A service that, once dead, never answers what it was doing (RegistrationService.kill).
    const make = () => {
      const s = {
        dead: false,
        mailers: [new Pool(q, 16)],
        onOutbox: undefined as ((a: Account) => void) | undefined,
        backgroundWrite(_proc: number, then: (ok: boolean) => void) {
          q.schedule(q.now + 1, () => s.dead || then(true), undefined);
        },
        sendMail(acct: Account, then: (failure: Answer | undefined) => void) {
          sent.push(acct);
          q.schedule(q.now + 10, () => s.dead || then(undefined), undefined);
        },
      };
      return s;
    };
    const first = make();
    const outbox = new Outbox(q, first as unknown as RegistrationService, 0, 8, createRng(7));
    const accounts = Array.from({ length: 20 }, (_, i) => ({ rows: i }) as Account);
    for (const a of accounts) first.onOutbox?.(a);
    // The four senders look at 200 ms, claim a row each (1 ms) and are sending it (10 ms) at 205.
    q.schedule(
      205,
      () => {
        first.dead = true;
        outbox.kill();
      },
      undefined,
    );
    const second = make();
    q.schedule(1000, () => outbox.restart(second as unknown as RegistrationService), undefined);
    q.run();
    const times = (a: Account) => sent.filter((x) => x === a).length;
    expect(accounts.every((a) => times(a) >= 1)).toBe(true);
    expect(accounts.filter((a) => times(a) === 2)).toHaveLength(4);
    expect(sent).toHaveLength(24);
    expect(outbox.depth).toBe(0);
  });

  it('sends as fast as its senders go without a rate: eight senders, a mail each 12 ms', () => {
    const sent = sendTimes(0);
    expect(sent).toHaveLength(60);
    // The first look at 200 ms, then 8 senders of 1 + 10 + 1 ms each: 60 mails in 8 rounds.
    expect(Math.max(...sent)).toBeLessThan(200 + 8 * 12 + 12);
  });

  it('hands mails to SMTP at EMAIL_SEND_RATE for every process together, after a burst of one second', () => {
    const sent = sendTimes(10);
    expect(sent).toHaveLength(60);
    // A bucket of 10 tokens, full at the start, refilled at 10 a second: by time t (s) at most
    // 10 + 10 t sent, and the last of 60 not before 5 s.
    for (const t of [0.5, 1, 2, 3, 4]) {
      const by = sent.filter((x) => x <= t * 1000).length;
      expect([t, by <= 10 + 10 * t]).toEqual([t, true]);
    }
    expect(Math.max(...sent)).toBeGreaterThanOrEqual(5000);
    // And not slower than the rate: 60 mails within 5 s plus a sender's wait and its round.
    expect(Math.max(...sent)).toBeLessThan(5000 + 200 + 12);
    // A rate below one a second still lets one mail through at a time.
    expect(sendTimes(0.5, 1).slice(0, 3)).toEqual([200, 2201, 4202].map((x) => expect.closeTo(x, -1)));
  });

  it('tries a failing mail EMAIL_MAX_ATTEMPTS times, each after a jittered backoff, then sets it aside', () => {
    const { sent, outbox } = run({ ratePerSecond: 0, processes: 1, mails: 3, fails: true, maxAttempts: 5 });
    expect(outbox.depth).toBe(0);
    const accounts = [...new Set(sent.map((s) => s.acct))];
    expect(accounts).toHaveLength(3);
    const waits: number[] = [];
    for (const acct of accounts) {
      const times = sent.filter((s) => s.acct === acct).map((s) => s.at);
      expect(times).toHaveLength(5);
      for (let k = 1; k < times.length; k++) {
        // attempt k failed: between half and all of 500 x 2^k ms, then the sender's write, a look
        // at the next 200 ms tick and the claim
        const ceiling = Math.min(OUTBOX_SENDER.backoffCapMs, OUTBOX_SENDER.backoffBaseMs * 2 ** k);
        const wait = (times[k] as number) - (times[k - 1] as number) - 10;
        expect([k, wait >= ceiling / 2, wait <= ceiling + 1 + OUTBOX_SENDER.idleMs + 1]).toEqual([
          k,
          true,
          true,
        ]);
        waits.push(wait / ceiling);
      }
    }
    // Jittered: some come back well before the ceiling (the seeded draw; unjittered, none would).
    expect(Math.min(...waits)).toBeLessThan(0.9);
  });

  it('backs off between half and all of 0.5 s x 2^attempts, a minute at most', () => {
    expect(outboxBackoffMs(1, () => 0)).toBe(500);
    expect(outboxBackoffMs(1, () => 1)).toBe(1000);
    expect(outboxBackoffMs(3, () => 0.5)).toBe(3000);
    expect(outboxBackoffMs(7, () => 1)).toBe(60_000);
    expect(outboxBackoffMs(40, () => 0)).toBe(30_000);
  });
});
