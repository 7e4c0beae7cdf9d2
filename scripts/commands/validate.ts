import { resolve } from 'node:path';
import { Command } from 'commander';
import { describeFault } from '../../model/faults.ts';
import { STAGES } from '../../model/funnel.ts';
import { quantileInterval } from '../../reports/compare/statistics.ts';
import { buildReport, funnelRows } from '../../reports/funnel-report.ts';
import { type RunRecord, readRunRecord } from '../../reports/record.ts';
import { type Calibration, DEFAULT_CALIBRATION_FILE, loadCalibration } from '../../simulator/calibration.ts';
import { type DayOptions, simulateDay } from '../../simulator/day.ts';
import { recordedFaults } from '../../simulator/faults.ts';
import {
  appliedWarmUp,
  dayOfRecord,
  overheadOverTime,
  poolLatencies,
  withRequestOverhead,
} from '../../simulator/measured-run.ts';
import { simulatedRecord } from '../../simulator/record.ts';
import { unmodelledNote } from '../../simulator/unmodelled.ts';
import { fitRun, inputProblem } from './calibrate.ts';
import { existingFile, wholeNumberIn } from './flags.ts';

/**
 * `gelombang validate <run-dir>`: calibrates on a measured run (or takes --calibration), simulates
 * the same replay (simulator/measured-run.ts), and prints predicted against measured: per step,
 * throughput (requests over the run), p50, p95 and the error share; per stage, the funnel; and
 * the first resource to saturate, each side as the report reads it (reports/funnel-report.ts).
 * Writes nothing. Exit codes: 0 within tolerance, 1 outside, 2 bad input (the message names the
 * file and the field).
 *
 * Tolerances (issue 14): 15 % on each step's throughput and p95, 5 points on each stage's
 * conversion, and the same first resource. A step with fewer than MIN_REQUESTS measured requests
 * is shown but not judged: its p95 is one or two requests, and its count is the funnel's, judged
 * there. A stage is judged when the stage before it was reached by at least MIN_REACHED.
 */

export const TOLERANCE = { throughput: 0.15, p95: 0.15, conversionPoints: 5 } as const;
const MIN_REQUESTS = 30;
const MIN_REACHED = 20;

const EXIT_OUTSIDE = 1;
const EXIT_BAD_INPUT = 2;

interface ValidateFlags {
  calibration?: string;
  prior?: string;
  /** draws of the system pooled (default REPLICATIONS) */
  replications?: number;
}

export function validateCommand(): Command {
  return new Command('validate')
    .description(
      `calibrate on a measured run, simulate the same replay and compare, per step and per stage: within ${TOLERANCE.throughput * 100} % on each step's throughput and p95, ${TOLERANCE.conversionPoints} points on each stage's conversion, the same first resource to saturate (exit 0), or not (exit 1)`,
    )
    .argument('<run-dir>', 'a run directory written by `gelombang rehearse` (results/<run-id>)')
    .option(
      '--calibration <file>',
      'use this calibration instead of fitting one on the run',
      existingFile('--calibration'),
    )
    .option(
      '--prior <file>',
      'the calibration the fit leans towards (default simulator/calibration.default.json)',
      existingFile('--prior'),
    )
    .option(
      '--replications <n>',
      `the run's registrants through this many draws of the system, their latencies pooled (default ${REPLICATIONS}; 1: one draw, as simulate makes)`,
      wholeNumberIn('--replications', 1, 64),
    )
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_INPUT);
    })
    .action((dir: string, f: ValidateFlags) => {
      const run = validateRun(resolve(dir), f);
      if (typeof run === 'string') {
        console.error(`error: ${run}`);
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      console.log(run.header);
      if (run.faults) console.log(`faults: ${run.faults}`);
      if (run.note) console.log(`note: ${run.note}`);
      process.stdout.write(renderValidation(run.validation));
      if (!run.validation.ok) process.exitCode = EXIT_OUTSIDE;
    });
}

export interface ValidationRun {
  /** what was compared, with what: the line printed above the table */
  header: string;
  /** what the simulation left out of the measured run's design, which the comparison should be read with */
  note?: string;
  /** the run's dependency faults as the simulation applied them (the rehearsal's times) */
  faults?: string;
  validation: Validation;
  calibration: Calibration;
}

/**
 * Draws of the system a validation pools by default (poolLatencies, --replications). Measured on
 * 2026-12-07 (four groups of eight on three records): one draw's p95 of a step varied by 10-20 %
 * (coefficient of variation) at the below point and a design's rehearsal, eight pooled by 1-4 %;
 * a validation takes ~30 % longer (2.5 to 3.3 s on the default rehearsal's record).
 */
const REPLICATIONS = 8;

/**
 * Validates a measured run: its calibration fitted on it (calibrate.ts fitRun) unless
 * `calibration` names a file, the same replay simulated, predicted set against measured. A bad
 * file or field is a message naming it.
 */
export function validateRun(runDir: string, f: ValidateFlags = {}): ValidationRun | string {
  let measured: RunRecord;
  let day: ReturnType<typeof dayOfRecord>;
  try {
    let calibration: Calibration;
    if (f.calibration) {
      measured = readRunRecord(runDir);
      if (measured.manifest.engine.name === 'simulator')
        return `${runDir}/run.json engine: a simulated run; validate needs a measured one`;
      calibration = loadCalibration(f.calibration);
    } else {
      const fitted = fitRun(runDir, f.prior ?? DEFAULT_CALIBRATION_FILE);
      if (typeof fitted === 'string') return fitted;
      measured = fitted.record;
      calibration = fitted.fit.calibration;
    }
    day = { ...dayOfRecord(measured, calibration), keepLatencyByInterval: true };
  } catch (err) {
    return inputProblem(err);
  }
  const result = simulateDay(day);
  // The run's registrants through more draws of the system, their latencies pooled: a predicted
  // percentile is then the model's, not one draw's (a rehearsal's few hundred sign-ups put a p95
  // on its ~17 slowest, which one draw of the service times moves by 15 % on its own).
  const replications = f.replications ?? REPLICATIONS;
  for (let k = 1; k < replications; k++)
    poolLatencies(result, simulateDay({ ...day, systemSeed: day.seed + k }));
  const { SERVICE_PROFILE = 'custom', ...knobs } = measured.manifest.stack.knobs;
  const sim = simulatedRecord(
    {
      runId: `${measured.manifest.runId}-predicted`,
      engineVersion: measured.manifest.engine.version,
      profileFile: measured.manifest.replay?.profile ?? '',
      serviceProfile: SERVICE_PROFILE,
      knobs,
      calibrationSource: day.calibration.source,
      overrides: {},
      day,
    },
    result,
  );
  // The latency the rehearsal machine added to every request (fitted on the run), added here, by
  // the interval each ended in: the simulated journeys themselves are not slowed by it.
  const over = overheadOverTime(measured, result);
  sim.manifest.totals.steps = withRequestOverhead(sim.manifest.totals.steps, result, day.calibration, over);
  const predicted = comparable({ dir: '(simulated)', ...sim, summary: sim.summary as never }, measured);
  const leftOut = recordedFaults(measured).left;
  const unmodelled = [
    unmodelledNote(day.knobs),
    leftOut.length > 0
      ? `The simulation ran without these of the rehearsal's faults: ${leftOut.join('; ')}.`
      : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  const o = day.calibration.service.requestOverheadMs;
  const h = day.calibration.service.scryptSpread;
  return {
    header: `${measured.manifest.runId}: measured against simulated (calibration: ${day.calibration.source}, ${day.cores} cores, ${machineOf(day, appliedWarmUp(measured, day.calibration))}, seed ${day.seed}${h ? `; a hash on its path: p50 ${h.p50}, p95 ${h.p95} of its CPU` : ''}${o ? `; request overhead added: p50 ${o.p50} ms, p95 ${o.p95} ms${overheadRange(over)}` : ''})`,
    // A switch of the measured design the simulation ran as off: its cells compare two designs.
    ...(unmodelled ? { note: unmodelled } : {}),
    ...((day.faults?.length ?? 0) + (day.kills?.length ?? 0) > 0
      ? {
          faults: `simulated as the rehearsal applied them: ${[...(day.faults ?? []), ...(day.kills ?? [])]
            .sort((a, b) => a.startMs - b.startMs)
            .map(
              (f) =>
                `${describeFault(f.entry)}, t=${secs(f.startMs)}-${Number.isFinite(f.endMs) ? `${secs(f.endMs)} s` : 'the end'}`,
            )
            .join('; ')}`,
        }
      : {}),
    validation: validationOf(measured, predicted),
    calibration: day.calibration,
  };
}

const secs = (ms: number) => String(Math.round(ms / 10) / 100);

/** How far the overhead's level moved by interval (overheadOverTime), as the header says it. */
function overheadRange(over: ReturnType<typeof overheadOverTime>): string {
  if (!over) return '';
  const f = (x: number) => x.toFixed(2);
  return ` at an average second, ${f(Math.min(...over))}-${f(Math.max(...over))} times that by interval as the light steps' measured p95 moved`;
}

/** The service's machine in the replay: its effective cores, the cores the others left it by interval, its warm-up. */
function machineOf(day: DayOptions, warmUp: Calibration['service']['warmUp'] | undefined): string {
  const effective = day.calibration.service.effectiveCores ?? day.cores;
  const left = day.cpuStretchOverTime?.cores;
  const shown = [
    left && left.length > 0
      ? `${Math.min(...left).toFixed(2)}-${Math.max(...left).toFixed(2)} cores by interval, as the other processes left them`
      : undefined,
    warmUp
      ? `a fresh service's warm-up, its CPU per request ${Math.round(warmUp.extra * 100)} % above the settled level at the start, fading in ${warmUp.tauS} s`
      : undefined,
  ].filter(Boolean);
  return `${effective} effective${shown.length > 0 ? ` (${shown.join('; ')})` : ''}`;
}

/**
 * The simulated record made comparable with the measured one: with the measured CPU of the
 * processes it does not model (the load generator, the mocks), inputs of the run rather than
 * predictions, without which the report could not call the machine's CPU saturated as it does on
 * the measured side; and without the utilisation of resources the measured record cannot show
 * (the service's event loop and SQLite lock), which could otherwise be named first to saturate
 * against a record that has no way to name them.
 */
function comparable(predicted: RunRecord, measured: RunRecord): RunRecord {
  const n = predicted.timeseries.t.length;
  const shown = new Set(
    measured.timeseries.series
      .filter((s) => s.name === 'dependency_utilisation')
      .map((s) => s.labels.dependency),
  );
  const others = measured.timeseries.series
    .filter((s) => s.name === 'process_cpu_cores' && s.labels.process !== 'registration')
    .map((s) => ({ ...s, values: Array.from({ length: n }, (_, i) => s.values[i] ?? null) }));
  const kept = predicted.timeseries.series.filter(
    (s) => s.name !== 'dependency_utilisation' || shown.has(s.labels.dependency),
  );
  return {
    ...predicted,
    manifest: { ...predicted.manifest, machine: measured.manifest.machine },
    timeseries: { ...predicted.timeseries, series: [...kept, ...others] },
  };
}

interface Compared {
  measured: number | null;
  predicted: number | null;
  /** null: not judged (too few, or nothing to compare) */
  ok: boolean | null;
}

export interface Validation {
  steps: Array<{
    step: string;
    requests: number;
    throughput: Compared;
    p50Ms: Compared;
    /**
     * with the measured p95's 95 % interval from its requests' order statistics (quantileInterval):
     * as close as the run measured it; null when its quantiles do not say
     */
    p95Ms: Compared & { measuredInterval: [number, number] | null };
    errorShare: Compared;
  }>;
  stages: Array<{ stage: string; reached: Compared; conversion: Compared }>;
  firstSaturated: {
    measured: { name: string; tSeconds: number } | null;
    predicted: { name: string; tSeconds: number } | null;
    ok: boolean;
  };
  ok: boolean;
}

const relativeOk = (m: number | null, p: number | null, tol: number): boolean | null =>
  m === null || p === null || m === 0 ? null : Math.abs(p - m) / m <= tol;

/**
 * Two records of one replay judged cell by cell with the tolerances above: the measured run
 * against its simulation, or (the validate bench's noise floor) against the same rehearsal run
 * again, the second record in the predicted place, `only` the steps a simulation has.
 */
export function validationOf(
  measured: RunRecord,
  predicted: RunRecord,
  only?: readonly string[],
): Validation {
  const durM = measured.manifest.replay?.durationSeconds ?? 1;
  const durP = predicted.manifest.replay?.durationSeconds ?? 1;
  const predSteps = new Map(predicted.manifest.totals.steps.map((s) => [s.step, s]));
  const steps = measured.manifest.totals.steps
    .filter((s) => predSteps.has(s.step) && (!only || only.includes(s.step)))
    .map((s) => {
      const p = predSteps.get(s.step) as (typeof predicted.manifest.totals.steps)[number];
      const judged = s.requests >= MIN_REQUESTS;
      const judge = (ok: boolean | null) => (judged ? ok : null);
      const tm = s.requests / durM;
      const tp = p.requests / durP;
      return {
        step: s.step,
        requests: s.requests,
        throughput: { measured: tm, predicted: tp, ok: judge(relativeOk(tm, tp, TOLERANCE.throughput)) },
        p50Ms: { measured: s.p50Ms, predicted: p.p50Ms, ok: null },
        p95Ms: {
          measured: s.p95Ms,
          predicted: p.p95Ms,
          ok: judge(relativeOk(s.p95Ms, p.p95Ms, TOLERANCE.p95)),
          measuredInterval: quantileInterval(s.requests, 0.95, [
            [0.5, s.p50Ms],
            [0.9, s.p90Ms],
            [0.95, s.p95Ms],
            [0.99, s.p99Ms],
          ]),
        },
        errorShare: {
          measured: s.requests > 0 ? s.failed / s.requests : null,
          predicted: p.requests > 0 ? p.failed / p.requests : null,
          ok: null,
        },
      };
    });
  const fm = funnelRows(measured);
  const fp = funnelRows(predicted);
  const stages = STAGES.map((stage, i) => {
    const m = fm[i] as (typeof fm)[number];
    const p = fp[i] as (typeof fp)[number];
    const before = i > 0 ? (fm[i - 1] as (typeof fm)[number]).reached : 0;
    const judged = i > 0 && before >= MIN_REACHED && m.conversion !== null && p.conversion !== null;
    return {
      stage,
      reached: { measured: m.reached, predicted: p.reached, ok: null },
      conversion: {
        measured: m.conversion,
        predicted: p.conversion,
        ok: judged
          ? Math.abs((p.conversion as number) - (m.conversion as number)) * 100 <= TOLERANCE.conversionPoints
          : null,
      },
    };
  });
  const first = (r: RunRecord) => {
    const f = buildReport(r).bottleneck.firstSaturated[0];
    return f ? { name: f.name, tSeconds: f.tSeconds } : null;
  };
  const sm = first(measured);
  const sp = first(predicted);
  const firstSaturated = { measured: sm, predicted: sp, ok: (sm?.name ?? null) === (sp?.name ?? null) };
  const v = { steps, stages, firstSaturated };
  return { ...v, ok: judgedCells(v).every(Boolean) };
}

/** The cells the tolerance judged, in the table's order: each step's throughput and p95, each stage's conversion, the first resource. */
export function judgedCells(v: Pick<Validation, 'steps' | 'stages' | 'firstSaturated'>): boolean[] {
  return [
    ...v.steps.flatMap((s) => [s.throughput.ok, s.p95Ms.ok]),
    ...v.stages.map((s) => s.conversion.ok),
    v.firstSaturated.ok,
  ].filter((c): c is boolean => c !== null);
}

const fmt = (x: number | null, digits = 0) => (x === null ? 'n/a' : x.toFixed(digits));
const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
const mark = (ok: boolean | null) => (ok === null ? '  ' : ok ? 'ok' : 'XX');
/** A measured p95's 95 % interval as validate and the bench print it (an unbounded top: "or more"). */
export const formatInterval = (iv: [number, number] | null, digits = 0): string =>
  iv === null
    ? 'n/a'
    : Number.isFinite(iv[1])
      ? `${fmt(iv[0], digits)}-${fmt(iv[1], digits)}`
      : `${fmt(iv[0], digits)} or more`;

/** the p95 misses whose prediction lies within the measured p95's own interval */
export function missesWithinMeasurement(v: Validation): string[] {
  return v.steps
    .filter((s) => {
      const iv = s.p95Ms.measuredInterval;
      const p = s.p95Ms.predicted;
      return s.p95Ms.ok === false && iv !== null && p !== null && iv[0] <= p && p <= iv[1];
    })
    .map((s) => s.step);
}

/** The comparison as a plain table: measured, predicted, and whether it is within tolerance. */
export function renderValidation(v: Validation): string {
  const lines = [
    'per step (measured -> predicted; ok/XX: within tolerance or not; blank: not judged)',
    `  ${'step'.padEnd(18)} ${'requests'.padStart(8)}   ${'throughput /s'.padEnd(22)} ${'p50 ms'.padEnd(18)} ${'p95 ms'.padEnd(22)} ${'measured p95 at 95 %'.padEnd(21)} error share`,
  ];
  for (const s of v.steps) {
    lines.push(
      `  ${s.step.padEnd(18)} ${String(s.requests).padStart(8)}   ${`${fmt(s.throughput.measured, 2)} -> ${fmt(s.throughput.predicted, 2)}`.padEnd(19)} ${mark(s.throughput.ok)} ${`${fmt(s.p50Ms.measured)} -> ${fmt(s.p50Ms.predicted)}`.padEnd(18)} ${`${fmt(s.p95Ms.measured)} -> ${fmt(s.p95Ms.predicted)}`.padEnd(19)} ${mark(s.p95Ms.ok)} ${formatInterval(s.p95Ms.measuredInterval).padEnd(21)} ${pct(s.errorShare.measured)} -> ${pct(s.errorShare.predicted)}`,
    );
  }
  lines.push('per stage (reached; conversion from the stage before)');
  for (const s of v.stages) {
    lines.push(
      `  ${s.stage.padEnd(18)} ${`${fmt(s.reached.measured)} -> ${fmt(s.reached.predicted)}`.padEnd(18)} ${`${pct(s.conversion.measured)} -> ${pct(s.conversion.predicted)}`.padEnd(22)} ${mark(s.conversion.ok)}`,
    );
  }
  const f = (x: Validation['firstSaturated']['measured']) =>
    x ? `${x.name} at t=${Math.round(x.tSeconds)} s` : 'nothing';
  lines.push(
    `first to saturate: ${f(v.firstSaturated.measured)} -> ${f(v.firstSaturated.predicted)} ${mark(v.firstSaturated.ok)}`,
    v.ok
      ? `WITHIN TOLERANCE (throughput and p95 ${TOLERANCE.throughput * 100} %, conversion ${TOLERANCE.conversionPoints} points, same first resource)`
      : `OUTSIDE TOLERANCE (throughput and p95 ${TOLERANCE.throughput * 100} %, conversion ${TOLERANCE.conversionPoints} points, same first resource)`,
  );
  const within = missesWithinMeasurement(v);
  if (within.length > 0)
    lines.push(
      `  ${within.join(', ')}: the predicted p95 lies within the measured one's 95 % interval, from its requests' order statistics (independent requests assumed; requests that queue together make it wider): the run did not measure it closer than that`,
    );
  return `${lines.join('\n')}\n`;
}
