import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { sessionProblem, tokenHash } from './auth.ts';
import { beforeAnswer } from './before-answer.ts';
import type { Repository } from './db.ts';
import { ApiError } from './errors.ts';
import type { ServiceMetrics } from './metrics.ts';

/**
 * Idempotency keys (IDEMPOTENCY=on): a request sent again with the same `Idempotency-Key` (a
 * client that timed out, a registrant who tapped twice) gets the first request's answer again
 * instead of running a second time. The answers live in SQLite beside the journey's tables, so
 * every process of the service sees every key, and "claim the key" is one BEGIN IMMEDIATE
 * transaction, which serialises the processes' claims.
 *
 * Only final answers are kept: a 2xx, or a 4xx other than 429 (which says "come back later", like
 * a 503). Anything else releases the key, so the retry the client is told to make runs again. A
 * process that dies while running leaves its claim behind; after ABANDONED_MS the key is taken
 * over and the request runs again, where the steps' own conditional UPDATEs still refuse a second
 * account, photo or wave join.
 */

type Db = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS idempotency_keys (
  scope TEXT NOT NULL,
  key_hash TEXT NOT NULL,
  method TEXT NOT NULL,
  path TEXT NOT NULL,
  claim TEXT,
  claimed_at INTEGER NOT NULL,
  fingerprint TEXT,
  status INTEGER,
  headers TEXT,
  body BLOB,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (scope, key_hash, method, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_keys_expiry ON idempotency_keys (expires_at);
`;

export const KEY_TTL_MS = 24 * 3600 * 1000;
export const ABANDONED_MS = 60_000;
/** 1-255 visible ASCII characters (RFC 9110 token-ish; what the IETF draft's examples use) */
const KEY = /^[\x21-\x7e]{1,255}$/;
/** The headers of an answer that belong to it; the others (Date, Content-Length) are the transport's. */
const KEPT_HEADERS = ['content-type', 'retry-after', 'location'] as const;

export interface KeyId {
  /** whose key: `account:<id>`, `bearer:<hash>` or `anonymous` (account creation) */
  scope: string;
  key: string;
  method: string;
  path: string;
}

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export type Claim =
  | { kind: 'run'; claim: string }
  | { kind: 'running' }
  | { kind: 'done'; fingerprint: string; answer: StoredAnswer };

interface Row {
  claim: string | null;
  claimed_at: number;
  fingerprint: string | null;
  status: number | null;
  headers: string | null;
  body: Buffer | null;
  expires_at: number;
}

export class IdempotencyStore {
  private readonly s;
  private claims = 0;

  constructor(
    private readonly db: Db,
    private readonly opts: { ttlMs?: number; abandonedMs?: number } = {},
  ) {
    // Immediate: processes starting together never race on CREATE TABLE.
    db.transaction(() => db.exec(SCHEMA)).immediate();
    const pk = 'scope = @scope AND key_hash = @keyHash AND method = @method AND path = @path';
    this.s = {
      get: db.prepare(`SELECT * FROM idempotency_keys WHERE ${pk}`),
      claim: db.prepare(
        `INSERT INTO idempotency_keys (scope, key_hash, method, path, claim, claimed_at, expires_at)
         VALUES (@scope, @keyHash, @method, @path, @claim, @now, @expiresAt)
         ON CONFLICT (scope, key_hash, method, path) DO UPDATE SET claim = excluded.claim,
           claimed_at = excluded.claimed_at, fingerprint = NULL, status = NULL, headers = NULL,
           body = NULL, expires_at = excluded.expires_at`,
      ),
      complete: db.prepare(
        `UPDATE idempotency_keys SET claim = NULL, fingerprint = @fingerprint, status = @status,
           headers = @headers, body = @body WHERE ${pk} AND claim = @claim`,
      ),
      release: db.prepare(`DELETE FROM idempotency_keys WHERE ${pk} AND claim = @claim`),
      purge: db.prepare('DELETE FROM idempotency_keys WHERE expires_at <= ?'),
    };
  }

  private get ttlMs() {
    return this.opts.ttlMs ?? KEY_TTL_MS;
  }

  private get abandonedMs() {
    return this.opts.abandonedMs ?? ABANDONED_MS;
  }

  /**
   * The key's state, claiming it when nobody holds it: absent, expired, or held by a request
   * that has been running for longer than any request runs (its process died).
   */
  claim(id: KeyId, now = Date.now()): Claim {
    if (++this.claims % 1000 === 0) this.s.purge.run(now);
    const params = { ...pkOf(id) };
    return this.db
      .transaction((): Claim => {
        const row = this.s.get.get(params) as Row | undefined;
        const free =
          !row || row.expires_at <= now || (row.claim !== null && row.claimed_at + this.abandonedMs <= now);
        if (free) {
          const claim = randomBytes(12).toString('base64url');
          this.s.claim.run({ ...params, claim, now, expiresAt: now + this.ttlMs });
          return { kind: 'run', claim };
        }
        if (row.claim !== null) return { kind: 'running' };
        return {
          kind: 'done',
          fingerprint: row.fingerprint ?? '',
          answer: {
            status: row.status ?? 500,
            headers: JSON.parse(row.headers ?? '{}') as Record<string, string>,
            body: row.body ?? Buffer.alloc(0),
          },
        };
      })
      .immediate();
  }

  /** Stores the answer of the request holding `claim`; false when another took the key over meanwhile. */
  complete(id: KeyId, claim: string, fingerprint: string, answer: StoredAnswer): boolean {
    return (
      this.s.complete.run({
        ...pkOf(id),
        claim,
        fingerprint,
        status: answer.status,
        headers: JSON.stringify(answer.headers),
        body: answer.body,
      }).changes === 1
    );
  }

  /** Frees the key (the answer was not final): the client's retry runs again. */
  release(id: KeyId, claim: string): void {
    this.s.release.run({ ...pkOf(id), claim });
  }
}

/** The key itself is what a stranger would need to read the answer: stored hashed, like tokens. */
function pkOf(id: KeyId) {
  return { scope: id.scope, keyHash: tokenHash(id.key), method: id.method, path: id.path };
}

/** A final answer is one a retry must get again; 5xx and 429 tell the client to retry, which must run. */
export function isFinal(status: number): boolean {
  return (status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 429);
}

/**
 * A hash of what the request asks: its media type and body bytes. A multipart body's boundary is
 * chosen afresh for every request by most clients (k6 included), so it is hashed as a fixed marker:
 * a retry of the same photo upload has the same fingerprint.
 */
export class BodyFingerprint {
  private readonly hash = createHash('sha256');
  private readonly boundary: Buffer | undefined;
  private carry: Buffer = Buffer.alloc(0);

  constructor(contentType: string | undefined, contentEncoding: string | undefined) {
    const type = (contentType ?? '').trim();
    const media = (type.split(';')[0] ?? '').trim().toLowerCase();
    const boundary = media.startsWith('multipart/')
      ? /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(type)
      : null;
    const b = boundary?.[1] ?? boundary?.[2];
    this.boundary = b ? Buffer.from(b, 'latin1') : undefined;
    this.hash.update(`${boundary ? media : type.toLowerCase()}\n${(contentEncoding ?? '').toLowerCase()}\n`);
  }

  update(chunk: Buffer | string): void {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (!this.boundary) {
      this.hash.update(bytes);
      return;
    }
    // The boundary may straddle two chunks: keep the last (length - 1) bytes for the next one.
    const b = this.boundary;
    const buf = this.carry.length ? Buffer.concat([this.carry, bytes]) : bytes;
    const safe = Math.max(0, buf.length - (b.length - 1));
    let from = 0;
    for (let at = buf.indexOf(b, from); at !== -1 && at < safe; at = buf.indexOf(b, from)) {
      this.hash.update(buf.subarray(from, at));
      this.hash.update('\0boundary\0');
      from = at + b.length;
    }
    if (from < safe) {
      this.hash.update(buf.subarray(from, safe));
      from = safe;
    }
    this.carry = Buffer.from(buf.subarray(from));
  }

  digest(): string {
    this.hash.update(this.carry);
    this.carry = Buffer.alloc(0);
    return this.hash.digest('hex');
  }
}

/**
 * Whose key this is: the account of a valid session, else the hash of whatever bearer token was
 * sent (the admin's), else nobody (account creation), where the key alone, random on the client,
 * tells registrants apart.
 */
export function callerScope(req: Request, repo: Pick<Repository, 'session'>, now = Date.now()): string {
  const header = req.get('authorization') ?? '';
  if (!header.startsWith('Bearer ')) return 'anonymous';
  const hash = tokenHash(header.slice(7));
  const s = repo.session(hash);
  if (s && !sessionProblem(s, now)) return `account:${s.account_id}`;
  return `bearer:${hash}`;
}

/** An unread body up to this size is read to its end to store the answer (a JSON body's limit). */
const READ_REST_BYTES = 32 * 1024;

/**
 * Feeds every body chunk the handler reads into `fp`, however it reads them ('data' listeners,
 * pipe or read(): each goes through emit('data')), and tells whether the whole body was seen.
 */
function tapBody(req: Request, fp: BodyFingerprint): () => boolean | Promise<boolean> {
  let ended = false;
  const emit = req.emit;
  req.emit = function (this: Request, event: string | symbol, ...args: unknown[]) {
    if (event === 'data') fp.update(args[0] as Buffer | string);
    else if (event === 'end') ended = true;
    return emit.call(this, event, ...args);
  } as Request['emit'];
  return () => {
    if (ended) return true;
    // A handler that answered without reading the body (a POST without one, a refusal before it):
    // the rest is read now, through the tap. Even an empty body may not have been parsed to its
    // end yet: a synchronous handler answers while the request's headers are being parsed.
    if (req.complete) {
      while (req.read() !== null) {
        // each chunk reaches the fingerprint through emit('data')
      }
      if (req.readableLength === 0) return true;
    }
    // A large unread body is not waited for: the answer (a refusal that did not need the body) is
    // not stored, and the retry runs again, as cheaply.
    const declared = Number(req.headers['content-length']);
    if (!(declared <= READ_REST_BYTES)) return false;
    return new Promise<boolean>((resolve) => {
      req.once('end', () => resolve(true));
      req.once('close', () => resolve(false));
      req.once('error', () => resolve(false));
      req.resume();
    });
  };
}

/** The fingerprint of a body nobody else will read (the request is answered from the store). */
function readFingerprint(req: Request): Promise<string> {
  const fp = new BodyFingerprint(req.get('content-type'), req.get('content-encoding'));
  return new Promise((resolve, reject) => {
    req.on('data', (c: Buffer | string) => fp.update(c));
    req.once('end', () => resolve(fp.digest()));
    req.once('error', reject);
    req.once('aborted', () => reject(new Error('request aborted')));
  });
}

function keyOf(req: Request): string | undefined {
  const key = req.get('idempotency-key');
  if (key === undefined) return undefined;
  if (!KEY.test(key))
    throw new ApiError(
      400,
      'invalid_field',
      `Idempotency-Key: expected 1-255 visible ASCII characters (! to ~, no spaces), got ${key.length} characters${key.length > 0 && key.length <= 255 ? ' with others among them' : ''}`,
      'idempotency-key',
    );
  return key;
}

/**
 * The handler that opens a POST or PUT route when IDEMPOTENCY=on: it answers a repeat from the
 * store (or refuses it), or lets the request run and stores its final answer before it is sent.
 */
export function idempotencyKeys(
  store: IdempotencyStore,
  repo: Pick<Repository, 'session'>,
  metrics: Pick<ServiceMetrics, 'idempotency'>,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    let key: string | undefined;
    try {
      key = keyOf(req);
    } catch (err) {
      next(err);
      return;
    }
    if (key === undefined) {
      next();
      return;
    }
    const id: KeyId = { scope: callerScope(req, repo), key, method: req.method, path: req.path };
    const state = store.claim(id);
    if (state.kind === 'running') {
      metrics.idempotency.inc({ outcome: 'in_progress' });
      next(
        new ApiError(
          409,
          'request_in_progress',
          'a request with this Idempotency-Key is still running: retry in a second to get its answer',
          'idempotency-key',
          undefined,
          1,
        ),
      );
      return;
    }
    if (state.kind === 'done') {
      readFingerprint(req).then(
        (fingerprint) => {
          if (fingerprint !== state.fingerprint) {
            metrics.idempotency.inc({ outcome: 'reused' });
            next(
              new ApiError(
                422,
                'idempotency_key_reused',
                'this Idempotency-Key was used for a request with another body: use a new key for a new request',
                'idempotency-key',
              ),
            );
            return;
          }
          metrics.idempotency.inc({ outcome: 'replayed' });
          for (const [name, value] of Object.entries(state.answer.headers)) res.setHeader(name, value);
          res.setHeader('Idempotent-Replayed', 'true');
          res.status(state.answer.status).end(state.answer.body);
        },
        // The client went away before its body ended: there is nobody to answer.
        () => res.destroy(),
      );
      return;
    }
    metrics.idempotency.inc({ outcome: 'first' });
    const fp = new BodyFingerprint(req.get('content-type'), req.get('content-encoding'));
    const bodySeen = tapBody(req, fp);
    // Every handler ends its answer, a refusal through the error handler included; only a process
    // that dies first leaves the claim, taken over after ABANDONED_MS.
    beforeAnswer(res, ({ status, body, streamed }) => {
      if (!isFinal(status) || streamed) {
        store.release(id, state.claim);
        return;
      }
      const headers: Record<string, string> = {};
      for (const name of KEPT_HEADERS) {
        const v = res.getHeader(name);
        if (v !== undefined) headers[name] = Array.isArray(v) ? v.join(', ') : String(v);
      }
      const settle = (seen: boolean) => {
        if (seen) store.complete(id, state.claim, fp.digest(), { status, headers, body });
        else store.release(id, state.claim);
      };
      const seen = bodySeen();
      if (typeof seen === 'boolean') settle(seen);
      else return seen.then(settle);
    });
    next();
  };
}
