/**
 * Arrival profiles: arrivals per minute (or per second) over a day; `replay.ts` turns one into a
 * k6 scenario. Pure: no k6, no Node (scenarios read the CSV with k6's open() and pass the text here).
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

export function checkWindow(from: number, to: number, length: number, what: string): void {
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= length && from < to)) {
    throw new ProfileError(`${what}: expected a window 0 <= from < to <= ${length}, got [${from}, ${to})`);
  }
}
