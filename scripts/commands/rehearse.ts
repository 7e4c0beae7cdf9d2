import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { type Capacity, CapacityFileError } from '../../model/capacity.ts';
import type { FaultEntry } from '../../model/faults.ts';
import { parseProfileCsv } from '../../model/profile.ts';
import { replay } from '../../model/replay.ts';
import { serviceProfileKnobs } from '../../model/service-design.ts';
import { bottleneckLine } from '../../reports/bottleneck.ts';
import { EXIT } from '../../runner/index.ts';
import { loadFaults } from '../faults.ts';
import { findK6, K6_HOWTO, k6Version } from '../k6-engine.ts';
import { fromRoot } from '../paths.ts';
import { replayOf, replayProblem, runRehearsal } from '../rehearsal.ts';
import { DEFAULT_REHEARSAL_CAPACITY, RATE_SCENARIOS, runCapacity, runRate } from '../rehearsal-similitude.ts';
import { findPrometheus, PROMETHEUS_PACKAGE } from '../series/prometheus.ts';
import { StackStartError } from '../stack.ts';
import {
  chaosOption,
  existingFile,
  httpUrl,
  jsonOutput,
  keyValue,
  knobsProblem,
  numberIn,
  outputDir,
  profileWindow,
  REHEARSAL_DEFAULTS,
  runIdProblem,
  serviceProfileOption,
  wholeNumberIn,
} from './flags.ts';

/**
 * `gelombang rehearse`: the main job. Starts the stack on loopback (or uses --target), replays a
 * scenario, records the run in results/<run-id>/, writes the funnel report and prints the verdict,
 * the bottleneck and where the report is. Stops what it started, also on Ctrl-C or failure.
 * Bad input (a flag, a file, a knob, a scenario knob the scenario refuses) exits 104, k6's
 * invalid configuration, before anything starts; the rest of the exit codes are k6's.
 */

export const SCENARIOS = [
  'registration-day',
  'opening-spike',
  'soak',
  'breakpoint',
  'wave-opening',
  'smoke',
] as const;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

export interface RehearseFlags {
  scenario: (typeof SCENARIOS)[number];
  scale: number;
  compress: number;
  window?: [number, number];
  profile?: string;
  serviceProfile: string;
  knob: Record<string, string>;
  capacity?: string;
  absoluteCapacity?: boolean;
  target?: string;
  emailUrl?: string;
  allowRemoteTarget?: boolean;
  results: string;
  runId?: string;
  env: Record<string, string>;
  workers?: number;
  interval: number;
  strict?: boolean;
  quiet?: boolean;
  fullScale: boolean;
  fullScaleCores?: number;
  prometheus?: boolean;
  engine: 'embedded' | 'k6';
  k6?: string;
  faults?: string;
  chaos: string[];
  out?: string;
}

/**
 * What is wrong with the flags taken together, or undefined: checked before anything starts,
 * with the flag named. A flag that would change nothing (the replay's with a scenario that
 * replays no profile, the stack's with --target) is refused rather than recorded as if it had.
 */
function inputProblem(f: RehearseFlags, given: (flag: string) => boolean): string | undefined {
  const badRunId = f.runId === undefined ? undefined : runIdProblem(f.runId);
  if (badRunId) return badRunId;
  if (f.runId !== undefined) {
    const dir = join(resolve(f.results), f.runId);
    if (existsSync(dir) && readdirSync(dir).length > 0)
      return `--run-id: ${dir} already holds a run; choose another --run-id`;
  }
  if (f.scenario !== 'registration-day')
    for (const flag of ['scale', 'compress', 'window', 'profile', 'faults', 'chaos'])
      if (given(flag)) return `--${flag}: only registration-day replays a profile, not ${f.scenario}`;
  if (f.target) {
    for (const [flag, name] of [
      ['knob', '--knob'],
      ['capacity', '--capacity'],
      ['absoluteCapacity', '--absolute-capacity'],
      ['serviceProfile', '--service-profile'],
      ['faults', '--faults'],
      ['chaos', '--chaos'],
    ] as const)
      if (given(flag))
        return `${name}: the service behind --target is not started here, so ${name} would not apply to it`;
  } else {
    if (f.emailUrl) return '--email-url: only with --target (the stack started here has its own)';
    const knobs = knobsProblem({ ...serviceProfileKnobs(f.serviceProfile), ...f.knob }, '--knob');
    if (knobs) return knobs;
    const rate = runRate(f);
    if ('problem' in rate) return rate.problem;
    if (given('absoluteCapacity') && !RATE_SCENARIOS.includes(f.scenario))
      return `--absolute-capacity: the ${f.scenario} scenario's capacities are not scaled (it brings no arrival rate tied to the day): the capacity file is enforced as it is already`;
  }
  return replayProblem(
    { scenario: f.scenario, profile: f.profile, scale: f.scale, compress: f.compress, window: f.window },
    { profile: '--profile', scale: '--scale', compress: '--compress', window: '--window' },
  );
}

/** The planned peak, for the confirmation a remote target needs. */
function plannedPeak(f: RehearseFlags): string {
  if (f.scenario !== 'registration-day') return `scenario ${f.scenario} (see its knobs for the rate)`;
  const file = f.profile ?? fromRoot('scenarios/profiles/registration-day-2020.csv');
  const p = parseProfileCsv(readFileSync(file, 'utf8'), file);
  const r = replay(p, {
    scale: f.scale,
    compress: f.compress,
    ...(f.window ? { window: { fromMinute: f.window[0], toMinute: f.window[1] } } : {}),
  });
  return `up to ${r.peakPerSecond.toFixed(1)} new registrants per second (each makes up to ~10 requests), ${Math.round(r.total)} in all over ${r.durationSeconds.toFixed(0)} s`;
}

export function rehearseCommand(): Command {
  return (
    new Command('rehearse')
      .description(
        'rehearse a registration wave: start the stack on loopback, replay the scenario, record the run and write the funnel report',
      )
      .addOption(
        new Option('--scenario <name>', 'which scenario').choices(SCENARIOS).default('registration-day'),
      )
      .option(
        '--scale <share>',
        'share of the 2020 population replayed, in (0, 1]',
        numberIn('--scale', 0, 1, true),
        REHEARSAL_DEFAULTS.scale,
      )
      .option(
        '--compress <factor>',
        'time compression: 90 replays 21 hours in 14 minutes',
        numberIn('--compress', 1, 1e6),
        REHEARSAL_DEFAULTS.compress,
      )
      .option(
        '--window <from-to>',
        'replay only these profile minutes, e.g. 0-120',
        profileWindow('--window'),
      )
      .option(
        '--profile <csv>',
        'arrivals per minute (or second) replacing the 2020 profile',
        existingFile('--profile'),
      )
      .addOption(serviceProfileOption())
      .option(
        '--knob <KEY=VALUE>',
        'a registration service knob over the profile, e.g. SCRYPT_N=16384 (repeatable)',
        keyValue('--knob', 'env'),
        {},
      )
      .option(
        '--capacity <file>',
        "the dependencies' capacities at full size, scaled by the run's share of the day's arrival rate before the mocks get them (default mock-services/capacity.2020.json)",
        existingFile('--capacity'),
      )
      .option(
        '--absolute-capacity',
        'enforce the --capacity file as it is, instead of scaling it (at full size) by --scale x --compress',
      )
      .option(
        '--target <url>',
        'rehearse against this registration service instead of starting the stack',
        httpUrl('--target'),
      )
      .option(
        '--email-url <url>',
        'the mailbox API of the email service behind --target',
        httpUrl('--email-url'),
      )
      .option(
        '--allow-remote-target',
        'confirm that a --target other than loopback may receive the planned load',
      )
      .option('--results <dir>', 'where run directories are written', outputDir('--results'), 'results')
      .option('--run-id <id>', 'name of the run directory (default: time and scenario)')
      .option(
        '-e, --env <KEY=VALUE>',
        'a scenario knob (repeatable), e.g. -e LOSS_SPLIT=...',
        keyValue('--env', 'env'),
        {},
      )
      .option('--workers <n>', 'runner worker threads', wholeNumberIn('--workers', 1, 64))
      .option(
        '--interval <seconds>',
        'sampling interval of the time series',
        numberIn('--interval', 0.25, 60),
        1,
      )
      .option(
        '--prometheus',
        "start the Prometheus found on PATH for the run (TSDB kept in the run directory) and take the services' series from it",
      )
      .addOption(
        new Option(
          '--engine <name>',
          'what runs the scenario: the embedded runner, or a real k6 (recorded through Prometheus)',
        )
          .choices(['embedded', 'k6'])
          .default('embedded'),
      )
      .option('--k6 <path>', 'the k6 binary for --engine k6 (default: k6 on PATH)', existingFile('--k6'))
      .option(
        '--no-full-scale',
        'skip the report\'s "At full scale" prediction (the capacity simulator calibrated on the run, replaying the same window at scale 1)',
      )
      .option(
        '--full-scale-cores <n>',
        "the service's cores in the full-scale prediction (default: the --capacity file's service section, else this machine's)",
        wholeNumberIn('--full-scale-cores', 1, 100_000),
      )
      .option(
        '--faults <file>',
        'a fault schedule (YAML or JSON): dependencies down, slowed or failing and the service killed, at profile minutes (see README)',
        existingFile('--faults'),
      )
      .addOption(chaosOption())
      .option(
        '-o, --out <json=FILE>',
        "every sample as k6's JSON output lines (k6's -o json=FILE), on either engine: each request's latency, which the record keeps only as percentiles",
        jsonOutput('--out'),
      )
      .option('--strict', 'exit 99 when the run broke an SLO (for CI), as k6 does')
      .option('-q, --quiet', 'no live progress')
      // Bad input is k6's invalid configuration, as the rest of this command's exit codes are k6's.
      .exitOverride((err) => {
        process.exit(err.exitCode === 0 ? 0 : EXIT.invalidConfig);
      })
      .action(async (f: RehearseFlags, command: Command) => {
        const problem = inputProblem(f, (flag) => command.getOptionValueSource(flag) === 'cli');
        if (problem) {
          console.error(`error: ${problem}`);
          process.exitCode = EXIT.invalidConfig;
          return;
        }
        if (f.target) {
          const host = new URL(f.target).hostname;
          if (!LOOPBACK_HOSTS.has(host)) {
            console.error(`planned load on ${f.target}: ${plannedPeak(f)}`);
            if (!f.allowRemoteTarget) {
              console.error(
                `error: --target ${host} is not loopback; rehearsing against it sends real load. Re-run with --allow-remote-target to confirm.`,
              );
              process.exitCode = EXIT.invalidConfig;
              return;
            }
          }
        }
        const refuse = (message: string) => {
          console.error(`error: ${message}`);
          process.exitCode = EXIT.invalidConfig;
        };
        if (f.k6 && f.engine !== 'k6') return refuse('--k6: only with --engine k6');
        // The schedule starts on the embedded runner's first sample; real k6 gives no such moment.
        if (f.engine === 'k6' && (f.faults || f.chaos.length > 0))
          return refuse(
            `${f.faults ? '--faults' : '--chaos'}: only with --engine embedded (the schedule starts with the embedded runner's first sample)`,
          );
        let faults: FaultEntry[] | undefined;
        if (f.faults || f.chaos.length > 0) {
          const replay = replayOf(f);
          if (!replay)
            return refuse(`${f.faults ? '--faults' : '--chaos'}: only registration-day replays a profile`);
          // The schedule is checked against the stations the mocks will enforce: the scaled ones.
          const rate = runRate(f);
          if ('problem' in rate) return refuse(rate.problem);
          let capacity: Capacity;
          try {
            capacity = runCapacity(resolve(f.capacity ?? DEFAULT_REHEARSAL_CAPACITY), rate).capacity;
          } catch (err) {
            if (!(err instanceof CapacityFileError)) throw err;
            return refuse(`--capacity: ${err.message}`);
          }
          const loaded = loadFaults({
            file: f.faults,
            chaos: f.chaos,
            window: { fromMinute: replay.windowMinutes[0], toMinute: replay.windowMinutes[1] },
            capacity,
          });
          if ('problem' in loaded) return refuse(loaded.problem);
          faults = loaded.entries;
        }
        let k6: { binary: string; version: string } | undefined;
        if (f.engine === 'k6') {
          const binary = f.k6 ?? findK6();
          if (!binary) return refuse(`--engine k6: no 'k6' on PATH (or give --k6 PATH); ${K6_HOWTO}`);
          const v = k6Version(binary);
          if ('problem' in v) return refuse(`--engine k6: ${v.problem}`);
          k6 = { binary, version: v.version };
        }
        // Real k6 is recorded from the series it pushes by remote write: it needs a Prometheus.
        const prometheus = f.prometheus || k6 ? findPrometheus() : undefined;
        if ((f.prometheus || k6) && !prometheus) {
          return refuse(
            k6
              ? `--engine k6: no 'prometheus' on PATH to receive k6's remote write; install the Debian package '${PROMETHEUS_PACKAGE}' (apt-get install ${PROMETHEUS_PACKAGE})`
              : `--prometheus: no 'prometheus' on PATH; install the Debian package '${PROMETHEUS_PACKAGE}' (apt-get install ${PROMETHEUS_PACKAGE}), or rehearse without --prometheus (the services' /metrics are then read directly)`,
          );
        }
        let result: Awaited<ReturnType<typeof runRehearsal>>;
        try {
          result = await runRehearsal({
            scenario: f.scenario,
            scenarioFile: fromRoot('scenarios', `${f.scenario}.ts`),
            scale: f.scale,
            compress: f.compress,
            window: f.window,
            profile: f.profile,
            knobs: { ...serviceProfileKnobs(f.serviceProfile), ...f.knob },
            serviceProfile: f.serviceProfile,
            capacityFile: f.capacity,
            absoluteCapacity: Boolean(f.absoluteCapacity),
            target: f.target ? { registration: f.target, email: f.emailUrl } : undefined,
            resultsDir: resolve(f.results),
            runId: f.runId,
            env: f.env,
            workers: f.workers,
            intervalSeconds: f.interval,
            prometheus,
            ...(k6 ? { k6 } : {}),
            quiet: Boolean(f.quiet),
            fullScale: f.fullScale,
            // The full-scale service is the capacity file's service section, unless told.
            ...(f.fullScaleCores !== undefined ? { fullScaleService: { cores: f.fullScaleCores } } : {}),
            ...(faults ? { faults } : {}),
            ...(f.out ? { outJson: resolve(f.out) } : {}),
            log: (line) => console.log(line),
          });
        } catch (err) {
          if (err instanceof CapacityFileError) {
            console.error(`error: --capacity: ${err.message}`);
            process.exitCode = EXIT.invalidConfig;
            return;
          }
          // A service that would not start says why in the message; its frames would not help.
          if (!(err instanceof StackStartError)) throw err;
          console.error(`error: the stack did not start: ${err.message}`);
          process.exitCode = 1;
          return;
        }
        if (result.error) console.error(`error: ${result.error}`);
        if (result.report) {
          const r = result.report;
          console.log(`\n${r.verdict.held ? 'HELD' : 'BROKE'}: ${r.verdict.headline}`);
          console.log(bottleneckLine(r.bottleneck));
          console.log(`report: ${join(result.runDir, 'report.html')}`);
        }
        process.exitCode =
          result.exitCode === EXIT.ok ||
          (!f.strict && result.exitCode === EXIT.thresholdsFailed && result.report)
            ? 0
            : result.exitCode;
        // A service that crashed, even if restarted, is a finding about the design: never a success.
        if (result.stackDied && process.exitCode === 0) process.exitCode = 1;
      })
  );
}
