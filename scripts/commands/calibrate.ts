import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { CapacityFileError } from '../../model/capacity.ts';
import { ServiceKnobError } from '../../model/service-design.ts';
import { type RunRecord, RunRecordError, readRunRecord } from '../../reports/record.ts';
import {
  type Calibration,
  CalibrationFileError,
  DEFAULT_CALIBRATION_FILE,
  loadCalibration,
} from '../../simulator/calibration.ts';
import { FitError, type FitSummary, fitCalibration } from '../../simulator/fit.ts';
import { fitOnReplay } from '../../simulator/measured-run.ts';
import { KNOTS, type QuantileTable, tableMean } from '../../simulator/quantile-table.ts';
import { existingFile, outputFile } from './flags.ts';

/**
 * `gelombang calibrate <run-dir>`: fits a calibration file (simulator/calibration.ts) on a measured
 * run record (simulator/fit.ts and simulator/measured-run.ts fitOnReplay say how) and writes it,
 * by default as <run-dir>/calibration.json, for `simulate --calibration`. Exit codes: 0 written,
 * 2 bad input (the message names the file and the field; nothing is written).
 */

const EXIT_BAD_INPUT = 2;

/**
 * A measured record and the calibration fitted on it: from its series (simulator/fit.ts), then, for
 * a profile replay, by replaying it in the simulator (simulator/measured-run.ts fitOnReplay: the
 * request overhead and the effective cores). A bad file or field is a message naming it.
 */
export function fitRun(
  dir: string,
  priorFile: string,
): { record: RunRecord; fit: FitSummary & { replays: number } } | string {
  try {
    const record = readRunRecord(dir);
    if (record.manifest.engine.name === 'simulator')
      return `${dir}/run.json engine: a simulated run; calibrate on a measured one`;
    const fit = fitCalibration(record, loadCalibration(priorFile));
    if (!record.manifest.replay) return { record, fit: { ...fit, replays: 0 } };
    const replayed = fitOnReplay(record, fit.calibration);
    return { record, fit: { ...fit, calibration: replayed.calibration, replays: replayed.simulations } };
  } catch (err) {
    return inputProblem(err);
  }
}

/** What was wrong with a run record or calibration, as its message; anything else is rethrown. */
export function inputProblem(err: unknown): string {
  if (
    err instanceof RunRecordError ||
    err instanceof CalibrationFileError ||
    err instanceof FitError ||
    err instanceof CapacityFileError ||
    err instanceof ServiceKnobError
  )
    return err.message;
  throw err;
}

function describeFit(c: Calibration, f: FitSummary & { replays: number }): string[] {
  const idle =
    f.idleCores === undefined
      ? ' (no idle level probed: the CPU between requests is on them)'
      : `, the service's idle ${f.idleCores} cores taken off each`;
  const w = c.service.warmUp;
  const settled = w ? ', at the level a fresh service settles at' : '';
  const lines = [
    `CPU per request, scrypt included (ms), fitted on ${f.cpuIntervals} intervals${idle}${settled}:`,
  ];
  for (const [step, ms] of Object.entries(f.perRequestCpuMs)) lines.push(`  ${step.padEnd(18)} ${ms}`);
  if (w)
    lines.push(
      `a fresh service's warm-up: its CPU per request ${Math.round(w.extra * 100)} % above that at the load's start, fading in ${w.tauS} s (validate applies it; simulate leaves it out)`,
    );
  if (c.service.effectiveCores !== undefined)
    lines.push(
      `effective cores of the service: ${c.service.effectiveCores} (the machine's cores as fast as they ran its work; validate takes what the other processes used interval by interval${f.replays > 0 ? `; ${f.replays} replays of the run` : ''})`,
    );
  const knots = (t: QuantileTable) => KNOTS.map(([key]) => `${key} ${t[key]}`).join(', ');
  const h = c.service.scryptSpread;
  if (h)
    lines.push(
      `a hash on its request's path, over its CPU: ${knots(h)} (mean ${Math.round(tableMean(h) * 1000) / 1000})`,
    );
  const o = c.service.requestOverheadMs;
  if (o) lines.push(`request overhead (ms): ${knots(o)}`);
  for (const [dep, s] of Object.entries(c.stations)) {
    const st = s.serviceTime;
    const time =
      st?.distribution === 'lognormal'
        ? `service time median ${st.medianMs} ms, p99 ${st.p99Ms} ms`
        : st
          ? `service time ${st.ms} ms`
          : 'service time as configured';
    lines.push(`station ${dep}: ${time}${s.concurrency ? `, ${s.concurrency} effective servers` : ''}`);
  }
  return lines;
}

interface CalibrateFlags {
  out?: string;
  prior?: string;
  force?: boolean;
}

export function calibrateCommand(): Command {
  return new Command('calibrate')
    .description(
      "fit the simulator's calibration (each step's CPU and a fresh service's warm-up, a hash's time on its request's path, the service's effective cores, the stations' service times, the latency the machine added to each request) on a measured run record",
    )
    .argument('<run-dir>', 'a run directory written by `gelombang rehearse` (results/<run-id>)')
    .option(
      '--out <file>',
      'where to write the calibration (default <run-dir>/calibration.json)',
      outputFile('--out'),
    )
    .option(
      '--prior <file>',
      'the calibration whose scrypt and commit costs are kept and towards which the fit leans (default simulator/calibration.default.json)',
      existingFile('--prior'),
    )
    .option('--force', 'overwrite an existing calibration file')
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_INPUT);
    })
    .action((dir: string, f: CalibrateFlags) => {
      const fail = (message: string) => {
        console.error(`error: ${message}`);
        process.exitCode = EXIT_BAD_INPUT;
      };
      const runDir = resolve(dir);
      const out = resolve(f.out ?? join(runDir, 'calibration.json'));
      if (existsSync(out) && !f.force) return fail(`--out: ${out} exists (--force to overwrite)`);
      const fitted = fitRun(runDir, f.prior ?? DEFAULT_CALIBRATION_FILE);
      if (typeof fitted === 'string') return fail(fitted);
      const c = fitted.fit.calibration;
      writeFileSync(out, `${JSON.stringify(c, null, 2)}\n`);
      for (const line of describeFit(c, fitted.fit)) console.log(line);
      console.log(`calibration: ${out}`);
    });
}
