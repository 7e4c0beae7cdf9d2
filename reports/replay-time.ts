import type { RunRecord } from './record.ts';

/**
 * A replay's two clocks: seconds of the compressed, scaled run against minutes of the profile at
 * full scale, which is what a reader of the 2020 figures counts in.
 */

/** Seconds of the run to the profile's minute (uncompressed), for a replay. */
export function profileMinute(r: RunRecord, t: number): number | null {
  const rp = r.manifest.replay;
  return rp ? Math.round((rp.windowMinutes[0] + (t * rp.compress) / 60) * 10) / 10 : null;
}

/** A rate per second of the compressed, scaled run as registrants per minute of the full-scale day. */
export function fullScalePerMinute(r: RunRecord, perSecond: number | null): number | null {
  const rp = r.manifest.replay;
  if (perSecond === null || !rp) return null;
  return Math.round(((perSecond * 60) / rp.compress / rp.scale) * 10) / 10;
}

export function mean(xs: Array<number | null | undefined>): number | null {
  const v = xs.filter((x): x is number => x != null);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null;
}
