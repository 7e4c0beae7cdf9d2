import { describe, expect, it } from 'vitest';
import { Bulkhead, BulkheadRefused } from './bulkhead.ts';

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => (e instanceof BulkheadRefused ? e.reason : e),
  );

describe('Bulkhead', () => {
  it('gives slots up to its limit, queues up to its queue, refuses the rest at once', async () => {
    const b = new Bulkhead(2, 1);
    const r1 = await b.acquire(60_000);
    await b.acquire(60_000);
    const third = b.acquire(60_000);
    expect(await refusal(b.acquire(60_000))).toBe('full');
    expect([b.inFlight, b.queued]).toEqual([2, 1]);
    r1();
    const r3 = await third;
    expect([b.inFlight, b.queued]).toEqual([2, 0]);
    // Giving a slot back twice gives back one slot.
    r1();
    expect(b.inFlight).toBe(2);
    r3();
    expect(b.inFlight).toBe(1);
  });

  it('hands freed slots to the waiters in arrival order, ahead of newcomers', async () => {
    const b = new Bulkhead(1, 3);
    const first = await b.acquire(60_000);
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      b.acquire(60_000).then((release) => {
        order.push(n);
        return release;
      }),
    );
    first();
    // A newcomer while the queue is not empty waits behind it.
    const late = b.acquire(60_000).then((release) => {
      order.push(4);
      return release;
    });
    for (const w of waiters) (await w)();
    (await late)();
    expect(order).toEqual([1, 2, 3, 4]);
    expect([b.inFlight, b.queued]).toEqual([0, 0]);
  });

  it('lets a waiter go after its longest wait, and forgets it', async () => {
    const b = new Bulkhead(1, 1);
    const holder = await b.acquire(60_000);
    expect(await refusal(b.acquire(20))).toBe('timeout');
    expect(b.queued).toBe(0);
    // The queue place it had is free again, and the slot is not handed to the one that left.
    const next = b.acquire(60_000);
    holder();
    (await next)();
    expect(b.inFlight).toBe(0);
  });

  it('refuses a limit below 1 or a negative queue', () => {
    expect(() => new Bulkhead(0, 1)).toThrow(/limit: expected an integer >= 1, got 0/);
    expect(() => new Bulkhead(1, -1)).toThrow(/queue: expected an integer >= 0, got -1/);
  });
});
