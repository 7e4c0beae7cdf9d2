import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb } from './db.ts';
import {
  ABANDONED_MS,
  BodyFingerprint,
  IdempotencyStore,
  isFinal,
  KEY_TTL_MS,
  type KeyId,
} from './idempotency.ts';

/**
 * The key store against a real SQLite file, with two handles on it standing for two processes of
 * the service: what one claims, the other sees as running; what one stores, the other replays.
 */

let dir: string;
let handles: Database.Database[];
let a: IdempotencyStore;
let b: IdempotencyStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gelombang-idem-'));
  const path = join(dir, 'registration.db');
  handles = [openDb(path, 'NORMAL'), openDb(path, 'NORMAL')];
  a = new IdempotencyStore(handles[0] as Database.Database);
  b = new IdempotencyStore(handles[1] as Database.Database);
});

afterEach(() => {
  for (const h of handles) h.close();
  rmSync(dir, { recursive: true, force: true });
});

const id = (over: Partial<KeyId> = {}): KeyId => ({
  scope: 'anonymous',
  key: 'k-1',
  method: 'POST',
  path: '/api/v1/accounts',
  ...over,
});
const answer = {
  status: 201,
  headers: { 'content-type': 'application/json' },
  body: Buffer.from('{"ok":1}'),
};

describe('claiming a key across processes', () => {
  it('one claim runs; the other process sees it running, then replays the stored answer', () => {
    const t = 1_000_000;
    const first = a.claim(id(), t);
    expect(first.kind).toBe('run');
    expect(b.claim(id(), t + 1).kind).toBe('running');
    expect(a.claim(id(), t + 2).kind).toBe('running');
    if (first.kind !== 'run') throw new Error('unreachable');
    expect(a.complete(id(), first.claim, 'fp', answer)).toBe(true);
    const again = b.claim(id(), t + 3);
    expect(again).toEqual({ kind: 'done', fingerprint: 'fp', answer });
  });

  it('of many simultaneous claims over both handles exactly one runs', () => {
    const kinds = Array.from(
      { length: 40 },
      (_, i) => (i % 2 ? a : b).claim(id({ key: 'burst' }), 5000).kind,
    );
    expect(kinds.filter((k) => k === 'run')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'running')).toHaveLength(39);
  });

  it('a released key (an answer that was not final) runs again', () => {
    const first = a.claim(id(), 10);
    if (first.kind !== 'run') throw new Error('expected a run');
    a.release(id(), first.claim);
    expect(b.claim(id(), 11).kind).toBe('run');
  });

  it('keys are scoped by caller, method and path, and stored hashed', () => {
    expect(a.claim(id(), 1).kind).toBe('run');
    expect(b.claim(id({ scope: 'account:7' }), 1).kind).toBe('run');
    expect(b.claim(id({ method: 'PUT' }), 1).kind).toBe('run');
    expect(b.claim(id({ path: '/api/v1/me/assessment' }), 1).kind).toBe('run');
    const stored = (handles[0] as Database.Database)
      .prepare('SELECT key_hash FROM idempotency_keys')
      .all() as Array<{ key_hash: string }>;
    expect(stored).toHaveLength(4);
    expect(stored.every((r) => /^[0-9a-f]{64}$/.test(r.key_hash) && r.key_hash !== 'k-1')).toBe(true);
  });

  it('a claim left by a process that died is taken over once abandoned, and its late answer is not stored', () => {
    const dead = a.claim(id(), 0);
    if (dead.kind !== 'run') throw new Error('expected a run');
    expect(b.claim(id(), ABANDONED_MS - 1).kind).toBe('running');
    const takeover = b.claim(id(), ABANDONED_MS);
    expect(takeover.kind).toBe('run');
    expect(a.complete(id(), dead.claim, 'old', answer)).toBe(false);
    if (takeover.kind !== 'run') throw new Error('unreachable');
    expect(b.complete(id(), takeover.claim, 'new', answer)).toBe(true);
    expect(a.claim(id(), ABANDONED_MS + 1)).toMatchObject({ kind: 'done', fingerprint: 'new' });
  });

  it('a stored answer expires after the key lifetime and the key runs again', () => {
    const first = a.claim(id(), 0);
    if (first.kind !== 'run') throw new Error('expected a run');
    a.complete(id(), first.claim, 'fp', answer);
    expect(b.claim(id(), KEY_TTL_MS - 1).kind).toBe('done');
    expect(b.claim(id(), KEY_TTL_MS).kind).toBe('run');
  });
});

describe('what is final', () => {
  it('2xx and 4xx but 429 are kept; 5xx and 429 tell the client to retry', () => {
    expect([200, 201, 204, 400, 401, 409, 410, 422].map(isFinal)).toEqual(Array(8).fill(true));
    expect([429, 500, 502, 503, 504, 302].map(isFinal)).toEqual(Array(6).fill(false));
  });
});

describe('the body fingerprint', () => {
  const digest = (type: string | undefined, ...chunks: string[]) => {
    const fp = new BodyFingerprint(type, undefined);
    for (const c of chunks) fp.update(Buffer.from(c, 'latin1'));
    return fp.digest();
  };
  const multipart = (boundary: string, content: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="ktp.jpg"\r\n\r\n${content}\r\n--${boundary}--\r\n`;

  it('tells bodies apart, and media types apart', () => {
    const json = 'application/json';
    expect(digest(json, '{"a":1}')).toBe(digest(json, '{"a":', '1}'));
    expect(digest(json, '{"a":1}')).not.toBe(digest(json, '{"a":2}'));
    expect(digest(json, '{"a":1}')).not.toBe(digest('text/plain', '{"a":1}'));
    expect(digest(undefined, '')).not.toBe(digest(json, ''));
  });

  it('a multipart body with another boundary is the same request, however it is cut into chunks', () => {
    const one = multipart('XyZ123', 'JPEGBYTES');
    const other = multipart('----k6boundary987654', 'JPEGBYTES');
    const reference = digest('multipart/form-data; boundary=XyZ123', one);
    expect(digest('multipart/form-data; boundary="----k6boundary987654"', other)).toBe(reference);
    for (let cut = 1; cut < one.length; cut++) {
      expect(digest('multipart/form-data; boundary=XyZ123', one.slice(0, cut), one.slice(cut))).toBe(
        reference,
      );
    }
    expect(digest('multipart/form-data; boundary=XyZ123', multipart('XyZ123', 'OTHERBYTES'))).not.toBe(
      reference,
    );
  });
});
