import hdr from 'hdr-histogram-js';
import type { MetricType } from './api.ts';
import { recordValue } from './hdr-record.ts';

/**
 * Aggregates of one metric (or submetric, or series), as k6 keeps them. Trends live in HDR
 * histograms (3 significant digits) beside exact count/sum/min/max: memory does not grow with the
 * number of samples. Every sink merges exactly with another of its kind (worker deltas).
 */

export interface CounterSink {
  kind: 'counter';
  count: number;
  /**
   * how many samples were added: a counter added only zeros still has its series, as in k6 (a
   * step with no slow request says 0, not nothing)
   */
  samples: number;
}
export interface GaugeSink {
  kind: 'gauge';
  value: number;
  min: number;
  max: number;
  /** when the value was last set (ms since epoch); the latest wins in a merge */
  t: number;
  set: boolean;
}
export interface RateSink {
  kind: 'rate';
  passes: number;
  total: number;
}
export interface TrendSink {
  kind: 'trend';
  hdr: hdr.Histogram;
  count: number;
  sum: number;
  min: number;
  max: number;
}
export type Sink = CounterSink | GaugeSink | RateSink | TrendSink;

/** Trend values are recorded as integers of 1/1000 of their unit (µs for times). */
const SCALE = 1000;

function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
    useWebAssembly: false,
  });
}

export function newSink(type: MetricType): Sink {
  switch (type) {
    case 'counter':
      return { kind: 'counter', count: 0, samples: 0 };
    case 'gauge':
      return {
        kind: 'gauge',
        value: 0,
        min: Number.POSITIVE_INFINITY,
        max: Number.NEGATIVE_INFINITY,
        t: 0,
        set: false,
      };
    case 'rate':
      return { kind: 'rate', passes: 0, total: 0 };
    case 'trend':
      return {
        kind: 'trend',
        hdr: newHistogram(),
        count: 0,
        sum: 0,
        min: Number.POSITIVE_INFINITY,
        max: Number.NEGATIVE_INFINITY,
      };
  }
}

export function addToSink(s: Sink, value: number, now: number): void {
  switch (s.kind) {
    case 'counter':
      s.count += value;
      s.samples++;
      return;
    case 'gauge':
      s.value = value;
      if (value < s.min) s.min = value;
      if (value > s.max) s.max = value;
      s.t = now;
      s.set = true;
      return;
    case 'rate':
      s.total++;
      if (value !== 0) s.passes++;
      return;
    case 'trend':
      // HDR cannot hold negatives; they still count exactly in min/avg/max.
      recordValue(s.hdr, Math.max(0, Math.round(value * SCALE)));
      s.count++;
      s.sum += value;
      if (value < s.min) s.min = value;
      if (value > s.max) s.max = value;
  }
}

/** A structured-cloneable form of a sink. */
export type SerializedSink =
  | CounterSink
  | GaugeSink
  | RateSink
  | { kind: 'trend'; hdr: string; count: number; sum: number; min: number; max: number };

export function serializeSink(s: Sink): SerializedSink {
  if (s.kind !== 'trend') return { ...s };
  return {
    kind: 'trend',
    hdr: hdr.encodeIntoCompressedBase64(s.hdr),
    count: s.count,
    sum: s.sum,
    min: s.min,
    max: s.max,
  };
}

export function mergeSink(into: Sink, from: SerializedSink): void {
  switch (into.kind) {
    case 'counter':
      if (from.kind === 'counter') {
        into.count += from.count;
        into.samples += from.samples;
      }
      return;
    case 'gauge':
      if (from.kind !== 'gauge' || !from.set) return;
      if (from.t >= into.t) {
        into.value = from.value;
        into.t = from.t;
      }
      into.min = Math.min(into.min, from.min);
      into.max = Math.max(into.max, from.max);
      into.set = true;
      return;
    case 'rate':
      if (from.kind === 'rate') {
        into.passes += from.passes;
        into.total += from.total;
      }
      return;
    case 'trend':
      if (from.kind !== 'trend' || from.count === 0) return;
      into.hdr.add(hdr.decodeFromCompressedBase64(from.hdr, 32, false));
      into.count += from.count;
      into.sum += from.sum;
      into.min = Math.min(into.min, from.min);
      into.max = Math.max(into.max, from.max);
  }
}

export function isEmpty(s: Sink): boolean {
  switch (s.kind) {
    case 'counter':
      return s.samples === 0;
    case 'gauge':
      return !s.set;
    case 'rate':
      return s.total === 0;
    case 'trend':
      return s.count === 0;
  }
}

/** A percentile (0-100) of a trend, in the unit of its samples. */
export function percentile(s: TrendSink, p: number): number {
  if (s.count === 0) return 0;
  if (p <= 0) return s.min;
  if (p >= 100) return s.max;
  const v = s.hdr.getValueAtPercentile(p) / SCALE;
  // HDR reports bucket upper edges: keep percentiles within the exact extremes.
  return Math.min(s.max, Math.max(s.min, v));
}

/**
 * How many of a trend's samples are above `value` (in their unit), to the histogram's resolution
 * (3 significant digits): the samples in the bucket that holds `value` count as not above it.
 */
export function countAbove(s: TrendSink, value: number): number {
  if (s.count === 0 || s.max <= value) return 0;
  // Built with useWebAssembly: false (newHistogram, mergeSink), so a JsHistogram, whose counts
  // are indexed in the order of their values.
  const h = s.hdr as unknown as hdr.JsHistogram;
  let above = 0;
  for (let i = h.countsArrayIndex(Math.max(0, Math.round(value * SCALE))) + 1; i < h.countsArrayLength; i++)
    above += h.getCountAtIndex(i);
  return above;
}

/** The values k6 reports for a sink, keyed as in handleSummary's data (trend stats as asked). */
export function sinkValues(
  s: Sink,
  elapsedMs: number,
  trendStats: readonly string[],
): Record<string, number> {
  switch (s.kind) {
    case 'counter':
      return { count: s.count, rate: elapsedMs > 0 ? s.count / (elapsedMs / 1000) : 0 };
    case 'gauge':
      return { value: s.value, min: s.set ? s.min : 0, max: s.set ? s.max : 0 };
    case 'rate':
      return { rate: s.total ? s.passes / s.total : 0, passes: s.passes, fails: s.total - s.passes };
    case 'trend': {
      const out: Record<string, number> = {};
      for (const stat of trendStats) {
        const v = trendStat(s, stat);
        if (v !== undefined) out[stat] = v;
      }
      return out;
    }
  }
}

export function trendStat(s: TrendSink, stat: string): number | undefined {
  switch (stat) {
    case 'avg':
      return s.count ? s.sum / s.count : 0;
    case 'min':
      return s.count ? s.min : 0;
    case 'max':
      return s.count ? s.max : 0;
    case 'med':
      return percentile(s, 50);
    case 'count':
      return s.count;
  }
  const m = /^p\((\d+(?:\.\d+)?)\)$/.exec(stat);
  return m ? percentile(s, Number(m[1])) : undefined;
}
