import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Comparison } from '../../reports/compare/types.ts';
import { makeRecord } from '../../reports/fixtures/make-record.ts';
import { type RunRecord, writeRunRecord } from '../../reports/record.ts';
import { compareCommand } from './compare.ts';

/** `gelombang compare` as a CI job calls it: exit codes, files written, precise messages. */

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

  it('runs of different scenarios: not comparable, with the reason, exit 3 unless --fail-on never', async () => {
    const other = write('other-scenario', makeRecord({ seed: 2, runId: 'spike', scenario: 'opening-spike' }));
    const r = await compare([baseline, other]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /error: the runs are not comparable, so the verdict above says nothing about the change: scenario differs \(baseline registration-day, candidate opening-spike\)/,
    );
    const never = await compare([baseline, other, '--fail-on', 'never']);
    expect(never.code).toBe(0);
    expect(never.stderr).toMatch(/^warning: the runs are not comparable/m);
  });

  it('a timeseries.json whose series and intervals disagree: exit 2, naming the file and the field', async () => {
    const torn = write('torn', makeRecord({ seed: 4, runId: 'torn' }));
    const ts = JSON.parse(readFileSync(join(torn, 'timeseries.json'), 'utf8'));
    ts.t = ts.t.slice(0, 10);
    writeFileSync(join(torn, 'timeseries.json'), JSON.stringify(ts));
    const r = await compare([baseline, torn]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /torn\/timeseries\.json: series\.0\.values \(arrivals\): expected one value per interval \(10, as t has\), got \d+/,
    );
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
    expect(r.stderr).toMatch(
      /expected two run directories, <baseline-dir> <candidate-dir> \(got 1\); repeated runs go in --baseline and --candidate/,
    );
  });

  describe('over repeated runs (--baseline, --candidate)', () => {
    // Each run's latency level drawn around its side's: the spread between rehearsals of one build.
    const level = [0.97, 1.04, 1.0, 0.95];
    const side = (name: string, seed: number, factor: number) =>
      level.map((l, i) =>
        write(
          `${name}-${i}`,
          makeRecord({ seed: seed + i, runId: `${name}-${i}`, latencyFactor: factor * l }),
        ),
      );
    const before = side('rep-before', 20, 1);
    const unchanged = side('rep-unchanged', 30, 1);
    const slowerRuns = side('rep-slower', 40, 1.5);

    it('runs of one build against another set of its runs: no change, exit 0', async () => {
      const r = await compare(['--baseline', ...before, '--candidate', ...unchanged]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^# Comparison: 4 runs → 4 runs\n/);
      expect(r.stdout).toMatch(/\*\*Overall: ≈ no change\*\*/);
      expect(r.stdout).toMatch(/Welch's t over 4\+4 runs, log scale/);
      const json = JSON.parse(
        readFileSync(join(unchanged[0] as string, 'comparison.json'), 'utf8'),
      ) as Comparison;
      expect(json.replicates?.baseline.map((x) => x.runId)).toEqual([
        'rep-before-0',
        'rep-before-1',
        'rep-before-2',
        'rep-before-3',
      ]);
      expect(json.replicates?.candidate).toHaveLength(4);
    });

    it("runs whose level moves threefold, as at the knee: the spread is the runs', no change", async () => {
      const wide = [0.6, 1.5, 0.8, 1.3];
      const knee = (name: string, seed: number, order: number[]) =>
        order.map((k, i) =>
          write(
            `${name}-${i}`,
            makeRecord({ seed: seed + i, runId: `${name}-${i}`, latencyFactor: wide[k] }),
          ),
        );
      const a = knee('knee-a', 50, [0, 1, 2, 3]);
      const b = knee('knee-b', 60, [3, 0, 1, 2]);
      const r = await compare(['--baseline', ...a, '--candidate', ...b]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/\*\*Overall: ≈ no change\*\*/);
    });

    it('every latency 1.5 times: a regression over the runs, exit 1, the p95s worse', async () => {
      const r = await compare([
        '--baseline',
        ...before,
        '--candidate',
        ...slowerRuns,
        '--out',
        join(root, 'rep-out'),
      ]);
      expect(r.code).toBe(1);
      const json = JSON.parse(readFileSync(join(root, 'rep-out', 'comparison.json'), 'utf8')) as Comparison;
      expect(json.overall.verdict).toBe('regression');
      const p95 = json.metrics.filter((m) => m.kind === 'latency_p95');
      expect(p95.length).toBeGreaterThan(0);
      expect(p95.every((m) => m.verdict === 'worse' && m.test?.method === 'welch_t')).toBe(true);
    });

    it.each([
      [
        () => [baseline, same, '--baseline', before[0], before[1]],
        /give either <baseline-dir> <candidate-dir> or --baseline and --candidate, not both/,
      ],
      [() => ['--baseline', ...before], /--candidate: expected one or more run directories/],
      [
        () => ['--baseline', before[0], '--candidate', ...unchanged],
        /--baseline: 1 run; a comparison over repeats needs at least 2 a side/,
      ],
      [
        () => ['--baseline', before[0], before[0], '--candidate', ...unchanged],
        /--baseline: .*rep-before-0 given twice/,
      ],
      [
        () => ['--baseline', ...before, '--candidate', before[3], unchanged[0]],
        /rep-before-3 is in both --baseline and --candidate/,
      ],
      [
        () => ['--baseline', ...before, '--candidate', join(root, 'nowhere'), unchanged[0]],
        /nowhere\/run\.json: cannot read the run record \(ENOENT\)/,
      ],
    ])('bad sides %#: exit 2 with a precise message, nothing written', async (args, message) => {
      const r = await compare(args() as string[]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    });
  });
});
