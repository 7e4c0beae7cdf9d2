import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tsNodeArgs } from '../../scripts/node-ts.ts';
import { FIXTURES, RegistrantClient } from '../../scripts/registrant-client.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';
import { loopbackRequest, type RawAnswer } from '../../test/support/loopback-request.ts';
import { people } from '../../test/support/population.ts';

/**
 * Abuse (issue 17): guessing passwords and verification tokens is limited per email and per client
 * address across the service's processes; tokens are 256 random bits stored as SHA-256; admin
 * endpoints answer nothing without their token; bodies and headers have size limits; every
 * service listens on loopback unless told otherwise. Real processes, real HTTP on loopback; the
 * client addresses are other loopback addresses (127.0.0.x) so that each limit starts fresh.
 */

const LIMITS = {
  LOGIN_MAX_FAILURES_PER_EMAIL: '3',
  LOGIN_MAX_FAILURES_PER_ADDRESS: '6',
  VERIFY_MAX_FAILURES_PER_ADDRESS: '4',
  RATE_LIMIT_WINDOW_S: '600',
};

interface Answer {
  status: number;
  body: RawAnswer['json'];
  headers: RawAnswer['headers'];
}

/** One request on a connection of its own (so the cluster spreads them over its processes), from `from`. */
async function send(
  base: string,
  method: string,
  path: string,
  opts: { json?: unknown; raw?: string | Buffer; headers?: Record<string, string>; from?: string } = {},
): Promise<Answer> {
  const { raw, ...rest } = opts;
  const r = await loopbackRequest(base, method, path, {
    ...rest,
    ...(raw !== undefined ? { body: raw } : {}),
  });
  return { status: r.status, body: r.json, headers: r.headers };
}

function expectError(r: Answer, status: number, code: string, field?: string): void {
  expect({ status: r.status, code: r.body.error?.code, field: r.body.error?.field }).toEqual({
    status,
    code,
    field,
  });
  expect(typeof r.body.error?.message).toBe('string');
}

let stack: RunningStack;
let db: Database.Database;
let n = 0;
const client = () => new RegistrantClient(stack.urls, `abuse.${++n}.${Date.now()}@example.test`);
const reg = () => stack.urls.registration;

/** A registrant whose email is verified (steps 1 and 2, from 127.0.0.1). */
async function verified(): Promise<RegistrantClient> {
  const c = client();
  expect((await c.createAccount()).status).toBe(201);
  expect((await c.verifyEmail(await c.verificationToken())).status).toBe(200);
  return c;
}

beforeAll(async () => {
  stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: { registration: { SCRYPT_N: '1024', WORKERS: '2', ...LIMITS } },
  });
  db = new Database(join(stack.dataDir, 'registration.db'), { readonly: true, fileMustExist: true });
}, 60_000);

afterAll(async () => {
  db?.close();
  await stack?.stop();
}, 30_000);

describe('limits on guessing passwords', () => {
  it('per email: of 10 simultaneous wrong passwords over both processes, 3 are checked and 7 get 429; the right one waits too', async () => {
    const from = '127.0.0.2';
    const a = await verified();
    // Honest log-ins are not counted: more than the limit, all accepted.
    for (let i = 0; i < 5; i++) {
      const ok = await send(reg(), 'POST', '/api/v1/sessions', {
        json: { email: a.email, password: a.password },
        from,
      });
      expect(ok.status).toBe(201);
    }
    const guesses = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        send(reg(), 'POST', '/api/v1/sessions', { json: { email: a.email, password: `guess-${i}-x` }, from }),
      ),
    );
    const statuses = guesses.map((g) => g.status).sort();
    expect(statuses).toEqual([...Array(3).fill(401), ...Array(7).fill(429)]);
    for (const g of guesses.filter((x) => x.status === 429)) {
      expectError(g, 429, 'too_many_attempts', 'email');
      const retryAfter = Number(g.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(600);
      expect(g.body.error?.message).toMatch(/try again in \d+ s/);
    }
    // Locked: the right password too, and the resend (which checks the password as well).
    expectError(
      await send(reg(), 'POST', '/api/v1/sessions', { json: { email: a.email, password: a.password }, from }),
      429,
      'too_many_attempts',
      'email',
    );
    expectError(
      await send(reg(), 'POST', '/api/v1/email-verifications/resend', {
        json: { email: a.email.toUpperCase(), password: 'another-guess' },
        from: '127.0.0.9',
      }),
      429,
      'too_many_attempts',
      'email',
    );
    // Another account from the same address is not locked.
    const b = await verified();
    const other = await send(reg(), 'POST', '/api/v1/sessions', {
      json: { email: b.email, password: b.password },
      from,
    });
    expect(other.status).toBe(201);
  });

  it('per address: 6 wrong passwords over 6 emails, then 429 from that address only', async () => {
    const from = '127.0.0.3';
    for (let i = 0; i < 6; i++) {
      const r = await send(reg(), 'POST', '/api/v1/sessions', {
        json: { email: `nobody.${i}.${Date.now()}@example.test`, password: 'password-1' },
        from,
      });
      expectError(r, 401, 'bad_credentials');
    }
    const limited = await send(reg(), 'POST', '/api/v1/sessions', {
      json: { email: `nobody.7.${Date.now()}@example.test`, password: 'password-1' },
      from,
    });
    expectError(limited, 429, 'too_many_attempts');
    expect(limited.body.error?.message).toMatch(/from your address: try again in \d+ s/);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const c = await verified();
    expect(
      (
        await send(reg(), 'POST', '/api/v1/sessions', {
          json: { email: c.email, password: c.password },
          from,
        })
      ).status,
    ).toBe(429);
    expect(
      (
        await send(reg(), 'POST', '/api/v1/sessions', {
          json: { email: c.email, password: c.password },
          from: '127.0.0.4',
        })
      ).status,
    ).toBe(201);
  });
});

describe('limits on guessing verification tokens', () => {
  it('per address: 4 unknown tokens, then 429, a real token included; another address verifies', async () => {
    const from = '127.0.0.5';
    for (let i = 0; i < 4; i++) {
      const r = await send(reg(), 'POST', '/api/v1/email-verifications', {
        json: { token: createHash('sha256').update(`guess ${i}`).digest('base64url') },
        from,
      });
      expectError(r, 400, 'invalid_token', 'token');
    }
    const c = client();
    expect((await c.createAccount()).status).toBe(201);
    const token = await c.verificationToken();
    const limited = await send(reg(), 'POST', '/api/v1/email-verifications', { json: { token }, from });
    expectError(limited, 429, 'too_many_attempts');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const ok = await send(reg(), 'POST', '/api/v1/email-verifications', {
      json: { token },
      from: '127.0.0.6',
    });
    expect(ok.status).toBe(200);
  });
});

describe('tokens', () => {
  it('session and verification tokens carry 256 random bits and only their SHA-256 is stored', async () => {
    const c = client();
    expect((await c.createAccount()).status).toBe(201);
    const emailToken = await c.verificationToken();
    expect((await c.verifyEmail(emailToken)).status).toBe(200);
    expect((await c.login()).status).toBe(201);
    for (const token of [emailToken, c.token]) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Buffer.from(token, 'base64url').length).toBe(32);
    }
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    expect(
      db.prepare('SELECT COUNT(*) AS n FROM email_tokens WHERE token_hash = ?').get(sha(emailToken)),
    ).toEqual({
      n: 1,
    });
    expect(db.prepare('SELECT COUNT(*) AS n FROM sessions WHERE token_hash = ?').get(sha(c.token))).toEqual({
      n: 1,
    });
    // Not in any file of the database, nor of the counters: neither as text nor as raw bytes.
    const files = [
      'registration.db',
      'registration.db-wal',
      'registration.limits.db',
      'registration.limits.db-wal',
    ]
      .map((f) => join(stack.dataDir, f))
      .filter((f) => existsSync(f));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const token of [emailToken, c.token]) {
        expect(bytes.includes(token), `${file} holds a token`).toBe(false);
        expect(bytes.includes(Buffer.from(token, 'base64url')), `${file} holds a token's bytes`).toBe(false);
      }
    }
  });
});

describe('admin endpoints', () => {
  const bodies = {
    waves: JSON.stringify({ number: 77, quota: 5 }),
    malformed: '{"number": 77,',
    config: JSON.stringify({ dukcapil: { concurrency: 1 } }),
  };
  it('answer 401 without a token and 403 with a wrong one, before reading the body; nothing changes', async () => {
    const wavesBefore = db.prepare('SELECT * FROM waves ORDER BY number').all();
    const configs = async () =>
      Promise.all(
        [stack.urls.ministry, stack.urls.email, stack.urls.upload].map(
          async (u) =>
            (
              await send(u, 'GET', '/admin/config', {
                headers: { authorization: `Bearer ${stack.adminToken}` },
              })
            ).body,
        ),
      );
    const configBefore = await configs();
    const routes: Array<[string, string, string, string]> = [
      [reg(), 'POST', '/admin/waves', bodies.waves],
      [reg(), 'POST', '/admin/waves', bodies.malformed],
      [reg(), 'PATCH', '/admin/waves/1', JSON.stringify({ quota: 0 })],
      [reg(), 'PATCH', '/admin/waves/1', bodies.malformed],
      ...[stack.urls.ministry, stack.urls.email, stack.urls.upload].flatMap(
        (u): Array<[string, string, string, string]> => [
          [u, 'GET', '/admin/config', ''],
          [u, 'PATCH', '/admin/config', bodies.config],
          [u, 'PATCH', '/admin/config', bodies.malformed],
        ],
      ),
    ];
    for (const [base, method, path, raw] of routes) {
      const json = { 'content-type': 'application/json' };
      for (const [headers, status, code] of [
        [json, 401, 'unauthorized'],
        [{ ...json, authorization: 'Bearer wrong-token' }, 403, 'forbidden'],
        [{ ...json, authorization: `Basic ${stack.adminToken}` }, 401, 'unauthorized'],
        [{ ...json, authorization: `Bearer ${stack.adminToken}x` }, 403, 'forbidden'],
      ] as const) {
        const r = await send(base, method, path, { raw, headers });
        expect([base, method, path, r.status, r.body.error?.code]).toEqual([
          base,
          method,
          path,
          status,
          code,
        ]);
      }
    }
    expect(db.prepare('SELECT * FROM waves ORDER BY number').all()).toEqual(wavesBefore);
    expect(await configs()).toEqual(configBefore);
  });
});

describe('size limits', () => {
  it('a JSON body over 32 KiB is 413 naming the body; headers over 16 KiB are 431; a mock admin body over 64 KiB is 413', async () => {
    const big = JSON.stringify({ email: `${'a'.repeat(40_000)}@example.test`, password: 'password-1' });
    expectError(
      await send(reg(), 'POST', '/api/v1/accounts', {
        raw: big,
        headers: { 'content-type': 'application/json' },
      }),
      413,
      'body_too_large',
      'body',
    );
    const header = await send(reg(), 'GET', '/api/v1/waves', { headers: { 'x-filler': 'x'.repeat(20_000) } });
    expect(header.status).toBe(431);
    const admin = await send(stack.urls.ministry, 'PATCH', '/admin/config', {
      raw: JSON.stringify({ dukcapil: { filler: 'x'.repeat(70_000) } }),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminToken}` },
    });
    expectError(admin, 413, 'too_large', 'body');
    // Still serving.
    expect((await send(reg(), 'GET', '/healthz')).status).toBe(200);
    expect((await send(stack.urls.ministry, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('the defects the bad-input sweep found (bench/bad-input.bench.ts), each fixed', () => {
  it('a body that is a JSON array is a 400 naming body (it named nothing)', async () => {
    const r = await send(reg(), 'POST', '/api/v1/accounts', {
      raw: '[]',
      headers: { 'content-type': 'application/json' },
    });
    expectError(r, 400, 'invalid_field', 'body');
    expect(r.body.error?.message).toMatch(/^body: /);
  });

  it('a photo sent with a Content-Encoding is 415 naming it (it was read as if not encoded); a text field is named', async () => {
    const c = client();
    expect((await c.createAccount()).status).toBe(201);
    expect((await c.verifyEmail(await c.verificationToken())).status).toBe(200);
    expect((await c.login()).status).toBe(201);
    expect((await c.submitBiodata(people(2020, 30_000).take())).status).toBe(200);
    const photo = readFileSync(join(FIXTURES, 'ktp-small.jpg'));
    const part = (name: string, data: Buffer, file = true) =>
      Buffer.concat([
        Buffer.from(
          `--B\r\nContent-Disposition: form-data; name="${name}"${file ? '; filename="k.jpg"\r\nContent-Type: image/jpeg' : ''}\r\n\r\n`,
        ),
        data,
        Buffer.from('\r\n'),
      ]);
    const headers = { 'content-type': 'multipart/form-data; boundary=B', authorization: `Bearer ${c.token}` };
    const body = Buffer.concat([part('photo', photo), Buffer.from('--B--\r\n')]);
    expectError(
      await send(reg(), 'PUT', '/api/v1/me/ktp-photo', {
        raw: body,
        headers: { ...headers, 'content-encoding': 'gzip' },
      }),
      415,
      'unsupported_encoding',
      'content-encoding',
    );
    const withNote = Buffer.concat([
      part('note', Buffer.from('hello'), false),
      part('photo', photo),
      Buffer.from('--B--\r\n'),
    ]);
    expectError(
      await send(reg(), 'PUT', '/api/v1/me/ktp-photo', { raw: withNote, headers }),
      400,
      'invalid_field',
      'note',
    );
    const photos = db.prepare('SELECT photo_at FROM accounts WHERE email = ?').get(c.email);
    expect(photos).toEqual({ photo_at: null });
    expect((await send(reg(), 'PUT', '/api/v1/me/ktp-photo', { raw: body, headers })).status).toBe(201);
  });

  it('a body too large announced with Expect: 100-continue is refused at once (it was told to continue, then waited)', async () => {
    const url = new URL(reg());
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      let text = '';
      socket.setTimeout(20_000, () => socket.destroy(new Error('no answer within 20 s')));
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
      socket.write(
        'POST /api/v1/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
          'Content-Length: 10000000\r\nExpect: 100-continue\r\n\r\n',
      );
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).not.toContain('100 Continue');
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toMatchObject({
      error: { code: 'body_too_large', field: 'body' },
    });
  });
});

/** The schema of the first release: no email_tokens.replaced_at, no sessions.revoked_at, no photo_uploads. */
const FIRST_SCHEMA = `
CREATE TABLE accounts (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL, created_at INTEGER NOT NULL, email_verified_at INTEGER, nik TEXT UNIQUE,
  full_name TEXT, place_of_birth TEXT, date_of_birth TEXT, gender TEXT, address TEXT, occupation_status TEXT,
  priority TEXT, biodata_at INTEGER, photo_key TEXT, photo_bytes INTEGER, photo_at INTEGER,
  assessment_score INTEGER, assessment_passed INTEGER, assessment_at INTEGER);
CREATE TABLE email_tokens (token_hash TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, expires_at INTEGER NOT NULL, used_at INTEGER);
CREATE TABLE sessions (token_hash TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE, expires_at INTEGER NOT NULL);
CREATE TABLE waves (number INTEGER PRIMARY KEY CHECK (number >= 1), quota INTEGER NOT NULL CHECK (quota >= 0),
  joined INTEGER NOT NULL DEFAULT 0 CHECK (joined >= 0), status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  opens_at INTEGER, closes_at INTEGER);
`;

describe('by default', () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  });

  /** Starts a service's main.ts without HOST, on port 0; resolves with the URL it says it listens on. */
  function startBare(service: string, env: Record<string, string>): Promise<string> {
    const { HOST: _host, ...inherited } = process.env;
    const child = spawn(process.execPath, [...tsNodeArgs(), `mock-services/${service}/main.ts`], {
      env: { ...inherited, GELOMBANG_CAPACITY_FILE: 'mock-services/capacity.unlimited.json', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(
        () => reject(new Error(`${service} did not listen within 30 s: ${err}`)),
        30_000,
      );
      child.stderr?.on('data', (d) => {
        err += d;
      });
      child.stdout?.on('data', (d) => {
        out += d;
        const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
        if (url) {
          clearTimeout(timer);
          resolve(url);
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${service} exited (${code}): ${err}`));
      });
    });
  }

  it('every service listens on 127.0.0.1 only; the registration service starts on a database of the first schema', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gelombang-abuse-'));
    const dbPath = join(dir, 'old.db');
    const old = new Database(dbPath);
    old.exec(FIRST_SCHEMA);
    const sha = (t: string) => createHash('sha256').update(t).digest('hex');
    const now = Date.now();
    old
      .prepare('INSERT INTO accounts (id, email, password_hash, created_at) VALUES (1, ?, ?, ?)')
      .run('old@example.test', 'scrypt$1024$8$1$x$y', now);
    old
      .prepare('INSERT INTO email_tokens (token_hash, account_id, expires_at) VALUES (?, 1, ?)')
      .run(sha('old-email-token'), now + 60_000);
    old
      .prepare('INSERT INTO sessions (token_hash, account_id, expires_at) VALUES (?, 1, ?)')
      .run(sha('old-session-token'), now + 60_000);
    old.close();

    const urls = await Promise.all([
      startBare('registration', { PORT: '0', DB_PATH: dbPath, SCRYPT_N: '1024' }),
      startBare('ministry', { PORT: '0' }),
      startBare('email', { HTTP_PORT: '0', SMTP_PORT: '0' }),
      startBare('upload', { PORT: '0', UPLOAD_DIR: join(dir, 'objects') }),
    ]);
    for (const url of urls) {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    }
    const registration = urls[0] as string;
    // The rows of the old file still work: its token verifies, its session is honoured and logs out.
    const verify = await send(registration, 'POST', '/api/v1/email-verifications', {
      json: { token: 'old-email-token' },
    });
    expect(verify.status).toBe(200);
    const bearer = { authorization: 'Bearer old-session-token' };
    expect((await send(registration, 'GET', '/api/v1/me/status', { headers: bearer })).status).toBe(200);
    expect((await send(registration, 'DELETE', '/api/v1/sessions/current', { headers: bearer })).status).toBe(
      204,
    );
    expectError(
      await send(registration, 'GET', '/api/v1/me/status', { headers: bearer }),
      401,
      'unauthorized',
    );
  });
});
