import { binomialDistribution } from 'simple-statistics';
import type { Step } from '../model/funnel.ts';
import { ABOVE_P95, SLOS } from '../model/slo.ts';
import { sustainedSamples } from '../model/station.ts';
import { type RunRecord, seriesValues, slowRatioLabels, type Timeseries } from './record.ts';
import { profileMinute } from './replay-time.ts';
import type { Bottleneck, ObjectiveMiss, ReportVerdict, StepRow } from './report-model.ts';
import { type Stretch, stretches } from './sustained.ts';

/**
 * Whether the run held its objectives, judged over time as well as over the whole run: a run whose
 * p95 was 2-3 s for a stretch can still have a whole-run p95 within the objective, and a manager
 * who reads "held" must be able to trust it. Within an objective means at most its value (<=).
 */

/** Intervals with fewer requests than this are too small to judge a step's percentile or error rate. */
export const MIN_REQUESTS_PER_INTERVAL = 5;

/**
 * An objective is broken when it is missed in every interval of a window at least this long, and
 * never on one interval alone (model/station.ts sustainedSamples). One interval's percentile of a
 * few requests can be one slow request (a GC pause, a cold cache): an excursion, told but not a
 * break. Three seconds in a row is registrants kept waiting. Shorter than the saturation window,
 * because a break is what registrants felt, where a saturation is only a cause.
 */
export const BREACH_SECONDS = 3;

/**
 * An interval misses an objective only beyond chance: when a step meeting it exactly would do as
 * badly less often than this. An error rate of a few requests is not the step's: one failure among
 * 20 is 5 %, over a 2 % budget, and a step failing 0.2-0.4 % of its requests (the ministries' own
 * errors) had such an interval and another just after it twice in a simulated 30-minute peak at
 * full scale (2 s intervals, about 20 of submit_biodata's requests in each); `plan` found no
 * capacity that held (nothing saturated, the budget "missed"). A p95 of 20 requests is about their
 * second slowest: a step whose p95 is exactly its objective has two or more of 20 above it in 26 %
 * of intervals. At 1 %, a step at its objective misses in one interval of a hundred, and twice in a
 * row in one pair of 10,000.
 */
export const MISS_CHANCE = 0.01;

/**
 * The chance that a step failing (or slow in) each request at `budget`, independently, fails at
 * least `failed` of `n`: the binomial's upper tail. simple-statistics tabulates the distribution
 * until it holds all but 1e-4 of it, so a count past the table has a chance under 1e-4, far below
 * any chance judged here.
 */
export function chanceAtBudget(n: number, failed: number, budget: number): number {
  if (failed <= 0) return 1;
  if (failed > n) return 0;
  const cells = binomialDistribution(n, budget);
  if (!cells) throw new RangeError(`no binomial distribution for ${n} requests at ${budget}`);
  let below = 0;
  for (let k = 0; k < failed && k < cells.length; k++) below += cells[k] as number;
  return Math.max(0, 1 - below);
}

type Objective = 'p95_ms' | 'error_rate';

/** One objective over the run: per interval, the value judged, null where too few requests to judge. */
interface Track {
  step: Step;
  objective: Objective;
  target: number;
  values: Array<number | null>;
  /** per interval, whether the value missed the target (beyond chance where `beyondChance`) */
  misses: boolean[];
  /** judged beyond chance (MISS_CHANCE); a p95 only where the record counts slow requests */
  beyondChance: boolean;
}

/** Consecutive intervals in which one objective was missed. */
interface MissStretch extends Stretch {
  track: Track;
  worst: number;
}

export interface Judgement {
  /** consecutive intervals an objective must be missed in to be broken */
  window: number;
  /** how long they last */
  windowSeconds: number;
  /** every interval in which some objective was missed, with what was missed, in order */
  misses: Array<{ index: number; what: string }>;
  /** misses that lasted the window, by first interval */
  sustained: MissStretch[];
  /** misses that did not */
  brief: MissStretch[];
  /** whether the record counted slow requests, so that some step's p95 was judged beyond chance */
  slowCounted: boolean;
}

const missed = (t: Track, i: number) => t.misses[i] === true;

/** "create_account p95 above its SLO (2000 ms > 1500 ms)" */
function whatOf(t: Track, value: number): string {
  return t.objective === 'p95_ms'
    ? `${t.step} p95 above its SLO (${Math.round(value)} ms > ${t.target} ms)`
    : `${t.step} failing ${(value * 100).toFixed(1)} % of requests (budget ${(t.target * 100).toFixed(0)} %)`;
}

function tracksOf(ts: Timeseries): Track[] {
  const tracks: Track[] = [];
  for (const step of Object.keys(SLOS) as Step[]) {
    const reqs = seriesValues(ts, 'step_requests', { step });
    if (!reqs) continue;
    const n = (i: number) => (reqs[i] ?? 0) * ts.intervalSeconds;
    /** whether `share` of the interval's requests is beyond chance above `allowed` */
    const beyondChance = (i: number, share: number, allowed: number) => {
      const requests = Math.round(n(i));
      return chanceAtBudget(requests, Math.round(share * requests), allowed) < MISS_CHANCE;
    };
    // Each interval's share of slow requests; none in records written before the series existed,
    // from a k6 script that does not count them (scenarios/lib/journey.ts does), or counted above
    // another objective.
    const slow = seriesValues(ts, 'step_slow_ratio', slowRatioLabels(step));
    const track = (
      objective: Objective,
      target: number,
      v: Array<number | null>,
      missedAt: (i: number, value: number) => boolean,
      chance = true,
    ): Track => {
      const values = ts.t.map((_, i) => (n(i) >= MIN_REQUESTS_PER_INTERVAL ? (v[i] ?? null) : null));
      const misses = values.map((x, i) => x !== null && x > target && missedAt(i, x));
      return { step, objective, target, values, misses, beyondChance: chance };
    };
    tracks.push(
      track(
        'p95_ms',
        SLOS[step].p95Ms,
        seriesValues(ts, 'step_latency_ms', { step, quantile: '0.95' }) ?? [],
        // Without the count of slow requests, the p95 as measured.
        (i) => {
          const share = slow?.[i];
          return share === undefined || share === null ? true : beyondChance(i, share, ABOVE_P95);
        },
        slow !== undefined,
      ),
      track(
        'error_rate',
        SLOS[step].errorRate,
        seriesValues(ts, 'step_failed_ratio', { step }) ?? [],
        (i, rate) => beyondChance(i, rate, SLOS[step].errorRate),
      ),
    );
  }
  return tracks;
}

/** Every objective, interval by interval, and the stretches in which each was missed. */
export function judgeObjectives(ts: Timeseries): Judgement {
  const window = sustainedSamples(ts.intervalSeconds, BREACH_SECONDS);
  const tracks = tracksOf(ts);
  const misses: Judgement['misses'] = [];
  for (let i = 0; i < ts.t.length; i++)
    for (const t of tracks)
      if (missed(t, i)) misses.push({ index: i, what: whatOf(t, t.values[i] as number) });
  const all = tracks.flatMap((track) =>
    stretches(ts.t.length, (i) => missed(track, i)).map((s) => ({
      ...s,
      track,
      worst: Math.max(...(track.values.slice(s.from, s.to + 1) as number[])),
    })),
  );
  // Stable: at the same interval, objectives keep the order of model/slo.ts.
  all.sort((a, b) => a.from - b.from);
  const lasts = (s: MissStretch) => s.to - s.from + 1 >= window;
  // Rounded: 30 intervals of 0.1 s are 3 s, not 3.0000000000000004.
  const windowSeconds = Math.round(window * ts.intervalSeconds * 1000) / 1000;
  return {
    window,
    windowSeconds,
    misses,
    sustained: all.filter(lasts),
    brief: all.filter((s) => !lasts(s)),
    slowCounted: tracks.some((t) => t.objective === 'p95_ms' && t.beyondChance),
  };
}

/** The first interval of each objective's first sustained miss, with what was missed then. */
export function breachEvents(j: Judgement): Array<{ index: number; what: string }> {
  const seen = new Set<Track>();
  return j.sustained.flatMap((s) => {
    if (seen.has(s.track)) return [];
    seen.add(s.track);
    return [{ index: s.from, what: whatOf(s.track, s.track.values[s.from] as number) }];
  });
}

function asMiss(ts: Timeseries, s: MissStretch): ObjectiveMiss {
  return {
    step: s.track.step,
    objective: s.track.objective,
    fromSeconds: ts.t[s.from] ?? 0,
    toSeconds: ts.t[s.to] ?? 0,
    intervals: s.to - s.from + 1,
    worst: s.worst,
  };
}

/** Sustained misses that overlap or touch, merged into the times the run broke. */
function episodesOf(ts: Timeseries, j: Judgement): ReportVerdict['episodes'] {
  const groups: Array<{ from: number; to: number; misses: MissStretch[] }> = [];
  for (const s of j.sustained) {
    const last = groups[groups.length - 1];
    if (last && s.from <= last.to + 1) {
      last.to = Math.max(last.to, s.to);
      last.misses.push(s);
    } else groups.push({ from: s.from, to: s.to, misses: [s] });
  }
  return groups.map((g, k) => {
    const until = groups[k + 1]?.from ?? ts.t.length;
    const held = (i: number) =>
      g.misses.every(
        ({ track }) => track.values[i] !== null && track.values[i] !== undefined && !missed(track, i),
      );
    // Recovered: a whole window after it in which every objective it missed was judged and held.
    const calm = stretches(until, (i) => i > g.to && held(i)).find((s) => s.to - s.from + 1 >= j.window);
    return {
      fromSeconds: ts.t[g.from] ?? 0,
      toSeconds: ts.t[g.to] ?? 0,
      recoveredAtSeconds: calm ? (ts.t[calm.from] ?? null) : null,
      misses: g.misses.map((s) => asMiss(ts, s)),
    };
  });
}

const at = (t: number) => `t=${Math.round(t)} s`;

function excursionsClause(ts: Timeseries, j: Judgement): string {
  if (j.brief.length === 0) return '';
  const items = j.brief.map(
    (s) =>
      `${whatOf(s.track, s.worst)} at ${at(ts.t[s.from] ?? 0)}${s.to > s.from ? ` to ${at(ts.t[s.to] ?? 0)}` : ''}`,
  );
  const what = j.brief.length === 1 ? 'a brief excursion' : `${j.brief.length} brief excursions`;
  return `, apart from ${what} shorter than the ${j.windowSeconds} s a miss must last to count: ${items.join('; ')}`;
}

function recoveryClause(episodes: ReportVerdict['episodes']): string {
  const first = episodes[0];
  const last = episodes[episodes.length - 1];
  if (!first || !last) return '';
  const recovered = (e: typeof first) =>
    e.recoveredAtSeconds === null ? '' : `recovered at ${at(e.recoveredAtSeconds)}`;
  if (episodes.length === 1) return first.recoveredAtSeconds === null ? '' : `; ${recovered(first)}`;
  const more = episodes.length - 1;
  const again = `broke ${more} more time${more > 1 ? 's' : ''}, the last at ${at(last.fromSeconds)}`;
  return `; ${first.recoveredAtSeconds === null ? again : `${recovered(first)}, then ${again}`}${
    last.recoveredAtSeconds === null ? ', and had not recovered when the run ended' : `, ${recovered(last)}`
  }`;
}

/** "email and the machine's CPU saturated within 4 s of each other (email at t=42 s, the machine's CPU at t=46 s)" */
function togetherPhrase(members: Bottleneck['firstSaturated']): string {
  const names = members.map((s) => (s.kind === 'cpu' ? "the machine's CPU" : s.name));
  const margin = Math.round((members[members.length - 1]?.tSeconds ?? 0) - (members[0]?.tSeconds ?? 0));
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} saturated within ${margin} s of each other (${members
    .map((s, i) => `${names[i]} at ${at(s.tSeconds)}`)
    .join(', ')})`;
}

/** ", after dukcapil saturated", or every resource named with the first, when all had saturated by `t`. */
function causeClause(b: Bottleneck, t: number): string {
  if (b.resource === null) return '';
  const before = b.firstSaturated.filter((s) => s.tSeconds <= t);
  if (before.length > 1 && before.length === b.firstSaturated.length)
    return `, after ${togetherPhrase(before)}`;
  return b.resource.kind === 'dependency'
    ? `, after ${b.resource.name} saturated`
    : `, after the machine's CPU saturated: ${b.resource.detail.replace(/^CPU: /, '')}`;
}

/** " (dukcapil saturated but the steps held)", ", though email and the machine's CPU saturated within ..." */
function heldDespite(b: Bottleneck): string {
  if (b.resource === null) return '';
  if (b.firstSaturated.length > 1) return `, though ${togetherPhrase(b.firstSaturated)}`;
  return ` (${b.resource.kind === 'cpu' ? "the machine's CPU" : b.resource.name} saturated but the steps held)`;
}

export function verdict(r: RunRecord, steps: StepRow[], b: Bottleneck, j: Judgement): ReportVerdict {
  const ts = r.timeseries;
  const brokeInWindow = (step: Step, objective: Objective) =>
    j.sustained.some((s) => s.track.step === step && s.track.objective === objective);
  const slos: ReportVerdict['slos'] = [];
  for (const s of steps) {
    slos.push({
      step: s.step,
      objective: 'p95_ms',
      target: s.sloP95Ms,
      observed: s.p95Ms,
      held: (s.p95Ms === null || s.p95Ms <= s.sloP95Ms) && !brokeInWindow(s.step, 'p95_ms'),
    });
    slos.push({
      step: s.step,
      objective: 'error_rate',
      target: s.sloErrorRate,
      observed: s.failedRatio,
      held:
        (s.failedRatio === null || s.failedRatio <= s.sloErrorRate) && !brokeInWindow(s.step, 'error_rate'),
    });
  }
  const episodes = episodesOf(ts, j);
  const held = slos.every((s) => s.held) && episodes.length === 0;
  const first = j.sustained[0];
  const t = first ? (ts.t[first.from] ?? 0) : null;
  const brokeAt =
    held || t === null
      ? null
      : {
          tSeconds: t,
          profileMinute: profileMinute(r, t),
          step: first?.track.step ?? null,
          objective: first?.track.objective ?? null,
          dependency:
            b.resource?.kind === 'dependency' && b.tSeconds !== null && b.tSeconds <= t ? b.dependency : null,
          resource: b.resource !== null && b.tSeconds !== null && b.tSeconds <= t ? b.resource : null,
        };
  const broken = slos
    .filter((s) => !s.held)
    .map((s) => `${s.step} ${s.objective === 'p95_ms' ? 'p95' : 'errors'}`);
  const where =
    brokeAt && first
      ? ` at ${at(brokeAt.tSeconds)}${brokeAt.profileMinute !== null ? ` (minute ${brokeAt.profileMinute} of the profile)` : ''}: ${whatOf(first.track, first.track.values[first.from] as number)}${
          brokeAt.resource ? causeClause(b, brokeAt.tSeconds) : ''
        }`
      : '';
  const headline = held
    ? `Held: every step stayed within its SLO${heldDespite(b)}${excursionsClause(ts, j)}.`
    : `Broke${where}${recoveryClause(episodes)}. Objectives missed over the run: ${broken.join(', ')}.`;
  return {
    held,
    headline,
    brokeAt,
    window: {
      seconds: j.windowSeconds,
      intervals: j.window,
      minRequests: MIN_REQUESTS_PER_INTERVAL,
    },
    episodes,
    excursions: j.brief.map((s) => asMiss(ts, s)),
    slos,
  };
}
