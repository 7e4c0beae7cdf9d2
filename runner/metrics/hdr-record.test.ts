import hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { fastRecording, recordValue } from './hdr-record.ts';

const build = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
    useWebAssembly: false,
  });

describe('recording into HDR histograms', () => {
  it("gives the very histogram the library's recordValue gives, growing included", () => {
    expect(fastRecording).toBe(true);
    const ours = build();
    const theirs = build();
    let s = 12345;
    const values: number[] = [0, 1, 2047, 2048, 2049, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 3];
    for (let i = 0; i < 20_000; i++) {
      s = (s * 1664525 + 1013904223) >>> 0;
      // from microseconds to hours, as request phases go
      values.push(Math.round(Math.exp((s / 2 ** 32) * 22)));
    }
    for (const v of values) {
      recordValue(ours, v);
      theirs.recordValue(v);
    }
    expect(hdr.encodeIntoCompressedBase64(ours)).toBe(hdr.encodeIntoCompressedBase64(theirs));
    expect([ours.totalCount, ours.maxValue, ours.minNonZeroValue]).toEqual([
      theirs.totalCount,
      theirs.maxValue,
      theirs.minNonZeroValue,
    ]);
    for (const p of [1, 50, 90, 99, 99.9, 100])
      expect(ours.getValueAtPercentile(p)).toBe(theirs.getValueAtPercentile(p));
  });
});
