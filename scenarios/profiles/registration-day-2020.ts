import type { Profile } from '../lib/profile.ts';

/**
 * The first 21 hours of Kartu Prakerja registration, minute by minute. The totals are facts; the
 * shape between them is a reasoned assumption, each parameter named with what it rests on.
 * `scripts/generate-profile.ts` writes it to registration-day-2020.csv; a test regenerates it.
 */
export const PARAMETERS = {
  /** FACTS.md, "accounts registered": 1,432,133 in the window */
  total: 1_432_133,
  /** FACTS.md, "peak": 80,000 registrants within one minute */
  peak: 80_000,
  /** FACTS.md, "window": 21 hours, to 16:00 WIB on Sunday 12 April */
  minutes: 21 * 60,
  /** derived: 16:00 WIB Sunday minus 21 hours = 19:00 WIB Saturday 11 April (seeds 001, 002) */
  openingHourWib: 19,
  /**
   * Assumption: the peak came minutes after opening, from demand that had waited since the site
   * launched on 20 March (FACTS.md: 2.4 million visitors by then). No source gives its time.
   */
  peakMinute: 3,
  /**
   * Assumption: the opening surge decays with a 6-minute time constant. A slower decay cannot meet
   * both facts: with 80,000 in the peak minute, a 25-minute decay alone would exceed the day's
   * 1.43 million. The site's errors (FACTS.md, "What broke") spread the rest over the evening.
   */
  surgeDecayMinutes: 6,
  /**
   * Assumption: the news-driven evening interest decays over about 3 hours (the announcement was
   * on the evening news; FACTS.md: more than 1.1 million new visitors on the opening day).
   */
  eveningDecayMinutes: 180,
  /** Assumption: relative weight of that evening interest against the daily rhythm at its start */
  eveningWeight: 1.5,
  /** Assumption: the daily rhythm peaks at 10:30 WIB and bottoms out 12 hours later */
  dayPeakHourWib: 10.5,
  /** Assumption: the overnight trough is 10 % of the daytime level (people asleep) */
  nightFloor: 0.1,
} as const;

/** Relative weight of each minute, before scaling to the facts. */
export function shape(p: typeof PARAMETERS = PARAMETERS): { surge: number[]; base: number[] } {
  const surge: number[] = [];
  const base: number[] = [];
  for (let t = 0; t < p.minutes; t++) {
    surge.push(
      t < p.peakMinute ? (t + 1) / (p.peakMinute + 1) : Math.exp(-(t - p.peakMinute) / p.surgeDecayMinutes),
    );
    const hour = (p.openingHourWib + t / 60) % 24;
    const daily =
      p.nightFloor +
      (1 - p.nightFloor) * ((1 + Math.cos((2 * Math.PI * (hour - p.dayPeakHourWib)) / 24)) / 2) ** 2;
    base.push(daily + p.eveningWeight * Math.exp(-t / p.eveningDecayMinutes));
  }
  return { surge, base };
}

/**
 * Arrivals per minute: surge x S + base x B with S and B solved so that the peak minute is exactly
 * `peak` and the sum exactly `total`; the other minutes are rounded by largest remainder.
 */
export function registrationDay2020(p: typeof PARAMETERS = PARAMETERS): Profile {
  const { surge, base } = shape(p);
  const sumS = surge.reduce((a, b) => a + b, 0);
  const sumB = base.reduce((a, b) => a + b, 0);
  const sPeak = surge[p.peakMinute] as number;
  const bPeak = base[p.peakMinute] as number;
  // S*sPeak + B*bPeak = peak;  S*sumS + B*sumB = total
  const det = sPeak * sumB - bPeak * sumS;
  const S = (p.peak * sumB - bPeak * p.total) / det;
  const B = (sPeak * p.total - p.peak * sumS) / det;
  if (!(S > 0 && B > 0)) throw new Error(`the parameters cannot meet both facts (S=${S}, B=${B})`);
  const exact = surge.map((s, t) => S * s + B * (base[t] as number));
  const arrivals = exact.map(Math.floor);
  arrivals[p.peakMinute] = p.peak;
  let missing = p.total - arrivals.reduce((a, b) => a + b, 0);
  const order = exact
    .map((v, t) => ({ t, r: v - Math.floor(v) }))
    .filter((x) => x.t !== p.peakMinute)
    .sort((a, b) => b.r - a.r || a.t - b.t);
  for (let i = 0; missing > 0; i = (i + 1) % order.length, missing--) {
    const t = (order[i] as { t: number }).t;
    arrivals[t] = (arrivals[t] as number) + 1;
  }
  return { bucketSeconds: 60, arrivals };
}
