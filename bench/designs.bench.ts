import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SERVICE_SWITCHES, serviceProfileKnobs } from '../model/service-design.ts';
import { compareRuns } from '../reports/compare/index.ts';
import { type RunRecord, readRunRecord } from '../reports/record.ts';
import type { Report } from '../reports/report-model.ts';
import { judgedCells, validateRun } from '../scripts/commands/validate.ts';
import { readFaultFile } from '../scripts/faults.ts';
import { benchRehearsal } from './rehearse.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * What each part of the hardened design buys: the same replay and the same fault schedule (what
 * went wrong in 2020: mock-services/faults.2020.yaml) rehearsed on the 2020 design, on 2020 with
 * each switch alone, and on the hardened design, each run compared with the 2020 run of this bench
 * (`gelombang compare`'s verdict). Real rehearsals on loopback, about 75 s each, 9 in all.
 * BENCH_DESIGNS=hardened,2020+waiting-room runs some of them (2020 always runs: it is the reference).
 */

const WINDOW: [number, number] = [0, 45];
const SCALE = 0.0005;
const COMPRESS = 60;
const THINK_COMPRESS = 2000;
const FAULTS = resolve('mock-services/faults.2020.yaml');

const ALL = ['2020', ...Object.keys(SERVICE_SWITCHES).map((s) => `2020+${s}`), 'hardened'];

/**
 * The runs in order: a warm-up (discarded: the first rehearsal of a process pays for compiling
 * the services and the scenario, which made the reference look worse than it is), the reference,
 * the candidates, and the reference again last, whose difference from the first is the noise
 * floor between two runs of one design on this machine.
 */
function designs(): string[] {
  const asked = process.env.BENCH_DESIGNS?.split(',').filter(Boolean);
  for (const d of asked ?? []) serviceProfileKnobs(d);
  const candidates = asked ? asked.filter((d) => d !== '2020') : ALL.slice(1);
  return ['2020', ...candidates, '2020'];
}

interface Outcome {
  design: string;
  record: RunRecord;
  report: Report;
  arrivals: number;
  joined: number;
  failed: number;
  failedDuringFaults: number;
  p95: Record<string, number | null>;
}

function outcomeOf(design: string, dir: string): Outcome {
  const record = readRunRecord(dir);
  const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
  const funnel = record.manifest.totals.funnel;
  const count = (pick: (f: (typeof funnel)[number]) => boolean) =>
    funnel.filter(pick).reduce((a, f) => a + f.count, 0);
  const p95 = Object.fromEntries(record.manifest.totals.steps.map((s) => [s.step, s.p95Ms]));
  return {
    design,
    record,
    report,
    arrivals: record.manifest.totals.arrivals,
    joined: count((f) => f.stage === 'joined_wave' && f.outcome === 'continued'),
    failed: count((f) => f.outcome === 'failed'),
    failedDuringFaults: (report.faults ?? []).reduce((a, f) => a + (f.effect?.registrantsFailed ?? 0), 0),
    p95,
  };
}

const bench: Bench = {
  name: 'designs',
  async run() {
    const results = mkdtempSync(join(tmpdir(), 'gelombang-bench-designs-'));
    const faults = readFaultFile(FAULTS);
    const outcomes: Outcome[] = [];
    const runs = ['warm-up', ...designs()];
    for (const [i, design] of runs.entries()) {
      const warmUp = i === 0;
      const again = i === runs.length - 1;
      console.error(
        `  rehearsing ${warmUp ? '2020 (warm-up, not counted)' : again ? '2020 again' : design} ...`,
      );
      const runId = warmUp ? 'warm-up' : again ? '2020-again' : design.replace(/\+/g, '_');
      const profile = warmUp ? '2020' : design;
      const r = await benchRehearsal({
        scale: SCALE,
        compress: COMPRESS,
        window: WINDOW,
        knobs: serviceProfileKnobs(profile),
        serviceProfile: profile,
        resultsDir: results,
        runId,
        // Think times compressed far more than arrivals: each registrant walks the journey within
        // seconds of arriving, so the spike and the faults meet every step, and the run ends with
        // nobody still on the way.
        env: { THINK_COMPRESS: String(THINK_COMPRESS), GRACEFUL_STOP: '60s' },
        faults,
      });
      if (!r.report) throw new Error(`${runId}: the rehearsal produced no report: ${r.error}`);
      if (!warmUp) outcomes.push(outcomeOf(again ? '2020 (again)' : design, join(results, runId)));
    }
    const base = outcomes[0] as Outcome;
    const rows: BenchRow[] = [];
    const note = `window ${WINDOW.join('-')} min, scale ${SCALE}, compress ${COMPRESS}, think ${THINK_COMPRESS}, faults ${FAULTS.replace(`${process.cwd()}/`, '')}; reference: the 2020 design in the same bench run`;
    for (const o of outcomes) {
      const verdict = o === base ? 'the reference' : compareRuns(base.record, o.record).overall.verdict;
      const share = o.arrivals > 0 ? o.joined / o.arrivals : 0;
      const baseShare = base.arrivals > 0 ? base.joined / base.arrivals : 0;
      rows.push({
        bench: 'designs',
        metric: `${o.design}: share of arrivals who joined a wave`,
        value: share,
        unit: 'share',
        reference: baseShare,
        ratio: baseShare > 0 ? share / baseShare : undefined,
        note: `${o.joined} of ${o.arrivals}; compare vs 2020: ${verdict}; ${o.report.verdict.headline.slice(0, 160)}`,
      });
      rows.push({
        bench: 'designs',
        metric: `${o.design}: registrants failed by the system`,
        value: o.failed,
        unit: 'registrants',
        reference: base.failed,
        ratio: base.failed > 0 ? o.failed / base.failed : undefined,
        note: `${o.failedDuringFaults} of them while a fault lasted`,
      });
      for (const step of ['create_account', 'submit_biodata', 'upload_photo']) {
        const v = o.p95[step] ?? null;
        const ref = base.p95[step] ?? null;
        if (v === null) continue;
        rows.push({
          bench: 'designs',
          metric: `${o.design}: ${step} p95`,
          value: v,
          unit: 'ms',
          ...(ref !== null ? { reference: ref, ratio: ref > 0 ? v / ref : undefined } : {}),
          note,
        });
      }
      rows.push(simulatedRow(o));
    }
    return rows;
  },
};

/**
 * How close the capacity simulator comes to the design's rehearsal, faults included:
 * `gelombang validate` of the run, its judged cells within tolerance (the switches it does not
 * model named in the note).
 */
function simulatedRow(o: Outcome): BenchRow {
  const v = validateRun(o.record.dir);
  if (typeof v === 'string') throw new Error(`${o.design}: validate: ${v}`);
  const cells = judgedCells(v.validation);
  const out = v.validation.steps.flatMap((s) => [
    ...(s.throughput.ok === false ? [`${s.step} throughput`] : []),
    ...(s.p95Ms.ok === false ? [`${s.step} p95`] : []),
  ]);
  const ok = cells.filter(Boolean).length;
  return {
    bench: 'designs',
    metric: `${o.design}: the simulator's prediction of the run (validate), cells within tolerance`,
    value: ok,
    unit: 'cells',
    reference: cells.length,
    ratio: cells.length > 0 ? ok / cells.length : undefined,
    note: `${out.length ? `outside: ${out.join(', ')}` : 'all within'}${v.note ? `; ${v.note}` : ''}`,
  };
}

export default bench;
