import { DEFAULT_MODEL, expectedJourneySeconds } from './behaviour.ts';

/**
 * Arrival profiles: arrivals per minute (or per second) over a day, and their replay as a k6
 * `ramping-arrival-rate` scenario scaled to the machine at hand. Pure: no k6, no Node (scenarios
 * read the CSV with k6's open() and pass the text here).
 */

export interface Profile {
  /** seconds per bucket: 60 for `minute,arrivals`, 1 for `second,arrivals` */
  bucketSeconds: 60 | 1;
  /** arrivals in each bucket, from bucket 0 */
  arrivals: number[];
}

export class ProfileError extends Error {
  override name = 'ProfileError';
}

const HEADERS: Record<string, 60 | 1> = { 'minute,arrivals': 60, 'second,arrivals': 1 };

/**
 * Parses a `minute,arrivals` or `second,arrivals` CSV (from an access log, say). Buckets start at
 * 0 and are consecutive, so that a missing minute is an error rather than a silent shift of the
 * whole day. Errors name the source, line and column and what was expected.
 */
export function parseProfileCsv(text: string, source = 'profile'): Profile {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = (lines[0] ?? '').trim().toLowerCase().replace(/\s+/g, '');
  const bucketSeconds = HEADERS[header];
  if (bucketSeconds === undefined) {
    throw new ProfileError(
      `${source}: line 1: expected the header "minute,arrivals" or "second,arrivals", got "${lines[0] ?? ''}"`,
    );
  }
  const unit = bucketSeconds === 60 ? 'minute' : 'second';
  const arrivals: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const at = `${source}: line ${i + 1}`;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length !== 2) {
      throw new ProfileError(`${at}: expected 2 columns (${unit},arrivals), got ${cells.length}: "${line}"`);
    }
    const [rawBucket, rawCount] = cells as [string, string];
    const bucket = rawBucket === '' ? Number.NaN : Number(rawBucket);
    if (!Number.isInteger(bucket) || bucket !== arrivals.length) {
      throw new ProfileError(
        `${at}, column 1 (${unit}): expected ${arrivals.length} (consecutive from 0), got "${rawBucket}"`,
      );
    }
    const count = rawCount === '' ? Number.NaN : Number(rawCount);
    if (!Number.isFinite(count) || count < 0) {
      throw new ProfileError(`${at}, column 2 (arrivals): expected a number >= 0, got "${rawCount}"`);
    }
    arrivals.push(count);
  }
  if (arrivals.length === 0) throw new ProfileError(`${source}: expected at least one row after the header`);
  return { bucketSeconds, arrivals };
}

export function profileCsv(p: Profile): string {
  const head = p.bucketSeconds === 60 ? 'minute,arrivals' : 'second,arrivals';
  return `${head}\n${p.arrivals.map((a, i) => `${i},${a}`).join('\n')}\n`;
}

export interface ProfileSummary {
  total: number;
  /** the largest bucket */
  peak: number;
  peakBucket: number;
  /** the peak as a minute of the profile (bucket x bucketSeconds / 60, rounded down) */
  peakMinute: number;
  /** mean arrivals per bucket */
  mean: number;
  buckets: number;
  bucketSeconds: 60 | 1;
  durationMinutes: number;
}

/** Total, peak, peak minute and mean, for reports. */
export function describeProfile(p: Profile): ProfileSummary {
  let total = 0;
  let peak = 0;
  let peakBucket = 0;
  p.arrivals.forEach((a, i) => {
    total += a;
    if (a > peak) {
      peak = a;
      peakBucket = i;
    }
  });
  return {
    total,
    peak,
    peakBucket,
    peakMinute: Math.floor((peakBucket * p.bucketSeconds) / 60),
    mean: total / p.arrivals.length,
    buckets: p.arrivals.length,
    bucketSeconds: p.bucketSeconds,
    durationMinutes: (p.arrivals.length * p.bucketSeconds) / 60,
  };
}

/** Arrivals per minute, whatever the profile's bucket (a per-second profile is summed by minute). */
export function perMinute(p: Profile): number[] {
  if (p.bucketSeconds === 60) return p.arrivals.slice();
  const out: number[] = [];
  p.arrivals.forEach((a, i) => {
    const m = Math.floor(i / 60);
    out[m] = (out[m] ?? 0) + a;
  });
  return out;
}

/**
 * Rounds non-negative reals to integers with the same (integer) total: floors, then one more to the
 * largest remainders (ties to the earliest bucket, so the result is deterministic).
 */
export function largestRemainder(exact: readonly number[], total: number): number[] {
  const out = exact.map((v) => Math.floor(v));
  let missing = total - out.reduce((a, b) => a + b, 0);
  if (missing < 0 || missing > exact.length) {
    throw new ProfileError(`largest remainder: the values do not add up to ${total}`);
  }
  const order = exact.map((v, i) => ({ i, r: v - Math.floor(v) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; missing > 0; k++, missing--) {
    const i = (order[k] as { i: number }).i;
    out[i] = (out[i] as number) + 1;
  }
  return out;
}

/** A flat profile: `perMinute` arrivals in each of `minutes` minutes (a soak, or a what-if). */
export function constantProfile(o: { perMinute: number; minutes: number }): Profile {
  if (!(Number.isFinite(o.perMinute) && o.perMinute >= 0)) {
    throw new ProfileError(`perMinute: expected a number >= 0, got ${o.perMinute}`);
  }
  if (!(Number.isInteger(o.minutes) && o.minutes >= 1)) {
    throw new ProfileError(`minutes: expected a whole number >= 1, got ${o.minutes}`);
  }
  return { bucketSeconds: 60, arrivals: new Array<number>(o.minutes).fill(o.perMinute) };
}

export interface OpeningSpikeOptions {
  /** first minute of the per-minute profile to expand (default: two minutes before its peak) */
  fromMinute?: number;
  /** end (exclusive; default: three minutes after the peak) */
  toMinute?: number;
  /**
   * Share of each minute's arrivals that land in a burst at the start of the minute. Assumption
   * (no per-second data survives from 2020): people who hit an error page retry together when the
   * page comes back, and a link shared on a news site or a group chat brings people in at once.
   * Default 0.2.
   */
  burstShare?: number;
  /** length of that burst in seconds (default 10) */
  burstSeconds?: number;
}

/**
 * The opening spike at per-second resolution: the minutes around the peak of a per-minute profile,
 * each minute spread over its 60 seconds as a burst in its first `burstSeconds` carrying
 * `burstShare` of the minute, the rest evenly. Each minute keeps its exact total (integer arrivals
 * by largest remainder), so the spike carries exactly the arrivals of the minutes it covers.
 */
export function openingSpike(p: Profile, o: OpeningSpikeOptions = {}): Profile {
  if (p.bucketSeconds !== 60) throw new ProfileError('opening spike: expected a per-minute profile');
  const { peakBucket } = describeProfile(p);
  const from = o.fromMinute ?? Math.max(0, peakBucket - 2);
  const to = o.toMinute ?? Math.min(p.arrivals.length, peakBucket + 3);
  checkWindow(from, to, p.arrivals.length, 'opening spike');
  const burstShare = o.burstShare ?? 0.2;
  const burstSeconds = o.burstSeconds ?? 10;
  if (!(burstShare >= 0 && burstShare <= 1)) {
    throw new ProfileError(`burstShare: expected a share in [0, 1], got ${burstShare}`);
  }
  if (!(Number.isInteger(burstSeconds) && burstSeconds >= 1 && burstSeconds <= 60)) {
    throw new ProfileError(
      `burstSeconds: expected a whole number of seconds in [1, 60], got ${burstSeconds}`,
    );
  }
  const weights: number[] = [];
  for (let s = 0; s < 60; s++)
    weights.push((1 - burstShare) / 60 + (s < burstSeconds ? burstShare / burstSeconds : 0));
  const arrivals: number[] = [];
  for (let m = from; m < to; m++) {
    const minute = p.arrivals[m] as number;
    const exact = weights.map((w) => w * minute);
    // Whole minutes stay whole seconds; a scaled (fractional) profile keeps its exact shares.
    const seconds = Number.isInteger(minute) ? largestRemainder(exact, minute) : exact;
    arrivals.push(...seconds);
  }
  return { bucketSeconds: 1, arrivals };
}

function checkWindow(from: number, to: number, length: number, what: string): void {
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= length && from < to)) {
    throw new ProfileError(`${what}: expected a window 0 <= from < to <= ${length}, got [${from}, ${to})`);
  }
}

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
  const bucketMs = Math.round(exactMs);
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
      preAllocatedVUs: Math.max(1, Math.ceil(concurrency)),
      maxVUs: Math.max(1, Math.ceil(concurrency * headroom)),
    },
    total: total / RESOLUTION,
    peakPerSecond: peak / RESOLUTION / (bucketMs / 1000),
    durationSeconds: ((to - from) * bucketMs) / 1000,
    concurrency,
    journeySeconds,
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

/** The k6 scenario of a replay (see `replay` for the construction and the other figures). */
export function toStages(p: Profile, o: ReplayOptions): RampingArrivalRate {
  return replay(p, o).scenario;
}

/**
 * The earlier shape of `replay` (window in buckets, journeySeconds required), kept for the
 * scenarios written against it.
 */
export function toRampingArrivalRate(
  p: Profile,
  o: Omit<ReplayOptions, 'window'> & { window?: { fromBucket: number; toBucket: number } },
): Replay {
  const { window, ...rest } = o;
  const toMinutes = (b: number) => (b * p.bucketSeconds) / 60;
  return replay(p, {
    ...rest,
    ...(window
      ? { window: { fromMinute: toMinutes(window.fromBucket), toMinute: toMinutes(window.toBucket) } }
      : {}),
  });
}

/** Milliseconds of a k6 duration string of the forms this module writes and k6 accepts ("0s", "238ms", "2s", "1m30s"). */
export function durationMs(d: string): number {
  if (d === '0' || d === '0s') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  let consumed = 0;
  for (let m = re.exec(d); m !== null; m = re.exec(d)) {
    ms += Number(m[1]) * (unit[m[2] as string] as number);
    consumed += m[0].length;
  }
  if (consumed !== d.length || d.length === 0) throw new ProfileError(`duration: cannot read "${d}"`);
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
