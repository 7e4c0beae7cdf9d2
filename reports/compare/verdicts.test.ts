import { describe, expect, it } from 'vitest';
import { makeRecord } from '../fixtures/make-record.ts';
import { compareRuns } from './index.ts';
import { metric } from './test-support.ts';
import type { Comparison } from './types.ts';

/**
 * The verdicts on simulated run records: no false verdict between two runs of an unchanged
 * system, real changes found, and the options that decide what counts and what gates.
 */

const judged = (c: Comparison) => c.metrics.filter((m) => m.verdict === 'better' || m.verdict === 'worse');

describe('compareRuns: the verdicts', () => {
  // A fixed handful of pairs, each must be clean; how often a comparison of unchanged runs says
  // anything at all (at most 1 - confidence by construction) is the next test's business.
  const SEED_PAIRS = [
    [11, 12],
    [21, 22],
    [31, 32],
    [41, 42],
    [51, 52],
    [71, 72],
  ] as const;

  it.each(SEED_PAIRS)('two runs of an unchanged system (seeds %i, %i): within noise everywhere', (a, b) => {
    const c = compareRuns(makeRecord({ seed: a }), makeRecord({ seed: b }));
    expect(judged(c).map((m) => `${m.id}: ${m.verdict} (${m.reason})`)).toEqual([]);
    expect(c.metrics.every((m) => m.verdict === 'within_noise')).toBe(true);
    expect(c.overall.verdict).toBe('no_change');
    expect(c.comparable).toBe(true);
    expect(c.warnings).toEqual([]);
    expect(c.pairing).toBe('paired');
  });

  it('false alarms stay near 1 - confidence over many unchanged pairs, and the single tests are calibrated', () => {
    let alarms = 0;
    let tests = 0;
    let rawSignificant = 0;
    for (let k = 0; k < 40; k++) {
      const c = compareRuns(makeRecord({ seed: 900 + 2 * k }), makeRecord({ seed: 901 + 2 * k }));
      if (judged(c).length) alarms++;
      for (const m of c.metrics) {
        if (!m.test) continue;
        tests++;
        if (m.test.p < 0.05) rawSignificant++;
      }
    }
    // 5 % family-wise: 2 of 40 expected, 4 leaves room for chance but not for a miscalibrated method
    expect(alarms).toBeLessThanOrEqual(4);
    // each test alone: about 5 % of p-values under 0.05
    expect(rawSignificant / tests).toBeLessThan(0.08);
  });

  it('a candidate with every latency doubled: p95 worse for every step, overall regression', () => {
    const c = compareRuns(makeRecord({ seed: 1 }), makeRecord({ seed: 2, latencyFactor: 2 }));
    const p95 = c.metrics.filter((m) => m.kind === 'latency_p95');
    expect(p95.length).toBe(8);
    for (const m of p95) {
      expect(m.verdict, m.id).toBe('worse');
      expect(m.test?.method).toBe('wilcoxon_signed_rank');
      expect(m.test!.pAdjusted).toBeLessThan(0.001);
      expect(m.change!).toBeGreaterThan(0.5);
    }
    expect(c.overall.verdict).toBe('regression');
    expect(c.overall.gatingWorse).toContain('latency.submit_biodata.p95');
    expect(c.overall.headline).toMatch(/gating metrics worse: p95 create_account/);
  });

  it('an error rate from 5 % to 0.5 % over thousands of requests: better, overall improvement', () => {
    const c = compareRuns(
      makeRecord({ seed: 1, errorRate: 0.05 }),
      makeRecord({ seed: 2, errorRate: 0.005 }),
    );
    const m = metric(c, 'errors.create_account.error_rate');
    expect(m.test!.samples[0]).toBeGreaterThan(2000);
    expect(m.baseline!).toBeCloseTo(0.05, 2);
    expect(m.candidate!).toBeCloseTo(0.005, 2);
    expect(m.verdict).toBe('better');
    expect(c.metrics.filter((x) => x.kind === 'error_rate').every((x) => x.verdict === 'better')).toBe(true);
    expect(c.overall.verdict).toBe('improvement');
  });

  it('a 1 % latency change is within noise', () => {
    const c = compareRuns(makeRecord({ seed: 1 }), makeRecord({ seed: 2, latencyFactor: 1.01 }));
    for (const m of c.metrics.filter((x) => x.section === 'latency'))
      expect(m.verdict, m.id).toBe('within_noise');
    expect(c.overall.verdict).toBe('no_change');
  });

  it('options: what gates, the minimum effect and the confidence', () => {
    const b = makeRecord({ seed: 1 });
    const c = makeRecord({ seed: 2, latencyFactor: 2 });
    const ungated = compareRuns(b, c, { gate: ['error_rate'] });
    expect(ungated.overall.verdict).toBe('no_change');
    expect(ungated.overall.headline).toMatch(/no gating metric worse; 0 better, \d+ worse/);
    const huge = compareRuns(b, c, { minEffect: 2 });
    expect(metric(huge, 'latency.login.p95').reason).toMatch(
      /change below the 200 % minimum effect \(p<0.001\)/,
    );
    // a 10 % slowdown: some metrics are judged at 95 % with a p-value that 99.9 % does not accept
    const b10 = makeRecord({ seed: 1 });
    const c10 = makeRecord({ seed: 2, latencyFactor: 1.1 });
    const borderline = judged(compareRuns(b10, c10)).find((m) => m.test!.pAdjusted > 0.001);
    expect(borderline).toBeDefined();
    const strict = metric(compareRuns(b10, c10, { confidence: 0.999 }), borderline!.id);
    expect(strict.verdict).toBe('within_noise');
    expect(strict.reason).toBe(borderline!.reason);
  });
});
