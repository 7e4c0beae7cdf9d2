import { SATURATION, sustainedSamples } from '../model/station.ts';
import type { Timeseries } from './record.ts';

/**
 * Conditions that must last to count: a saturation (model/station.ts SATURATION) or a missed
 * objective (./objectives.ts). The report and the comparison judge with these, so that they agree
 * on when a dependency saturated.
 */

/** Consecutive samples, by index, from `from` to `to` inclusive. */
export interface Stretch {
  from: number;
  to: number;
}

/** Every longest run of consecutive samples for which `holds` is true, in order. */
export function stretches(length: number, holds: (i: number) => boolean): Stretch[] {
  const out: Stretch[] = [];
  let from = -1;
  for (let i = 0; i <= length; i++) {
    const on = i < length && holds(i);
    if (on && from < 0) from = i;
    if (!on && from >= 0) {
      out.push({ from, to: i - 1 });
      from = -1;
    }
  }
  return out;
}

/** The first sample of the first run of at least `n` samples at or above `threshold` (a gap breaks it); -1 if none. */
export function firstSustained(values: ReadonlyArray<number | null>, n: number, threshold: number): number {
  const at = (i: number) => {
    const v = values[i];
    return v !== null && v !== undefined && v >= threshold;
  };
  return stretches(values.length, at).find((s) => s.to - s.from + 1 >= n)?.from ?? -1;
}

/**
 * The highest level held for `n` samples in a row: the best over every window of its lowest
 * sample. What a run that never saturated came closest to saturating with, a single spike aside.
 */
export function sustainedLevel(values: ReadonlyArray<number | null>, n: number): number | null {
  let best: number | null = null;
  for (let end = n; end <= values.length; end++) {
    const window = values.slice(end - n, end);
    if (window.some((v) => v === null || v === undefined)) continue;
    const low = Math.min(...(window as number[]));
    if (best === null || low > best) best = low;
  }
  return best;
}

/** The interval in which a dependency's sustained saturation began, by SATURATION; -1 if it never saturated. */
export function saturatedFrom(ts: Timeseries, utilisation: ReadonlyArray<number | null>): number {
  return firstSustained(utilisation, sustainedSamples(ts.intervalSeconds), SATURATION.utilisation);
}
