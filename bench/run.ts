import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { BenchEnvError } from './env.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * `npm run bench`: runs every bench module in turn (one at a time: they share 2 cores), prints one
 * table and writes bench/results.json. `npm run bench -- registration` runs the named ones only.
 */
const modules: Record<string, () => Promise<Bench>> = {
  registration: async () => (await import('./registration.bench.ts')).default,
  runner: async () => (await import('./runner.bench.ts')).default,
  compare: async () => (await import('./compare.bench.ts')).default,
  simulator: async () => (await import('./simulator.bench.ts')).default,
  k6: async () => (await import('./k6.bench.ts')).default,
  bottleneck: async () => (await import('./bottleneck.bench.ts')).default,
  'bad-input': async () => (await import('./bad-input.bench.ts')).default,
  validate: async () => (await import('./validate.bench.ts')).default,
  crash: async () => (await import('./crash.bench.ts')).default,
  designs: async () => (await import('./designs.bench.ts')).default,
  similitude: async () => (await import('./similitude.bench.ts')).default,
  'cpu-share': async () => (await import('./cpu-share.bench.ts')).default,
  startup: async () => (await import('./startup.bench.ts')).default,
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
for (const w of wanted) {
  if (!modules[w]) {
    console.error(`unknown bench '${w}': expected one of ${Object.keys(modules).join(', ')}`);
    process.exit(2);
  }
}
const selected = wanted.length ? wanted : Object.keys(modules);

// Every selected module loads (and reads its BENCH_* knobs) before the first runs: a bad knob of
// the last bench is refused at once, not after the others' minutes.
const benches: Bench[] = [];
for (const name of selected) {
  try {
    benches.push(await modules[name]!());
  } catch (err) {
    if (!(err instanceof BenchEnvError)) throw err;
    console.error(`bench '${name}': ${err.message}`);
    process.exit(2);
  }
}

const rows: BenchRow[] = [];
for (const bench of benches) {
  console.error(`running ${bench.name} ...`);
  rows.push(...(await bench.run()));
}

const fmt = (v: number | undefined) =>
  v === undefined ? '' : Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(v < 10 ? 3 : 1);
const table = [
  '| bench | metric | value | unit | reference | ratio | note |',
  '| --- | --- | ---: | --- | ---: | ---: | --- |',
  ...rows.map(
    (r) =>
      `| ${r.bench} | ${r.metric} | ${fmt(r.value)} | ${r.unit} | ${fmt(r.reference)} | ${fmt(r.ratio)} | ${r.note ?? ''} |`,
  ),
].join('\n');
console.log(table);
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`;
// Running some benches keeps the others' last rows (each row says when and where it was measured).
const file = join(import.meta.dirname, 'results.json');
let kept: Array<BenchRow & { date?: string; machine?: string }> = [];
try {
  const before = JSON.parse(readFileSync(file, 'utf8')) as {
    date?: string;
    machine?: string;
    rows: Array<BenchRow & { date?: string; machine?: string }>;
  };
  kept = before.rows
    .filter((r) => !selected.includes(r.bench))
    .map((r) => ({ date: before.date, machine: before.machine, ...r }));
} catch {
  // no earlier results
}
const date = new Date().toISOString();
writeFileSync(
  file,
  `${JSON.stringify({ date, machine, rows: [...kept, ...rows.map((r) => ({ date, machine, ...r }))] }, null, 2)}\n`,
);
console.error(`\n${machine}; written to bench/results.json`);
