/**
 * A bulkhead: at most `limit` calls in flight, `queue` more waiting their turn (first come, first
 * served), and anyone beyond that refused at once. It keeps one slow ministry from taking every
 * socket and every pending request of the process: the registrants it cannot serve soon are told
 * so quickly instead of piling up until the whole service stalls.
 */

/** Why a slot was not given: the queue was full, or the wait outlasted the caller's deadline. */
export type BulkheadRefusal = 'full' | 'timeout';

export class BulkheadRefused extends Error {
  constructor(readonly reason: BulkheadRefusal) {
    super(reason === 'full' ? 'bulkhead full' : 'no free slot in time');
  }
}

interface Waiter {
  grant: (release: () => void) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class Bulkhead {
  private active = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    readonly limit: number,
    readonly queue: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`bulkhead limit: expected an integer >= 1, got ${limit}`);
    if (!Number.isInteger(queue) || queue < 0)
      throw new Error(`bulkhead queue: expected an integer >= 0, got ${queue}`);
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * A slot, as the function that gives it back (calling it twice gives back one slot). Rejects with
   * BulkheadRefused 'full' at once when the queue is full, or 'timeout' after `maxWaitMs` in it.
   */
  acquire(maxWaitMs: number): Promise<() => void> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.queue) return Promise.reject(new BulkheadRefused('full'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: resolve,
        timer: setTimeout(
          () => {
            const at = this.waiting.indexOf(waiter);
            if (at >= 0) this.waiting.splice(at, 1);
            reject(new BulkheadRefused('timeout'));
          },
          Math.max(0, maxWaitMs),
        ),
      };
      this.waiting.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // The slot passes straight to the next waiter, so a newcomer cannot overtake the queue.
      const next = this.waiting.shift();
      if (next) {
        clearTimeout(next.timer);
        next.grant(this.releaser());
      } else {
        this.active--;
      }
    };
  }
}
