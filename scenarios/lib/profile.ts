/**
 * Arrival profiles: arrivals per minute (or per second) over a day, and their conversion into a
 * k6 `ramping-arrival-rate` scenario scaled to the machine at hand. Pure: no k6, no Node.
 */

export interface Profile {
  /** seconds per bucket: 60 for `minute,arrivals`, 1 for `second,arrivals` */
  bucketSeconds: 60 | 1;
  arrivals: number[];
}

export class ProfileError extends Error {}

/** Parses `minute,arrivals` or `second,arrivals` CSV; buckets must start at 0 and be consecutive. */
export function parseProfileCsv(text: string, source = 'profile'): Profile {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').trim().toLowerCase().replace(/\s+/g, '');
  let bucketSeconds: 60 | 1;
  if (header === 'minute,arrivals') bucketSeconds = 60;
  else if (header === 'second,arrivals') bucketSeconds = 1;
  else
    throw new ProfileError(
      `${source}:1: expected the header "minute,arrivals" or "second,arrivals", got "${lines[0] ?? ''}"`,
    );
  const arrivals: number[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const cells = line.split(',');
    if (cells.length !== 2)
      throw new ProfileError(`${source}:${i + 1}: expected 2 columns, got ${cells.length}`);
    const bucket = Number(cells[0]);
    const count = Number(cells[1]);
    if (!Number.isInteger(bucket) || bucket !== arrivals.length) {
      throw new ProfileError(
        `${source}:${i + 1}, column 1: expected bucket ${arrivals.length} (consecutive from 0), got "${cells[0]}"`,
      );
    }
    if (!Number.isFinite(count) || count < 0) {
      throw new ProfileError(
        `${source}:${i + 1}, column 2: expected a number of arrivals >= 0, got "${cells[1]}"`,
      );
    }
    arrivals.push(count);
  }
  if (arrivals.length === 0) throw new ProfileError(`${source}: no rows after the header`);
  return { bucketSeconds, arrivals };
}

export function profileCsv(p: Profile): string {
  const head = p.bucketSeconds === 60 ? 'minute,arrivals' : 'second,arrivals';
  return `${head}\n${p.arrivals.map((a, i) => `${i},${a}`).join('\n')}\n`;
}

export interface ProfileSummary {
  total: number;
  peak: number;
  peakBucket: number;
  /** mean arrivals per bucket */
  mean: number;
  buckets: number;
}

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
  return { total, peak, peakBucket, mean: total / p.arrivals.length, buckets: p.arrivals.length };
}

export interface ReplayOptions {
  /** fraction of the population replayed, e.g. 0.01 */
  scale: number;
  /** time factor, e.g. 60 turns 21 hours into 21 minutes */
  compress: number;
  /** replay only these buckets [fromBucket, toBucket) */
  window?: { fromBucket: number; toBucket: number };
  /** expected time one iteration (a registrant's journey) takes, compressed, seconds */
  journeySeconds: number;
  /** VUs above Little's law, for the variance of arrivals and journey times */
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
  /** arrivals the stages will start (their exact integral) */
  total: number;
  /** the highest per-second rate of the replay */
  peakPerSecond: number;
  durationSeconds: number;
}

/** k6 stage targets are whole arrivals per timeUnit: a timeUnit of 1,000 buckets keeps 1/1000 of an arrival. */
const RESOLUTION = 1000;

/**
 * One k6 stage pair per bucket: an instant jump (a 0s stage) to the bucket's rate, then a hold for
 * the bucket's compressed length, so that the integral of the stages is exactly the sum of the
 * scaled buckets. Rates are per RESOLUTION buckets (integers in k6), rounded with the remainder
 * carried to the next bucket: the total is preserved within one arrival and the peak within
 * 1/RESOLUTION of an arrival per bucket, at any scale. Equal neighbours are merged.
 */
export function toRampingArrivalRate(p: Profile, o: ReplayOptions): Replay {
  if (!(o.scale > 0 && o.scale <= 1))
    throw new ProfileError(`scale: expected a fraction in (0, 1], got ${o.scale}`);
  if (!(o.compress >= 1)) throw new ProfileError(`compress: expected a factor >= 1, got ${o.compress}`);
  const from = o.window?.fromBucket ?? 0;
  const to = o.window?.toBucket ?? p.arrivals.length;
  if (
    !(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= p.arrivals.length && from < to)
  ) {
    throw new ProfileError(`window: expected 0 <= from < to <= ${p.arrivals.length}, got [${from}, ${to})`);
  }
  const bucketMs = Math.round((p.bucketSeconds * 1000) / o.compress);
  if (bucketMs < 1)
    throw new ProfileError(`compress: ${o.compress} makes a ${p.bucketSeconds}s bucket shorter than 1 ms`);
  const stages: Array<{ target: number; duration: string }> = [];
  let carry = 0;
  let total = 0;
  let peak = 0;
  let last = -1;
  for (let i = from; i < to; i++) {
    const exact = (p.arrivals[i] as number) * o.scale * RESOLUTION + carry;
    const n = Math.max(0, Math.round(exact));
    carry = exact - n;
    total += n / RESOLUTION;
    peak = Math.max(peak, n / RESOLUTION);
    const prev = stages[stages.length - 1];
    if (n === last && prev) {
      // same rate as the bucket before: lengthen its hold
      prev.duration = `${Number.parseInt(prev.duration, 10) + bucketMs}ms`;
      continue;
    }
    stages.push({ target: n, duration: '0s' }, { target: n, duration: `${bucketMs}ms` });
    last = n;
  }
  const peakPerSecond = peak / (bucketMs / 1000);
  // Little's law: registrants in the system = arrival rate x time in the system.
  const vus = Math.ceil(peakPerSecond * o.journeySeconds * (o.headroom ?? 1.5));
  return {
    scenario: {
      executor: 'ramping-arrival-rate',
      startRate: 0,
      timeUnit: `${bucketMs * RESOLUTION}ms`,
      stages,
      preAllocatedVUs: Math.max(1, Math.ceil(vus / 2)),
      maxVUs: Math.max(1, vus),
    },
    total,
    peakPerSecond,
    durationSeconds: ((to - from) * bucketMs) / 1000,
  };
}

/** The exact number of iterations k6 starts for stages (the integral of the rate). */
export function stagesIntegral(r: RampingArrivalRate): number {
  const unit = Number.parseInt(r.timeUnit, 10);
  let from = r.startRate;
  let area = 0;
  for (const s of r.stages) {
    const ms = s.duration === '0s' ? 0 : Number.parseInt(s.duration, 10);
    area += ((from + s.target) / 2) * (ms / unit);
    from = s.target;
  }
  return area;
}
