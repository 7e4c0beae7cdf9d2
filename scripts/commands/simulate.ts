import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { loadCapacityFile } from '../../mock-services/capacity.ts';
import { DEFAULT_MODEL, RETRY_POLICY } from '../../model/behaviour.ts';
import { type Capacity, CapacityFileError } from '../../model/capacity.ts';
import { COUNTS_2020, STAGES } from '../../model/funnel.ts';
import { ARRIVAL_MIX, GRACEFUL_STOP_S, MAIL_WAIT_S } from '../../model/journey.ts';
import { type Profile, ProfileError, parseProfileCsv } from '../../model/profile.ts';
import { replay } from '../../model/replay.ts';
import { parseServiceKnobs, ServiceKnobError, serviceProfileKnobs } from '../../model/service-design.ts';
import { fullSizeCores, type ScaledCapacity, scaleCapacityFile } from '../../model/similitude.ts';
import { SLOS } from '../../model/slo.ts';
import { type RunManifest, writeRunRecord } from '../../reports/record.ts';
import { writeReport } from '../../reports/write-report.ts';
import {
  CalibrationFileError,
  DEFAULT_CALIBRATION_FILE,
  loadCalibration,
  restartDurationMs,
} from '../../simulator/calibration.ts';
import { type DayOptions, type Progress, simulateDay } from '../../simulator/day.ts';
import { plannedSchedule, type SimFault, type SimKill } from '../../simulator/faults.ts';
import { applyOverrides, OverrideError } from '../../simulator/overrides.ts';
import { simulatedRecord } from '../../simulator/record.ts';
import { unmodelledNote } from '../../simulator/unmodelled.ts';
import { loadFaults } from '../faults.ts';
import { fromRoot } from '../paths.ts';
import { capacitiesLines, recordedStations, runRate } from '../rehearsal-similitude.ts';
import { gelombangVersion } from '../version.ts';
import {
  calibrationOption,
  chaosOption,
  existingFile,
  keyValue,
  numberIn,
  profileWindow,
  runIdProblem,
  serviceProfileOption,
  wholeNumberIn,
} from './flags.ts';

/**
 * `gelombang simulate`: the registration day through the capacity simulator instead of a stack:
 * by default the whole 2020 day at full scale, against the 2020 dependencies and machine at full
 * size (mock-services/capacity.2020.json, scaled by the run's rate factor), the 2020 service design
 * and the default calibration. Writes a run record
 * (results/<run-id>/, engine "simulator") and its report, and prints the verdict.
 */

const EXIT_BAD_INPUT = 2;
const DEFAULT_PROFILE = fromRoot('scenarios/profiles/registration-day-2020.csv');
/** Without --capacity: the 2020 dependencies and service machine at full size, which a run scales. */
export const SIMULATE_CAPACITY = fromRoot('mock-services/capacity.2020.json');
/** the photo registration-day uploads (scenarios/registration-day.ts) */
const PHOTO = fromRoot('scenarios/fixtures/ktp-medium.jpg');
/**
 * The machine kind the default capacities were sized for (mock-services/README.md: "a laptop
 * rehearsal"): the 2020 design at full scale is asked on it unless the capacity file's service
 * section (model/capacity.ts) or --set service.cores says otherwise.
 */
const DEFAULT_CORES = 2;

export interface SimulateFlags {
  scale: number;
  compress: number;
  thinkCompress?: number;
  window?: [number, number];
  profile?: string;
  capacity?: string;
  calibration?: string;
  serviceProfile: string;
  knob: Record<string, string>;
  set: Record<string, string>;
  seed: number;
  interval?: number;
  maxVus?: number;
  results: string;
  runId?: string;
  quiet?: boolean;
  /** the capacity file as it is, not scaled by the run's rate factor */
  absoluteCapacity?: boolean;
  /** a fault schedule, as rehearse --faults takes it */
  faults?: string;
  /** kill-service@MINUTE, as rehearse --chaos takes them */
  chaos?: string[];
}

export class BadInput extends Error {}

/** An interval that keeps a run to about 1,300 intervals: 1 s for a rehearsal-length replay, 60 s for the day. */
export function autoInterval(seconds: number): number {
  const nice = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600];
  return nice.find((n) => seconds / n <= 1300) ?? 600;
}

/** Everything a simulation needs, read and validated; a bad file or field throws BadInput naming it. */
export function simulationInputs(f: SimulateFlags): {
  day: DayOptions;
  profileFile: string;
  knobs: Record<string, string>;
  calibrationSource: string;
  /** the capacities as this run's rate factor scales them (factor 1: as the file states them) */
  similitude: ScaledCapacity;
  /** the same, as the run record's manifest states it */
  manifestSimilitude: NonNullable<RunManifest['similitude']>;
} {
  try {
    const profileFile = f.profile ?? DEFAULT_PROFILE;
    const profile = parseProfileCsv(readFileSync(profileFile, 'utf8'), profileFile);
    const capacityFile = f.capacity ?? SIMULATE_CAPACITY;
    // The file's service section (gelombang plan writes one) under --set and --knob.
    const file = loadCapacityFile(capacityFile);
    const overridden = applyOverrides(
      { capacity: file.capacity, machine: { cores: file.service?.cores ?? DEFAULT_CORES } },
      f.set,
    );
    // The file is at full size: a run at a share of the day's rate gets that share of each
    // capacity (model/similitude.ts). Without a service section (or --set service.cores) the
    // service runs on this machine's cores, as a rehearsal's does, and they are not scaled.
    const rate = runRate({
      scenario: 'registration-day',
      scale: f.scale,
      compress: f.compress,
      env: {},
      ...(f.absoluteCapacity ? { absoluteCapacity: true } : {}),
    });
    if ('problem' in rate) throw new BadInput(rate.problem);
    const runFactor = rate.factor;
    const factor = rate.scaled ? runFactor : 1;
    const machineAtFullSize = file.service !== undefined || 'service.cores' in f.set;
    const scaled = scaleCapacityFile(
      {
        capacity: overridden.capacity,
        ...(machineAtFullSize ? { service: { ...file.service, cores: overridden.machine.cores } } : {}),
      },
      factor,
    );
    const capacity = scaled.capacity;
    const cores = scaled.service?.cores ?? overridden.machine.cores;
    const workers = scaled.service?.workers;
    const admission = scaled.service?.admissionRate;
    const knobs = {
      ...serviceProfileKnobs(f.serviceProfile),
      ...(workers === undefined ? {} : { WORKERS: String(workers) }),
      ...(admission === undefined ? {} : { ADMISSION_RATE: String(admission) }),
      ...f.knob,
    };
    const calibrationFile = f.calibration ?? DEFAULT_CALIBRATION_FILE;
    const calibration = loadCalibration(calibrationFile);
    const windowMinutes = f.window
      ? f.window[1] - f.window[0]
      : (profile.arrivals.length * profile.bucketSeconds) / 60;
    const serviceKnobs = parseServiceKnobs(knobs, '--knob');
    const scheduled =
      f.faults || (f.chaos ?? []).length > 0
        ? simulatedFaults(
            f.faults,
            f,
            profile,
            capacity,
            // A process's start is the machine's wall time: the cores as the file states them, not
            // the share of them the run's rate factor gives its queues.
            restartDurationMs(calibration.service, serviceKnobs.WORKERS, overridden.machine.cores),
          )
        : undefined;
    const day: DayOptions = {
      profile,
      scale: f.scale,
      compress: f.compress,
      thinkCompress: f.thinkCompress ?? f.compress,
      ...(f.window ? { window: { fromMinute: f.window[0], toMinute: f.window[1] } } : {}),
      capacity,
      knobs: serviceKnobs,
      cores,
      ...(scaled.service?.commitsPerSecond !== undefined
        ? { commitsPerSecond: scaled.service.commitsPerSecond }
        : {}),
      calibration,
      cpuStretch: 1,
      seed: f.seed,
      model: DEFAULT_MODEL,
      retry: RETRY_POLICY,
      minorShare: ARRIVAL_MIX.minorShare,
      ineligibleShare: ARRIVAL_MIX.ineligibleShare,
      mailWaitS: MAIL_WAIT_S,
      gracefulStopS: GRACEFUL_STOP_S,
      maxVUs: f.maxVus ?? Number.POSITIVE_INFINITY,
      photoBytes: statSync(PHOTO).size,
      intervalSeconds: f.interval ?? autoInterval((windowMinutes * 60) / f.compress + GRACEFUL_STOP_S),
      ...(scheduled?.faults.length ? { faults: scheduled.faults } : {}),
      ...(scheduled?.kills.length ? { kills: scheduled.kills } : {}),
    };
    const manifestSimilitude: NonNullable<RunManifest['similitude']> = {
      // The run's rate factor even when the file is enforced as it is: what its cores stand for.
      factor: runFactor,
      scaled: !f.absoluteCapacity,
      capacityFile,
      stations: recordedStations(scaled.stations),
      notes: rate.scaled ? scaled.notes : [rate.why, ...scaled.notes],
      cpu: {
        cores,
        // The simulator costs the hash at the knob's SCRYPT_N: the run's hash cost is the day's.
        scryptN: day.knobs.SCRYPT_N,
        fullSizeScryptN: day.knobs.SCRYPT_N,
        standsForCores: fullSizeCores(cores, runFactor),
        fullSizeCores: machineAtFullSize ? overridden.machine.cores : null,
      },
    };
    return {
      day,
      profileFile,
      knobs,
      calibrationSource: calibration.source,
      similitude: scaled,
      manifestSimilitude,
    };
  } catch (err) {
    if (
      err instanceof ProfileError ||
      err instanceof CapacityFileError ||
      err instanceof CalibrationFileError ||
      err instanceof OverrideError ||
      err instanceof ServiceKnobError
    ) {
      throw new BadInput(err.message);
    }
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BadInput((err as Error).message);
    throw err;
  }
}

/**
 * The schedule of `--faults`, read and checked as rehearse reads it (against the replay's window
 * and the stations the run enforces), on the replay's clock; a kill's restart takes the
 * calibration's restart for the design (restartDurationMs) once begun.
 */
function simulatedFaults(
  file: string | undefined,
  f: SimulateFlags,
  profile: Profile,
  capacity: Capacity,
  restartMs: number,
): { faults: SimFault[]; kills: SimKill[] } {
  const window = {
    fromMinute: f.window?.[0] ?? 0,
    toMinute: f.window?.[1] ?? (profile.arrivals.length * profile.bucketSeconds) / 60,
  };
  const loaded = loadFaults({ ...(file ? { file } : {}), chaos: f.chaos ?? [], window, capacity });
  // Each problem names its origin already (the file and entry, or the --chaos flag and value), as rehearse shows it.
  if ('problem' in loaded) throw new BadInput(loaded.problem);
  return plannedSchedule(
    loaded.entries,
    { fromMinute: window.fromMinute, compress: f.compress, bucketSeconds: profile.bucketSeconds },
    restartMs,
  );
}

/** The busiest second's arrivals of a day's replay (model/replay.ts), which a waiting room's rate is read against. */
export function peakArrivalsPerSecond(
  day: Pick<DayOptions, 'profile' | 'scale' | 'compress' | 'window'>,
): number {
  return replay(day.profile, {
    scale: day.scale,
    compress: day.compress,
    ...(day.window ? { window: day.window } : {}),
  }).peakPerSecond;
}

/**
 * The waiting room's rate when it came from the service profile (the waiting-room switch's 15 a
 * second, sized for this project's 2-core machine), neither from the capacity file nor --knob: a
 * run at another rate admits that many a second whatever its arrivals, which says nothing of the
 * design at that size unless the user meant it.
 */
export function admissionNote(
  f: Pick<SimulateFlags, 'knob' | 'serviceProfile'>,
  knobs: Record<string, string>,
  day: Pick<DayOptions, 'profile' | 'scale' | 'compress' | 'window'>,
): string | undefined {
  const fromProfile = serviceProfileKnobs(f.serviceProfile).ADMISSION_RATE;
  if (fromProfile === undefined || 'ADMISSION_RATE' in f.knob || knobs.ADMISSION_RATE !== fromProfile)
    return undefined;
  const perSecond = peakArrivalsPerSecond(day);
  return `ADMISSION_RATE=${fromProfile} comes from the service profile '${f.serviceProfile}', a rate sized for this project's 2-core machine; this run's arrivals peak at ${num(perSecond)} a second. Give the capacity file a service.admissionRate (gelombang plan --resources admission sizes one) or --knob ADMISSION_RATE=... for a waiting room of this size.`;
}

/** Three significant digits: a scaled machine's cores are rarely whole. */
const num = (x: number) => Number(x.toPrecision(3)).toLocaleString('en');

const hours = (s: number) =>
  `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;

/** A plain progress line, as the runner prints off a terminal. */
export function progressLine(p: Progress): string {
  return `simulated ${hours(p.simulatedS)} of ${hours(p.totalS)} (${Math.floor((p.simulatedS / p.totalS) * 100)} %), ${p.arrivals.toLocaleString('en')} arrivals, ${p.inFlight.toLocaleString('en')} in flight, ${(p.events / 1e6).toFixed(1)} M events`;
}

export function simulateCommand(): Command {
  return new Command('simulate')
    .description(
      'simulate a registration day through a queueing model of the service and its dependencies (default: the 2020 day at full scale) and write a run record',
    )
    .option('--scale <share>', 'share of the profile replayed, in (0, 1]', numberIn('--scale', 0, 1, true), 1)
    .option('--compress <factor>', 'time compression of the replay', numberIn('--compress', 1, 1e6), 1)
    .option(
      '--think-compress <factor>',
      "think times are the behaviour model's delays over this (default: --compress)",
      numberIn('--think-compress', 1, 1e9),
    )
    .option(
      '--window <from-to>',
      'simulate only these profile minutes, e.g. 0-120',
      profileWindow('--window'),
    )
    .option(
      '--profile <csv>',
      'arrivals per minute (or second) replacing the 2020 profile',
      existingFile('--profile'),
    )
    .option(
      '--capacity <file>',
      "the stations, and the service's cores and workers if it has them, at full size (default mock-services/capacity.2020.json)",
      existingFile('--capacity'),
    )
    .option(
      '--absolute-capacity',
      'enforce the capacity file as it is, instead of scaling it (at full size) by --scale x --compress',
    )
    .addOption(calibrationOption())
    .addOption(serviceProfileOption())
    .option(
      '--knob <KEY=VALUE>',
      'a service knob over the profile, e.g. WORKERS=8 (repeatable)',
      keyValue('--knob'),
      {},
    )
    .option(
      '--set <path=value>',
      'a capacity field or service.cores, e.g. dukcapil.concurrency=400 (repeatable)',
      keyValue('--set'),
      {},
    )
    .option(
      '--faults <file>',
      'a fault schedule (YAML or JSON), as rehearse takes it: dependencies down, slowed or failing and the service killed, at profile minutes',
      existingFile('--faults'),
    )
    .addOption(chaosOption())
    .option('--seed <n>', 'the seed of every random draw', wholeNumberIn('--seed', 0, 2 ** 32 - 1), 2020)
    .option(
      '--interval <seconds>',
      'interval of the time series (default: about 1,300 intervals)',
      numberIn('--interval', 0.25, 3600),
    )
    .option(
      '--max-vus <n>',
      "at most this many registrants at once, as k6's maxVUs (default: no limit)",
      wholeNumberIn('--max-vus', 1, 1e9),
    )
    .option('--results <dir>', 'where run directories are written', 'results')
    .option('--run-id <id>', 'name of the run directory (default: time and "simulated")')
    .option('-q, --quiet', 'no progress')
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_INPUT);
    })
    .action(async (f: SimulateFlags) => {
      const fail = (msg: string) => {
        console.error(`error: ${msg}`);
        process.exitCode = EXIT_BAD_INPUT;
      };
      const runId =
        f.runId ??
        `${new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}-simulated`;
      const badRunId = runIdProblem(runId);
      if (badRunId) return fail(badRunId);
      let inputs: ReturnType<typeof simulationInputs>;
      try {
        inputs = simulationInputs(f);
      } catch (err) {
        if (err instanceof BadInput) return fail(err.message);
        throw err;
      }
      const runDir = join(resolve(f.results), runId);
      if (existsSync(join(runDir, 'run.json'))) return fail(`--run-id: ${runDir} already holds a run`);
      const day = inputs.day;
      if (!f.quiet) day.onProgress = (p) => console.error(progressLine(p));
      // The simulation's own cost, apart from start-up and the report (the bench's speed goal).
      const cpu0 = process.cpuUsage();
      const wall0 = performance.now();
      const result = simulateDay(day);
      const wallS = (performance.now() - wall0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const admission = admissionNote(f, inputs.knobs, day);
      const record = simulatedRecord(
        {
          runId,
          engineVersion: gelombangVersion(),
          profileFile: inputs.profileFile,
          serviceProfile: f.serviceProfile,
          knobs: inputs.knobs,
          calibrationSource: inputs.calibrationSource,
          overrides: f.set,
          similitude: inputs.manifestSimilitude,
          day,
          ...(admission ? { notes: [admission] } : {}),
        },
        result,
      );
      writeRunRecord(runDir, record);
      const { report } = await writeReport(runDir);
      console.log(
        `SIMULATED (calibration: ${inputs.calibrationSource}, seed ${f.seed}, ${num(day.cores)} cores): ${report.verdict.headline}`,
      );
      for (const line of capacitiesLines(inputs.manifestSimilitude)) console.log(line);
      const unmodelled = unmodelledNote(day.knobs);
      if (unmodelled) console.log(`note: ${unmodelled}`);
      if (admission) console.log(`note: ${admission}`);
      console.log('\nfunnel (at full scale) vs 2020:');
      for (const stage of STAGES) {
        const reached = record.manifest.totals.funnel
          .filter((x) => x.stage === stage && x.outcome === 'continued')
          .reduce((a, x) => a + x.count, 0);
        const c2020 = COUNTS_2020[stage];
        console.log(
          `  ${stage.padEnd(17)} ${Math.round(reached / day.scale)
            .toLocaleString('en')
            .padStart(10)}   2020: ${c2020 === null ? 'n/a' : c2020.toLocaleString('en')}`,
        );
      }
      console.log('\np95 vs SLO:');
      for (const s of record.manifest.totals.steps) {
        const slo = SLOS[s.step as keyof typeof SLOS];
        const p95 = s.p95Ms === null ? 'n/a' : `${Math.round(s.p95Ms)} ms`;
        const errors = s.requests > 0 ? `${((s.failed / s.requests) * 100).toFixed(1)} % failed` : '';
        console.log(
          `  ${s.step.padEnd(17)} ${p95.padStart(9)} (SLO ${slo.p95Ms} ms) ${(s.p95Ms ?? 0) < slo.p95Ms ? 'ok  ' : 'OVER'}  ${errors}`,
        );
      }
      const b = report.bottleneck;
      console.log(
        b.resource
          ? `\nfirst to saturate: ${b.resource.kind === 'dependency' ? b.resource.name : `the service's CPU (${b.resource.detail.replace(/^CPU: /, '')})`} at t=${Math.round(b.tSeconds ?? 0)} s${b.profileMinute !== null ? ` (profile minute ${b.profileMinute})` : ''}`
          : '\nfirst to saturate: nothing saturated',
      );
      console.log(
        `simulation: ${result.events.toLocaleString('en')} events in ${wallS.toFixed(2)} s (${((cpu.user + cpu.system) / 1e6).toFixed(2)} s of CPU), ${(result.events / wallS / 1e6).toFixed(2)} M events/s; start-up and the report not included`,
      );
      console.log(`report: ${join(runDir, 'report.html')}`);
    });
}
