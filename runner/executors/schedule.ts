import type { Scenario, Stage } from '../options/schema.ts';

/**
 * When things happen in each executor, as pure functions of time, computed the same way in every
 * worker thread so that they agree without talking: arrival times of iterations, active VUs of a
 * ramp, and each executor's length.
 */

/**
 * constant-arrival-rate: iteration i starts at i x period from t=0 while t <= duration. k6 starts
 * them on a timer racing the end of the duration, so its count is R x D or R x D + 1 when the
 * period divides the duration; we start the one at t=D, as the "plus one at the end".
 */
export function* constantArrivals(rate: number, timeUnitMs: number, durationMs: number): Generator<number> {
  const period = timeUnitMs / rate;
  const eps = period * 1e-9;
  for (let i = 0; ; i++) {
    const t = i * period;
    if (t > durationMs + eps) return;
    yield t;
  }
}

/**
 * ramping-arrival-rate: iteration n (1-based) starts when the area under the rate curve (linear
 * between stage targets) reaches n, exactly as k6's `cal` computes it; the first iteration is
 * therefore not at t=0 unless the rate starts high enough.
 */
export function* rampingArrivals(
  startRate: number,
  timeUnitMs: number,
  stages: readonly Stage[],
): Generator<number> {
  let from = startRate / timeUnitMs;
  let stageStart = 0;
  let doneSoFar = 0;
  let endCount = 0;
  let i = 1;
  for (const stage of stages) {
    const to = stage.target / timeUnitMs;
    const dur = stage.durationMs;
    if (from !== to) {
      endCount += dur * ((to - from) / 2 + from);
      for (; i <= endCount + 1e-9; i++) {
        const disc = dur * (from * from * dur + 2 * (i - doneSoFar) * (to - from));
        const x = (from * dur - Math.sqrt(Math.max(0, disc))) / (from - to);
        yield stageStart + x;
      }
    } else {
      endCount += dur * to;
      for (; i <= endCount + 1e-9; i++) yield stageStart + (i - doneSoFar) / to;
    }
    doneSoFar = endCount;
    from = to;
    stageStart += dur;
  }
}

/** Total arrivals a ramping-arrival-rate config starts (the integral of its rate, floored). */
export function rampingArrivalTotal(startRate: number, timeUnitMs: number, stages: readonly Stage[]): number {
  let from = startRate;
  let area = 0;
  for (const s of stages) {
    area += ((from + s.target) / 2) * (s.durationMs / timeUnitMs);
    from = s.target;
  }
  return Math.floor(area + 1e-9);
}

/** ramping-vus: how many VUs should be active at time t (k6 ramps linearly, whole VUs). */
export function rampingVUsAt(startVUs: number, stages: readonly Stage[], t: number): number {
  let from = startVUs;
  let at = 0;
  for (const s of stages) {
    if (t < at + s.durationMs) {
      const frac = s.durationMs > 0 ? (t - at) / s.durationMs : 1;
      const v = from + (s.target - from) * frac;
      return s.target >= from ? Math.floor(v + 1e-9) : Math.ceil(v - 1e-9);
    }
    at += s.durationMs;
    from = s.target;
  }
  return from;
}

export function stagesDuration(stages: readonly Stage[]): number {
  return stages.reduce((a, s) => a + s.durationMs, 0);
}

/** The planned length of a scenario, graceful stop excluded (k6's "maxDuration" of the progress bar). */
export function scenarioDuration(s: Scenario): number {
  switch (s.executor) {
    case 'shared-iterations':
    case 'per-vu-iterations':
      return s.maxDurationMs;
    case 'constant-vus':
    case 'constant-arrival-rate':
      return s.durationMs;
    case 'ramping-vus':
    case 'ramping-arrival-rate':
      return stagesDuration(s.stages);
  }
}

/** The most VUs a scenario can have (k6 initialises them all before the test). */
export function scenarioMaxVUs(s: Scenario): number {
  switch (s.executor) {
    case 'shared-iterations':
    case 'per-vu-iterations':
    case 'constant-vus':
      return s.vus;
    case 'ramping-vus':
      return Math.max(s.startVUs, ...s.stages.map((x) => x.target));
    case 'constant-arrival-rate':
    case 'ramping-arrival-rate':
      return s.maxVUs;
  }
}

/** Splits n things over w workers as evenly as possible: the share of worker `index`. */
export function share(n: number, workers: number, index: number): number {
  return Math.floor(n / workers) + (index < n % workers ? 1 : 0);
}
