import hdr from 'hdr-histogram-js';

/**
 * histogram.recordValue(v), at a fraction of the cost. hdr-histogram-js finds a value's counter
 * with two Math.pow and a Math.log2 per value, and a request records eight trend samples: that was
 * the runner's largest user-space cost per request. For an integer below 2^31 the same counter
 * index comes from Math.clz32 and shifts. The counters, min/max and total are then updated through
 * the histogram's own methods, exactly as recordValue does; a value that needs the histogram to
 * grow, or anything else unusual, goes through recordValue itself.
 */

interface Internals {
  subBucketHalfCountMagnitude: number;
  unitMagnitude: number;
  subBucketHalfCount: number;
  countsArrayLength: number;
  countsArrayIndex(value: number): number;
  incrementCountAtIndex(index: number): void;
  updateMinAndMax(value: number): void;
  incrementTotalCount(): void;
}

function index(h: Internals, v: number): number {
  const bucket = Math.max(0, 31 - Math.clz32(v) - h.subBucketHalfCountMagnitude - h.unitMagnitude);
  return (
    ((bucket + 1) << h.subBucketHalfCountMagnitude) +
    (v >>> (bucket + h.unitMagnitude)) -
    h.subBucketHalfCount
  );
}

/** The shortcut is used only if it finds the library's own index everywhere it was checked. */
function agreesWithLibrary(): boolean {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2 ** 31,
    numberOfSignificantValueDigits: 3,
  }) as unknown as Internals;
  for (const name of [
    'countsArrayIndex',
    'incrementCountAtIndex',
    'updateMinAndMax',
    'incrementTotalCount',
  ] as const)
    if (typeof h[name] !== 'function') return false;
  for (let k = 0; k < 31; k++) {
    for (const v of [2 ** k - 1, 2 ** k, 2 ** k + 1, Math.floor(2 ** k * 1.37)]) {
      if (v >= 2 ** 31) continue;
      if (index(h, v) !== h.countsArrayIndex(v)) return false;
    }
  }
  return true;
}

const FAST = agreesWithLibrary();

/** Records a non-negative integer, as histogram.recordValue(v) would. */
export function recordValue(histogram: hdr.Histogram, v: number): void {
  const h = histogram as unknown as Internals;
  if (FAST && v < 0x80000000) {
    const i = index(h, v);
    if (i < h.countsArrayLength) {
      h.incrementCountAtIndex(i);
      h.updateMinAndMax(v);
      h.incrementTotalCount();
      return;
    }
  }
  histogram.recordValue(v);
}

/** For the tests: whether the shortcut is in use. */
export const fastRecording = FAST;
