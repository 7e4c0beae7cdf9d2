import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openDb } from '../mock-services/registration/db.ts';

/**
 * How long one write transaction holds SQLite's single write lock on the disk the run's database
 * is on: the reference service's database as db.ts opens it (WAL, the run's synchronous mode), one
 * account-sized row per BEGIN IMMEDIATE ... COMMIT, in a fresh file beside the run's, for each
 * synchronous mode. The simulator's `service.writeMs`, measured at the run rather than once: on
 * this machine the same loop took 2.62 ms a commit (FULL) on 2026-12-04 and 0.21 ms on
 * 2026-12-05, and a commit with FULL is mostly the disk's flush.
 */
export interface CommitProbe {
  /** ms a commit held the lock, the mean of the probe's commits (the lock's capacity is its inverse), by synchronous mode */
  FULL: number;
  NORMAL: number;
  /** commits timed in each mode */
  commits: number;
}

const WARM_UP = 20;

export function probeCommits(dir: string, o: { commits?: number; maxMs?: number } = {}): CommitProbe {
  const most = o.commits ?? 500;
  // A slow disk (tens of ms a flush) is told in fewer commits than a fast one: the probe is bounded in time.
  const maxMs = o.maxMs ?? 1000;
  const probeDir = mkdtempSync(join(dir, 'commit-probe-'));
  try {
    const ms = (mode: 'FULL' | 'NORMAL'): { mean: number; n: number } => {
      const db = openDb(join(probeDir, `${mode}.db`), mode);
      try {
        const insert = db.prepare('INSERT INTO accounts (email, password_hash, created_at) VALUES (?, ?, ?)');
        // An scrypt hash as the service stores it: salt and key, hex.
        const hash = `scrypt$16384$8$1$${'a'.repeat(32)}$${'b'.repeat(128)}`;
        const commit = (k: number) => {
          db.exec('BEGIN IMMEDIATE');
          insert.run(`probe-${k}@commit-probe.invalid`, hash, Date.now());
          db.exec('COMMIT');
        };
        // The first commits grow the file and compile the statements: not what a running service pays.
        for (let k = 0; k < WARM_UP; k++) commit(-1 - k);
        let n = 0;
        const start = performance.now();
        while (n < most && performance.now() - start < maxMs) commit(n++);
        return { mean: (performance.now() - start) / n, n };
      } finally {
        db.close();
      }
    };
    const full = ms('FULL');
    const normal = ms('NORMAL');
    const round = (x: number) => Math.round(x * 1000) / 1000;
    return { FULL: round(full.mean), NORMAL: round(normal.mean), commits: Math.min(full.n, normal.n) };
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
  }
}
