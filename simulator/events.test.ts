import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseProfileCsv } from '../model/profile.ts';
import { createRng } from '../model/random.ts';
import { Arrivals } from './arrivals.ts';
import { EventQueue } from './events.ts';
import { TimeoutLine } from './timeouts.ts';

describe('the clock', () => {
  it('fires by time, then in the order scheduled, near and far alike', () => {
    const q = new EventQueue();
    const rng = createRng(3);
    const fired: Array<[number, number]> = [];
    const planned: Array<[number, number]> = [];
    for (let i = 0; i < 20_000; i++) {
      // Times on a coarse grid so that many collide; some hours ahead (the buckets), some beyond.
      const at = Math.floor(rng() * 50) * (rng() < 0.5 ? 7 : 70_000) + (rng() < 0.01 ? 1e9 : 0);
      planned.push([at, i]);
      q.schedule(at, (k: number) => fired.push([q.now, k]), i);
    }
    q.run();
    planned.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    expect(fired).toEqual(planned);
  });

  it('never goes back in time, and events scheduled while running keep the order', () => {
    const q = new EventQueue();
    const seen: number[] = [];
    q.schedule(
      10,
      () => {
        q.schedule(5, () => seen.push(q.now), undefined);
        q.schedule(10, () => seen.push(q.now + 0.5), undefined);
      },
      undefined,
    );
    q.schedule(10, () => seen.push(q.now + 0.25), undefined);
    q.run();
    expect(seen).toEqual([10.25, 10, 10.5]);
  });

  it('a timeout line fires the timers that still matter, at their time', () => {
    const q = new EventQueue();
    const fired: Array<[number, string]> = [];
    const pending = new Set(['a', 'b', 'c']);
    const line = new TimeoutLine(
      q,
      100,
      (x: string) => fired.push([q.now, x]),
      (x) => pending.has(x),
    );
    line.add('a');
    q.schedule(10, () => line.add('b'), undefined);
    q.schedule(20, () => line.add('c'), undefined);
    q.schedule(50, () => pending.delete('b'), undefined);
    q.run();
    // 'b' was answered before its time: the line drops it without firing.
    expect(fired.map(([t, x]) => `${x}@${t}`)).toEqual(['a@100', 'c@120']);
  });
});

describe('arrivals', () => {
  it("start as the replay's k6 stages start iterations: its total, within its duration, in order", () => {
    const profile = parseProfileCsv(
      readFileSync('scenarios/profiles/registration-day-2020.csv', 'utf8'),
      '2020',
    );
    const a = new Arrivals(profile, { scale: 0.001, compress: 60, window: { fromMinute: 0, toMinute: 120 } });
    const times: number[] = [];
    for (let t = a.next(); t !== undefined; t = a.next()) times.push(t);
    expect(times.length).toBe(Math.floor(a.plan.total + 1e-9));
    expect(times.every((t, i) => t >= (times[i - 1] ?? 0) && t <= a.plan.durationSeconds * 1000)).toBe(true);
    // Minute 3 of the profile (80,000) replays in the fourth second at 0.001: 80 arrivals.
    expect(times.filter((t) => t >= 3000 && t < 4000)).toHaveLength(80);
  });
});
