import Database from 'better-sqlite3';

/**
 * Counters of failed attempts (a wrong password, an unknown verification token) per key (an email,
 * a client address) in fixed windows, kept in SQLite so that every process of the service
 * (WORKERS>1) counts against one limit: per-process memory would let N processes allow N times
 * the limit.
 *
 * The counters live in a file of their own, written with synchronous=OFF: a lost counter after a
 * power cut costs nothing worth an fsync, and their writes never wait for the journey's write lock.
 * The honest path leaves no row: a reservation that turns out not to be a failure is given back,
 * and the row goes with its last unit.
 */

type Db = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS attempts (
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  count INTEGER NOT NULL CHECK (count >= 0),
  PRIMARY KEY (scope, key)
) WITHOUT ROWID;
`;

/** A unit taken from a window, to give back if the attempt was not a failure after all. */
export interface Reservation {
  scope: string;
  key: string;
  expiresAt: number;
}

export type Take = { ok: true; reservation: Reservation } | { ok: false; retryAfterMs: number };

/** Where the counters of a service whose database is `dbPath` live: a file beside it. */
export function limitsPathFor(dbPath: string): string {
  if (dbPath === ':memory:' || dbPath === '') return ':memory:';
  const m = /^(.*?)(\.[^./\\]+)?$/.exec(dbPath);
  return `${m?.[1] ?? dbPath}.limits${m?.[2] ?? ''}`;
}

export class RateLimiter {
  private readonly db: Db;
  private readonly s;
  private takes = 0;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = OFF');
    this.db.exec(SCHEMA);
    this.s = {
      // One statement, so atomic across processes: a new window, or one more unit while under the limit.
      take: this.db.prepare(
        `INSERT INTO attempts (scope, key, expires_at, count) VALUES (@scope, @key, @now + @windowMs, 1)
         ON CONFLICT (scope, key) DO UPDATE SET
           count = CASE WHEN expires_at <= @now THEN 1 ELSE count + 1 END,
           expires_at = CASE WHEN expires_at <= @now THEN @now + @windowMs ELSE expires_at END
         WHERE expires_at <= @now OR count < @limit
         RETURNING expires_at`,
      ),
      peek: this.db.prepare('SELECT expires_at, count FROM attempts WHERE scope = ? AND key = ?'),
      giveBack: this.db.prepare(
        'UPDATE attempts SET count = count - 1 WHERE scope = ? AND key = ? AND expires_at = ? AND count > 1',
      ),
      dropLast: this.db.prepare(
        'DELETE FROM attempts WHERE scope = ? AND key = ? AND expires_at = ? AND count <= 1',
      ),
      purge: this.db.prepare('DELETE FROM attempts WHERE expires_at <= ?'),
    };
  }

  /**
   * Takes one unit of the window of (scope, key) when fewer than `limit` are taken; else how long
   * until the window ends. Strict: of simultaneous attempts, at most `limit` get through.
   */
  take(scope: string, key: string, limit: number, windowMs: number, now = Date.now()): Take {
    if (++this.takes % 1000 === 0) this.s.purge.run(now);
    const row = this.s.take.get({ scope, key, now, windowMs, limit }) as { expires_at: number } | undefined;
    if (row) return { ok: true, reservation: { scope, key, expiresAt: row.expires_at } };
    return { ok: false, retryAfterMs: this.retryAfterMs(scope, key, now) };
  }

  /** Gives back a reservation: the attempt was not a failure. */
  giveBack(r: Reservation): void {
    if (this.s.giveBack.run(r.scope, r.key, r.expiresAt).changes === 0)
      this.s.dropLast.run(r.scope, r.key, r.expiresAt);
  }

  /** Whether (scope, key) has used up its window, without taking anything; how long to wait if so. */
  check(
    scope: string,
    key: string,
    limit: number,
    now = Date.now(),
  ): { ok: true } | { ok: false; retryAfterMs: number } {
    const row = this.s.peek.get(scope, key) as { expires_at: number; count: number } | undefined;
    if (!row || row.expires_at <= now || row.count < limit) return { ok: true };
    return { ok: false, retryAfterMs: row.expires_at - now };
  }

  private retryAfterMs(scope: string, key: string, now: number): number {
    const row = this.s.peek.get(scope, key) as { expires_at: number } | undefined;
    return row ? Math.max(0, row.expires_at - now) : 0;
  }

  close(): void {
    this.db.close();
  }
}
