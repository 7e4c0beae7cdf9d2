import { describe, expect, it } from 'vitest';
import { createRng } from '../model/random.ts';
import { describePoint, type PlanResource, type Point, type ProbeOutcome, search, verify } from './plan.ts';

/**
 * The search on probes whose answers are known exactly: each resource needs at least some number
 * of units, and a probe holds when every need is met. No simulation runs here (plan.test.ts in
 * scripts/commands/ runs the search on the simulator); these pin the search's logic.
 */

const resources: PlanResource[] = ['a', 'b', 'c'].map((name) => ({
  name,
  unitName: 'server',
  unit: 1,
  min: 1,
  max: 1000,
}));

/** A probe from needs: what falls short grows, the first short one first; demand read as the need. */
function probeOf(need: (p: Point) => Record<string, number>, log: Point[] = []) {
  return (p: Point): ProbeOutcome => {
    log.push(p);
    const n = need(p);
    const short = Object.keys(n).filter((k) => (p[k] as number) < (n[k] as number));
    return {
      held: short.length === 0,
      grow: short.slice(0, 1),
      broke: short.map((k) => `${k} short`),
      worst: null,
      failedShare: 0,
      load: {},
    };
  };
}

/** The search of `a` alone from 1,000, needing `need`, each probe reading a demand of `demand`. */
function searchA(need: number, demand: number, log: Point[], maxProbes = 100) {
  return search({
    resources,
    searched: ['a'],
    start: { a: 1000, b: 1, c: 1 },
    maxProbes,
    probe: (p) => ({ ...probeOf(() => ({ a: need }), log)(p), load: { a: demand } }),
  });
}

describe('the plan search', () => {
  it("describes a point in each resource's units, naming those other than its field's", () => {
    const resources: PlanResource[] = [
      { name: 'dukcapil.concurrency', unitName: 'server', unit: 1, min: 1, max: 100 },
      { name: 'upload.bandwidthBytesPerSecond', unitName: 'MiB/s', unit: 1024 * 1024, min: 1, max: 100 },
    ];
    expect(describePoint({ 'dukcapil.concurrency': 8, 'upload.bandwidthBytesPerSecond': 4 }, resources)).toBe(
      'dukcapil.concurrency=8, upload.bandwidthBytesPerSecond=4 MiB/s',
    );
  });

  it('grows what saturates first until it holds, then finds the least of each', () => {
    const log: Point[] = [];
    const r = search({
      resources,
      searched: ['a', 'b', 'c'],
      start: { a: 2, b: 64, c: 10 },
      maxProbes: 100,
      probe: probeOf(() => ({ a: 13, b: 5, c: 1 }), log),
    });
    expect(r.status).toBe('found');
    expect(r.point).toEqual({ a: 13, b: 5, c: 1 });
    expect(r.minimal).toBe(true);
    // a doubled 2 -> 4 -> 8 -> 16 before anything held.
    expect(log.slice(0, 4).map((p) => p.a)).toEqual([2, 4, 8, 16]);
    for (const m of r.marginals) {
      expect(m.at.outcome.held).toBe(true);
      if (m.resource === 'c') expect(m.less).toBeNull();
      else expect(m.less?.outcome.held).toBe(false);
      if (m.less) expect(m.less.point[m.resource]).toBe((r.point[m.resource] as number) - 1);
    }
    // Bisection, not a walk: about log2 of each bracket, and no point twice.
    expect(r.probes.length).toBeLessThanOrEqual(4 + 4 + 6 + 4 + 2);
    expect(new Set(log.map((p) => JSON.stringify(p))).size).toBe(log.length);
  });

  it('starts bisection at the demand the held probe read, when it is inside the bracket', () => {
    const log: Point[] = [];
    searchA(700, 690.4, log);
    expect(log[1]?.a).toBe(691);
  });

  it('gallops from the demand the held probe read: two probes when the demand is the least that holds', () => {
    const log: Point[] = [];
    searchA(700, 699.2, log);
    // the start, the demand (held), one less (broke); then the marginal phase finds 699 probed
    expect(log.map((p) => p.a)).toEqual([1000, 700, 699]);
  });

  it('finds the least that holds whatever the demand read, in about twice log2 of their distance', () => {
    const rng = createRng(12345);
    for (let k = 0; k < 300; k++) {
      const need = 1 + Math.floor(rng() * 900);
      // a demand near the need most of the time, anywhere at all now and then
      const demand = rng() < 0.8 ? need + (rng() - 0.5) * 40 : rng() * 1200;
      const log: Point[] = [];
      const r = searchA(need, demand, log);
      expect(r.point.a, `need ${need}, demand ${demand}`).toBe(need);
      expect(r.minimal).toBe(true);
      expect(new Set(log.map((p) => p.a)).size).toBe(log.length);
      const guess = Math.ceil(demand);
      if (guess >= 1 && guess < 1000) {
        const distance = Math.abs(guess - need) + 1;
        // start, the demand, the gallop and the bisection of its last step
        expect(log.length, `need ${need}, demand ${demand}`).toBeLessThanOrEqual(
          2 + 2 * Math.ceil(Math.log2(distance)) + 2,
        );
      }
    }
  });

  it('lowers a result that holds one unit less once later resources are at theirs', () => {
    // a carries what b lets through: with b at 16, a needs 16; with b at 4, a needs 4.
    const r = search({
      resources,
      searched: ['a', 'b'],
      start: { a: 16, b: 16, c: 1 },
      maxProbes: 100,
      probe: probeOf((p) => ({ a: Math.max(3, p.b as number), b: 4 })),
    });
    expect(r.point).toMatchObject({ a: 4, b: 4 });
    expect(r.minimal).toBe(true);
  });

  it('stopped by --max-probes while shrinking, writes the lowest point that held so far', () => {
    const log: Point[] = [];
    const r = searchA(700, 690.4, log, 7);
    // 691, 692, 694 and 698 broke; 706 and 702 held; 700 was next
    expect(log.map((p) => p.a)).toEqual([1000, 691, 692, 694, 698, 706, 702]);
    expect(r.point.a).toBe(702);
    expect(r.minimal).toBe(false);
    expect(r.reason).toMatch(/--max-probes 7 reached while shrinking/);
  });

  it('lowers a resource that holds one unit less as far as it goes at once, not one unit a round', () => {
    // a carries what b lets through, plus 2: with b at 50 (searched after a), a needs 52; once b
    // is at its 8, a needs 10. One unit a round re-probed b at each of a's 42 units.
    const log: Point[] = [];
    const r = search({
      resources,
      searched: ['a', 'b'],
      start: { a: 64, b: 50, c: 1 },
      maxProbes: 200,
      probe: probeOf((p) => ({ a: (p.b as number) + 2, b: 8 }), log),
    });
    expect(r.point).toMatchObject({ a: 10, b: 8 });
    expect(r.minimal).toBe(true);
    const after = r.probes.findIndex((p) => p.why.startsWith('one less'));
    // one less a (held), doubling steps down and the bisection of the last (about 2 log2 42),
    // then one less of each again
    expect(r.probes.length - after).toBeLessThanOrEqual(1 + 2 * Math.ceil(Math.log2(42)) + 2);
    expect(new Set(log.map((p) => JSON.stringify(p))).size).toBe(log.length);
  });

  it('stops, unreachable, when what saturated is nothing the plan sizes, and says what it was', () => {
    const r = search({
      resources,
      searched: ['a'],
      start: { a: 1, b: 1, c: 1 },
      maxProbes: 100,
      probe: () => ({
        held: false,
        grow: [],
        limit: 'the SQLite write lock',
        broke: ['create_account p95'],
        worst: null,
        failedShare: 0,
        load: {},
      }),
    });
    expect(r.status).toBe('unreachable');
    expect(r.reason).toBe('the SQLite write lock');
    expect(r.probes).toHaveLength(1);
  });

  it('stops, unreachable, when what saturated is left out of the search, or at its maximum', () => {
    const left = search({
      resources,
      searched: ['b'],
      start: { a: 1, b: 1, c: 1 },
      maxProbes: 100,
      probe: probeOf(() => ({ a: 5 })),
    });
    expect(left.status).toBe('unreachable');
    expect(left.reason).toContain('a saturated first, which --resources leaves out');
    const capped = search({
      resources: resources.map((r) => ({ ...r, max: 8 })),
      searched: ['a'],
      start: { a: 1, b: 1, c: 1 },
      maxProbes: 100,
      probe: probeOf(() => ({ a: 13 })),
    });
    expect(capped.status).toBe('unreachable');
    expect(capped.reason).toContain('a (8) saturated at the most the field takes');
  });

  it('keeps to --max-probes: no held point is exhausted; a held one is kept, not called the least', () => {
    const none = search({
      resources,
      searched: ['a'],
      start: { a: 1, b: 1, c: 1 },
      maxProbes: 3,
      probe: probeOf(() => ({ a: 100 })),
    });
    expect(none.status).toBe('exhausted');
    expect(none.probes).toHaveLength(3);
    const some = search({
      resources,
      searched: ['a'],
      start: { a: 1, b: 1, c: 1 },
      maxProbes: 9,
      probe: probeOf(() => ({ a: 100 })),
    });
    expect(some.status).toBe('found');
    expect(some.probes).toHaveLength(9);
    expect(some.minimal).toBe(false);
    expect(some.reason).toContain('--max-probes 9');
    expect(some.point.a).toBeGreaterThanOrEqual(100);
  });
});

describe('the verification', () => {
  it('raises what saturated on the whole target and verifies again, telling what it raised', () => {
    const v = verify({
      resources,
      searched: ['a', 'b'],
      point: { a: 13, b: 5, c: 1 },
      maxRepairs: 3,
      firstN: 20,
      verify: probeOf(() => ({ a: 20, b: 5 })),
    });
    expect(v.held).toBe(true);
    expect(v.point).toEqual({ a: 26, b: 5, c: 1 });
    expect(v.raised).toEqual([{ resource: 'a', from: 13, to: 26 }]);
    expect(v.runs.map((x) => [x.n, x.why])).toEqual([
      [20, 'verify'],
      [21, 'verify again'],
    ]);
  });

  it('raises by its growth, a unit at least, and names its runs by its label', () => {
    const v = verify({
      resources,
      searched: ['a', 'b'],
      point: { a: 13, b: 1, c: 1 },
      maxRepairs: 5,
      firstN: 7,
      growth: 1.25,
      label: 'rehearsal',
      verify: (p) => ({
        ...probeOf(() => ({ a: 20, b: 3 }))(p),
        saturated: (['a', 'b'] as const).filter((k) => (p[k] as number) < { a: 20, b: 3 }[k]),
      }),
    });
    expect(v.held).toBe(true);
    // a: 13 -> 17 -> 22 (ceil of x 1.25); b: 1 -> 2 -> 3 (a unit where x 1.25 rounds to itself)
    expect(v.raised).toEqual([
      { resource: 'a', from: 13, to: 22 },
      { resource: 'b', from: 1, to: 3 },
    ]);
    expect(v.runs.map((x) => [x.n, x.why])).toEqual([
      [7, 'rehearsal'],
      [8, 'rehearsal again'],
      [9, 'rehearsal again'],
    ]);
  });

  it('raises every resource that saturated and bears on what broke at once, not only the first', () => {
    const v = verify({
      resources,
      searched: ['a', 'b', 'c'],
      point: { a: 4, b: 4, c: 4 },
      maxRepairs: 3,
      firstN: 1,
      verify: (p) => ({
        ...probeOf(() => ({ b: 8, c: 8 }))(p),
        grow: ['a'],
        saturated: ['b', 'c'].filter((k) => (p[k] as number) < 8),
      }),
    });
    expect(v.held).toBe(true);
    expect(v.runs).toHaveLength(2);
    expect(v.raised).toEqual([
      { resource: 'b', from: 4, to: 8 },
      { resource: 'c', from: 4, to: 8 },
    ]);
  });

  it('gives up after its rounds, or at once when nothing it may raise saturated', () => {
    const rounds = verify({
      resources,
      searched: ['a'],
      point: { a: 1, b: 1, c: 1 },
      maxRepairs: 2,
      firstN: 1,
      verify: probeOf(() => ({ a: 1000 })),
    });
    expect(rounds.held).toBe(false);
    expect(rounds.runs).toHaveLength(3);
    expect(rounds.reason).toContain('still broken after 2 raise(s)');
    const fixed = verify({
      resources,
      searched: ['a'],
      point: { a: 1, b: 1, c: 1 },
      maxRepairs: 2,
      firstN: 1,
      verify: probeOf(() => ({ c: 2 })),
    });
    expect(fixed.held).toBe(false);
    expect(fixed.runs).toHaveLength(1);
  });
});
