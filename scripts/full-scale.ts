import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadCapacityFile } from '../mock-services/capacity.ts';
import { type CapacityFile, CapacityFileError } from '../model/capacity.ts';
import { FULL_SCALE_DIR, FULL_SCALE_SKIPPED } from '../reports/full-scale.ts';
import { writeRunRecord } from '../reports/record.ts';
import { DEFAULT_CALIBRATION_FILE, restartDurationMs } from '../simulator/calibration.ts';
import { type DayOptions, simulateDay } from '../simulator/day.ts';
import { plannedSchedule } from '../simulator/faults.ts';
import { FitError } from '../simulator/fit.ts';
import { dayOfRecord } from '../simulator/measured-run.ts';
import { simulatedRecord } from '../simulator/record.ts';
import { fitRun } from './commands/calibrate.ts';
import { autoInterval, peakArrivalsPerSecond } from './commands/simulate.ts';
import { gelombangVersion } from './version.ts';

/**
 * A rehearsal's "At full scale" prediction: the capacity simulator calibrated on the run (CPU per
 * step and the service's effective cores, `gelombang calibrate`), then the same replayed window
 * at scale 1 and in real time, with the same service design and capacity file, the service alone
 * on its machine (no load generator beside it), on the rehearsal machine's cores unless told how
 * many the full-scale service has (and its workers: a capacity file's service section). Written as a simulated run record in
 * `<run-dir>/full-scale/`, which the run's report reads beside its own record.
 *
 * A run whose capacities were scaled from a file at full size (run.json `similitude`) is predicted
 * with the file at full size: its stations as it states them (service times included, none fitted
 * on the mocks: see below), and the design's own hash cost rather than the one the run's CPU
 * similitude chose. The service's own costs are always the ones fitted on the run.
 *
 * Why simulate rather than multiply: a queue at 2,000 times the load does not wait 2,000 times as
 * long; it waits the same until a resource saturates and then without bound, with retries on top.
 */

export interface FullScaleResult {
  dir: string;
  calibration: string;
  events: number;
  cpuSeconds: number;
}

/**
 * Predicts the full-scale run of a measured run directory. Returns why not (a run that is not a
 * replay, or too short to calibrate on) instead of throwing, and writes that reason beside the run.
 */
export function predictFullScale(
  runDir: string,
  o: {
    cores?: number;
    workers?: number;
    /** the full-size database's commits a second (a capacity file's service.commitsPerSecond) */
    commitsPerSecond?: number;
    /** the full-size waiting room's sign-ups a second (a capacity file's service.admissionRate) */
    admissionRate?: number;
    /** the capacity file at full size; default: the one run.json's similitude names, when scaled */
    fullSize?: CapacityFile;
    onProgress?: (line: string) => void;
  } = {},
): FullScaleResult | { problem: string } {
  const skipped = (problem: string) => {
    writeFileText(join(runDir, FULL_SCALE_SKIPPED), `${problem}\n`);
    return { problem };
  };
  const fitted = fitRun(runDir, DEFAULT_CALIBRATION_FILE);
  if (typeof fitted === 'string') return skipped(`calibration failed: ${fitted}`);
  const { record, fit } = fitted;
  if (!record.manifest.replay) return skipped('the run replayed no arrival profile');
  let measured: ReturnType<typeof dayOfRecord>;
  try {
    measured = dayOfRecord(record, fit.calibration);
  } catch (err) {
    if (err instanceof FitError) return skipped(err.message);
    throw err;
  }
  const similitude = record.manifest.similitude;
  let fullSize: CapacityFile | undefined;
  if (similitude?.scaled) {
    try {
      fullSize = o.fullSize ?? loadCapacityFile(similitude.capacityFile);
    } catch (err) {
      if (err instanceof CapacityFileError) return skipped(`the capacity file at full size: ${err.message}`);
      throw err;
    }
  }
  const fullScryptN = similitude?.scaled ? similitude.cpu?.fullSizeScryptN : undefined;
  // Each full-size process has the design's SMTP pool, not the share the rehearsal's one had.
  const fullPool = similitude?.scaled ? similitude.smtpPool?.fullSizeConnections : undefined;
  // What differs at full size from the knobs the rehearsal ran with: the simulated day reads the
  // numbers, the record keeps them as the strings the service's environment would have held.
  const fullSizeKnobs = {
    ...(fullScryptN === undefined ? {} : { SCRYPT_N: fullScryptN }),
    ...(fullPool === undefined ? {} : { EMAIL_CONNECTIONS: fullPool }),
    ...(o.workers === undefined ? {} : { WORKERS: o.workers }),
    ...(o.admissionRate === undefined ? {} : { ADMISSION_RATE: o.admissionRate }),
  };
  const knobs = { ...measured.knobs, ...fullSizeKnobs };
  const span = measured.window ? measured.window.toMinute - measured.window.fromMinute : 0;
  // Of the run's own clock: the cores the other processes left the service interval by interval
  // (and a fresh service's warm-up), which would otherwise stretch the full-size day's first
  // minutes by the rehearsal's seconds; and its faults as applied, which at full size come at
  // the same profile minutes, on the day's clock (a kill's restart as long as the full-size
  // design's would take, restartDurationMs: a cluster's grows with its workers).
  const { cpuStretchOverTime: _ownClock, faults: applied, kills: killed, ...rest } = measured;
  const { faults, kills } = plannedSchedule(
    [...(applied ?? []).map((f) => f.entry), ...(killed ?? []).map((k) => k.entry)],
    {
      fromMinute: measured.window?.fromMinute ?? 0,
      compress: 1,
      bucketSeconds: measured.profile.bucketSeconds,
    },
    restartDurationMs(measured.calibration.service, knobs.WORKERS, o.cores ?? measured.cores),
  );
  const day = {
    ...rest,
    ...(faults.length > 0 ? { faults } : {}),
    ...(kills.length > 0 ? { kills } : {}),
    // The dependencies at full size are the file's: what the fit reads of the mocks that stood in
    // for them is partly the mocks' own work on a loaded machine (the photo store's hold includes
    // the transfer its link then slows again, and any mock's timers run late when the cores are
    // taken), which the real dependencies' stated service times already stand for. The service's
    // own costs are fitted.
    ...(fullSize && similitude
      ? { capacity: fullSize.capacity, calibration: { ...measured.calibration, stations: {} } }
      : {}),
    ...(o.commitsPerSecond === undefined ? {} : { commitsPerSecond: o.commitsPerSecond }),
    scale: 1,
    compress: 1,
    thinkCompress: 1,
    // The rehearsal's service shared its machine with the load generator; at full scale it has
    // its cores to itself.
    cpuStretch: 1,
    cores: o.cores ?? measured.cores,
    knobs,
    // No VU budget at full size, every registrant arrives: the run's pre-allocated VUs would still
    // drop arrivals as k6 does.
    maxVUs: Number.POSITIVE_INFINITY,
    preAllocatedVUs: Number.POSITIVE_INFINITY,
    intervalSeconds: autoInterval(span * 60 + measured.gracefulStopS),
  };
  const started = process.cpuUsage();
  if (o.onProgress) {
    const log = o.onProgress;
    day.onProgress = (p) =>
      log(
        `  simulated ${Math.floor((p.simulatedS / p.totalS) * 100)} % of the full-scale window, ${p.arrivals.toLocaleString('en')} arrivals, ${p.inFlight.toLocaleString('en')} in flight`,
      );
  }
  const result = simulateDay(day);
  const m = record.manifest;
  const admission = keptAdmissionNote(knobs.ADMISSION_RATE, o.admissionRate, day);
  const calibration = `fitted on ${m.runId}`;
  const sim = simulatedRecord(
    {
      runId: `${m.runId}-full-scale`,
      engineVersion: gelombangVersion(),
      profileFile: m.replay?.profile ?? '',
      serviceProfile: m.stack.knobs.SERVICE_PROFILE ?? 'custom',
      knobs: {
        ...Object.fromEntries(Object.entries(m.stack.knobs).filter(([k]) => k !== 'SERVICE_PROFILE')),
        ...Object.fromEntries(Object.entries(fullSizeKnobs).map(([k, v]) => [k, String(v)])),
      },
      calibrationSource: calibration,
      overrides: {},
      day,
      ...(admission ? { notes: [admission] } : {}),
    },
    result,
  );
  const dir = join(runDir, FULL_SCALE_DIR);
  writeRunRecord(dir, sim);
  writeFileText(join(dir, 'calibration.json'), `${JSON.stringify(day.calibration, null, 2)}\n`);
  const used = process.cpuUsage(started);
  return { dir, calibration, events: result.events, cpuSeconds: (used.user + used.system) / 1e6 };
}

/**
 * A waiting room the rehearsal ran with and no full-size rate was given for: the full-scale day
 * admits what the rehearsal's did a second (not scaled: its rate is a design decision, and the
 * rehearsal's was sized for the machine it ran on), which a reader must know beside the day's
 * arrivals, or a full-scale funnel that gave up in line reads as the design's.
 */
export function keptAdmissionNote(
  rate: number,
  given: number | undefined,
  day: Pick<DayOptions, 'profile' | 'scale' | 'compress' | 'window'>,
): string | undefined {
  if (!(rate > 0) || given !== undefined) return undefined;
  const peakPerSecond = peakArrivalsPerSecond(day);
  return `The waiting room admits ${rate.toLocaleString('en')} sign-ups a second at full scale, the rate this rehearsal ran with (ADMISSION_RATE), where the full-size window's arrivals peak at ${Math.round(peakPerSecond).toLocaleString('en')} a second. Give the capacity file a service.admissionRate (gelombang plan --resources admission sizes one) for the full-size service's rate.`;
}

function writeFileText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
