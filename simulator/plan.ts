/**
 * `gelombang plan`'s search: the smallest amount of each resource (service cores, each ministry's
 * concurrency, the email send rate, the upload link and servers) with which a simulated load
 * meets every objective. The search knows resources and probes, not the simulator: a probe runs
 * one simulation at a point and says whether it held and what saturated first
 * (scripts/commands/plan.ts judges it as the report does), so the search is tested on probes of
 * known answers as well as on real simulations.
 *
 * 1. Grow: from the starting point, double what saturated first (the bottleneck report's notion)
 *    until the probe holds. A probe that broke with nothing the plan can raise saturated ends the
 *    search: the design, not the capacity, is the limit (the SQLite write lock, say).
 * 2. Shrink: each searched resource in turn, by bisection between its least value and the held
 *    one, the others held where they are; the first pivot is the demand the held probe read
 *    (servers or cores busy at the peak), which is usually close to the answer.
 * 3. One unit less: every resource at its result minus one unit, the others at theirs. A probe
 *    that breaks confirms the value and says what that unit buys; one that holds (a resource
 *    shrunk later took load off this one) lowers it and is tried again.
 *
 * Bisection assumes more of one resource, the others fixed, never breaks what held. Upstream
 * capacity can add load downstream (faster sign-ups send more mail), which is why step 3 checks
 * each result at the final point rather than trusting the order of step 2.
 */

export interface PlanResource {
  /** the field it sets: 'service.cores', 'dukcapil.concurrency', 'upload.bandwidthBytesPerSecond' */
  name: string;
  /** one unit, for people: 'core', 'server', 'MiB/s' */
  unitName: string;
  /** the field's value for one unit (1, or 1 MiB/s in bytes per second) */
  unit: number;
  /** the least and most units the field takes */
  min: number;
  max: number;
}

/** Units of every resource, searched or not. */
export type Point = Readonly<Record<string, number>>;

export interface ProbeOutcome {
  held: boolean;
  /** the resources to raise: those that saturated first (among those bearing on what broke, if any did) */
  grow: string[];
  /**
   * every resource that saturated and bears on what broke, earliest first: the verification raises
   * them all at once, because one verification costs a simulation of the whole target (default: grow)
   */
  saturated?: string[];
  /** when nothing of the plan's saturated: what did (or that nothing did), in words */
  limit?: string;
  /** the objectives missed, in words: 'submit_biodata p95', 'registrants failed 0.4 %' */
  broke: string[];
  /** the step nearest (or furthest past) its p95 objective */
  worst: { step: string; p95Ms: number; sloMs: number } | null;
  /** registrants failed by the system, as a share of arrivals */
  failedShare: number;
  /** of them, those who gave up in the waiting room (ADMISSION_RATE > 0), as a share of arrivals */
  gaveUpWaiting?: number;
  /** it broke only through those who gave up waiting: the room admitted too slowly, nothing else failed */
  onlyWaiting?: boolean;
  /** each resource's demand at the busiest reading, in its units, where the probe read one */
  load: Record<string, number>;
  /** requests per step: how much of the load reached each resource */
  requests?: Record<string, number>;
}

export interface ProbeRecord {
  /** 1, 2, ... in the order run */
  n: number;
  point: Point;
  /** why it was run: 'start', 'grow', 'shrink dukcapil.concurrency', 'one less email.concurrency', 'verify' */
  why: string;
  outcome: ProbeOutcome;
}

export type Probe = (point: Point, why: string, n: number) => ProbeOutcome;

export interface SearchOptions {
  resources: readonly PlanResource[];
  /** the resources searched; the others stay at `start` */
  searched: readonly string[];
  start: Point;
  /** the most simulations the search may run */
  maxProbes: number;
  probe: Probe;
}

export interface Marginal {
  resource: string;
  value: number;
  /** the planned point */
  at: ProbeRecord;
  /** one unit less, every other resource at its planned value; null at the resource's least value */
  less: ProbeRecord | null;
  /** the search's last other probe of this resource (the others as they were then), if any */
  before: ProbeRecord | null;
}

export interface SearchResult {
  /** found: `point` held; unreachable: no resource of the plan can make it hold; exhausted: no held point within the probes */
  status: 'found' | 'unreachable' | 'exhausted';
  point: Point;
  /** every searched resource's one-unit-less probe broke */
  minimal: boolean;
  /** why the search stopped short of a minimal point, or why it is unreachable */
  reason?: string;
  probes: ProbeRecord[];
  marginals: Marginal[];
}

class OutOfProbes extends Error {}

/** Probes run once per point: the search revisits points (the held point, a bracket's end). */
class Prober {
  readonly probes: ProbeRecord[] = [];
  private readonly seen = new Map<string, ProbeRecord>();
  constructor(
    private readonly o: SearchOptions,
    private readonly max: number,
  ) {}

  key(p: Point): string {
    return this.o.resources.map((r) => p[r.name]).join(',');
  }

  known(p: Point): ProbeRecord | undefined {
    return this.seen.get(this.key(p));
  }

  run(p: Point, why: string): ProbeRecord {
    const hit = this.known(p);
    if (hit) return hit;
    if (this.probes.length >= this.max) throw new OutOfProbes();
    const n = this.probes.length + 1;
    const rec: ProbeRecord = { n, point: { ...p }, why, outcome: this.o.probe(p, why, n) };
    this.probes.push(rec);
    this.seen.set(this.key(p), rec);
    return rec;
  }
}

const with1 = (p: Point, name: string, v: number): Point => ({ ...p, [name]: v });

export function search(o: SearchOptions): SearchResult {
  const byName = new Map(o.resources.map((r) => [r.name, r]));
  for (const s of o.searched) if (!byName.has(s)) throw new Error(`plan: no resource '${s}'`);
  const searched = o.resources.filter((r) => o.searched.includes(r.name));
  const prober = new Prober(o, o.maxProbes);
  let cur: Point = Object.fromEntries(
    o.resources.map((r) => [r.name, Math.min(r.max, Math.max(r.min, o.start[r.name] ?? r.min))]),
  );
  const done = (status: SearchResult['status'], extra: Partial<SearchResult> = {}): SearchResult => ({
    status,
    point: cur,
    minimal: false,
    probes: prober.probes,
    marginals: [],
    ...extra,
  });

  // 1. Grow until it holds.
  let held: ProbeRecord;
  try {
    let r = prober.run(cur, 'start');
    while (!r.outcome.held) {
      const grow = r.outcome.grow.filter((g) => o.searched.includes(g));
      if (grow.length === 0) {
        const fixed = r.outcome.grow.filter((g) => !o.searched.includes(g));
        return done('unreachable', {
          reason: fixed.length
            ? `${fixed.join(' and ')} saturated first, which --resources leaves out of the search`
            : (r.outcome.limit ?? 'the objectives broke with nothing of the plan saturated'),
        });
      }
      const raisable = grow.filter((g) => (cur[g] as number) < (byName.get(g) as PlanResource).max);
      if (raisable.length === 0) {
        return done('unreachable', {
          reason: `${grow.map((g) => `${g} (${cur[g]})`).join(' and ')} saturated at the most the field takes`,
        });
      }
      let next = cur;
      for (const g of raisable) {
        const res = byName.get(g) as PlanResource;
        next = with1(next, g, Math.min(res.max, Math.max((cur[g] as number) * 2, (cur[g] as number) + 1)));
      }
      cur = next;
      r = prober.run(cur, `grow ${raisable.join(', ')}`);
    }
    held = r;
  } catch (err) {
    if (err instanceof OutOfProbes)
      return done('exhausted', {
        reason: `no probe held within --max-probes ${o.maxProbes}; the last raised ${describePoint(cur, searched)}`,
      });
    throw err;
  }

  // 2. Shrink each searched resource, the others held. `cur` is always a held probe's point.
  try {
    for (const res of searched) {
      const lo = res.min - 1;
      const hi = cur[res.name] as number;
      const why = `shrink ${res.name}`;
      // From the demand the held probe read: the least is usually a few units from it (cores 82
      // against a demand of 83 at the 2020 peak), which bisecting the whole bracket down from the
      // grown value took seven or eight probes to reach.
      const guess = Math.ceil(held.outcome.load[res.name] ?? Number.NaN);
      const at = cur;
      const onHeld = (r: ProbeRecord) => {
        held = r;
        cur = r.point;
      };
      if (guess > lo && guess < hi) {
        const g = prober.run(with1(at, res.name, guess), why);
        if (g.outcome.held) {
          onHeld(g);
          least(prober, at, res, lo, guess, 'down', why, onHeld);
        } else least(prober, at, res, guess, hi, 'up', why, onHeld);
      } else least(prober, at, res, lo, hi, 'bisect', why, onHeld);
    }
  } catch (err) {
    if (err instanceof OutOfProbes)
      return marginals(o, prober, searched, cur, `--max-probes ${o.maxProbes} reached while shrinking`);
    throw err;
  }

  // 3. One unit less of each, at the final point, until none holds.
  return marginals(o, prober, searched, cur);
}

/**
 * Searches the least value of `res` that holds, the others as in `at`, where `lo` is known to
 * break (or is one under the least the field takes) and `hi` to hold: steps doubling away from the
 * end given (1, 2, 4... units down from `hi`, or up from `lo`) until the answer turns, then
 * bisection of the last step; or bisection of the whole bracket. Each probe that holds is lower
 * than the last: `onHeld` hears of each, so that running out of probes keeps the lowest so far.
 */
function least(
  prober: Prober,
  at: Point,
  res: PlanResource,
  lo: number,
  hi: number,
  from: 'down' | 'up' | 'bisect',
  why: string,
  onHeld: (r: ProbeRecord) => void,
): void {
  const holds = (v: number): boolean => {
    const r = prober.run(with1(at, res.name, v), why);
    if (r.outcome.held) {
      hi = v;
      onHeld(r);
    } else lo = v;
    return r.outcome.held;
  };
  if (from === 'down') for (let step = 1; hi - step > lo; step *= 2) if (!holds(hi - step)) break;
  if (from === 'up') for (let step = 1; lo + step < hi; step *= 2) if (holds(lo + step)) break;
  while (hi - lo > 1) holds(Math.floor((lo + hi) / 2));
}

function marginals(
  o: SearchOptions,
  prober: Prober,
  searched: readonly PlanResource[],
  start: Point,
  stopped?: string,
): SearchResult {
  let cur = start;
  let reason = stopped;
  const less = new Map<string, ProbeRecord | null>();
  if (!reason) {
    try {
      for (let changed = true; changed; ) {
        changed = false;
        for (const res of searched) {
          const v = cur[res.name] as number;
          if (v <= res.min) {
            less.set(res.name, null);
            continue;
          }
          const r = prober.run(with1(cur, res.name, v - 1), `one less ${res.name}`);
          if (r.outcome.held) {
            // Lower than its search found (a resource shrunk after it took load off it): lowered
            // as far as it goes before the others are checked again, where one unit a round
            // re-probed each of them per unit (2 probes a unit for Dukcapil at the 2020 peak).
            cur = r.point;
            least(prober, r.point, res, res.min - 1, v - 1, 'down', `lower ${res.name}`, (h) => {
              cur = h.point;
            });
            changed = true;
            less.clear();
            break;
          }
          less.set(res.name, r);
        }
      }
    } catch (err) {
      if (!(err instanceof OutOfProbes)) throw err;
      reason = `--max-probes ${o.maxProbes} reached while checking one unit less`;
    }
  }
  // The planned point was probed: it is the held end of the last bisection, or a one-less that held.
  const at = prober.known(cur) as ProbeRecord;
  const rows: Marginal[] = searched.map((res) => {
    const value = cur[res.name] as number;
    const one = less.get(res.name);
    const before = [...prober.probes]
      .reverse()
      .find(
        (p) =>
          p.why.split(/[ ,]+/).includes(res.name) &&
          p.point[res.name] !== value &&
          p.point[res.name] !== value - 1,
      );
    return {
      resource: res.name,
      value,
      at,
      less: one !== undefined ? one : (prober.known(with1(cur, res.name, value - 1)) ?? null),
      before: before ?? null,
    };
  });
  const minimal = !reason && rows.every((m) => m.less === null || !m.less.outcome.held);
  return {
    status: 'found',
    point: cur,
    minimal,
    ...(reason ? { reason } : {}),
    probes: prober.probes,
    marginals: rows,
  };
}

export interface VerifyOptions {
  resources: readonly PlanResource[];
  searched: readonly string[];
  point: Point;
  /** raise-and-verify-again rounds after the first verification */
  maxRepairs: number;
  verify: Probe;
  /** numbering continues the search's */
  firstN: number;
  /** what a raise multiplies each saturated resource by (default 2: a verification is a whole target's simulation) */
  growth?: number;
  /** why the runs were run, as the probes say it (default 'verify') */
  label?: string;
}

export interface VerifyResult {
  held: boolean;
  point: Point;
  runs: ProbeRecord[];
  /** what the verification raised, from the searched value */
  raised: Array<{ resource: string; from: number; to: number }>;
  reason?: string;
}

/**
 * The planned point on the whole target, once; when it breaks, what saturated (and bears on what
 * broke) is doubled and it is verified again, at most `maxRepairs` times. A raised value is enough, not the least:
 * the least lies between the searched value and it.
 */
export function verify(o: VerifyOptions): VerifyResult {
  const byName = new Map(o.resources.map((r) => [r.name, r]));
  const runs: ProbeRecord[] = [];
  const raised = new Map<string, { from: number; to: number }>();
  let point = o.point;
  const result = (held: boolean, reason?: string): VerifyResult => ({
    held,
    point,
    runs,
    raised: [...raised.entries()].map(([resource, r]) => ({ resource, ...r })),
    ...(reason ? { reason } : {}),
  });
  for (let round = 0; ; round++) {
    const n = o.firstN + runs.length;
    const label = o.label ?? 'verify';
    const why = round === 0 ? label : `${label} again`;
    const rec: ProbeRecord = { n, point, why, outcome: o.verify(point, why, n) };
    runs.push(rec);
    if (rec.outcome.held) return result(true);
    if (round >= o.maxRepairs)
      return result(false, `still broken after ${round} raise(s): ${rec.outcome.broke.join(', ')}`);
    const grow = (rec.outcome.saturated ?? rec.outcome.grow).filter(
      (g) => o.searched.includes(g) && (point[g] as number) < (byName.get(g) as PlanResource).max,
    );
    if (grow.length === 0)
      return result(
        false,
        `${rec.outcome.broke.join(', ')}; ${rec.outcome.limit ?? 'nothing the plan searched saturated'}`,
      );
    for (const g of grow) {
      const from = point[g] as number;
      const to = Math.min(
        (byName.get(g) as PlanResource).max,
        Math.max(Math.ceil(from * (o.growth ?? 2)), from + 1),
      );
      raised.set(g, { from: raised.get(g)?.from ?? from, to });
      point = with1(point, g, to);
    }
  }
}

/**
 * "dukcapil.concurrency=8, upload.bandwidthBytesPerSecond=4 MiB/s": a resource counted in units
 * other than its field's says so ("upload.bandwidthBytesPerSecond=4" read as 4 bytes a second).
 */
export function describePoint(p: Point, resources: readonly PlanResource[]): string {
  return resources.map((r) => `${r.name}=${p[r.name]}${r.unit === 1 ? '' : ` ${r.unitName}`}`).join(', ');
}
