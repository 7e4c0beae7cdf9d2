import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuShare, type CpuStretchOverTime } from './cpu.ts';
import { EventQueue } from './events.ts';

type ByInterval = Pick<CpuStretchOverTime, 'intervalMs' | 'cores'>;

/** Runs `work` ms of CPU each, started at the given times, and returns when each ended. */
function ends(cores: number, runs: Array<{ at: number; work: number }>, left?: ByInterval): number[] {
  const q = new EventQueue();
  const cpu = new CpuShare(q, cores, left ? { ...left, factors: [] } : undefined);
  const out: number[] = [];
  runs.forEach((r, i) => {
    q.schedule(r.at, () => cpu.run(r.work, (k: number) => (out[k] = q.now), i), undefined);
  });
  q.run();
  return out;
}

describe('the cores, shared by every runnable thread at once', () => {
  it('runs as many threads as cores at full speed, and more at cores / runnable each', () => {
    expect(
      ends(2, [
        { at: 0, work: 10 },
        { at: 0, work: 30 },
      ]),
    ).toEqual([10, 30]);
    // One core, two runs: both at half speed until the short one is done.
    expect(
      ends(1, [
        { at: 0, work: 10 },
        { at: 0, work: 30 },
      ]),
    ).toEqual([20, 40]);
  });

  it('lets a short run that arrives behind long ones finish in its share, not after them', () => {
    // Four scrypt-like runs of 60 ms on two cores, then an event loop's 1 ms at t = 5 ms.
    const runs = [0, 0, 0, 0].map(() => ({ at: 0, work: 60 })).concat([{ at: 5, work: 1 }]);
    const t = ends(2, runs);
    // Five runnable threads on two cores: the 1 ms run gets 0.4 of a core, done 2.5 ms later.
    expect(t[4]).toBeCloseTo(7.5, 9);
    expect(t.slice(0, 4).every((x) => x > 100)).toBe(true);
  });

  it('counts the core-milliseconds used', () => {
    const q = new EventQueue();
    const cpu = new CpuShare(q, 2);
    for (const work of [10, 30, 5]) cpu.run(work, () => {}, undefined);
    q.run();
    expect(cpu.takeBusyArea()).toBeCloseTo(45, 9);
  });

  it('ends every run when exact processor sharing does, as the threads cross the cores both ways', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(
          fc.record({
            at: fc.double({ min: 0, max: 60, noNaN: true }),
            work: fc.double({ min: 0.01, max: 40, noNaN: true }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (cores, runs) => {
          const got = ends(cores, runs);
          const want = processorSharing(cores, runs);
          // The cores end together the runs within a nanosecond of CPU of each other (rounding).
          expect(got).toHaveLength(want.length);
          for (const [i, w] of want.entries()) expect(got[i]).toBeCloseTo(w, 4);
        },
      ),
      { numRuns: 300, seed: 14 },
    );
  });
});

describe("a measured run's cores, what the other processes left interval by interval", () => {
  it('runs a thread alone at full speed on the cores left, and shares them once more threads run', () => {
    const left = { intervalMs: 100, cores: [1.5] };
    // One thread on 1.5 cores: a core of its own, not 1.5 / 2 of a slower machine.
    expect(ends(2, [{ at: 0, work: 30 }], left)).toEqual([30]);
    // Three threads on 1.5 cores: half a core each.
    expect(
      ends(
        2,
        [0, 0, 0].map(() => ({ at: 0, work: 10 })),
        left,
      ),
    ).toEqual([20, 20, 20]);
  });

  it("changes every running thread's speed when an interval leaves it other cores", () => {
    // Two threads of 100 ms: one core for both in the first 50 ms (25 ms of work each), then two
    // cores, each its own (75 ms more), then past the intervals the machine's.
    expect(
      ends(
        2,
        [
          { at: 0, work: 100 },
          { at: 0, work: 100 },
        ],
        { intervalMs: 50, cores: [1, 2] },
      ),
    ).toEqual([125, 125]);
    // And the other way: each on its own core, then half a core each from t = 50 ms.
    const t = ends(
      2,
      [
        { at: 0, work: 100 },
        { at: 0, work: 100 },
      ],
      { intervalMs: 50, cores: [2, 1, 1, 1] },
    );
    for (const x of t) expect(x).toBeCloseTo(150, 9);
  });

  it('ends every run when exact processor sharing on the cores of each interval does', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.double({ min: 0.2, max: 4, noNaN: true }), { minLength: 1, maxLength: 8 }),
        fc.array(
          fc.record({
            at: fc.double({ min: 0, max: 60, noNaN: true }),
            work: fc.double({ min: 0.01, max: 40, noNaN: true }),
          }),
          { minLength: 1, maxLength: 30 },
        ),
        (cores, byInterval, runs) => {
          const left = { intervalMs: 10, cores: byInterval };
          const got = ends(cores, runs, left);
          const want = processorSharing(cores, runs, left);
          expect(got).toHaveLength(want.length);
          for (const [i, w] of want.entries()) expect(got[i]).toBeCloseTo(w, 4);
        },
      ),
      { numRuns: 300, seed: 15 },
    );
  });
});

/**
 * Processor sharing worked out directly: step from one arrival or end to the next, every run
 * present getting min(1, cores / runs) of a core in between.
 */
function processorSharing(
  cores: number,
  runs: Array<{ at: number; work: number }>,
  byInterval?: ByInterval,
): number[] {
  const order = runs.map((_, i) => i).sort((a, b) => (runs[a]?.at ?? 0) - (runs[b]?.at ?? 0));
  const left = new Map<number, number>();
  const out: number[] = [];
  let t = 0;
  let next = 0;
  while (next < order.length || left.size > 0) {
    // The cores of the interval holding t, and when it ends (past the intervals: never).
    const k = byInterval ? Math.floor(t / byInterval.intervalMs) : 0;
    const now = byInterval?.cores?.[k] ?? cores;
    const boundary =
      byInterval?.cores && k < byInterval.cores.length
        ? (k + 1) * byInterval.intervalMs
        : Number.POSITIVE_INFINITY;
    const rate = left.size <= now ? 1 : now / left.size;
    const firstEnd = left.size > 0 ? t + Math.min(...left.values()) / rate : Number.POSITIVE_INFINITY;
    const arrival = next < order.length ? (runs[order[next] as number]?.at ?? 0) : Number.POSITIVE_INFINITY;
    const until = Math.min(firstEnd, arrival, boundary);
    for (const [j, w] of left) left.set(j, w - (until - t) * rate);
    t = until;
    if (boundary < firstEnd && boundary < arrival) continue;
    if (arrival <= firstEnd) {
      const k = order[next++] as number;
      left.set(k, runs[k]?.work ?? 0);
    } else {
      for (const [j, w] of left) {
        if (w > 1e-9) continue;
        left.delete(j);
        out[j] = t;
      }
    }
  }
  return out;
}
