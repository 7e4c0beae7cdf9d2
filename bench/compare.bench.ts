import { compareRuns } from '../reports/compare/index.ts';
import { makeRecord } from '../reports/fixtures/make-record.ts';
import { benchEnv } from './env.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * `gelombang compare`'s accuracy on simulated run records (reports/fixtures/make-record.ts: Poisson
 * arrivals, binomial funnel, lognormal latencies, each record from its own seed, as two rehearsals
 * of one system differ): how often two records of an unchanged system get any "better" or "worse"
 * verdict (goal: at most 1 - confidence, 5 %), and how often a real regression is caught.
 */

const PAIRS = benchEnv('BENCH_COMPARE_PAIRS', 'count', 400);
const POWER_PAIRS = Math.max(20, Math.round(PAIRS / 4));

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
