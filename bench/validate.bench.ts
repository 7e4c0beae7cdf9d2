import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compareRuns } from '../reports/compare/index.ts';
import { type RunRecord, readRunRecord, seriesValues } from '../reports/record.ts';
import { EXIT } from '../runner/index.ts';
import {
  formatInterval,
  missesWithinMeasurement,
  TOLERANCE,
  type Validation,
  validateRun,
  validationOf,
} from '../scripts/commands/validate.ts';
import { fromRoot } from '../scripts/paths.ts';
import { COSTED_STEPS } from '../simulator/calibration.ts';
import { coresLeft, serviceRequestIntervals } from '../simulator/fit.ts';
import { benchEnv } from './env.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * The simulator's accuracy against real rehearsals (issue 14): the default stack at three
 * operating points (well below saturation, at the knee, past it), each rehearsed on loopback and
 * then validated (`gelombang validate`: calibrated on the run, the same replay simulated). Rows:
 * per point, how many judged cells are within tolerance (15 % on each step's throughput and p95,
 * 5 points on each stage's conversion, the same first resource to saturate), the reference being
 * all of them. Then the noise floor: each point rehearsed again at once, with the first run's key
 * (the same registrants), and judged against the first by the same cells and tolerances: how
 * close a rehearsal comes to itself on this machine, which no prediction of it can be expected to
 * beat; and what `gelombang compare` says of that pair, in which nothing changed. The whole
 * comparison of each point goes to stderr as a markdown table, for bench/README.md. A fourth point,
 * beyond the issue's three, replays the first through a schedule of dependency faults
 * (bench/validate-faults.yaml), and a fifth with the service killed half way.
 *
 * The points are the 2020 profile's minutes 60-120 (after the opening spike: 1,115 arrivals a minute
 * falling to 816; 60-240 below the knee, to 464) compressed 60 times (one minute of load; three
 * below), think times compressed 20,000 times so registrants reach every step within it, at three
 * scales: on the reference CPU (REFERENCE_HASH_MS) 1.9, 19.6 and 25.8 arrivals a second. Sign-up
 * and login each hash a password (scrypt N=2^14): the service used 0.19, 1.45 and 1.60 cores
 * while requests came, of the 1.58 the load generator and the mocks left it (2026-12-05 21:30).
 */

interface Point {
  name: string;
  /** the scale given (BENCH_VALIDATE_*); else `reference`, scaled to this machine's CPU when `placed` */
  scale?: number;
  /** the scale that put the service at this point on a CPU whose hash took REFERENCE_HASH_MS */
  reference: number;
  /** placed by the CPU's speed (the knee and past it); the first point is well below on any CPU */
  placed?: true;
  /** the profile minutes replayed */
  window: [number, number];
  /** a fault schedule rehearse applies (and validate reads back from the record) */
  faults?: string;
  /** rehearse's --chaos: the service killed at these profile minutes */
  chaos?: string[];
}

type Placed = Point & { scale: number };

const GELOMBANG = fromRoot('bin/gelombang.js');

const COMPRESS = 60;
const THINK_COMPRESS = '20000';
const POINTS: Point[] = [
  // Three minutes of load where the others have one: at 3 arrivals a second a minute gives a step
  // about 120 requests, whose p95 (the sixth slowest) moves by more than 15 % between two runs.
  {
    name: 'below',
    scale: benchEnv('BENCH_VALIDATE_BELOW', 'positive'),
    reference: 0.0026,
    window: [60, 240],
  },
  {
    name: 'knee',
    scale: benchEnv('BENCH_VALIDATE_KNEE', 'positive'),
    reference: 0.0205,
    placed: true,
    window: [60, 120],
  },
  {
    name: 'past',
    scale: benchEnv('BENCH_VALIDATE_PAST', 'positive'),
    reference: 0.029,
    placed: true,
    window: [60, 120],
  },
  // Beyond the issue's three: the below point's replay through a schedule of dependency faults,
  // which validate simulates as the rehearsal applied them (simulator/faults.ts).
  {
    name: 'faulted',
    scale: benchEnv('BENCH_VALIDATE_FAULTED', 'positive'),
    reference: 0.0026,
    window: [60, 240],
    faults: 'bench/validate-faults.yaml',
  },
  // And the below point's replay with the service killed half way (SIGKILL, restarted at once),
  // which validate simulates as the rehearsal applied it (simulator/README.md "Faults").
  {
    name: 'killed',
    scale: benchEnv('BENCH_VALIDATE_KILLED', 'positive'),
    reference: 0.0026,
    window: [60, 240],
    chaos: ['kill-service@150'],
  },
];

/**
 * Where the knee is depends on the CPU, and the CPU's name does not tell its speed. On a machine
 * whose fastest scrypt hash at N=2^14 took 34.2 ms (scripts/hash-probe.ts: 33.3-34.8 in six
 * probes, 2026-12-05 22:10 UTC), 0.0205 put the service at the knee (the service first to
 * saturate, 3 s in; sign-up p95 1,707 and 855 ms in two runs; 1.45 of 1.58 cores) and 0.029 past
 * it (p95 9.4 s; 1.60 cores); 0.017 had been at the knee where the same hash was timed at 41 ms
 * (that morning), and 0.017 x 41 / 34.2 is 0.0204. So the knee and past points take the hash the
 * first point's rehearsal probed before its load (run.json machine.hashMs) and scale their
 * reference by the ratio: a faster CPU takes more registrants to its knee. Other work on the
 * machine takes cores rather than speed and is not in the probe: each row's note says the load
 * average and the cores the service used.
 */
const REFERENCE_HASH_MS = 34.2;

function placed(point: Point, firstDir: string | undefined): Placed & { how?: string } {
  if (point.scale !== undefined) return { ...point, scale: point.scale };
  if (!point.placed) return { ...point, scale: point.reference };
  const hash = firstDir ? readRunRecord(firstDir).manifest.machine?.hashMs : undefined;
  if (hash?.n !== 16384)
    throw new Error(
      `${point.name}: the first point's record has no hash probe at N=16384 to place it by (run.json machine.hashMs)`,
    );
  return {
    ...point,
    scale: Number(((point.reference * REFERENCE_HASH_MS) / hash.ms).toPrecision(3)),
    how: `scale ${point.reference} x ${REFERENCE_HASH_MS} / ${hash.ms} ms a hash here`,
  };
}

const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
const num = (x: number | null, d = 0) => (x === null ? 'n/a' : x.toFixed(d));
const mark = (ok: boolean | null) => (ok === null ? '' : ok ? 'ok' : '**out**');

/** One point's comparison as markdown: steps, stages, first resource; `other` names the second column. */
function markdown(title: string, v: Validation, other = 'predicted'): string {
  const lines = [
    `**${title}**`,
    '',
    `| step | requests | throughput /s measured | ${other} | | p95 ms measured | ${other} | | measured p95 at 95 % |`,
    '| --- | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: |',
    ...v.steps.map(
      (s) =>
        `| ${s.step} | ${s.requests} | ${num(s.throughput.measured, 2)} | ${num(s.throughput.predicted, 2)} | ${mark(s.throughput.ok)} | ${num(s.p95Ms.measured)} | ${num(s.p95Ms.predicted)} | ${mark(s.p95Ms.ok)} | ${formatInterval(s.p95Ms.measuredInterval, 1)} |`,
    ),
    '',
    `| stage | reached measured | ${other} | conversion measured | ${other} | |`,
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...v.stages.map(
      (s) =>
        `| ${s.stage} | ${num(s.reached.measured)} | ${num(s.reached.predicted)} | ${pct(s.conversion.measured)} | ${pct(s.conversion.predicted)} | ${mark(s.conversion.ok)} |`,
    ),
    '',
    `First to saturate: measured ${v.firstSaturated.measured ? `${v.firstSaturated.measured.name} at t=${Math.round(v.firstSaturated.measured.tSeconds)} s` : 'nothing'}, ${other} ${v.firstSaturated.predicted ? `${v.firstSaturated.predicted.name} at t=${Math.round(v.firstSaturated.predicted.tSeconds)} s` : 'nothing'} (${v.firstSaturated.ok ? 'same' : '**not the same**'}).`,
  ];
  return `${lines.join('\n')}\n`;
}

function rows(point: Placed, v: Validation, note: string, against: string): BenchRow[] {
  const count = (cells: Array<boolean | null>) => {
    const judged = cells.filter((c) => c !== null);
    return { ok: judged.filter((c) => c).length, judged: judged.length };
  };
  const outOf = (what: string, unit: string, c: { ok: number; judged: number }, out: string[]): BenchRow => ({
    bench: 'validate',
    metric: `${point.name} (scale ${point.scale}), ${against}: ${what}`,
    value: c.ok,
    unit,
    reference: c.judged,
    ratio: c.judged > 0 ? c.ok / c.judged : undefined,
    note: `${out.length ? `outside: ${out.join(', ')}; ` : ''}${note}`,
  });
  const within = new Set(missesWithinMeasurement(v));
  const stepsOut = (k: 'throughput' | 'p95Ms') =>
    v.steps
      .filter((s) => s[k].ok === false)
      .map((s) =>
        k === 'p95Ms' && within.has(s.step) ? `${s.step} (inside the measured p95's 95 % interval)` : s.step,
      );
  return [
    outOf(
      `steps within ${TOLERANCE.throughput * 100} % on throughput`,
      'steps',
      count(v.steps.map((s) => s.throughput.ok)),
      stepsOut('throughput'),
    ),
    outOf(
      `steps within ${TOLERANCE.p95 * 100} % on p95`,
      'steps',
      count(v.steps.map((s) => s.p95Ms.ok)),
      stepsOut('p95Ms'),
    ),
    outOf(
      `stages within ${TOLERANCE.conversionPoints} points on conversion`,
      'stages',
      count(v.stages.map((s) => s.conversion.ok)),
      v.stages.filter((s) => s.conversion.ok === false).map((s) => s.stage),
    ),
    outOf('same first resource to saturate', 'runs', count([v.firstSaturated.ok]), []),
  ];
}

/** The registration process's mean CPU (cores) over the intervals in which its steps had requests. */
function serviceCpu(record: RunRecord): number {
  const ts = record.timeseries;
  const cpu = seriesValues(ts, 'process_cpu_cores', { process: 'registration' }) ?? [];
  const busy = serviceRequestIntervals(ts).filter((i) => cpu[i] !== null && cpu[i] !== undefined);
  return busy.length ? busy.reduce((a, i) => a + (cpu[i] as number), 0) / busy.length : 0;
}

/**
 * One rehearsal of the knee, not measured, before the knee's: in five bench runs of five without
 * it (2026-12-05 21:30 to 2026-12-06 00:22) the first heavy rehearsal, after the light point, had
 * a higher sign-up p95 than the same rehearsal again (1,707 against 855 ms; 938/765; 1,288/715;
 * 2,388/760; 4,411/1,483), the CPU's hash probe within 3 % before both; in the fifth its service
 * spent 47-50 ms of CPU per sign-up or login in its first 40 s against the repeat's 42-44. In
 * three runs since, the warm-up rehearsal, now the first heavy one, was the slower once
 * (bench/README.md): a control for an effect not shown either way, at 70 s a run.
 * BENCH_VALIDATE_WARM_UP=0 leaves it out.
 */
const WARM_UP = benchEnv('BENCH_VALIDATE_WARM_UP', 'flag', true);
/**
 * BENCH_VALIDATE_REPEAT=0 leaves out the repeats (half the time): no noise floor then.
 */
const REPEAT = benchEnv('BENCH_VALIDATE_REPEAT', 'flag', true);

/** `gelombang rehearse` of a point, as a user types it (without where it writes). */
function rehearseArgs(point: Placed, runKey?: string): string[] {
  return [
    'rehearse',
    '--scale',
    String(point.scale),
    '--window',
    point.window.join('-'),
    '--compress',
    String(COMPRESS),
    '-e',
    `THINK_COMPRESS=${THINK_COMPRESS}`,
    ...(runKey ? ['-e', `RUN_KEY=${runKey}`] : []),
    ...(point.faults ? ['--faults', point.faults] : []),
    ...(point.chaos ?? []).flatMap((c) => ['--chaos', c]),
    '--capacity',
    'mock-services/capacity.default.json',
    '--absolute-capacity',
    '--no-full-scale',
  ];
}

/**
 * Each rehearsal in a process of its own, as a user runs it: run in the bench's process, the
 * second of a pair found the load generator warmed by the first (the runner's CPU differed by
 * 9-26 % between the two, 2026-12-05). That was not all of why the repeat ran faster: in
 * processes of their own, compare still called the past point's repeat an improvement in three
 * runs of three (bench/README.md).
 */
async function rehearse(
  point: Placed,
  results: string,
  runId: string,
  runKey?: string,
): Promise<{ runDir: string; note: string }> {
  const before = loadavg()[0] as number;
  const started = Date.now();
  const args = [GELOMBANG, ...rehearseArgs(point, runKey), '--results', results, '--run-id', runId, '-q'];
  const r = spawnSync(process.execPath, args, {
    cwd: fromRoot(),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallS = (Date.now() - started) / 1000;
  const after = loadavg()[0] as number;
  const runDir = join(results, runId);
  // 99: an objective broken, which the knee and past points are meant to do; the run is recorded.
  if ((r.status !== 0 && r.status !== EXIT.thresholdsFailed) || !existsSync(join(runDir, 'run.json')))
    throw new Error(
      `${runId}: the rehearsal failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-5).join(' / ')}`,
    );
  return {
    runDir,
    note: `${wallS.toFixed(0)} s wall; load average ${before.toFixed(1)} -> ${after.toFixed(1)} on ${cpus().length} cores`,
  };
}

const bench: Bench = {
  name: 'validate',
  async run() {
    const results = mkdtempSync(join(tmpdir(), 'gelombang-bench-validate-'));
    const out: BenchRow[] = [];
    let firstDir: string | undefined;
    let warmed = false;
    for (const p of POINTS) {
      const point = placed(p, firstDir);
      if (WARM_UP && point.placed && !warmed) {
        await rehearse(point, results, `${point.name}-warm-up`);
        warmed = true;
      }
      const first = await rehearse(point, results, point.name);
      firstDir ??= first.runDir;
      const v = validateRun(first.runDir);
      if (typeof v === 'string') throw new Error(`${point.name}: ${v}`);
      const record = readRunRecord(first.runDir);
      const used = serviceCpu(record);
      const left = coresLeft(record, record.manifest.machine?.cores ?? 0).mean;
      const command = `npx gelombang ${rehearseArgs(point).join(' ')}`;
      console.error(`\n${v.header}\n\n${markdown(`${point.name}: \`${command}\``, v.validation)}`);
      out.push(
        ...rows(
          point,
          v.validation,
          `${point.how ? `${point.how}; ` : ''}${first.note}; the service used ${used.toFixed(2)} cores while requests came, of ${left === undefined ? 'the machine' : `the ${left.toFixed(2)} the others left it on average`}; effective cores ${v.calibration.service.effectiveCores ?? '?'} (fitted)`,
          'simulated',
        ),
      );
      if (!REPEAT) continue;
      // The noise floor: the same rehearsal at once again, under the first one's run key (the same
      // registrants, as the simulation has them), judged against the first with the same tolerances
      // on the same cells (the simulated steps: not the mailbox's, which is the email mock's).
      const measured = readRunRecord(first.runDir);
      const runKey = measured.manifest.scenario.env.RUN_KEY;
      const again = await rehearse(point, results, `${point.name}-again`, runKey);
      const repeat = readRunRecord(again.runDir);
      const aa = validationOf(measured, repeat, COSTED_STEPS);
      console.error(
        `\n${point.name} rehearsed again (${again.note}), against the first:\n\n${markdown(`${point.name}, again`, aa, 'again')}`,
      );
      out.push(
        ...rows(
          point,
          aa,
          `${again.note}; the service used ${serviceCpu(readRunRecord(again.runDir)).toFixed(2)} cores while requests came (the first: ${used.toFixed(2)})`,
          'the same rehearsal again',
        ),
      );
      // What `gelombang compare` says of a change that was not made (its defaults, as a CI job runs it).
      const c = compareRuns(measured, repeat);
      out.push({
        bench: 'validate',
        metric: `${point.name} (scale ${point.scale}), \`gelombang compare\` of the same rehearsal twice: metrics called changed`,
        value: c.overall.worse.length + c.overall.better.length,
        unit: 'metrics',
        reference: c.metrics.length,
        ratio:
          c.metrics.length > 0
            ? (c.overall.worse.length + c.overall.better.length) / c.metrics.length
            : undefined,
        note: `verdict ${c.overall.verdict}${c.overall.worse.length ? `; worse: ${c.overall.worse.join(', ')}` : ''}${c.overall.better.length ? `; better: ${c.overall.better.join(', ')}` : ''}${c.warnings.length ? `; warned: ${c.warnings.join('; ')}` : ''}`,
      });
    }
    return out;
  },
};

export default bench;
