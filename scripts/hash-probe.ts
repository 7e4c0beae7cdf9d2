import { hashPassword } from '../mock-services/registration/auth.ts';

/**
 * How long one password hash takes on this machine now: the reference service's own scrypt
 * (auth.ts, the run's SCRYPT_N), one at a time on an idle stack. The CPU's speed, measured at the
 * run rather than named: this project's machines all say "AMD EPYC", 2 cores, yet an scrypt hash
 * at N=16384 was timed at 41 ms in one session (2026-12-05, 14:00 UTC) and this probe took
 * 33.4-34.1 ms in the next (21:30); the validate bench's knee point gave sign-up p95s of 537-4,485
 * ms in the first and 240-272 ms in the second. Sign-up and login are mostly this hash: a run on
 * the slower machine is slower for a reason no change made, and compare says so
 * (reports/compare/comparability.ts).
 */
export interface HashProbe {
  /** the scrypt cost the hashes were made at (the run's SCRYPT_N) */
  n: number;
  /** ms a hash took, the median of the probe's hashes */
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
  // The median: one hash delayed by a scheduler's hiccup is not the machine's speed.
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  const median =
    times.length % 2 ? (times[mid] as number) : ((times[mid - 1] as number) + (times[mid] as number)) / 2;
  return { n, ms: Math.round(median * 1000) / 1000, hashes: times.length };
}
