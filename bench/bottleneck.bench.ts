import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_PROFILES } from '../model/service-design.ts';
import { benchEnv } from './env.ts';
import { benchRehearsal } from './rehearse.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * Whether the report's bottleneck is a property of the system or of one busy second: N identical
 * rehearsals (the 2020 design and capacities), and how many of them name
 * the same resources, in the same order, as saturating first. The reference is N: all agree.
 */

const RUNS = benchEnv('BENCH_BOTTLENECK_RUNS', 'count', 3);
// The case that flipped between "email" and "the CPU" from one run to the next (issue 13): the
// whole day at --compress 1000, 75 s of load.
const WINDOW: [number, number] = [0, benchEnv('BENCH_BOTTLENECK_MINUTES', 'count', 1260)];
const COMPRESS = benchEnv('BENCH_BOTTLENECK_COMPRESS', 'positive', 1000);
const SCALE = 0.0005;

const bench: Bench = {
  name: 'bottleneck',
  async run() {
    const results = mkdtempSync(join(tmpdir(), 'gelombang-bench-bottleneck-'));
    const answers: string[] = [];
    for (let i = 0; i < RUNS; i++) {
      const r = await benchRehearsal({
        scale: SCALE,
        compress: COMPRESS,
        window: WINDOW,
        knobs: { ...SERVICE_PROFILES['2020'] },
        serviceProfile: '2020',
        resultsDir: results,
        runId: `run-${i}`,
      });
      const first = r.report?.bottleneck.firstSaturated ?? [];
      answers.push(first.length ? first.map((x) => (x.kind === 'cpu' ? 'cpu' : x.name)).join(' + ') : 'none');
      console.error(`  run ${i + 1} of ${RUNS}: ${answers[i]}`);
    }
    const counts = new Map<string, number>();
    for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
    const [mode, agree] = [...counts].sort((a, b) => b[1] - a[1])[0] as [string, number];
    return [
      {
        bench: 'bottleneck',
        metric: `identical rehearsals naming the same first resources (${mode})`,
        value: agree,
        unit: 'runs',
        reference: RUNS,
        ratio: agree / RUNS,
        note: `registration-day, 2020 design, minutes ${WINDOW[0]}-${WINDOW[1]}, scale ${SCALE}, compress ${COMPRESS}; answers: ${[...counts].map(([a, n]) => `${a} x${n}`).join(', ')}`,
      } satisfies BenchRow,
    ];
  },
};

export default bench;
