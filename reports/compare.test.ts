import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { compareCommand } from '../scripts/commands/compare.ts';
import {
  type Comparison,
  compareRuns,
  mannWhitneyTest,
  signedRankTest,
  twoProportionTest,
} from './compare.ts';
import { makeRecord, type RecordParams } from './fixtures/make-record.ts';
import {
  type RunRecord,
  runManifestSchema,
  summarySchema,
  timeseriesSchema,
  writeRunRecord,
} from './record.ts';
import { renderComparisonJson, renderComparisonMarkdown } from './render-comparison.ts';

/**
 * The comparison on simulated run records: no false verdicts between two runs of an unchanged
 * system, real changes found, the statistics checked by hand, and `gelombang compare` as a CI job
 * calls it (exit codes, files written, precise messages).
 */

const metric = (c: Comparison, id: string) => {
  const m = c.metrics.find((x) => x.id === id);
  if (!m) throw new Error(`no metric ${id} in ${c.metrics.map((x) => x.id).join(', ')}`);
  return m;
};
const judged = (c: Comparison) => c.metrics.filter((m) => m.verdict === 'better' || m.verdict === 'worse');

describe('the record fixture', () => {
  it('builds records that the run-record schemas accept, with totals that agree with the series', () => {
    const r = makeRecord({ seed: 7 });
    expect(() => runManifestSchema.parse(r.manifest)).not.toThrow();
    expect(() => summarySchema.parse(r.summary)).not.toThrow();
    expect(() => timeseriesSchema.parse(r.timeseries)).not.toThrow();
    const arrivals = r.timeseries.series.find((s) => s.name === 'arrivals')!.values;
    const fromSeries = arrivals.reduce<number>((a, v) => a + (v ?? 0) * r.timeseries.intervalSeconds, 0);
    expect(fromSeries).toBeCloseTo(r.manifest.totals.arrivals, 6);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(makeRecord({ seed: 3 })).toEqual(makeRecord({ seed: 3 }));
    expect(makeRecord({ seed: 3 }).manifest.totals).not.toEqual(makeRecord({ seed: 4 }).manifest.totals);
  });
});

describe('the statistics', () => {
  it('two-proportion z-test, by hand: 50 of 1,000 against 30 of 1,000', () => {
    // pooled p = 80 / 2000 = 0.04; se = sqrt(0.04 * 0.96 * (1/1000 + 1/1000)) = sqrt(7.68e-5) = 0.0087636
    // z = (0.03 - 0.05) / 0.0087636 = -2.28218; two-sided p = 2 (1 - Phi(2.28218)) = 0.022479
    const t = twoProportionTest(50, 1000, 30, 1000);
    expect(t.z).toBeCloseTo(-2.28218, 4);
    expect(t.p).toBeCloseTo(0.022479, 5);
    // a dispersion of 4 doubles the standard error and halves z
    expect(twoProportionTest(50, 1000, 30, 1000, 4).z).toBeCloseTo(-2.28218 / 2, 4);
  });

  it('signed-rank test, by hand, with a tie and a zero', () => {
    // the zero is dropped; |d| = 4, 1, 3, 2, 3 -> ranks 5, 1, 3.5, 2, 3.5; scores 5, -1, 3.5, -2, 3.5
    // W = 9; var = 25 + 1 + 12.25 + 4 + 12.25 = 54.5; z = 9 / sqrt(54.5)
    // The scores alternate (negative lag-1 autocorrelation), which never narrows the test.
    const t = signedRankTest([4, -1, 3, 0, -2, 3]);
    expect(t.samples).toEqual([5, 5]);
    expect(t.autocorrelation).toBeLessThan(0);
    expect(t.z).toBeCloseTo(9 / Math.sqrt(54.5), 10);
    expect(t.effectiveSamples).toBe(5);
  });

  it('Mann-Whitney U, by hand, with ties', () => {
    // pooled 1 2 2 3 | 2 4 5 -> ranks a: 1, 3, 3, 5; b: 3, 6, 7 (three 2s share rank 3)
    // U_b = 16 - 3*4/2 = 10; mean 4*3/2 = 6; var = 4*3/12 * (8 - (27-3)/(7*6)) = 8 - 4/7
    // Neither sample's ranks are positively autocorrelated (1 3 3 5; 3 6 7): no inflation.
    const t = mannWhitneyTest([1, 2, 2, 3], [2, 4, 5]);
    expect(t.z).toBeCloseTo(4 / Math.sqrt(8 - 4 / 7), 10);
  });

  it('autocorrelated samples count as fewer independent ones', () => {
    const smooth = Array.from({ length: 40 }, (_, i) => Math.sin(i / 6) + 0.3);
    const t = signedRankTest(smooth);
    expect(t.autocorrelation).toBeGreaterThan(0.5);
    expect(t.effectiveSamples).toBeLessThan(40 / 3);
  });
});

describe('compareRuns', () => {
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

  it('warns when the runs are not comparable, and still compares them', () => {
    const c = compareRuns(
      makeRecord({ seed: 1 }),
      makeRecord({
        seed: 2,
        scenario: 'opening-spike',
        replay: { scale: 0.001, compress: 120, windowMinutes: [0, 60] },
      }),
    );
    expect(c.comparable).toBe(false);
    expect(c.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/scenario differs \(baseline registration-day, candidate opening-spike\)/),
        expect.stringMatching(/replay scale differs \(baseline 0.0005, candidate 0.001\)/),
        expect.stringMatching(/replay compression differs \(baseline 252, candidate 120\)/),
        expect.stringMatching(
          /replay window \(profile minutes\) differs \(baseline \[0, 1260\), candidate \[0, 60\)\)/,
        ),
      ]),
    );
    expect(c.metrics.length).toBeGreaterThan(40);
    expect(c.metrics.every((m) => m.verdict === 'within_noise')).toBe(true);
    // no pairing of intervals by time: the runs did not face the same load at the same moment
    expect(c.pairing).toBe('unpaired');
    expect(c.warnings).toContainEqual(expect.stringMatching(/pairing them by time assumes/));
  });

  it('a run that is not a replay against one that is: not comparable', () => {
    const c = compareRuns(makeRecord({ seed: 1 }), makeRecord({ seed: 2, replay: null }));
    expect(c.warnings).toContainEqual(expect.stringMatching(/only the baseline replays a profile/));
  });

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
    expect(metric(c, 'latency.login.p50').verdict).toBe('within_noise');
    expect(c.overall.verdict).toBe('no_change');
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

  it('sampling grids that differ: unpaired Mann-Whitney, with a warning', () => {
    const c = compareRuns(
      makeRecord({ seed: 1, shape: 'flat' }),
      makeRecord({ seed: 2, shape: 'flat', intervalSeconds: 3, latencyFactor: 2 }),
    );
    expect(c.pairing).toBe('unpaired');
    expect(c.warnings).toContainEqual(expect.stringMatching(/sampling grids differ \(every 2 s vs 3 s/));
    const m = metric(c, 'latency.create_account.p95');
    expect(m.test?.method).toBe('mann_whitney_u');
    expect(m.test?.samples).toEqual([60, 40]);
    expect(m.verdict).toBe('worse');
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
    expect(c.overall.verdict).toBe('improvement');
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

  it('configuration changes are listed for the reader', () => {
    const c = compareRuns(
      makeRecord({ seed: 1, knobs: { EMAIL_DELIVERY: 'inline' } }),
      makeRecord({ seed: 2, knobs: { EMAIL_DELIVERY: 'outbox', WORKERS: '4' } }),
    );
    expect(c.configChanges).toEqual(['knob EMAIL_DELIVERY: inline → outbox', 'knob WORKERS: (unset) → 4']);
  });
});

describe('rendering', () => {
  const c = compareRuns(makeRecord({ seed: 1 }), makeRecord({ seed: 2, latencyFactor: 2, replay: null }));

  it('markdown: the overall verdict first, warnings, then a table per section', () => {
    const md = renderComparisonMarkdown(c);
    const lines = md.split('\n');
    expect(lines[0]).toBe('# Comparison: fixture-1 → fixture-2');
    expect(lines[2]).toMatch(/^\*\*Overall: ✗ regression\*\*: \d+ gating metrics worse/);
    const order = [
      '## Warnings',
      '## Throughput',
      '## Latency',
      '## Errors',
      '## Funnel',
      '## Bottleneck',
    ].map((h) => md.indexOf(h));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(md).toMatch(
      /\| p95 submit_biodata \* \| [\d,]+ ms \| [\d,]+ ms \| \+\d+\.\d % \| ✗ worse \(p<0\.001\) \|/,
    );
    expect(md).toMatch(/\| error rate login \* \| \d+\.\d\d % \([\d,]+ of [\d,]+\) \|/);
    expect(md).toMatch(/not comparable: only the baseline replays a profile/);
    expect(md).toMatch(
      /Bottleneck \(highest peak utilisation\): dukcapil \(peak \d\.\d\d, saturated at \d+ s\)/,
    );
  });

  it('json: the Comparison object, as it is', () => {
    expect(JSON.parse(renderComparisonJson(c))).toEqual(JSON.parse(JSON.stringify(c)));
  });
});

describe('gelombang compare', () => {
  class Exited extends Error {
    constructor(readonly code: number) {
      super(`exit ${code}`);
    }
  }

  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });

  /** Runs the command as the CLI would, capturing output and the exit code. */
  async function compare(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
    vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => {
      stderr += `${parts.join(' ')}\n`;
    });
    vi.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Exited(Number(code ?? 0));
    });
    process.exitCode = undefined;
    try {
      await compareCommand().parseAsync(args, { from: 'user' });
      return { code: Number(process.exitCode ?? 0), stdout, stderr };
    } catch (err) {
      if (err instanceof Exited) return { code: err.code, stdout, stderr };
      throw err;
    } finally {
      vi.restoreAllMocks();
      process.exitCode = undefined;
    }
  }

  const root = mkdtempSync(join(tmpdir(), 'gelombang-compare-'));
  const write = (name: string, r: RunRecord) => {
    const dir = join(root, name);
    writeRunRecord(dir, r);
    return dir;
  };
  const baseline = write('baseline', makeRecord({ seed: 1, runId: 'before' }));
  const same = write('same', makeRecord({ seed: 2, runId: 'after-same' }));
  const slower = write('slower', makeRecord({ seed: 2, runId: 'after-slower', latencyFactor: 2 }));
  const saturating = write(
    'saturating',
    makeRecord({ seed: 2, runId: 'after-saturating', dependencies: { dukcapil: 1.2, email: 1.4 } }),
  );

  it('no regression: exit 0, the markdown on stdout, comparison.md and .json in the candidate dir', async () => {
    const r = await compare([baseline, same]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# Comparison: before → after-same\n/);
    expect(r.stdout).toMatch(/\*\*Overall: ≈ no change\*\*/);
    expect(readFileSync(join(same, 'comparison.md'), 'utf8')).toBe(r.stdout);
    const json = JSON.parse(readFileSync(join(same, 'comparison.json'), 'utf8')) as Comparison;
    expect(json.format).toBe('gelombang/comparison');
    expect(json.overall.verdict).toBe('no_change');
    expect(r.stderr).toMatch(/wrote .*comparison\.md/);
  });

  it('a regression: exit 1; --fail-on never: exit 0; --out elsewhere', async () => {
    const out = join(root, 'out');
    expect((await compare([baseline, slower, '--out', out])).code).toBe(1);
    expect(JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')).overall.verdict).toBe('regression');
    expect((await compare([baseline, slower, '--fail-on', 'never'])).code).toBe(0);
  });

  it('--fail-on any-worse: a worse metric that does not gate fails the job too', async () => {
    const gated = await compare([baseline, saturating]);
    expect(gated.stdout).toMatch(/email first saturated at \| never \| \d+ s \| n\/a \| ✗ worse/);
    expect(gated.code).toBe(0);
    expect((await compare([baseline, saturating, '--fail-on', 'any-worse'])).code).toBe(1);
  });

  it('--confidence and --min-effect reach the comparison', async () => {
    const out = join(root, 'options');
    await compare([baseline, same, '--out', out, '--confidence', '0.99', '--min-effect', '0.1']);
    const json = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as Comparison;
    expect(json.options).toMatchObject({ confidence: 0.99, minEffect: 0.1 });
  });

  it('a directory that is not a run record: exit 2, naming the file and the field', async () => {
    const broken = write('broken', makeRecord({ seed: 3 }));
    const manifest = JSON.parse(readFileSync(join(broken, 'run.json'), 'utf8'));
    delete manifest.totals.steps;
    writeFileSync(join(broken, 'run.json'), JSON.stringify(manifest));
    const r = await compare([baseline, broken]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\/run\.json: not a gelombang run record v1: totals\.steps: /);
    expect(r.stdout).toBe('');
    const missing = await compare([join(root, 'nowhere'), same]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nowhere\/run\.json: cannot read the run record \(ENOENT\)/);
  });

  it.each([
    [
      ['--confidence', '95'],
      /--confidence: expected a number between 0 and 1 \(exclusive\), e\.g\. 0\.95, got '95'/,
    ],
    [
      ['--min-effect', '-0.1'],
      /--min-effect: expected a number from 0 up to \(not including\) 1, e\.g\. 0\.05 for 5 %, got '-0\.1'/,
    ],
    [
      ['--fail-on', 'sometimes'],
      /argument 'sometimes' is invalid\. Allowed choices are regression, any-worse, never/,
    ],
    [['--bogus'], /unknown option '--bogus'/],
  ])('a bad flag %j: exit 2 with a precise message', async (flags, message) => {
    const r = await compare([baseline, same, ...flags]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('a missing argument: exit 2', async () => {
    const r = await compare([baseline]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/missing required argument 'candidate-dir'/);
  });
});
