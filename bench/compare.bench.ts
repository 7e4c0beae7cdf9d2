import { rngFor, standardNormal } from '../model/random.ts';
import { compareRuns } from '../reports/compare/index.ts';
import { compareReplicates } from '../reports/compare/replicates.ts';
import { makeRecord } from '../reports/fixtures/make-record.ts';
import { benchEnv } from './env.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * `gelombang compare`'s accuracy on simulated run records (reports/fixtures/make-record.ts: Poisson
 * arrivals, binomial funnel, lognormal latencies, each record from its own seed, as two rehearsals
 * of one system differ): how often two records of an unchanged system get any "better" or "worse"
 * verdict (goal: at most 1 - confidence, 5 %), and how often a real regression is caught.
 *
 * Then with a spread between runs, as rehearsals on one machine have (the validate bench: the
 * knee's sign-up p95 moved threefold between two runs): each run's latencies scaled by a level
 * drawn log-normally (sigma SPREAD, 0.3: a run a third slower or faster is common). A pair judged
 * within its runs takes that level for a change; repeated runs a side (reports/compare/replicates.ts)
 * judge against it.
 */

const PAIRS = benchEnv('BENCH_COMPARE_PAIRS', 'count', 400);
const POWER_PAIRS = Math.max(20, Math.round(PAIRS / 4));
const TRIALS = benchEnv('BENCH_COMPARE_REPLICATE_TRIALS', 'count', 60);
const SPREAD = 0.3;

/** `n` runs of one system, each at its own level, the level drawn from trial `trial`'s own stream. */
function levelledRuns(trial: number, side: number, n: number, factor = 1) {
  const rng = rngFor(30_000, trial, side);
  return Array.from({ length: n }, (_, i) =>
    makeRecord({
      seed: 40_000 + trial * 64 + side * 16 + i,
      latencyFactor: factor * Math.exp(SPREAD * standardNormal(rng)),
    }),
  );
}

const bench: Bench = {
  name: 'compare',
  async run() {
    const rows: BenchRow[] = [];
    let alarms = 0;
    const t0 = performance.now();
    for (let k = 0; k < PAIRS; k++) {
      const c = compareRuns(makeRecord({ seed: 10_000 + 2 * k }), makeRecord({ seed: 10_001 + 2 * k }));
      if (c.overall.worse.length + c.overall.better.length > 0) alarms++;
    }
    const perComparisonMs = (performance.now() - t0) / PAIRS;
    rows.push({
      bench: 'compare',
      metric: `false "better/worse" over ${PAIRS} unchanged pairs`,
      value: alarms / PAIRS,
      unit: 'share',
      reference: 0.05,
      ratio: alarms / PAIRS / 0.05,
      note: `${alarms} of ${PAIRS} comparisons reported a change; reference: 1 - confidence (0.95, Holm over ~40 tests); goal <= 1`,
    });
    for (const [factor, what] of [
      [1.2, 'every latency +20 %'],
      [1.1, 'every latency +10 %'],
    ] as const) {
      let caught = 0;
      for (let k = 0; k < POWER_PAIRS; k++) {
        const c = compareRuns(
          makeRecord({ seed: 20_000 + 2 * k }),
          makeRecord({ seed: 20_001 + 2 * k, latencyFactor: factor }),
        );
        if (c.overall.verdict === 'regression') caught++;
      }
      rows.push({
        bench: 'compare',
        metric: `regression caught: ${what}`,
        value: caught / POWER_PAIRS,
        unit: 'share',
        reference: 0.8,
        ratio: caught / POWER_PAIRS / 0.8,
        note: `${caught} of ${POWER_PAIRS} pairs called a regression (gating p95, minimum effect 5 %); reference: the usual 80 % power`,
      });
    }
    const changed = (c: ReturnType<typeof compareRuns>) =>
      c.overall.worse.length + c.overall.better.length > 0;
    let pairAlarms = 0;
    for (let k = 0; k < TRIALS; k++) {
      const [a, b] = [levelledRuns(k, 0, 1)[0], levelledRuns(k, 1, 1)[0]];
      if (a && b && changed(compareRuns(a, b))) pairAlarms++;
    }
    rows.push({
      bench: 'compare',
      metric: `run levels spread (sigma ${SPREAD}): false "better/worse" over ${TRIALS} unchanged pairs`,
      value: pairAlarms / TRIALS,
      unit: 'share',
      reference: 0.05,
      ratio: pairAlarms / TRIALS / 0.05,
      note: `${pairAlarms} of ${TRIALS}: one run a side, tested within the runs; what repeats are for`,
    });
    for (const n of [3, 5, 10]) {
      let alarms = 0;
      let caught = 0;
      for (let k = 0; k < TRIALS; k++) {
        if (changed(compareReplicates(levelledRuns(k, 2, n), levelledRuns(k, 3, n)))) alarms++;
        const slower = compareReplicates(levelledRuns(k, 4, n), levelledRuns(k, 5, n, 1.5));
        if (slower.overall.verdict === 'regression') caught++;
      }
      rows.push({
        bench: 'compare',
        metric: `run levels spread (sigma ${SPREAD}), ${n} runs a side: false "better/worse" over ${TRIALS} unchanged`,
        value: alarms / TRIALS,
        unit: 'share',
        reference: 0.05,
        ratio: alarms / TRIALS / 0.05,
        note: `${alarms} of ${TRIALS} comparisons over repeats reported a change; goal <= 1`,
      });
      rows.push({
        bench: 'compare',
        metric: `run levels spread (sigma ${SPREAD}), ${n} runs a side: every latency +50 % caught`,
        value: caught / TRIALS,
        unit: 'share',
        reference: 0.8,
        ratio: caught / TRIALS / 0.8,
        note: `${caught} of ${TRIALS} called a regression; reference: the usual 80 % power`,
      });
    }
    rows.push({
      bench: 'compare',
      metric: 'time per comparison (2 records of 60 intervals)',
      value: perComparisonMs,
      unit: 'ms',
      note: 'record simulation included',
    });
    return rows;
  },
};

export default bench;
