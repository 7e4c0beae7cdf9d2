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
    expect(r.stderr).toMatch(/missing required argument 'candidate-dir'/);
  });
});
