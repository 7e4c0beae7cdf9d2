import { describe, expect, it } from 'vitest';
import { CpuShare } from './cpu.ts';
import { EventQueue } from './events.ts';

/** Runs `work` ms of CPU each, started at the given times, and returns when each ended. */
function ends(cores: number, runs: Array<{ at: number; work: number }>): number[] {
  const q = new EventQueue();
  const cpu = new CpuShare(q, cores);
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
});
