import { describe, expect, it } from 'vitest';
import { deliveryBacklog } from './plan-delivery.ts';

/**
 * The providers' backlog rebuilt from the relay's busy share: 10 connections of 100 ms send 100
 * mails a second when all are busy, so a busy share of b is 100 b mails accepted a second.
 */
const relay = { concurrency: 10, meanServiceMs: 100 };

describe('the delivery backlog a probe read', () => {
  it('grows by what the relay accepted beyond the providers\u2019 rate, and its longest wait is backlog over rate', () => {
    // 10 s at 50 a second, 20 s at 100 a second, 30 s at 10 a second, against providers taking 40.
    const t = [10, 20, 30, 40, 50, 60];
    const busyShare = [0.5, 1, 1, 0.1, 0.1, 0.1];
    const r = deliveryBacklog({ ...relay, t, busyShare, perSecond: 40 });
    expect(r.peakAcceptedPerS).toBeCloseTo(100, 9);
    // +100 after 10 s, +600 +600 after 30 s: 1,300 mails, 32.5 s of the providers' time.
    expect(r.maxWaitS).toBeCloseTo(1300 / 40, 9);
    // It began with the first interval above the rate.
    expect(r.startedAtS).toBe(0);
  });

  it('a backlog that emptied starts again at the next surge; the longest episode is the one reported', () => {
    const t = [10, 20, 30, 40];
    // 20 above the rate for 10 s (200 mails), drained below it, then 60 above for 10 s.
    const busyShare = [0.6, 0, 0, 1];
    const r = deliveryBacklog({ ...relay, t, busyShare, perSecond: 40 });
    expect(r.maxWaitS).toBeCloseTo(600 / 40, 9);
    expect(r.startedAtS).toBe(30);
  });

  it('no limit, or a rate never reached, leaves no backlog; the demand is read all the same', () => {
    const t = [5, 10];
    const busyShare = [0.3, 0.2];
    for (const perSecond of [undefined, 30]) {
      const r = deliveryBacklog({ ...relay, t, busyShare, perSecond });
      expect(r.maxWaitS).toBe(0);
      expect(r.startedAtS).toBeNull();
      expect(r.peakAcceptedPerS).toBeCloseTo(30, 9);
    }
  });
});
