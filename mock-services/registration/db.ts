import Database from 'better-sqlite3';

/**
 * All SQL of the reference service. SQLite in WAL mode shared by every cluster process; each step
 * of the journey is one transaction, so a refused request leaves no row behind and an
 * acknowledged one is on disk (synchronous=FULL by default) before the answer leaves.
 */

type Db = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  email_verified_at INTEGER,
  nik TEXT UNIQUE,
  full_name TEXT,
  place_of_birth TEXT,
  date_of_birth TEXT,
  gender TEXT,
  address TEXT,
  occupation_status TEXT,
  priority TEXT,
  biodata_at INTEGER,
  photo_key TEXT,
  photo_bytes INTEGER,
  photo_at INTEGER,
  assessment_score INTEGER,
  assessment_passed INTEGER,
  assessment_at INTEGER
);
CREATE TABLE IF NOT EXISTS email_tokens (
  token_hash TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE TABLE IF NOT EXISTS sessions (
  token_hash TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  to_address TEXT NOT NULL,
  subject TEXT NOT NULL,
  body_text TEXT NOT NULL,
  body_html TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  claimed_until INTEGER,
  sent_at INTEGER,
  last_error TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (sent_at, next_attempt_at);
CREATE TABLE IF NOT EXISTS outbox_pace (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  tokens REAL NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS waves (
  number INTEGER PRIMARY KEY CHECK (number >= 1),
  quota INTEGER NOT NULL CHECK (quota >= 0),
  joined INTEGER NOT NULL DEFAULT 0 CHECK (joined >= 0),
  status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  opens_at INTEGER,
  closes_at INTEGER
);
CREATE TABLE IF NOT EXISTS wave_members (
  account_id INTEGER PRIMARY KEY REFERENCES accounts(id),
  wave_number INTEGER NOT NULL REFERENCES waves(number),
  joined_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS photo_uploads (
  account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  object_key TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS verification_resends (
  account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  sent_at INTEGER NOT NULL
);
`;

/** Columns added after the first release: a database file of an earlier run gets them at start. */
const ADDED_COLUMNS: ReadonlyArray<[table: string, column: string, type: string]> = [
  ['email_tokens', 'replaced_at', 'INTEGER'],
  ['sessions', 'revoked_at', 'INTEGER'],
  ['outbox', 'dead_at', 'INTEGER'],
];

function addMissingColumns(db: Db): void {
  for (const [table, column, type] of ADDED_COLUMNS) {
    const columns = db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
    if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
  }
}

/** How long a write waits for another process's transaction before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 10_000;

export function openDb(path: string, synchronous: 'FULL' | 'NORMAL' = 'FULL'): Db {
  const db = new Database(path);
  // Several cluster processes write the same file: wait for the lock instead of failing at once.
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${synchronous}`);
  db.pragma('foreign_keys = ON');
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(SCHEMA);
    addMissingColumns(db);
    db.exec('COMMIT');
  } catch (err) {
    db.exec('ROLLBACK');
    throw err;
  }
  return db;
}

export interface AccountRow {
  id: number;
  email: string;
  password_hash: string;
  created_at: number;
  email_verified_at: number | null;
  nik: string | null;
  full_name: string | null;
  date_of_birth: string | null;
  priority: string | null;
  biodata_at: number | null;
  photo_key: string | null;
  photo_at: number | null;
  assessment_score: number | null;
  assessment_at: number | null;
}

interface WaveRow {
  number: number;
  quota: number;
  joined: number;
  status: 'open' | 'closed';
  opens_at: number | null;
  closes_at: number | null;
}

type JoinResult = 'joined' | 'wave_not_found' | 'wave_closed' | 'wave_full' | 'already_joined';

export interface SessionRow {
  account_id: number;
  expires_at: number;
  revoked_at: number | null;
}

/** What a registrant declared when asking for a presigned upload URL. */
export interface PendingPhoto {
  object_key: string;
  content_type: string;
  size: number;
  expires_at: number;
}

export type TokenResult = 'verified' | 'invalid' | 'used' | 'replaced' | 'expired';

/** Prepared statements and the multi-statement transactions of the journey. */
export class Repository {
  private readonly s;

  constructor(readonly db: Db) {
    this.s = {
      insertAccount: db.prepare('INSERT INTO accounts (email, password_hash, created_at) VALUES (?, ?, ?)'),
      insertToken: db.prepare(
        'INSERT INTO email_tokens (token_hash, account_id, expires_at) VALUES (?, ?, ?)',
      ),
      insertOutbox: db.prepare(
        'INSERT INTO outbox (account_id, to_address, subject, body_text, body_html, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      accountByEmail: db.prepare('SELECT * FROM accounts WHERE email = ?'),
      accountById: db.prepare('SELECT * FROM accounts WHERE id = ?'),
      accountByNik: db.prepare('SELECT id FROM accounts WHERE nik = ?'),
      tokenByHash: db.prepare('SELECT * FROM email_tokens WHERE token_hash = ?'),
      useToken: db.prepare('UPDATE email_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL'),
      verifyEmail: db.prepare(
        'UPDATE accounts SET email_verified_at = ? WHERE id = ? AND email_verified_at IS NULL',
      ),
      insertSession: db.prepare('INSERT INTO sessions (token_hash, account_id, expires_at) VALUES (?, ?, ?)'),
      sessionByHash: db.prepare(
        'SELECT account_id, expires_at, revoked_at FROM sessions WHERE token_hash = ?',
      ),
      revokeSession: db.prepare(
        'UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL',
      ),
      saveBiodata: db.prepare(
        `UPDATE accounts SET nik = ?, full_name = ?, place_of_birth = ?, date_of_birth = ?, gender = ?, address = ?,
         occupation_status = ?, priority = ?, biodata_at = ? WHERE id = ? AND biodata_at IS NULL`,
      ),
      // Only the first of simultaneous uploads for one account can change the row: the others see photo_at set.
      savePhoto: db.prepare(
        'UPDATE accounts SET photo_key = ?, photo_bytes = ?, photo_at = ? WHERE id = ? AND biodata_at IS NOT NULL AND photo_at IS NULL',
      ),
      setPendingPhoto: db.prepare(
        `INSERT INTO photo_uploads (account_id, object_key, content_type, size, expires_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (account_id) DO UPDATE SET object_key = excluded.object_key,
           content_type = excluded.content_type, size = excluded.size, expires_at = excluded.expires_at`,
      ),
      pendingPhoto: db.prepare('SELECT * FROM photo_uploads WHERE account_id = ?'),
      lastResend: db.prepare('SELECT sent_at FROM verification_resends WHERE account_id = ?'),
      setResend: db.prepare(
        `INSERT INTO verification_resends (account_id, sent_at) VALUES (?, ?)
         ON CONFLICT (account_id) DO UPDATE SET sent_at = excluded.sent_at`,
      ),
      undoResend: db.prepare(
        'UPDATE verification_resends SET sent_at = ? WHERE account_id = ? AND sent_at = ?',
      ),
      dropResend: db.prepare('DELETE FROM verification_resends WHERE account_id = ? AND sent_at = ?'),
      replaceTokens: db.prepare(
        'UPDATE email_tokens SET replaced_at = ? WHERE account_id = ? AND used_at IS NULL AND replaced_at IS NULL',
      ),
      saveAssessment: db.prepare(
        'UPDATE accounts SET assessment_score = ?, assessment_passed = ?, assessment_at = ? WHERE id = ? AND assessment_at IS NULL AND photo_at IS NOT NULL',
      ),
      wave: db.prepare('SELECT * FROM waves WHERE number = ?'),
      waves: db.prepare('SELECT * FROM waves ORDER BY number'),
      // Two simultaneous creations of one wave (two processes): the loser changes nothing, and says so.
      insertWave: db.prepare(
        'INSERT INTO waves (number, quota, status, opens_at, closes_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (number) DO NOTHING',
      ),
      membership: db.prepare('SELECT wave_number, joined_at FROM wave_members WHERE account_id = ?'),
      takePlace: db.prepare(
        "UPDATE waves SET joined = joined + 1 WHERE number = ? AND joined < quota AND status = 'open'",
      ),
      insertMember: db.prepare(
        'INSERT INTO wave_members (account_id, wave_number, joined_at) VALUES (?, ?, ?)',
      ),
      countMembers: db.prepare('SELECT COUNT(*) AS n FROM wave_members WHERE wave_number = ?'),
      outboxDepth: db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL'),
      outboxDeadLetters: db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE dead_at IS NOT NULL'),
      claimOutbox: db.prepare(
        `UPDATE outbox SET claimed_until = ?, attempts = attempts + 1
         WHERE id = (SELECT id FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at <= ?
                     AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY id LIMIT 1)
         RETURNING *`,
      ),
      outboxPace: db.prepare('SELECT tokens, updated_at FROM outbox_pace WHERE id = 1'),
      setOutboxPace: db.prepare(
        `INSERT INTO outbox_pace (id, tokens, updated_at) VALUES (1, ?, ?)
         ON CONFLICT (id) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`,
      ),
      outboxDead: db.prepare(
        'UPDATE outbox SET dead_at = ?, claimed_until = NULL, last_error = ? WHERE id = ?',
      ),
      outboxSent: db.prepare('UPDATE outbox SET sent_at = ?, claimed_until = NULL WHERE id = ?'),
      releaseClaims: db.prepare(
        'UPDATE outbox SET claimed_until = NULL WHERE sent_at IS NULL AND claimed_until IS NOT NULL',
      ),
      outboxFailed: db.prepare(
        'UPDATE outbox SET next_attempt_at = ?, claimed_until = NULL, last_error = ? WHERE id = ?',
      ),
    };
  }

  /** Account + email token (+ outbox row) in one transaction; throws on a duplicate email. */
  createAccount(
    email: string,
    passwordHash: string,
    tokenHash: string,
    tokenExpiresAt: number,
    outbox?: { subject: string; text: string; html: string },
  ): number {
    return this.db
      .transaction(() => {
        const now = Date.now();
        const id = Number(this.s.insertAccount.run(email, passwordHash, now).lastInsertRowid);
        this.s.insertToken.run(tokenHash, id, tokenExpiresAt);
        if (outbox) this.s.insertOutbox.run(id, email, outbox.subject, outbox.text, outbox.html, now);
        return id;
      })
      .immediate();
  }

  accountByEmail(email: string): AccountRow | undefined {
    return this.s.accountByEmail.get(email) as AccountRow | undefined;
  }

  accountById(id: number): AccountRow | undefined {
    return this.s.accountById.get(id) as AccountRow | undefined;
  }

  nikTaken(nik: string, exceptAccount: number): boolean {
    const row = this.s.accountByNik.get(nik) as { id: number } | undefined;
    return row !== undefined && row.id !== exceptAccount;
  }

  /** Atomically: a token can verify once, and not after a newer one replaced it. */
  useEmailToken(hash: string, now: number): { result: TokenResult; email?: string } {
    return this.db
      .transaction((): { result: TokenResult; email?: string } => {
        const t = this.s.tokenByHash.get(hash) as
          | { account_id: number; expires_at: number; used_at: number | null; replaced_at: number | null }
          | undefined;
        if (!t) return { result: 'invalid' as const };
        if (t.used_at !== null) return { result: 'used' as const };
        if (t.replaced_at !== null) return { result: 'replaced' as const };
        if (t.expires_at < now) return { result: 'expired' as const };
        this.s.useToken.run(now, hash);
        this.s.verifyEmail.run(now, t.account_id);
        const account = this.accountById(t.account_id);
        return { result: 'verified' as const, email: account?.email };
      })
      .immediate();
  }

  /**
   * Takes the account's resend slot when the last resend is at least `intervalMs` old: atomic
   * across processes, so simultaneous resends send one mail. Returns what to restore if the
   * mail then cannot be sent, or how long to wait.
   */
  claimResend(
    accountId: number,
    now: number,
    intervalMs: number,
  ): { claimed: true; previous: number | null } | { claimed: false; retryAfterMs: number } {
    return this.db
      .transaction(() => {
        const last = this.s.lastResend.get(accountId) as { sent_at: number } | undefined;
        if (last && now - last.sent_at < intervalMs)
          return { claimed: false as const, retryAfterMs: last.sent_at + intervalMs - now };
        this.s.setResend.run(accountId, now);
        return { claimed: true as const, previous: last?.sent_at ?? null };
      })
      .immediate();
  }

  /** Gives the slot back (the mail could not be sent), unless another resend took it since. */
  releaseResend(accountId: number, claimedAt: number, previous: number | null): void {
    if (previous === null) this.s.dropResend.run(accountId, claimedAt);
    else this.s.undoResend.run(previous, accountId, claimedAt);
  }

  /** A fresh verification token (+ outbox row); every earlier unused token of the account stops working. */
  replaceEmailToken(
    accountId: number,
    hash: string,
    expiresAt: number,
    outbox?: { to: string; subject: string; text: string; html: string },
  ): void {
    this.db
      .transaction(() => {
        const now = Date.now();
        this.s.replaceTokens.run(now, accountId);
        this.s.insertToken.run(hash, accountId, expiresAt);
        if (outbox)
          this.s.insertOutbox.run(accountId, outbox.to, outbox.subject, outbox.text, outbox.html, now);
      })
      .immediate();
  }

  createSession(hash: string, accountId: number, expiresAt: number): void {
    this.s.insertSession.run(hash, accountId, expiresAt);
  }

  session(hash: string): SessionRow | undefined {
    return this.s.sessionByHash.get(hash) as SessionRow | undefined;
  }

  /** Ends a session (logout); false when it was already ended. */
  revokeSession(hash: string, now: number): boolean {
    return this.s.revokeSession.run(now, hash).changes === 1;
  }

  /** false when biodata was saved meanwhile (a concurrent request won) */
  saveBiodata(
    id: number,
    b: {
      nik: string;
      fullName: string;
      placeOfBirth: string;
      dateOfBirth: string;
      gender: string;
      address: unknown;
      occupationStatus: string;
      priority: string;
    },
  ): boolean {
    const r = this.s.saveBiodata.run(
      b.nik,
      b.fullName,
      b.placeOfBirth,
      b.dateOfBirth,
      b.gender,
      JSON.stringify(b.address),
      b.occupationStatus,
      b.priority,
      Date.now(),
      id,
    );
    return r.changes === 1;
  }

  /**
   * Records the photo of an account that has none yet; false when it already has one (a
   * simultaneous upload or confirmation won).
   */
  savePhoto(id: number, key: string, bytes: number): boolean {
    return this.s.savePhoto.run(key, bytes, Date.now(), id).changes === 1;
  }

  /** The registrant's latest presigned upload declaration replaces any earlier one. */
  setPendingPhoto(id: number, p: PendingPhoto): void {
    this.s.setPendingPhoto.run(id, p.object_key, p.content_type, p.size, p.expires_at);
  }

  pendingPhoto(id: number): PendingPhoto | undefined {
    return this.s.pendingPhoto.get(id) as PendingPhoto | undefined;
  }

  saveAssessment(id: number, score: number, passed: boolean): boolean {
    return this.s.saveAssessment.run(score, passed ? 1 : 0, Date.now(), id).changes === 1;
  }

  wave(n: number): WaveRow | undefined {
    return this.s.wave.get(n) as WaveRow | undefined;
  }

  waves(): WaveRow[] {
    return this.s.waves.all() as WaveRow[];
  }

  /** false when the wave exists already (perhaps created a moment ago by another process). */
  createWave(w: {
    number: number;
    quota: number;
    status: 'open' | 'closed';
    opensAt?: number;
    closesAt?: number;
  }): boolean {
    return (
      this.s.insertWave.run(w.number, w.quota, w.status, w.opensAt ?? null, w.closesAt ?? null).changes === 1
    );
  }

  /** Changes status and/or quota; refuses a quota below the places already taken. */
  updateWave(
    n: number,
    patch: { status?: 'open' | 'closed'; quota?: number },
  ): WaveRow | 'not_found' | 'quota_below_joined' {
    return this.db
      .transaction(() => {
        const w = this.wave(n);
        if (!w) return 'not_found' as const;
        const quota = patch.quota ?? w.quota;
        if (quota < w.joined) return 'quota_below_joined' as const;
        this.db
          .prepare('UPDATE waves SET quota = ?, status = ? WHERE number = ?')
          .run(quota, patch.status ?? w.status, n);
        return this.wave(n) as WaveRow;
      })
      .immediate();
  }

  ensureFirstWave(quota: number): void {
    this.db
      .transaction(() => {
        if ((this.s.waves.all() as WaveRow[]).length === 0)
          this.createWave({ number: 1, quota, status: 'open' });
      })
      .immediate();
  }

  membership(accountId: number): { wave_number: number; joined_at: number } | undefined {
    return this.s.membership.get(accountId) as { wave_number: number; joined_at: number } | undefined;
  }

  /**
   * Takes a place atomically: the conditional UPDATE can only succeed while joined < quota, and
   * BEGIN IMMEDIATE serialises writers across processes, so the quota is never oversold.
   */
  joinWave(accountId: number, n: number, now: number): JoinResult {
    return this.db
      .transaction((): JoinResult => {
        const w = this.wave(n);
        if (!w) return 'wave_not_found';
        if (
          w.status !== 'open' ||
          (w.opens_at !== null && now < w.opens_at) ||
          (w.closes_at !== null && now > w.closes_at)
        ) {
          return 'wave_closed';
        }
        if (this.membership(accountId)) return 'already_joined';
        if (this.s.takePlace.run(n).changes !== 1) return 'wave_full';
        this.s.insertMember.run(accountId, n, now);
        return 'joined';
      })
      .immediate();
  }

  countMembers(n: number): number {
    return (this.s.countMembers.get(n) as { n: number }).n;
  }

  /** Mails still to be sent: dead letters are not waiting for anything. */
  outboxDepth(): number {
    return (this.s.outboxDepth.get() as { n: number }).n;
  }

  outboxDeadLetters(): number {
    return (this.s.outboxDeadLetters.get() as { n: number }).n;
  }

  /**
   * At the service's start no sender of an earlier run is alive, so a lease one held when it was
   * killed only delays that mail by the lease (60 s); releasing it sends it now. Either way the
   * mail goes out at least once, as after any lease expiry.
   */
  releaseOutboxClaims(): number {
    return this.s.releaseClaims.run().changes;
  }

  claimOutbox(now: number, leaseMs: number): OutboxRow | undefined {
    return this.s.claimOutbox.get(now + leaseMs, now, now) as OutboxRow | undefined;
  }

  /**
   * Claims a due mail only if the send rate shared by every process on this file allows one now:
   * a token bucket in one row (`perSecond` tokens a second, at most one second's worth saved up),
   * taken in the claim's own transaction so that N processes together never exceed the rate.
   * Without a token, says how long until the next; a token is spent only on a mail claimed.
   */
  claimOutboxAtRate(
    now: number,
    leaseMs: number,
    perSecond: number,
  ): { row: OutboxRow | undefined; waitMs: number } {
    return this.db
      .transaction(() => {
        const burst = Math.max(1, perSecond);
        const pace = this.s.outboxPace.get() as { tokens: number; updated_at: number } | undefined;
        // A clock that stepped back (NTP) refills nothing for that step, and never drains the bucket.
        const elapsedS = pace ? Math.max(0, now - pace.updated_at) / 1000 : 0;
        const tokens = pace ? Math.min(burst, pace.tokens + elapsedS * perSecond) : burst;
        if (tokens < 1) {
          // Re-based on the clock as it is now, or a step back would stall the bucket until it caught up.
          if (pace && now < pace.updated_at) this.s.setOutboxPace.run(tokens, now);
          return { row: undefined, waitMs: Math.ceil(((1 - tokens) / perSecond) * 1000) };
        }
        const row = this.claimOutbox(now, leaseMs);
        if (row) this.s.setOutboxPace.run(tokens - 1, now);
        return { row, waitMs: 0 };
      })
      .immediate();
  }

  outboxSent(id: number): void {
    this.s.outboxSent.run(Date.now(), id);
  }

  outboxFailed(id: number, retryAt: number, error: string): void {
    this.s.outboxFailed.run(retryAt, error, id);
  }

  /** Sets a mail aside for good (its attempts are used up), keeping why its last attempt failed. */
  outboxDead(id: number, error: string): void {
    this.s.outboxDead.run(Date.now(), error, id);
  }
}

export interface OutboxRow {
  id: number;
  account_id: number;
  to_address: string;
  subject: string;
  body_text: string;
  body_html: string;
  attempts: number;
}
