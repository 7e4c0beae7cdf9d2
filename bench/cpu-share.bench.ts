import { scrypt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Bench, BenchRow } from './types.ts';

/**
 * How this machine's scheduler shares the cores between an event loop and the password hashes on
 * libuv's pool, against the simulator's rule (simulator/cpu.ts: processor sharing, every runnable
 * thread at min(1, cores / runnable) of a core). A slice of work on the main thread, about 2 ms,
 * started by a timer every 10 ms, timed alone and then beside four scrypt hashes kept in flight
 * (libuv's default pool, the service's SCRYPT_N=16384). Processor sharing says each slice then
 * takes runnable / cores times its time alone (five threads on two cores: 2.5); a scheduler that
 * hands a waking thread the core at once (Linux's CFS) takes less. Asked by the validate bench:
 * light steps' p95 predicted over the measured on a saturated machine (bench/README.md).
 */

const SAMPLES = 300;
const POOL = 4;

const spin = (n: number): number => {
  let x = 0;
  for (let i = 0; i < n; i++) x += Math.sqrt(i);
  return x;
};

/** A loop count whose run takes about `ms` here, once the JIT has compiled it. */
function calibrate(ms: number): number {
  let n = 100_000;
  for (let w = 0; w < 50; w++) spin(n);
  for (;;) {
    const t = performance.now();
    spin(n);
    if (performance.now() - t >= ms) return n;
    n = Math.round(n * 1.3);
  }
}

const quantile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(p * (sorted.length - 1))] ?? Number.NaN;
};

async function slices(n: number): Promise<{ wall: number[]; late: number[] }> {
  const wall: number[] = [];
  const late: number[] = [];
  for (let k = 0; k < SAMPLES; k++) {
    const due = performance.now() + 10;
    await new Promise((r) => setTimeout(r, 10));
    const start = performance.now();
    late.push(start - due);
    spin(n);
    wall.push(performance.now() - start);
  }
  return { wall, late };
}

const bench: Bench = {
  name: 'cpu-share',
  async run() {
    const cores = availableParallelism();
    const n = calibrate(2);
    const alone = await slices(n);
    let hashing = true;
    let hashes = 0;
    const pump = (): void =>
      scrypt('password', 'salt', 64, { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }, () => {
        hashes++;
        if (hashing) pump();
      });
    for (let i = 0; i < POOL; i++) pump();
    await new Promise((r) => setTimeout(r, 500));
    const before = hashes;
    const started = performance.now();
    const beside = await slices(n);
    const rate = (hashes - before) / ((performance.now() - started) / 1000);
    hashing = false;
    const runnable = POOL + 1;
    const ps = Math.max(1, runnable / cores);
    const rows: BenchRow[] = [];
    for (const [p, label] of [
      [0.5, 'p50'],
      [0.95, 'p95'],
    ] as const) {
      const value = quantile(beside.wall, p);
      const reference = quantile(alone.wall, p);
      rows.push({
        bench: 'cpu-share',
        metric: `a ~2 ms slice of the event loop beside ${POOL} scrypt threads: ${label} wall time`,
        value,
        unit: 'ms',
        reference,
        ratio: value / reference,
        note: `reference: the same slice alone; processor sharing (the simulator's cores) says ${ps.toFixed(2)} (${runnable} runnable threads on ${cores} cores); ${SAMPLES} slices each, ${rate.toFixed(1)} hashes/s beside them`,
      });
    }
    rows.push({
      bench: 'cpu-share',
      metric: `the slice's timer beside ${POOL} scrypt threads: p95 late`,
      value: quantile(beside.late, 0.95),
      unit: 'ms',
      reference: quantile(alone.late, 0.95),
      ratio: quantile(beside.late, 0.95) / quantile(alone.late, 0.95),
      note: 'how long after its due time the slice began; reference: alone',
    });
    return rows;
  },
};

export default bench;
