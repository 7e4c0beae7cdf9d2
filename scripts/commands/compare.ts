import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { type Comparison, compareRuns } from '../../reports/compare/index.ts';
import { renderComparisonJson, renderComparisonMarkdown } from '../../reports/compare/render.ts';
import type { RunRecord } from '../../reports/record.ts';
import { outputDir, share } from './flags.ts';
import { readCheckedRecord } from './run-record.ts';

/**
 * `gelombang compare <baseline-dir> <candidate-dir>`: before/after comparison of two rehearsal
 * runs. Exit codes for a CI job: 0 no regression, 1 regression (per --fail-on), 2 bad input (a
 * flag, or a directory that is not a run record), 3 the runs are not comparable (different
 * scenarios, replays or engines: reports/compare/comparability.ts), unless --fail-on never. Bad
 * flags exit 2, not commander's 1, so that 1 always means "the candidate is worse".
 */

const EXIT_OK = 0;
const EXIT_REGRESSION = 1;
const EXIT_BAD_INPUT = 2;
const EXIT_NOT_COMPARABLE = 3;

type FailOn = 'regression' | 'any-worse' | 'never';

function exitCodeFor(c: Comparison, failOn: FailOn): number {
  // A verdict over runs that did not face the same load says nothing, whatever it is.
  if (!c.comparable && failOn !== 'never') return EXIT_NOT_COMPARABLE;
  if (failOn === 'regression') return c.overall.verdict === 'regression' ? EXIT_REGRESSION : EXIT_OK;
  if (failOn === 'any-worse') return c.overall.worse.length ? EXIT_REGRESSION : EXIT_OK;
  return EXIT_OK;
}

/** Both records, or the message naming the file and the field that is wrong. */
function readBoth(baselineDir: string, candidateDir: string): [RunRecord, RunRecord] | string {
  const baseline = readCheckedRecord(baselineDir);
  if (typeof baseline === 'string') return baseline;
  const candidate = readCheckedRecord(candidateDir);
  if (typeof candidate === 'string') return candidate;
  return [baseline, candidate];
}

function writeOutputs(out: string, c: Comparison, markdown: string): string | null {
  try {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'comparison.md'), markdown);
    writeFileSync(join(out, 'comparison.json'), renderComparisonJson(c));
    return null;
  } catch (err) {
    return `--out ${out}: cannot write the comparison (${(err as NodeJS.ErrnoException).code ?? err})`;
  }
}

interface Flags {
  out?: string;
  confidence: number;
  minEffect: number;
  failOn: FailOn;
}

export function compareCommand(): Command {
  return new Command('compare')
    .description(
      'compare two rehearsal runs (before/after a change): verdicts that account for run-to-run noise',
    )
    .argument('<baseline-dir>', 'run record of the run before the change (results/<run-id>)')
    .argument('<candidate-dir>', 'run record of the run after the change')
    .option(
      '--out <dir>',
      'where to write comparison.md and comparison.json (default: the candidate dir)',
      outputDir('--out'),
    )
    .option(
      '--confidence <level>',
      'confidence of the verdicts, over all metrics together',
      share('--confidence', { exclusiveLow: true, example: '0.95' }),
      0.95,
    )
    .option(
      '--min-effect <share>',
      'smallest relative change called better or worse',
      share('--min-effect', { exclusiveLow: false, example: '0.05 for 5 %' }),
      0.05,
    )
    .addOption(
      new Option('--fail-on <when>', 'exit 1 on a gating regression, on any worse metric, or never')
        .choices(['regression', 'any-worse', 'never'])
        .default('regression'),
    )
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT);
    })
    .configureOutput({ outputError: (str, write) => write(str) })
    .action((baselineDir: string, candidateDir: string, o: Flags) => {
      const records = readBoth(baselineDir, candidateDir);
      if (typeof records === 'string') {
        console.error(`error: ${records}`);
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      const comparison = compareRuns(records[0], records[1], {
        confidence: o.confidence,
        minEffect: o.minEffect,
      });
      const markdown = renderComparisonMarkdown(comparison);
      const out = o.out ?? candidateDir;
      const failed = writeOutputs(out, comparison, markdown);
      process.stdout.write(markdown);
      if (failed) {
        console.error(`error: ${failed}`);
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      console.error(`wrote ${join(out, 'comparison.md')} and ${join(out, 'comparison.json')}`);
      if (!comparison.comparable) {
        const why = comparison.warnings.filter((w) => w.startsWith('not comparable: '));
        console.error(
          `${o.failOn === 'never' ? 'warning' : 'error'}: the runs are not comparable, so the verdict above says nothing about the change: ${why.map((w) => w.replace(/^not comparable: /, '')).join('; ')}`,
        );
      }
      process.exitCode = exitCodeFor(comparison, o.failOn);
    });
}
