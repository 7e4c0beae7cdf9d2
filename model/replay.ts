import { DEFAULT_MODEL, expectedJourneySeconds } from './behaviour.ts';
import { checkWindow, type Profile, ProfileError } from './profile.ts';

/**
 * The replay of an arrival profile as a k6 `ramping-arrival-rate` scenario, scaled (a share of the
 * registrants) and compressed (a time factor) to fit the machine at hand. The scenarios, the
 * recorder of a k6 run and the simulator use this one arithmetic.
 */

export interface ReplayOptions {
  /** share of the population replayed, in (0, 1]: 0.001 replays one registrant in a thousand */
  scale: number;
  /** time factor >= 1: 252 replays 21 hours in 5 minutes */
  compress: number;
  /** replay only these minutes of the profile, [fromMinute, toMinute) */
  window?: { fromMinute: number; toMinute: number };
  /**
   * Time one iteration (a registrant's journey) spends in the system, in seconds of the compressed
   * replay. Default: the behaviour model's expected journey (think times compressed, requests at
   * their SLO latency), see behaviour.ts expectedJourneySeconds.
   */
  journeySeconds?: number;
  /**
   * VUs above the expected concurrency (default 1.5): arrivals bunch within a bucket and journeys
   * vary, and k6 drops iterations when it runs out of VUs, which would under-load the system.
   */
  headroom?: number;
}

export interface RampingArrivalRate {
  executor: 'ramping-arrival-rate';
  startRate: number;
  timeUnit: string;
  stages: Array<{ target: number; duration: string }>;
  preAllocatedVUs: number;
  maxVUs: number;
}

export interface Replay {
  scenario: RampingArrivalRate;
  /** arrivals the stages start (their exact integral) */
  total: number;
  /** the highest rate of the replay, arrivals per second of the compressed run */
  peakPerSecond: number;
  durationSeconds: number;
  /** expected registrants in the system at the busiest moment (Little's law over a sliding window) */
  concurrency: number;
  journeySeconds: number;
}

/**
 * k6 stage targets are integers (arrivals per timeUnit): a timeUnit of 1,000 buckets keeps a
 * thousandth of an arrival per bucket, so that a 0.0005 scale still has a shape.
 */
export const RESOLUTION = 1000;

/**
 * registration-day's replay when SCALE and COMPRESS are not given: 0.05 % of the registrants, the
 * 21 hours in 5 minutes. Read by the scenario and by whatever records a run of it made elsewhere.
 */
export const REPLAY_DEFAULTS = { scale: 0.0005, compress: 252 } as const;

/** Compressed bucket lengths are whole milliseconds; the rounding may stretch time by at most this. */
const MAX_TIME_STRETCH = 0.005;

/**
 * The replay of a profile: one k6 stage pair per bucket, an instant jump (a 0s stage, which k6
 * documents for ramping-arrival-rate) to the bucket's rate and a hold for the bucket's compressed
 * length, so that the integral of the stages is the sum of the scaled buckets, not an
 * approximation of it. Rates are per RESOLUTION buckets, rounded with the remainder carried to the
 * next bucket: the total stays within 1/RESOLUTION of an arrival and each bucket within
 * 1/RESOLUTION, at any scale. Equal neighbours share one hold.
 */
/**
 * How long one bucket of the profile lasts in the run: a whole number of milliseconds, so the
 * run's clock runs at that rounded rate, not at exactly 1 / compress (replay() refuses a
 * compression whose rounding stretches time too much).
 */
export function compressedBucketMs(bucketSeconds: number, compress: number): number {
  return Math.round((bucketSeconds * 1000) / compress);
}

export function replay(p: Profile, o: ReplayOptions): Replay {
  if (!(o.scale > 0 && o.scale <= 1)) {
    throw new ProfileError(`scale: expected a share in (0, 1], got ${o.scale}`);
  }
  if (!(o.compress >= 1 && Number.isFinite(o.compress))) {
    throw new ProfileError(`compress: expected a factor >= 1, got ${o.compress}`);
  }
  const headroom = o.headroom ?? 1.5;
  if (!(headroom >= 1)) throw new ProfileError(`headroom: expected a factor >= 1, got ${headroom}`);
  const perMinuteBuckets = 60 / p.bucketSeconds;
  const fromMinute = o.window?.fromMinute ?? 0;
  const toMinute = o.window?.toMinute ?? (p.arrivals.length * p.bucketSeconds) / 60;
  const from = fromMinute * perMinuteBuckets;
  const to = Math.min(p.arrivals.length, Math.ceil(toMinute * perMinuteBuckets));
  checkWindow(from, to, p.arrivals.length, `window (minutes [${fromMinute}, ${toMinute}))`);

  const exactMs = (p.bucketSeconds * 1000) / o.compress;
  const bucketMs = compressedBucketMs(p.bucketSeconds, o.compress);
  if (bucketMs < 1 || Math.abs(bucketMs - exactMs) / exactMs > MAX_TIME_STRETCH) {
    throw new ProfileError(
      `compress: ${o.compress} makes a ${p.bucketSeconds}s bucket ${exactMs.toFixed(3)} ms long; expected a factor ` +
        `that gives whole milliseconds within ${MAX_TIME_STRETCH * 100} % (e.g. 60, 252, 1000), or a per-second profile`,
    );
  }
  const journeySeconds = o.journeySeconds ?? expectedJourneySeconds(DEFAULT_MODEL, o.compress);
  if (!(journeySeconds > 0)) throw new ProfileError(`journeySeconds: expected > 0, got ${journeySeconds}`);

  const stages: Array<{ target: number; duration: string }> = [];
  const holdMs: number[] = [];
  const replayed: number[] = [];
  let carry = 0;
  let total = 0;
  let peak = 0;
  for (let i = from; i < to; i++) {
    const exact = (p.arrivals[i] as number) * o.scale * RESOLUTION + carry;
    const n = Math.max(0, Math.round(exact));
    carry = exact - n;
    replayed.push(n / RESOLUTION);
    total += n;
    peak = Math.max(peak, n);
    const last = stages[stages.length - 1];
    if (last && last.target === n) {
      holdMs[holdMs.length - 1] = (holdMs[holdMs.length - 1] as number) + bucketMs;
      last.duration = `${holdMs[holdMs.length - 1]}ms`;
      continue;
    }
    stages.push({ target: n, duration: '0s' }, { target: n, duration: `${bucketMs}ms` });
    holdMs.push(bucketMs);
  }
  const concurrency = slidingWindowMax(replayed, (journeySeconds * 1000) / bucketMs);
  return {
    scenario: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: `${bucketMs * RESOLUTION}ms`,
      stages,
      ...vuBudget(concurrency, headroom),
    },
    total: total / RESOLUTION,
    peakPerSecond: peak / RESOLUTION / (bucketMs / 1000),
    durationSeconds: ((to - from) * bucketMs) / 1000,
    concurrency,
    journeySeconds,
  };
}

/**
 * The VUs an arrival-rate scenario needs for `concurrency` registrants in the system at once:
 * that many pre-allocated, and `headroom` times as many at most, because arrivals bunch and
 * journeys vary, and k6 drops an iteration that finds no free VU (which would under-load the system).
 */
export function vuBudget(concurrency: number, headroom = 1.5): { preAllocatedVUs: number; maxVUs: number } {
  return {
    preAllocatedVUs: Math.max(1, Math.ceil(concurrency)),
    maxVUs: Math.max(2, Math.ceil(concurrency * headroom)),
  };
}

/**
 * Little's law for a rate that changes: the registrants in the system at time t are those who
 * arrived within the last journey length, so the VUs needed are the largest number of arrivals in
 * any window of that length (for a steady rate this is rate x time-in-system). `width` is in
 * buckets and may be fractional.
 */
export function slidingWindowMax(x: readonly number[], width: number): number {
  const whole = Math.floor(width);
  const frac = width - whole;
  const prefix = [0];
  for (const v of x) prefix.push((prefix[prefix.length - 1] as number) + v);
  const sum = (a: number, b: number) =>
    (prefix[Math.min(b, x.length)] as number) - (prefix[Math.max(0, a)] as number);
  let best = 0;
  // Windows ending at a bucket's end, covering `whole` buckets plus a fraction of the one before.
  for (let end = 1; end <= x.length + whole; end++) {
    const full = sum(end - whole, end);
    const part =
      end - whole - 1 >= 0 && end - whole - 1 < x.length ? (x[end - whole - 1] as number) * frac : 0;
    best = Math.max(best, full + part);
  }
  return best;
}

/** Go's int64 nanoseconds, in which k6 counts durations: about 2,562,047 hours. */
const MAX_DURATION_MS = 9_223_372_036_854.775;

/**
 * Milliseconds of a k6 duration of the forms this module writes ("0s", "238ms", "1m30s"): "0",
 * or unsigned decimal numbers each with a unit h, m, s or ms. k6's grammar is wider (signs, ns and
 * us, days, bare milliseconds); the runner owns it (runner/options/duration.ts), and its tests
 * check that both read every string of these forms alike, refusals included.
 */
export function durationMs(d: string): number {
  if (d === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  let m = re.exec(d);
  while (m !== null) {
    ms += Number(m[1]) * (unit[m[2] as string] as number);
    if (re.lastIndex === d.length) break;
    m = re.exec(d);
  }
  if (m === null || ms > MAX_DURATION_MS) throw new ProfileError(`duration: cannot read "${d}"`);
  return ms;
}

/**
 * The number of iterations k6 starts for a ramping-arrival-rate scenario: the integral of the
 * rate, which k6 interpolates linearly from the previous stage's target (or startRate) to each
 * stage's target over the stage's duration.
 */
export function stagesIntegral(r: Pick<RampingArrivalRate, 'startRate' | 'timeUnit' | 'stages'>): number {
  const unit = durationMs(r.timeUnit);
  let from = r.startRate;
  let area = 0;
  for (const s of r.stages) {
    area += ((from + s.target) / 2) * (durationMs(s.duration) / unit);
    from = s.target;
  }
  return area;
}

/** The highest rate the stages reach, in arrivals per second. */
export function stagesPeakPerSecond(
  r: Pick<RampingArrivalRate, 'startRate' | 'timeUnit' | 'stages'>,
): number {
  const unit = durationMs(r.timeUnit);
  return (Math.max(r.startRate, ...r.stages.map((s) => s.target)) / unit) * 1000;
}
