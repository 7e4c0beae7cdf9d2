import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { type Comparison, compareRuns } from '../../reports/compare/index.ts';
import { renderComparisonJson, renderComparisonMarkdown } from '../../reports/compare/render.ts';
import { compareReplicates, MIN_RUNS } from '../../reports/compare/replicates.ts';
import type { RunRecord } from '../../reports/record.ts';
import { outputDir, share } from './flags.ts';
import { readCheckedRecord } from './run-record.ts';

/**
 * `gelombang compare <baseline-dir> <candidate-dir>`: before/after comparison of two rehearsal
 * runs; `--baseline <dirs...> --candidate <dirs...>`: of repeated rehearsals, each side's runs
 * (reports/compare/replicates.ts). Exit codes for a CI job: 0 no regression, 1 regression (per
 * --fail-on), 2 bad input (a flag, or a directory that is not a run record), 3 the runs are not
 * comparable (different scenarios, replays or engines: reports/compare/comparability.ts), unless
 * --fail-on never. Bad flags exit 2, not commander's 1, so that 1 always means "the candidate is
 * worse".
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

/** Every record, or the message naming the file and the field that is wrong. */
function readAll(dirs: readonly string[]): RunRecord[] | string {
  const records: RunRecord[] = [];
  for (const dir of dirs) {
    const r = readCheckedRecord(dir);
    if (typeof r === 'string') return r;
    records.push(r);
  }
  return records;
}

/** The two sides from the arguments: two directories, or --baseline and --candidate, not both. */
function sidesOf(
  positional: readonly string[],
  o: Flags,
): { baseline: string[]; candidate: string[] } | string {
  const given = o.baseline !== undefined || o.candidate !== undefined;
  if (given && positional.length)
    return `give either <baseline-dir> <candidate-dir> or --baseline and --candidate, not both (got ${positional.length} director${positional.length > 1 ? 'ies' : 'y'} and the options)`;
  if (given) {
    if (!o.baseline?.length) return '--baseline: expected one or more run directories';
    if (!o.candidate?.length) return '--candidate: expected one or more run directories';
    const one = o.baseline.length === 1 && o.candidate.length === 1;
    for (const [flag, dirs] of [
      ['--baseline', o.baseline],
      ['--candidate', o.candidate],
    ] as const) {
      if (!one && dirs.length < MIN_RUNS)
        return `${flag}: ${dirs.length} run; a comparison over repeats needs at least ${MIN_RUNS} a side (3 or more to tell a change from the spread between runs)`;
      const twice = dirs.find((d, i) => dirs.indexOf(d) !== i);
      if (twice) return `${flag}: ${twice} given twice; each run counts once`;
    }
    const both = o.baseline.find((d) => o.candidate?.includes(d));
    if (both) return `${both} is in both --baseline and --candidate`;
    return { baseline: o.baseline, candidate: o.candidate };
  }
  if (positional.length !== 2)
    return `expected two run directories, <baseline-dir> <candidate-dir> (got ${positional.length}); repeated runs go in --baseline and --candidate`;
  return { baseline: [positional[0] as string], candidate: [positional[1] as string] };
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
  baseline?: string[];
  candidate?: string[];
  out?: string;
  confidence: number;
  minEffect: number;
  failOn: FailOn;
}

export function compareCommand(): Command {
  return new Command('compare')
    .description(
      'compare rehearsals before and after a change, one run a side or repeated runs: verdicts that account for run-to-run noise',
    )
    .argument('[baseline-dir]', 'run record of the run before the change (results/<run-id>)')
    .argument('[candidate-dir]', 'run record of the run after the change')
    .option(
      '--baseline <dirs...>',
      `repeated runs before the change (at least ${MIN_RUNS}; with --candidate, instead of the two directories)`,
    )
    .option('--candidate <dirs...>', 'repeated runs after the change')
    .option(
      '--out <dir>',
      'where to write comparison.md and comparison.json (default: the (first) candidate dir)',
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
    .action((baselineDir: string | undefined, candidateDir: string | undefined, o: Flags) => {
      const sides = sidesOf(
        [baselineDir, candidateDir].filter((d) => d !== undefined),
        o,
      );
      if (typeof sides === 'string') {
        console.error(`error: ${sides}`);
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      const records = readAll([...sides.baseline, ...sides.candidate]);
      if (typeof records === 'string') {
        console.error(`error: ${records}`);
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      const baseline = records.slice(0, sides.baseline.length);
      const candidate = records.slice(sides.baseline.length);
      const options = { confidence: o.confidence, minEffect: o.minEffect };
      const comparison =
        baseline.length === 1 && candidate.length === 1
          ? compareRuns(baseline[0] as RunRecord, candidate[0] as RunRecord, options)
          : compareReplicates(baseline, candidate, options);
      const markdown = renderComparisonMarkdown(comparison);
      const out = o.out ?? (sides.candidate[0] as string);
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
