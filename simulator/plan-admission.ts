import type { Marginal, Point, Probe, ProbeRecord, SearchResult } from './plan.ts';

/**
 * `gelombang plan --resources admission`: the waiting room's admission rate (ADMISSION_RATE) for
 * a target, the other resources as given. More is not better here: admitted too fast, the service
 * behind the room breaks its objectives as it would without one; too slow, the line outgrows the
 * registrants' patience (30 minutes) and they give up, failed by the system at `registered`. So
 * the rates that hold form a range, and the plan writes its top: **the highest admission rate at
 * which every objective holds**, the one that makes registrants wait least on this capacity.
 *
 * A probe that broke is on one side of the range: too low when the only thing it broke is the
 * share of registrants failed, and it would be within tolerance without those who gave up in the
 * waiting room; too high otherwise (an objective of the service broke, or registrants failed for
 * another reason). The search:
 *
 * 1. The rate at which the room keeps up with arrivals (the caller's: a little above the target's
 *    busiest arrivals a second): held, the room is not needed on this capacity; a higher rate
 *    changes little, and that rate is the answer.
 * 2. Otherwise bisection between the highest rate known too low (0 at first) and the lowest known
 *    too high, until a probe holds; when the two meet, no rate holds (more capacity is needed).
 * 3. Bisection between the held rate and the lowest too high: the highest that holds, and the one
 *    more that broke.
 * 4. With probes left, bisection between the highest too low and the lowest held: the least rate
 *    that holds, for the output (how much room there is below the planned rate).
 *
 * Bisection assumes holding is a range, with a probe's side telling which end it is beyond. The
 * probes are seeded, so one rate always gives one verdict; a rate too low found above a held one
 * (a noisy edge) is treated as not held, which can only lower the answer.
 */

export const ADMISSION = 'admission';

/** Which side of the range a probe that broke lies on (a held probe: 'held'). */
export type AdmissionSide = 'held' | 'too_low' | 'too_high';

export interface AdmissionSearchOptions {
  /** the rate at which the room keeps up with arrivals (rounded up): the highest probed */
  noWaitRate: number;
  maxProbes: number;
  probe: Probe;
  /** the side of a probe's outcome */
  side: (r: ProbeRecord) => AdmissionSide;
}

export interface AdmissionResult extends SearchResult {
  /** the least rate that held, when step 4 ran to its end */
  least?: number;
  /** the one more rate that broke (too high), when there is one */
  oneMore: ProbeRecord | null;
  /** step 1 held: the room keeps up with arrivals at the planned rate */
  noWait: boolean;
}

class OutOfProbes extends Error {}

export function searchAdmission(o: AdmissionSearchOptions): AdmissionResult {
  const probes: ProbeRecord[] = [];
  const byRate = new Map<number, ProbeRecord>();
  const run = (rate: number, why: string): ProbeRecord => {
    const hit = byRate.get(rate);
    if (hit) return hit;
    if (probes.length >= o.maxProbes) throw new OutOfProbes();
    const n = probes.length + 1;
    const point: Point = { [ADMISSION]: rate };
    const rec: ProbeRecord = { n, point, why, outcome: o.probe(point, why, n) };
    probes.push(rec);
    byRate.set(rate, rec);
    return rec;
  };
  const top = Math.max(1, Math.ceil(o.noWaitRate));
  let tooLow = 0;
  let tooHigh = Number.POSITIVE_INFINITY;
  let held: ProbeRecord | undefined;
  const result = (
    status: SearchResult['status'],
    extra: Partial<AdmissionResult> & { reason?: string } = {},
  ): AdmissionResult => {
    const rate = held ? (held.point[ADMISSION] as number) : top;
    const oneMore = Number.isFinite(tooHigh) && held ? (byRate.get(tooHigh) ?? null) : null;
    const marginals: Marginal[] = held
      ? [
          {
            resource: ADMISSION,
            value: rate,
            at: held,
            less: byRate.get(rate - 1) ?? null,
            before: oneMore,
          },
        ]
      : [];
    return {
      status,
      point: { [ADMISSION]: rate },
      // "minimal" here: shown to be the highest that holds (one more broke), or no room needed.
      minimal:
        status === 'found' && extra.reason === undefined && (extra.noWait === true || tooHigh === rate + 1),
      probes,
      marginals,
      oneMore,
      noWait: false,
      ...extra,
    };
  };
  const classify = (r: ProbeRecord): void => {
    const rate = r.point[ADMISSION] as number;
    const side = o.side(r);
    if (side === 'held') {
      if (!held || rate > (held.point[ADMISSION] as number)) held = r;
    } else if (side === 'too_low' && (!held || rate < (held.point[ADMISSION] as number)))
      tooLow = Math.max(tooLow, rate);
    else tooHigh = Math.min(tooHigh, rate);
  };

  try {
    // 1. The room keeps up.
    const first = run(top, 'no wait');
    const side = o.side(first);
    if (side === 'held') {
      held = first;
      return result('found', { noWait: true });
    }
    if (side === 'too_low')
      return result('unreachable', {
        reason: `registrants gave up in the waiting room even at ${top}/s, at which the room keeps up with arrivals: the room is not what fails them`,
      });
    tooHigh = top;
    // 2. Down to a rate that holds.
    while (!held) {
      if (tooHigh - tooLow <= 1)
        return result('unreachable', {
          reason:
            tooLow === 0
              ? `the objectives broke even at 1 admission a second (${byRate.get(tooHigh)?.outcome.broke.join(', ')}): the service cannot carry this target even behind a waiting room, whose own work (a commit per ticket, a request a minute from everyone in line) is part of the load: more capacity is needed`
              : `no rate holds: at ${tooLow}/s registrants give up waiting (${byRate.get(tooLow)?.outcome.broke.join(', ')}), at ${tooHigh}/s the service breaks (${byRate.get(tooHigh)?.outcome.broke.join(', ')}): more capacity is needed behind the room`,
        });
      classify(run(Math.floor((tooLow + tooHigh) / 2), 'find a rate that holds'));
    }
  } catch (err) {
    if (err instanceof OutOfProbes)
      return result('exhausted', { reason: `no probe held within --max-probes ${o.maxProbes}` });
    throw err;
  }
  // 3. The highest that holds.
  try {
    for (;;) {
      const h = held.point[ADMISSION] as number;
      if (tooHigh - h <= 1) break;
      const r = run(Math.floor((h + tooHigh) / 2), 'highest that holds');
      if (o.side(r) === 'held') held = r;
      else tooHigh = r.point[ADMISSION] as number;
    }
  } catch (err) {
    if (!(err instanceof OutOfProbes)) throw err;
    return result('found', {
      reason: `--max-probes ${o.maxProbes} reached while looking for the highest rate that holds`,
    });
  }
  // 4. The least that holds, if the probes allow.
  let leastHeld = held.point[ADMISSION] as number;
  for (const [rate, r] of byRate) if (rate < leastHeld && o.side(r) === 'held') leastHeld = rate;
  try {
    while (leastHeld - tooLow > 1) {
      const mid = Math.floor((tooLow + leastHeld) / 2);
      const r = run(mid, 'least that holds');
      if (o.side(r) === 'held') leastHeld = mid;
      else if (o.side(r) === 'too_low') tooLow = mid;
      // A rate too high below one that held: the range is not one piece; say no more of it.
      else return result('found', {});
    }
  } catch (err) {
    if (!(err instanceof OutOfProbes)) throw err;
    return result('found', {});
  }
  return result('found', { least: leastHeld });
}
