import { describe, expect, it } from 'vitest';
import { EventQueue } from './events.ts';
import { Outbox } from './outbox.ts';
import { Pool } from './pool.ts';
import type { Account, RegistrationService } from './service.ts';

/**
 * The outbox's senders against a service whose writes commit in 1 ms and whose mails take 10 ms:
 * when each of 60 mails written at once is handed to SMTP, with and without EMAIL_SEND_RATE.
 */
function sendTimes(ratePerSecond: number, processes = 2): number[] {
  const q = new EventQueue();
  const sent: number[] = [];
  const service = {
    onOutbox: undefined as ((a: Account) => void) | undefined,
    backgroundWrite(_proc: number, then: (ok: boolean) => void) {
      q.schedule(q.now + 1, () => then(true), undefined);
    },
    sendMail(_acct: Account, then: (failure: undefined) => void) {
      sent.push(q.now);
      q.schedule(q.now + 10, () => then(undefined), undefined);
    },
  };
  const mailers = Array.from({ length: processes }, () => new Pool(q, 16));
  new Outbox(q, service as unknown as RegistrationService, mailers, ratePerSecond);
  for (let i = 0; i < 60; i++) service.onOutbox?.({} as Account);
  q.run();
  return sent;
}

describe('the outbox', () => {
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
});
