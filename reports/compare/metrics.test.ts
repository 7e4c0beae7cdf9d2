import { describe, expect, it } from 'vitest';
import { makeRecord } from '../fixtures/make-record.ts';
import { compareRuns } from './index.ts';
import { metric } from './test-support.ts';

/** The metrics compared: what a missing series or step gives, the funnel, the bottleneck and the CPU. */

describe('compareRuns: the metrics', () => {
  it('a series missing from one run: that metric is not comparable, naming the series', () => {
    const c = compareRuns(
      makeRecord({ seed: 1 }),
      makeRecord({
        seed: 2,
        omitSeries: (s) =>
          s.name === 'step_latency_ms' && s.labels.step === 'login' && s.labels.quantile === '0.95',
      }),
    );
    const m = metric(c, 'latency.login.p95');
    expect(m.verdict).toBe('not_comparable');
    expect(m.reason).toBe(
      "the candidate's timeseries.json has no step_latency_ms{step=login, quantile=0.95}",
    );
    expect(metric(c, 'latency.login.p50').test).not.toBeNull();
    // not comparable is not worse: it never gates
    expect(c.overall.worse).not.toContain('latency.login.p95');
  });

  it('a step only one run has: not comparable', () => {
    const b = makeRecord({ seed: 1 });
    const c = structuredClone(makeRecord({ seed: 2 }));
    c.manifest.totals.steps = c.manifest.totals.steps.filter((s) => s.step !== 'join_wave');
    expect(metric(compareRuns(b, c), 'latency.join_wave.p95').reason).toBe(
      'the candidate has no p95 for join_wave',
    );
    expect(metric(compareRuns(b, c), 'errors.join_wave.error_rate').verdict).toBe('not_comparable');
  });

  it('requests / s of two replays (the same arrivals): fewer is fewer retries and polls, better, and no gate', () => {
    const fewer = (seed: number, replay?: null) => {
      const r = structuredClone(makeRecord({ seed, ...(replay === null ? { replay } : {}) }));
      for (const s of r.manifest.totals.steps) s.requests = Math.round(s.requests / 2);
      for (const s of r.timeseries.series)
        if (s.name === 'step_requests') s.values = s.values.map((v) => (v === null ? v : v / 2));
      return r;
    };
    const open = metric(compareRuns(makeRecord({ seed: 1 }), fewer(2)), 'throughput.requests_per_second');
    expect([open.kind, open.direction, open.verdict, open.gating]).toEqual([
      'request_rate',
      'lower_is_better',
      'better',
      false,
    ]);
    // VUs looping (no replay): fewer requests a second is less work done, worse, and it gates
    const closed = compareRuns(makeRecord({ seed: 1, replay: null }), fewer(2, null));
    const m = metric(closed, 'throughput.requests_per_second');
    expect([m.kind, m.verdict, m.gating]).toEqual(['throughput', 'worse', true]);
    expect(closed.overall.gatingWorse).toContain('throughput.requests_per_second');
  });

  it('a conversion that drops is worse and gates', () => {
    const c = compareRuns(
      makeRecord({ seed: 1 }),
      makeRecord({ seed: 2, conversion: { email_verified: 0.6 } }),
    );
    const m = metric(c, 'funnel.email_verified.conversion');
    expect(m.verdict).toBe('worse');
    expect(m.gating).toBe(true);
    expect(m.counts?.baseline).toMatch(/^[\d,]+ of [\d,]+$/);
    expect(metric(c, 'funnel.registered.conversion').verdict).toBe('within_noise');
    expect(c.overall.verdict).toBe('regression');
  });

  it('the bottleneck: which dependency peaked, when it saturated, and whether that changed', () => {
    const c = compareRuns(
      makeRecord({ seed: 1, dependencies: { dukcapil: 1.3, email: 0.6 } }),
      makeRecord({ seed: 2, dependencies: { dukcapil: 0.7, email: 0.6 } }),
    );
    expect(c.bottleneck.baseline?.dependency).toBe('dukcapil');
    expect(c.bottleneck.baseline?.saturatedAtSeconds).toBeGreaterThan(0);
    expect(c.bottleneck.candidate?.saturatedAtSeconds).toBeNull();
    expect(metric(c, 'bottleneck.dukcapil.saturated_at')).toMatchObject({
      verdict: 'better',
      reason: 'no longer saturates',
      candidate: null,
    });
    expect(metric(c, 'bottleneck.dukcapil.peak_utilisation').verdict).toBe('better');
    expect(metric(c, 'bottleneck.email.saturated_at').reason).toBe('saturated in neither run');
    expect(c.overall.verdict).toBe(
      c.overall.gatingWorse.length ? 'regression' : c.overall.worse.length ? 'no_change' : 'improvement',
    );
  });

  it('the CPU each process used: a cheaper password hash shows as less registration CPU, the rest within noise', () => {
    const c = compareRuns(
      makeRecord({ seed: 1, cpuCores: { registration: 1.6, runner: 0.3 } }),
      makeRecord({ seed: 2, cpuCores: { registration: 0.5, runner: 0.3 } }),
    );
    const registration = metric(c, 'cpu.registration.cores');
    expect(registration).toMatchObject({ verdict: 'better', unit: 'cores', gating: false });
    // the headline is the run's mean: about a third of the baseline's
    expect(registration.change).toBeLessThan(-0.6);
    expect(metric(c, 'cpu.runner.cores').verdict).toBe('within_noise');
    // a record without the series says so rather than guessing
    const without = compareRuns(
      makeRecord({ seed: 1, cpuCores: { registration: 1 } }),
      makeRecord({ seed: 2 }),
    );
    expect(metric(without, 'cpu.registration.cores').verdict).toBe('not_comparable');
  });
});
