import type { Step } from './funnel.ts';
import { SLOS } from './slo.ts';

/**
 * The breakpoint test's plan and verdict, pure so that the scenario, the reports and the tests
 * share them. The arrival rate climbs a staircase (level k holds startRate + k x stepRate for
 * levelSeconds), every request is tagged with the level its registrant arrived in, and each level
 * has its own per-step SLO thresholds: the highest sustained rate is the top of the unbroken
 * levels that ran to their end, not a cumulative percentile that lags the break.
 */

export interface Staircase {
  /** arrivals per second at the first level */
  startRate: number;
  /** added per level */
  stepRate: number;
  levels: number;
  levelSeconds: number;
}

export class BreakpointError extends Error {
  override name = 'BreakpointError';
}

export function checkStaircase(s: Staircase): Staircase {
  const positive = (name: keyof Staircase, integer = false) => {
    const v = s[name];
    if (!(Number.isFinite(v) && v > 0 && (!integer || Number.isInteger(v)))) {
      throw new BreakpointError(`${name}: expected ${integer ? 'a whole number' : 'a number'} > 0, got ${v}`);
    }
  };
  positive('startRate');
  positive('levels', true);
  positive('levelSeconds', true);
  if (!(Number.isFinite(s.stepRate) && s.stepRate >= 0)) {
    throw new BreakpointError(`stepRate: expected a number >= 0, got ${s.stepRate}`);
  }
  return s;
}

/** Arrivals per second at level `level` (0-based). */
export function rateOf(s: Staircase, level: number): number {
  return s.startRate + level * s.stepRate;
}

/** The level running `elapsedMs` after the scenario started (the last one past the end). */
export function levelAt(s: Staircase, elapsedMs: number): number {
  return Math.min(s.levels - 1, Math.max(0, Math.floor(elapsedMs / 1000 / s.levelSeconds)));
}

/** Rates are whole arrivals per timeUnit in k6: a 100-second unit keeps a hundredth of an arrival per second. */
export const TIME_UNIT_SECONDS = 100;

/** ramping-arrival-rate stages: a jump (0s stage) to each level and a hold. */
export function staircaseStages(s: Staircase): Array<{ target: number; duration: string }> {
  const stages: Array<{ target: number; duration: string }> = [];
  for (let k = 0; k < s.levels; k++) {
    const target = Math.round(rateOf(s, k) * TIME_UNIT_SECONDS);
    stages.push({ target, duration: '0s' }, { target, duration: `${s.levelSeconds}s` });
  }
  return stages;
}

/** The per-level thresholds: `http_req_duration{step:S,level:K}` p(95) and `http_req_failed{...}` rate. */
export function levelThresholds(s: Staircase, steps: readonly Step[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let k = 0; k < s.levels; k++) {
    for (const step of steps) {
      out[`http_req_duration{step:${step},level:${k}}`] = [`p(95)<=${SLOS[step].p95Ms}`];
      out[`http_req_failed{step:${step},level:${k}}`] = [`rate<=${SLOS[step].errorRate}`];
    }
  }
  return out;
}

export interface LevelVerdict {
  level: number;
  ratePerSecond: number;
  /** ran to its end before the test stopped */
  completed: boolean;
  /** requests of the level's registrants, all steps */
  requests: number;
  /** the thresholds that failed, e.g. "http_req_duration{step:submit_biodata,level:4} p(95)<=3000" */
  broken: string[];
}

export interface BreakpointResult {
  levels: LevelVerdict[];
  /** the highest rate whose level (and every level below it) held every SLO and ran to its end */
  sustainedPerSecond: number | null;
  /** the first level that broke an SLO */
  brokeAtPerSecond: number | null;
}

interface SummaryLike {
  metrics: Record<
    string,
    { values: Record<string, number | null>; thresholds?: Record<string, { ok: boolean }> }
  >;
  state: { testRunDurationMs: number };
}

/** Reads handleSummary's data: which levels held, and the highest sustained rate. */
export function breakpointResult(s: Staircase, steps: readonly Step[], data: SummaryLike): BreakpointResult {
  const levels: LevelVerdict[] = [];
  for (let k = 0; k < s.levels; k++) {
    const broken: string[] = [];
    let requests = 0;
    for (const step of steps) {
      for (const name of [
        `http_req_duration{step:${step},level:${k}}`,
        `http_req_failed{step:${step},level:${k}}`,
      ]) {
        const m = data.metrics[name];
        if (!m) continue;
        // k6 gives a Trend no count: a Rate's passes and fails are the requests.
        if (name.startsWith('http_req_failed')) requests += (m.values.passes ?? 0) + (m.values.fails ?? 0);
        for (const [expr, t] of Object.entries(m.thresholds ?? {})) if (!t.ok) broken.push(`${name} ${expr}`);
      }
    }
    const completed = data.state.testRunDurationMs >= (k + 1) * s.levelSeconds * 1000;
    levels.push({ level: k, ratePerSecond: rateOf(s, k), completed, requests, broken });
  }
  let sustained: number | null = null;
  for (const l of levels) {
    if (l.broken.length > 0 || !l.completed || l.requests === 0) break;
    sustained = l.ratePerSecond;
  }
  const broke = levels.find((l) => l.broken.length > 0);
  return { levels, sustainedPerSecond: sustained, brokeAtPerSecond: broke ? broke.ratePerSecond : null };
}

/** A few lines for the terminal. */
export function breakpointText(r: BreakpointResult): string {
  const lines = r.levels
    .filter((l) => l.requests > 0 || l.completed)
    .map(
      (l) =>
        `  level ${String(l.level).padStart(2)}  ${l.ratePerSecond.toFixed(2).padStart(8)}/s  ${String(l.requests).padStart(7)} requests  ${
          l.broken.length ? `broke: ${l.broken.join(', ')}` : l.completed ? 'held' : 'cut short'
        }`,
    );
  const verdict =
    r.sustainedPerSecond === null
      ? 'no level held every SLO'
      : `highest sustained arrival rate: ${r.sustainedPerSecond} registrants/s`;
  return `\nbreakpoint\n${lines.join('\n')}\n  ${verdict}${
    r.brokeAtPerSecond !== null ? `; first broken at ${r.brokeAtPerSecond}/s` : ''
  }\n`;
}
