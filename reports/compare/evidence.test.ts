import { describe, expect, it } from 'vitest';
import { makeRecord, type RecordParams } from '../fixtures/make-record.ts';
import { compareRuns } from './index.ts';
import { twoProportionTest } from './statistics.ts';
import { metric } from './test-support.ts';

/** How a metric's evidence is drawn: the proportion test and its dispersion, and too few samples. */

describe('compareRuns: the evidence', () => {
  it('the error-rate statistic of a comparison is the hand-computed one when requests are independent', () => {
    const noRatios: RecordParams['omitSeries'] = (s) => s.name === 'step_failed_ratio';
    const b = makeRecord({ seed: 1, errorRate: 0.03, omitSeries: noRatios });
    const c = makeRecord({ seed: 2, errorRate: 0.02, omitSeries: noRatios });
    const m = metric(compareRuns(b, c), 'errors.create_account.error_rate');
    const sb = b.manifest.totals.steps.find((s) => s.step === 'create_account')!;
    const sc = c.manifest.totals.steps.find((s) => s.step === 'create_account')!;
    const pooled = (sb.failed + sc.failed) / (sb.requests + sc.requests);
    const se = Math.sqrt(pooled * (1 - pooled) * (1 / sb.requests + 1 / sc.requests));
    expect(m.test!.z).toBeCloseTo((sc.failed / sc.requests - sb.failed / sb.requests) / se, 10);
    expect(m.test!.dispersion).toBe(1);
    expect(m.reason).toMatch(/no per-interval series: requests assumed independent/);
  });

  it('failures clustered in time widen the error-rate test (quasi-binomial dispersion)', () => {
    const b = makeRecord({ seed: 1, errorRate: 0.03 });
    const c = makeRecord({ seed: 2, errorRate: 0.02 });
    const independent = metric(compareRuns(b, c), 'errors.create_account.error_rate').test!;
    // The same failures, all in the first intervals: the totals are unchanged, the bursts are not.
    const clustered = structuredClone(b);
    const ratio = clustered.timeseries.series.find(
      (s) => s.name === 'step_failed_ratio' && s.labels.step === 'create_account',
    )!;
    const requests = clustered.timeseries.series.find(
      (s) => s.name === 'step_requests' && s.labels.step === 'create_account',
    )!;
    let left = clustered.manifest.totals.steps.find((s) => s.step === 'create_account')!.failed;
    ratio.values = requests.values.map((perSecond) => {
      const n = (perSecond ?? 0) * clustered.timeseries.intervalSeconds;
      const failed = Math.min(left, n);
      left -= failed;
      return n > 0 ? failed / n : null;
    });
    const bursty = metric(compareRuns(clustered, c), 'errors.create_account.error_rate');
    expect(independent.dispersion!).toBeLessThan(1.5);
    expect(bursty.test!.dispersion!).toBeGreaterThan(3);
    expect(bursty.test!.p).toBeGreaterThan(independent.p);
    expect(bursty.reason).toMatch(/variance ×\d+\.\d: clustered in time/);
    // the same totals, so the same naive statistic, divided by the square root of the dispersion
    const sb = b.manifest.totals.steps.find((s) => s.step === 'create_account')!;
    const sc = c.manifest.totals.steps.find((s) => s.step === 'create_account')!;
    const naive = twoProportionTest(sb.failed, sb.requests, sc.failed, sc.requests);
    expect(bursty.test!.z).toBeCloseTo(naive.z / Math.sqrt(bursty.test!.dispersion!), 3);
  });

  it('too few intervals: within noise, saying why', () => {
    const c = compareRuns(
      makeRecord({ seed: 1, durationSeconds: 12 }),
      makeRecord({ seed: 2, durationSeconds: 12, latencyFactor: 2 }),
    );
    const m = metric(c, 'latency.create_account.p95');
    expect(m.change!).toBeGreaterThan(0.5);
    expect(m.verdict).toBe('within_noise');
    expect(m.reason).toBe('too few samples: 6 intervals with data in both runs (at least 10 needed)');
  });
});
