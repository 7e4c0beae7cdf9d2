import { existsSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { loadCapacity } from '../../mock-services/capacity.ts';
import { CapacityFileError } from '../../model/capacity.ts';
import { REPLAY_DEFAULTS } from '../../model/replay.ts';
import { RunRecordError } from '../../reports/record.ts';
import { writeReport } from '../../reports/write-report.ts';
import { replayOf, replayProblem } from '../rehearsal.ts';
import { type SimilarRun, similarRun } from '../rehearsal-similitude.ts';
import { importK6Run, readSummary } from '../series/import-k6.ts';
import {
  existingFile,
  httpUrl,
  instant,
  keyValue,
  knobsProblem,
  nonEmpty,
  numberIn,
  outputDir,
  runIdProblem,
  wholeNumberIn,
} from './flags.ts';
import { SCENARIOS } from './rehearse.ts';

/**
 * `gelombang record`: turns a run made with real k6 (its handleSummary JSON plus the Prometheus its
 * remote-write output pushed to) into a run record, so `report` and `compare` read it as they read
 * a rehearsal's. Exit codes: 0 written, 2 bad input (a flag, a file, or no k6 data in Prometheus).
 */

const EXIT_BAD_INPUT = 2;

interface RecordFlags {
  k6Summary?: string;
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
  scaled?: boolean;
  k6Version: string;
  exitCode?: number;
  results: string;
  runId?: string;
}

const REPLAY_NAMES = {
  profile: '-e PROFILE',
  scale: '-e SCALE',
  compress: '-e COMPRESS',
  window: '-e WINDOW_FROM/WINDOW_TO',
};

/**
 * The replay k6 made, from its -e values and the scenario's defaults for those it was not given,
 * checked as a rehearsal checks its own; null for a scenario that replays no profile, or the
 * message naming the -e value that is wrong.
 */
function replayFromEnv(f: RecordFlags): Parameters<typeof replayOf>[0] | null | string {
  if (f.scenario !== 'registration-day') return null;
  for (const k of ['SCALE', 'COMPRESS', 'WINDOW_FROM', 'WINDOW_TO']) {
    const v = f.env[k];
    if (v !== undefined && (v.trim() === '' || !Number.isFinite(Number(v))))
      return `-e ${k}: expected a number, got '${v}'`;
  }
  const num = (k: string) => (f.env[k] === undefined ? undefined : Number(f.env[k]));
  const profile = f.env.PROFILE;
  if (profile !== undefined && !existsSync(profile))
    return `-e PROFILE: no such file '${profile}' here (give the profile's path from this directory)`;
  const [from, to] = [num('WINDOW_FROM'), num('WINDOW_TO')];
  const inputs = {
    scenario: f.scenario,
    // what the scenario ran with when k6 was not given them
    scale: num('SCALE') ?? REPLAY_DEFAULTS.scale,
    compress: num('COMPRESS') ?? REPLAY_DEFAULTS.compress,
    profile,
    window:
      from === undefined && to === undefined
        ? undefined
        : ([from ?? 0, to ?? Number.POSITIVE_INFINITY] as [number, number]),
  };
  return replayProblem(inputs, REPLAY_NAMES) ?? inputs;
}

export function recordCommand(): Command {
  return (
    new Command('record')
      .description(
        'make a run record (results/<run-id>) from a real k6 run: its handleSummary JSON and the Prometheus its remote-write output pushed to; then write its report',
      )
      .option(
        '--k6-summary <file>',
        "k6's --summary-export file, or the JSON handleSummary wrote (its data argument, as is); without it (a distributed run), give --start and --end",
        existingFile('--k6-summary'),
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
        keyValue('--select', 'env'),
        {},
      )
      .addOption(
        new Option('--scenario <name>', 'the scenario k6 ran')
          .choices([...SCENARIOS, 'other'])
          .default('registration-day'),
      )
      .option(
        '-e, --env <KEY=VALUE>',
        'the -e values k6 was given (SCALE, COMPRESS, WINDOW_FROM, ...)',
        keyValue('--env', 'env'),
        {},
      )
      .option('--target <url>', 'the registration service k6 loaded', httpUrl('--target'), 'unknown')
      .option(
        '--knob <KEY=VALUE>',
        "the registration service's knobs during the run (repeatable)",
        keyValue('--knob', 'env'),
        {},
      )
      .option('--capacity <file>', "the mocks' capacity file during the run", existingFile('--capacity'))
      .option(
        '--scaled',
        "the stack scaled --capacity (at full size; default mock-services/capacity.2020.json) by the replay's -e SCALE x -e COMPRESS, as gelombang stack --scale --compress does: record the stations the mocks enforced and what they stood for; give the stack's own --knob flags",
      )
      .option('--k6-version <version>', 'the k6 version (k6 version)', nonEmpty('--k6-version'), 'unknown')
      .option(
        '--exit-code <n>',
        "k6's exit code (default: 99 if a threshold failed in the summary, else 0)",
        wholeNumberIn('--exit-code', 0, 255),
      )
      .option('--results <dir>', 'where run directories are written', outputDir('--results'), 'results')
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
        if (f.start !== undefined && f.end !== undefined && f.start >= f.end)
          return fail(
            `--start: expected a time before --end, got ${new Date(f.start * 1000).toISOString()}, after ${new Date(f.end * 1000).toISOString()}`,
          );
        if (!f.k6Summary && (f.start === undefined || f.end === undefined))
          return fail(
            "--k6-summary: give the summary, or both --start and --end (a distributed run, whose pods each have only their own segment's summary)",
          );
        const runId =
          f.runId ??
          (f.k6Summary
            ? `k6-${basename(f.k6Summary).replace(/\.json$/, '')}`
            : `k6-${Object.values(f.select).join('-') || 'run'}`);
        const badRunId = runIdProblem(runId);
        if (badRunId) return fail(badRunId);
        const existing = join(resolve(f.results), runId);
        if (existsSync(existing) && readdirSync(existing).length > 0)
          return fail(`--run-id: ${existing} already holds a run; choose another --run-id`);
        const badKnob = knobsProblem(f.knob, '--knob');
        if (badKnob) return fail(badKnob);
        const replayInputs = replayFromEnv(f);
        if (typeof replayInputs === 'string') return fail(replayInputs);
        let capacity: unknown = null;
        let similar: SimilarRun | undefined;
        try {
          if (f.scaled) {
            // The same rule as the stack's, from the same inputs: what the mocks enforced.
            const s = similarRun({
              scenario: f.scenario,
              scale: replayInputs?.scale ?? REPLAY_DEFAULTS.scale,
              compress: replayInputs?.compress ?? REPLAY_DEFAULTS.compress,
              env: f.env,
              flags: { scale: '-e SCALE', compress: '-e COMPRESS', asIs: 'leave out --scaled' },
              capacityFile: f.capacity,
              knobs: f.knob,
            });
            if ('problem' in s) return fail(`--scaled: ${s.problem}`);
            if (!s.similitude.scaled) return fail(`--scaled: ${s.similitude.notes[0]}`);
            similar = s;
            capacity = s.run.capacity;
          } else if (f.capacity) capacity = loadCapacity(resolve(f.capacity));
          if (f.k6Summary) readSummary(f.k6Summary);
        } catch (err) {
          if (err instanceof CapacityFileError) return fail(`--capacity: ${err.message}`);
          if (err instanceof RunRecordError) return fail(err.message);
          throw err;
        }
        const replay = replayInputs ? replayOf(replayInputs) : null;
        const runDir = existing;
        try {
          const { manifest } = await importK6Run({
            ...(f.k6Summary ? { summaryFile: resolve(f.k6Summary) } : {}),
            prometheusUrl: f.prometheus,
            startS: f.start,
            endS: f.end,
            intervalSeconds: f.interval,
            select: f.select,
            scenario: f.scenario,
            env: f.env,
            replay,
            target: f.target,
            knobs: similar?.knobs ?? f.knob,
            capacity,
            ...(similar ? { similitude: similar.similitude } : {}),
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
