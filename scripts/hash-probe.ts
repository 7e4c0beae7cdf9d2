import { hashPassword } from '../mock-services/registration/auth.ts';

/**
 * How long one password hash takes on this machine now: the reference service's own scrypt
 * (auth.ts, the run's SCRYPT_N), one at a time on an idle stack. The CPU's speed, measured at the
 * run rather than named: this project's machines all say "AMD EPYC", 2 cores, yet an scrypt hash
 * at N=16384 was timed at 41 ms in one session (2026-12-05, 14:00 UTC) and at 33.3-34.8 ms by
 * this probe in the next (22:10); the validate bench's knee point (scale 0.017) gave sign-up p95s
 * of 537-4,485 ms in the first and 240-272 ms in the second. Sign-up and login are mostly this
 * hash: a run on the slower machine is slower for a reason no change made, and compare says so
 * (reports/compare/comparability.ts).
 */
export interface HashProbe {
  /** the scrypt cost the hashes were made at (the run's SCRYPT_N) */
  n: number;
  /** ms the fastest of the probe's hashes took */
  ms: number;
  /** hashes timed */
  hashes: number;
}

const WARM_UP = 2;

export async function probeHash(n: number, o: { hashes?: number; maxMs?: number } = {}): Promise<HashProbe> {
  const most = o.hashes ?? 15;
  // At a large N a hash takes most of a second: the probe is bounded in time, not in hashes.
  const maxMs = o.maxMs ?? 1000;
  for (let k = 0; k < WARM_UP; k++) await hashPassword(`probe-warm-${k}`, n);
  const times: number[] = [];
  const start = performance.now();
  while (times.length < most && (times.length === 0 || performance.now() - start < maxMs)) {
    const t = performance.now();
    await hashPassword(`probe-${times.length}`, n);
    times.push(performance.now() - t);
  }
  // The fastest: what else ran at that moment only slows a hash. Six probes of 15 hashes in fresh
  // processes on one idle machine: the fastest 33.3-34.8 ms, the median 34.6-39.1, the slowest
  // 45.0-51.9; in the validate bench, between two rehearsals, a median once read 45.9 ms.
  const fastest = Math.min(...times);
  return { n, ms: Math.round(fastest * 1000) / 1000, hashes: times.length };
}
