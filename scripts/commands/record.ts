import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { loadCapacity } from '../../mock-services/capacity.ts';
import { CapacityFileError } from '../../model/capacity.ts';
import { REPLAY_DEFAULTS } from '../../model/replay.ts';
import { RunRecordError } from '../../reports/record.ts';
import { writeReport } from '../../reports/write-report.ts';
import { replayOf } from '../rehearsal.ts';
import { importK6Run } from '../series/import-k6.ts';
import { httpUrl, keyValue, numberIn, runIdProblem } from './flags.ts';
import { SCENARIOS } from './rehearse.ts';

/**
 * `gelombang record`: turns a run made with real k6 (its handleSummary JSON plus the Prometheus its
 * remote-write output pushed to) into a run record, so `report` and `compare` read it as they read
 * a rehearsal's. Exit codes: 0 written, 2 bad input (a flag, a file, or no k6 data in Prometheus).
 */

const EXIT_BAD_INPUT = 2;

/** An instant: ISO 8601 (2026-11-23T10:00:00Z) or seconds since the epoch. */
function instant(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() !== '' && Number.isFinite(n) && n > 1e9) return n;
    const t = Date.parse(v);
    if (!Number.isNaN(t) && /^\d{4}-\d{2}-\d{2}T/.test(v)) return t / 1000;
    throw new InvalidArgumentError(
      `${flag}: expected an ISO 8601 time with a zone (2026-11-23T10:00:00Z) or seconds since the epoch, got '${v}'`,
    );
  };
}

interface RecordFlags {
  k6Summary: string;
  prometheus: string;
  start?: number;
  end?: number;
  interval: number;
  select: Record<string, string>;
  scenario: string;
  env: Record<string, string>;
  target: string;
  knob: Record<string, string>;
  capacity?: string;
  k6Version: string;
  exitCode?: number;
  results: string;
  runId?: string;
}

export function recordCommand(): Command {
  return (
    new Command('record')
      .description(
        'make a run record (results/<run-id>) from a real k6 run: its handleSummary JSON and the Prometheus its remote-write output pushed to; then write its report',
      )
      .requiredOption(
        '--k6-summary <file>',
        "k6's --summary-export file, or the JSON handleSummary wrote (its data argument, as is)",
      )
      .requiredOption(
        '--prometheus <url>',
        'the Prometheus k6 pushed to with -o experimental-prometheus-rw',
        httpUrl('--prometheus'),
      )
      .option(
        '--start <time>',
        'when the test started (default: --end minus the summary’s test duration)',
        instant('--start'),
      )
      .option(
        '--end <time>',
        'when the test ended (default: the summary file’s modification time)',
        instant('--end'),
      )
      .option(
        '--interval <seconds>',
        'sampling interval of the time series',
        numberIn('--interval', 0, 3600, true),
        5,
      )
      .option(
        '--select <LABEL=VALUE>',
        "pick this run's k6 series, e.g. testid=wave-3 (repeatable)",
        keyValue('--select'),
        {},
      )
      .option('--scenario <name>', 'the scenario k6 ran', 'registration-day')
      .option(
        '-e, --env <KEY=VALUE>',
        'the -e values k6 was given (SCALE, COMPRESS, WINDOW_FROM, ...)',
        keyValue('--env'),
        {},
      )
      .option('--target <url>', 'the registration service k6 loaded', httpUrl('--target'), 'unknown')
      .option('--knob <KEY=VALUE>', "the service's knobs during the run (repeatable)", keyValue('--knob'), {})
      .option('--capacity <file>', "the mocks' capacity file during the run")
      .option('--k6-version <version>', 'the k6 version (k6 version)', 'unknown')
      .option(
        '--exit-code <n>',
        "k6's exit code (default: 99 if a threshold failed in the summary, else 0)",
        (v) => {
          const n = Number(v);
          if (!Number.isInteger(n) || n < 0 || n > 255)
            throw new InvalidArgumentError(`--exit-code: expected 0..255, got '${v}'`);
          return n;
        },
      )
      .option('--results <dir>', 'where run directories are written', 'results')
      .option('--run-id <id>', 'name of the run directory (default: k6- and the summary file’s name)')
      // A bad flag is bad input (2), like a bad file: 1 is not used.
      .exitOverride((err) => {
        process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_INPUT);
      })
      .action(async (f: RecordFlags) => {
        const fail = (msg: string) => {
          console.error(`error: ${msg}`);
          process.exitCode = EXIT_BAD_INPUT;
        };
        if (!existsSync(f.k6Summary)) return fail(`--k6-summary: no such file '${f.k6Summary}'`);
        if (!(SCENARIOS as readonly string[]).includes(f.scenario) && f.scenario !== 'other')
          return fail(`--scenario: expected one of ${SCENARIOS.join(', ')} or other, got '${f.scenario}'`);
        const runId = f.runId ?? `k6-${basename(f.k6Summary).replace(/\.json$/, '')}`;
        const badRunId = runIdProblem(runId);
        if (badRunId) return fail(badRunId);
        let capacity: unknown = null;
        try {
          if (f.capacity) capacity = loadCapacity(resolve(f.capacity));
        } catch (err) {
          if (err instanceof CapacityFileError) return fail(`--capacity: ${err.message}`);
          throw err;
        }
        const num = (k: string) => (f.env[k] !== undefined ? Number(f.env[k]) : undefined);
        const from = num('WINDOW_FROM');
        const to = num('WINDOW_TO');
        let replay = null;
        try {
          replay =
            f.scenario === 'registration-day'
              ? replayOf({
                  scenario: f.scenario,
                  // what the scenario ran with when k6 was not given them
                  scale: num('SCALE') ?? REPLAY_DEFAULTS.scale,
                  compress: num('COMPRESS') ?? REPLAY_DEFAULTS.compress,
                  profile: f.env.PROFILE,
                  window: from !== undefined && to !== undefined ? [from, to] : undefined,
                })
              : null;
        } catch (err) {
          return fail(`-e: the replay's knobs do not describe a replay (${(err as Error).message})`);
        }
        const runDir = join(resolve(f.results), runId);
        try {
          const { manifest } = await importK6Run({
            summaryFile: resolve(f.k6Summary),
            prometheusUrl: f.prometheus,
            startS: f.start,
            endS: f.end,
            intervalSeconds: f.interval,
            select: f.select,
            scenario: f.scenario,
            env: f.env,
            replay,
            target: f.target,
            knobs: f.knob,
            capacity,
            k6Version: f.k6Version,
            exitCode: f.exitCode,
            runDir,
            runId,
          });
          const { report, files } = await writeReport(runDir);
          console.log(
            `recorded ${manifest.totals.arrivals} arrivals, ${manifest.totals.steps.reduce((a, s) => a + s.requests, 0)} step requests from ${f.prometheus}`,
          );
          console.log(`${report.verdict.held ? 'HELD' : 'BROKE'}: ${report.verdict.headline}`);
          console.log(`run record: ${runDir}`);
          for (const file of files) console.log(`  ${file}`);
        } catch (err) {
          if (err instanceof RunRecordError) return fail(err.message);
          if (err instanceof Error && /^Prometheus/.test(err.message))
            return fail(`--prometheus: ${err.message}`);
          throw err;
        }
      })
  );
}
