import { Command, Option } from 'commander';
import { runTest } from '../../runner/index.ts';
import {
  duration,
  type K6Output,
  k6Output,
  k6Script,
  keyValue,
  outputFile,
  timeUnit,
  trendStats,
  wholeNumberIn,
} from './flags.ts';

/**
 * `gelombang run <script>`: the embedded k6-compatible runner, with k6's flags and exit codes.
 * A bad flag exits 104 (invalid configuration) before anything runs, as k6 does.
 */

export function runCommand(): Command {
  return (
    new Command('run')
      .description('run a k6 script (TypeScript or JavaScript) on the embedded k6-compatible runner')
      .argument('<script>', 'scenario .ts or bundled .js', k6Script('script'))
      .option('-u, --vus <n>', 'number of VUs (overrides the script)', wholeNumberIn('--vus', 1))
      .option(
        '-d, --duration <duration>',
        'test duration, e.g. 30s, 1m30s (overrides the script)',
        duration('--duration'),
      )
      .option(
        '-i, --iterations <n>',
        'total iterations shared by the VUs (overrides the script)',
        wholeNumberIn('--iterations', 1),
      )
      .option(
        '-e, --env <KEY=VALUE>',
        'add an environment variable for the script (repeatable)',
        keyValue('--env', 'k6-env'),
        {},
      )
      .option(
        '--tag <KEY=VALUE>',
        'add a tag to every sample (repeatable), e.g. testid=rehearsal-1',
        keyValue('--tag', 'k6-tag'),
        {},
      )
      .option(
        '--summary-export <file>',
        "write k6's legacy JSON summary to a file",
        outputFile('--summary-export'),
      )
      .option(
        '-o, --out <output>',
        'json=FILE (every sample) or prometheus[=HOST:PORT] (live /metrics)',
        k6Output('--out'),
        [],
      )
      .option(
        '--summary-trend-stats <stats>',
        'the trend stats of the summary, e.g. avg,med,p(99) (overrides the script)',
        trendStats('--summary-trend-stats'),
      )
      .option(
        '--summary-time-unit <unit>',
        'every time of the summary in s, ms or us (overrides the script)',
        timeUnit('--summary-time-unit'),
      )
      .option('-q, --quiet', 'no progress (as k6, the summary still prints: --no-summary drops it)')
      .option('--no-thresholds', 'do not evaluate thresholds')
      .option('--no-summary', 'do not print the end-of-test summary')
      .addOption(
        new Option(
          '--workers <n>',
          'worker threads for the VUs (default: one fewer than the cores, at most 4)',
        ).argParser(wholeNumberIn('--workers', 1, 64)),
      )
      .addOption(new Option('--progress <mode>', 'progress display').choices(['tty', 'plain', 'none']))
      .option('--allow-remote-target', 'confirm that requests may go to hosts other than loopback')
      // k6 exits 104 on a bad flag; help and version are not errors.
      .exitOverride((err) => {
        process.exit(err.exitCode === 0 ? 0 : 104);
      })
      .configureOutput({
        outputError: (str, write) => write(str),
      })
      .action(async (file: string, o) => {
        const outs = o.out as K6Output[];
        const json = outs.flatMap((x) => ('json' in x ? [x.json] : []));
        const prometheus = outs.flatMap((x) => ('prometheus' in x ? [x.prometheus] : []));
        if (json.length > 1 || prometheus.length > 1) {
          console.error("error: option '-o, --out <output>': one json=FILE and one prometheus at most");
          process.exitCode = 104;
          return;
        }
        const result = await runTest({
          script: file,
          env: o.env,
          tags: o.tag,
          vus: o.vus,
          duration: o.duration,
          iterations: o.iterations,
          summaryTrendStats: o.summaryTrendStats,
          summaryTimeUnit: o.summaryTimeUnit,
          workers: o.workers,
          summaryExport: o.summaryExport,
          outJson: json[0],
          prometheus: prometheus[0],
          noThresholds: o.thresholds === false,
          noSummary: o.summary === false,
          progress: o.quiet ? 'none' : o.progress,
          allowRemoteTargets: o.allowRemoteTarget,
        });
        if (result.error) console.error(`${result.exitCode === 0 ? 'note' : 'error'}: ${result.error}`);
        const failed = result.thresholds.filter((t) => !t.ok);
        if (failed.length)
          console.error(
            `thresholds failed: ${failed.map((t) => `${t.threshold.key} ${t.threshold.source}`).join('; ')}`,
          );
        process.exitCode = result.exitCode;
      })
  );
}
