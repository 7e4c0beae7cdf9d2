import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_PORTS, LOOPBACK } from '../../mock-services/ports.ts';
import { runTest } from '../../runner/index.ts';
import { DurationError, parseDuration } from '../../runner/options/duration.ts';

/**
 * `gelombang run <script>`: the embedded k6-compatible runner, with k6's flags and exit codes.
 * A bad flag exits 104 (invalid configuration) before anything runs, as k6 does.
 */

class FlagError extends InvalidArgumentError {}

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1)
      throw new FlagError(`${name}: expected a whole number >= 1, got '${v}'`);
    return n;
  };
}

function duration(v: string): string {
  try {
    parseDuration(v, '--duration');
  } catch (err) {
    if (err instanceof DurationError) throw new FlagError(err.message);
    throw err;
  }
  return v;
}

function keyValue(v: string, previous: Record<string, string>): Record<string, string> {
  const i = v.indexOf('=');
  if (i <= 0) throw new FlagError(`expected KEY=VALUE, got '${v}'`);
  return { ...previous, [v.slice(0, i)]: v.slice(i + 1) };
}

function output(v: string, previous: string[]): string[] {
  if (!/^(json=.+|prometheus(=.+)?)$/.test(v))
    throw new FlagError(`--out: expected json=FILE or prometheus[=HOST:PORT], got '${v}'`);
  return [...previous, v];
}

export function runCommand(): Command {
  return (
    new Command('run')
      .description('run a k6 script (TypeScript or JavaScript) on the embedded k6-compatible runner')
      .argument('<script>', 'scenario .ts or bundled .js')
      .option('-u, --vus <n>', 'number of VUs (overrides the script)', positiveInt('--vus'))
      .option('-d, --duration <duration>', 'test duration, e.g. 30s, 1m30s (overrides the script)', duration)
      .option(
        '-i, --iterations <n>',
        'total iterations shared by the VUs (overrides the script)',
        positiveInt('--iterations'),
      )
      .option(
        '-e, --env <KEY=VALUE>',
        'add an environment variable for the script (repeatable)',
        keyValue,
        {},
      )
      .option(
        '--tag <KEY=VALUE>',
        'add a tag to every sample (repeatable), e.g. testid=rehearsal-1',
        keyValue,
        {},
      )
      .option('--summary-export <file>', "write k6's legacy JSON summary to a file")
      .option(
        '-o, --out <output>',
        'json=FILE (every sample) or prometheus[=HOST:PORT] (live /metrics)',
        output,
        [],
      )
      .option('-q, --quiet', 'no progress and no summary')
      .option('--no-thresholds', 'do not evaluate thresholds')
      .option('--no-summary', 'do not print the end-of-test summary')
      .addOption(
        new Option(
          '--workers <n>',
          'worker threads for the VUs (default: one fewer than the cores, at most 4)',
        ).argParser(positiveInt('--workers')),
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
      .action(async (script: string, o) => {
        const outs = o.out as string[];
        const json = outs.find((x) => x.startsWith('json='))?.slice(5);
        const prom = outs.find((x) => x.startsWith('prometheus'));
        let prometheus: { host: string; port: number } | undefined;
        if (prom) {
          const addr = prom.includes('=')
            ? prom.slice(prom.indexOf('=') + 1)
            : `${LOOPBACK}:${DEFAULT_PORTS.runnerMetrics}`;
          const i = addr.lastIndexOf(':');
          const port = Number(addr.slice(i + 1));
          if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
            console.error(`--out prometheus: expected HOST:PORT, got '${addr}'`);
            process.exit(104);
          }
          prometheus = { host: addr.slice(0, i), port };
        }
        const result = await runTest({
          script,
          env: o.env,
          tags: o.tag,
          vus: o.vus,
          duration: o.duration,
          iterations: o.iterations,
          workers: o.workers,
          summaryExport: o.summaryExport,
          outJson: json,
          prometheus,
          quiet: o.quiet,
          noThresholds: o.thresholds === false,
          noSummary: o.summary === false,
          progress: o.progress,
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
