import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, RegistrantClient } from '../../scripts/registrant-client.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';
import { people } from '../../test/support/population.ts';

/**
 * The reference service against bad input, one kind of defect per block: each bad request gets a
 * 4xx naming the field and what was expected, the process keeps serving, nothing unchecked is
 * stored, and simultaneous submissions of one step count once. Real processes (scripts/stack.ts),
 * real HTTP on loopback, a temp SQLite file read after the requests.
 */

const PHOTO = readFileSync(join(FIXTURES, 'ktp-small.jpg'));

interface Answer {
  status: number;
  body: { error?: { code: string; message: string; field?: string } } & Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

/** Any bytes, any path (node:http sends the path as given: fetch would normalise it). */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            // kept as text: the assertion shows it
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as Answer['body'], headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function expectError(r: { status: number; body: unknown }, status: number, code: string, field?: string) {
  const error = (r.body as Answer['body']).error;
  expect({ status: r.status, code: error?.code }).toEqual({ status, code });
  expect(typeof error?.message).toBe('string');
  if (field !== undefined) expect(error?.field).toBe(field);
}

/** A multipart body with one file part, optionally without its closing boundary. */
function multipart(boundary: string, file: Buffer, opts: { close?: boolean; field?: string } = {}): Buffer {
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${opts.field ?? 'photo'}"; filename="ktp.jpg"\r\n` +
      'Content-Type: image/jpeg\r\n\r\n',
  );
  const tail = opts.close === false ? Buffer.alloc(0) : Buffer.from(`\r\n--${boundary}--\r\n`);
  return Buffer.concat([head, file, tail]);
}

function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m && m[1] === name && m[2] === want) return Number(m[3]);
  }
  return 0;
}

interface Harness {
  stack: RunningStack;
  db: Database.Database;
  pool: ReturnType<typeof people>;
  client(): RegistrantClient;
  /** a registrant logged in with biodata verified, ready for the photo */
  throughBiodata(): Promise<RegistrantClient>;
  /** the service still answers, and its process never died */
  expectAlive(): Promise<void>;
  metrics(): Promise<string>;
  accountId(c: RegistrantClient): number;
}

function harness(workers: number): Harness {
  const h = { pool: people(2020, 0) } as Harness;
  let n = 0;
  beforeAll(async () => {
    h.stack = await startStack({
      ports: 'auto',
      capacityFile: 'mock-services/capacity.unlimited.json',
      env: { registration: { SCRYPT_N: '1024', WORKERS: String(workers) } },
    });
    h.db = new Database(join(h.stack.dataDir, 'registration.db'), { readonly: true, fileMustExist: true });
  });
  afterAll(async () => {
    h.db?.close();
    await h.stack?.stop();
  });
  h.client = () => new RegistrantClient(h.stack.urls, `robust${workers}.${++n}.${Date.now()}@example.test`);
  h.throughBiodata = async () => {
    const c = h.client();
    expect((await c.createAccount()).status).toBe(201);
    expect((await c.verifyEmail(await c.verificationToken())).status).toBe(200);
    expect((await c.login()).status).toBe(201);
    expect((await c.submitBiodata(h.pool.take())).status).toBe(200);
    return c;
  };
  h.expectAlive = async () => {
    const child = h.stack.process('registration');
    expect({ exitCode: child.exitCode, signal: child.signalCode }).toEqual({ exitCode: null, signal: null });
    const health = await fetch(`${h.stack.urls.registration}/healthz`);
    expect(health.status).toBe(200);
    // The same process as at start: a single process (WORKERS=1) that crashed would not answer at all.
    const { pid } = (await health.json()) as { pid: number };
    if (workers === 1) expect(pid).toBe(child.pid);
  };
  h.metrics = async () => (await fetch(`${h.stack.urls.registration}/metrics`)).text();
  h.accountId = (c) =>
    (h.db.prepare('SELECT id FROM accounts WHERE email = ?').get(c.email) as { id: number }).id;
  return h;
}

describe('one service process (WORKERS=1)', () => {
  const h = harness(1);
  const reg = () => h.stack.urls.registration;
  const auth = (c: RegistrantClient) => ({ authorization: `Bearer ${c.token}` });
  const photoAt = (c: RegistrantClient) =>
    (
      h.db.prepare('SELECT photo_at FROM accounts WHERE email = ?').get(c.email) as {
        photo_at: number | null;
      }
    ).photo_at;

  describe("a login's time does not tell which accounts exist", () => {
    it('an unknown email costs a password hash, as a wrong password for a known one does', async () => {
      const verify = { operation: 'verify' };
      const sum = 'gelombang_password_hash_duration_seconds_sum';
      const count = 'gelombang_password_hash_duration_seconds_count';
      // A hash at SCRYPT_N=1024 takes milliseconds on any CPU; a skipped one, microseconds.
      const timed = async (email: string): Promise<{ hashes: number; seconds: number }> => {
        const before = await h.metrics();
        const r = await raw(
          reg(),
          'POST',
          '/api/v1/sessions',
          { 'content-type': 'application/json' },
          JSON.stringify({ email, password: 'not-the-password-1' }),
        );
        expectError(r, 401, 'bad_credentials');
        const after = await h.metrics();
        return {
          hashes: metricValue(after, count, verify) - metricValue(before, count, verify),
          seconds: metricValue(after, sum, verify) - metricValue(before, sum, verify),
        };
      };
      const known = h.client();
      expect((await known.createAccount()).status).toBe(201);
      // The first unknown email also makes the decoy it is checked against: not timed.
      await timed(`decoy.${Date.now()}@example.test`);
      const unknown = await timed(`nobody.${Date.now()}@example.test`);
      const wrong = await timed(known.email);
      expect(wrong).toEqual({ hashes: 1, seconds: expect.any(Number) });
      expect(unknown.hashes).toBe(1);
      expect(wrong.seconds).toBeGreaterThan(0.0005);
      expect(unknown.seconds).toBeGreaterThan(0.0005);
    });
  });

  describe('kind 1: a malformed multipart body is a 400, never a crash', () => {
    it('refuses a photo upload cut before its closing boundary, and every other broken multipart', async () => {
      const c = await h.throughBiodata();
      const put = (headers: Record<string, string>, body: Buffer) =>
        raw(reg(), 'PUT', '/api/v1/me/ktp-photo', { ...auth(c), ...headers }, body);
      const mp = (b: string) => ({ 'content-type': `multipart/form-data; boundary=${b}` });

      // The sweep's crash: the body ends inside the file part ("Unexpected end of form").
      const cut = await put(mp('XyZ'), multipart('XyZ', PHOTO, { close: false }));
      expectError(cut, 400, 'invalid_field', 'photo');
      expect(cut.body.error?.message).toMatch(/Unexpected end of form/);
      await h.expectAlive();

      // Cut inside the part's headers, a body that is no multipart at all, no boundary parameter.
      const headersOnly = Buffer.from('--XyZ\r\nContent-Disposition: form-data; name="photo"; filen');
      expectError(await put(mp('XyZ'), headersOnly), 400, 'invalid_field', 'photo');
      expectError(await put(mp('XyZ'), Buffer.from('not multipart at all')), 400, 'invalid_field', 'photo');
      expectError(
        await put({ 'content-type': 'multipart/form-data' }, multipart('XyZ', PHOTO)),
        400,
        'invalid_field',
        'photo',
      );
      // The client goes away halfway through the body: nobody to answer, but the process lives on.
      await new Promise<void>((resolve) => {
        const url = new URL(reg());
        const body = multipart('XyZ', PHOTO);
        const req = request({
          host: url.hostname,
          port: url.port,
          method: 'PUT',
          path: '/api/v1/me/ktp-photo',
          headers: { ...auth(c), ...mp('XyZ'), 'content-length': String(body.length) },
        });
        req.on('error', () => resolve());
        req.write(body.subarray(0, body.length >> 1), () => {
          req.destroy();
          resolve();
        });
      });
      await h.expectAlive();
      expect(photoAt(c)).toBeNull();

      // And the same registrant can still upload the photo properly.
      expect((await put(mp('XyZ'), multipart('XyZ', PHOTO))).status).toBe(201);
      expect(photoAt(c)).not.toBeNull();
    });
  });

  describe('kind 2: bodies that do not decode and paths that do not decode are 4xx, never 500', () => {
    const json = { 'content-type': 'application/json' };
    const body = JSON.stringify({ email: 'nobody@example.test', password: 'Rahasia-2020!' });

    it('refuses a body that is not what its Content-Encoding says (400) and an unknown encoding (415)', async () => {
      for (const encoding of ['gzip', 'deflate', 'br']) {
        const r = await raw(
          reg(),
          'POST',
          '/api/v1/sessions',
          { ...json, 'content-encoding': encoding },
          body,
        );
        expectError(r, 400, 'malformed_body', 'content-encoding');
        expect(r.body.error?.message).toContain(encoding);
      }
      const unknown = await raw(
        reg(),
        'POST',
        '/api/v1/sessions',
        { ...json, 'content-encoding': 'x-snappy' },
        body,
      );
      expectError(unknown, 415, 'unsupported_encoding', 'content-encoding');
      expect(unknown.body.error?.message).toMatch(/x-snappy.*expected gzip, deflate, br or identity/);
      // The encodings it names do work: each body decodes and reaches the route (unknown account: 401).
      for (const [encoding, encoded] of [
        ['gzip', gzipSync(body)],
        ['deflate', deflateSync(body)],
        ['br', brotliCompressSync(body)],
      ] as const) {
        const r = await raw(
          reg(),
          'POST',
          '/api/v1/sessions',
          { ...json, 'content-encoding': encoding },
          encoded,
        );
        expectError(r, 401, 'bad_credentials');
      }
      // A JSON body in another charset than UTF-8.
      expectError(
        await raw(
          reg(),
          'POST',
          '/api/v1/sessions',
          { 'content-type': 'application/json; charset=latin1' },
          body,
        ),
        415,
        'unsupported_charset',
        'content-type',
      );
      expectError(
        await raw(
          reg(),
          'POST',
          '/api/v1/sessions',
          { 'content-type': 'application/json; charset=utf-16le' },
          Buffer.from(body, 'utf16le'),
        ),
        415,
        'unsupported_charset',
        'content-type',
      );
      await h.expectAlive();
    });

    it('refuses a path whose percent-encoding does not decode, on every route with a parameter', async () => {
      const admin = { authorization: `Bearer ${h.stack.adminToken}`, ...json };
      for (const [method, path, headers] of [
        ['POST', '/api/v1/waves/%E0%A4%A/join', {}],
        ['POST', '/api/v1/waves/%ZZ/join', {}],
        ['PATCH', '/admin/waves/%E0%A4%A', admin],
      ] as const) {
        const r = await raw(reg(), method, path, headers, method === 'PATCH' ? '{"quota":1}' : undefined);
        expectError(r, 400, 'malformed_path', 'path');
        expect(r.body.error?.message).toMatch(/percent-encoding/);
      }
      // The sweep's example names no route: a plain 404, not a 500.
      expectError(await raw(reg(), 'GET', '/accounts/%E0%A4%A'), 404, 'not_found');
      await h.expectAlive();
    });
  });

  describe('kind 4: nothing unchecked is stored', () => {
    const accounts = () => (h.db.prepare('SELECT COUNT(*) AS n FROM accounts').get() as { n: number }).n;

    it('refuses control characters, NUL and lone surrogates in names and addresses, naming the field', async () => {
      const c = h.client();
      expect((await c.createAccount()).status).toBe(201);
      expect((await c.verifyEmail(await c.verificationToken())).status).toBe(200);
      expect((await c.login()).status).toBe(201);
      const person = h.pool.take();
      const address = person.address as unknown as Record<string, string>;
      expectError(
        await c.submitBiodata(person, { fullName: `${person.fullName}\u0000` }),
        400,
        'invalid_field',
        'fullName',
      );
      expectError(
        await c.submitBiodata(person, { placeOfBirth: `Jakarta\nBandung` }),
        400,
        'invalid_field',
        'placeOfBirth',
      );
      expectError(
        await c.submitBiodata(person, { address: { ...address, street: 'Jl. Merdeka\u0007 1' } }),
        400,
        'invalid_field',
        'address.street',
      );
      // A lone surrogate cannot be written by JSON.stringify from a JS string on purpose: send the escape.
      const withSurrogate = JSON.stringify({
        ...(await import('../../scripts/registrant-client.ts')).biodataOf(person),
        address: { ...address, village: 'VILLAGE' },
      }).replace('VILLAGE', 'Desa \\ud800');
      const r = await raw(
        reg(),
        'PUT',
        '/api/v1/me/biodata',
        { ...auth(c), 'content-type': 'application/json' },
        withSurrogate,
      );
      expectError(r, 400, 'invalid_field', 'address.village');
      expect(r.body.error?.message).toMatch(/lone UTF-16 surrogate/);
      expect(
        (
          h.db.prepare('SELECT biodata_at FROM accounts WHERE email = ?').get(c.email) as {
            biodata_at: unknown;
          }
        ).biodata_at,
      ).toBeNull();
      // The clean biodata is accepted.
      expect((await c.submitBiodata(person)).status).toBe(200);
    });

    it('refuses a password that is not valid UTF-8, holds a lone surrogate or a control character; no account', async () => {
      const before = accounts();
      const email = `utf8.${Date.now()}@example.test`;
      const invalidUtf8 = Buffer.concat([
        Buffer.from(`{"email":"${email}","password":"Rahasia-`),
        Buffer.from([0xff, 0xfe, 0xc3]),
        Buffer.from('-2020"}'),
      ]);
      const r1 = await raw(
        reg(),
        'POST',
        '/api/v1/accounts',
        { 'content-type': 'application/json' },
        invalidUtf8,
      );
      expectError(r1, 400, 'invalid_encoding', 'password');
      expect(r1.body.error?.message).toMatch(/not valid UTF-8 \(byte 0xff at offset \d+\)/);
      const surrogate = `{"email":"${email}","password":"Rahasia-\\udc00-2020"}`;
      expectError(
        await raw(reg(), 'POST', '/api/v1/accounts', { 'content-type': 'application/json' }, surrogate),
        400,
        'invalid_field',
        'password',
      );
      const c = new RegistrantClient(h.stack.urls, email, 'Rahasia\u0000-2020');
      expectError(await c.createAccount(), 400, 'invalid_field', 'password');
      expect(accounts()).toBe(before);
      await h.expectAlive();
    });

    it('refuses a photo that is only the first bytes of a JPEG, or not a whole image', async () => {
      const c = await h.throughBiodata();
      const truncated = await c.uploadPhoto(PHOTO.subarray(0, 4000));
      expectError(truncated, 400, 'invalid_image', 'photo');
      expect(truncated.body.error?.message).toMatch(/no end-of-image marker/);
      expectError(await c.uploadPhoto(Buffer.from([0xff, 0xd8, 0xff, 0xe0])), 400, 'invalid_image', 'photo');
      // EOI present but no frame header (so no dimensions).
      expectError(await c.uploadPhoto(Buffer.from([0xff, 0xd8, 0xff, 0xd9])), 400, 'invalid_image', 'photo');
      expectError(
        await c.uploadPhoto(Buffer.concat([PHOTO, Buffer.from('<script>')])),
        400,
        'invalid_image',
        'photo',
      );
      expect(photoAt(c)).toBeNull();
      expect((await c.uploadPhoto()).status).toBe(201);
    });

    it('refuses a presigned upload of another size or type than declared, at the store and at the confirmation', async () => {
      const c = await h.throughBiodata();
      const askUrl = async (contentType: string, size: number) => {
        const r = await c.call('POST', '/api/v1/me/ktp-photo/upload-url', { json: { contentType, size } });
        expect(r.status).toBe(201);
        return r.body as unknown as { url: string; key: string; headers: Record<string, string> };
      };
      const confirm = () => c.call('POST', '/api/v1/me/ktp-photo/confirm');
      const putTo = (url: string, body: Buffer, contentType = 'image/jpeg') =>
        fetch(url, { method: 'PUT', headers: { 'content-type': contentType }, body });

      const declared = await askUrl('image/jpeg', PHOTO.length);
      expect(declared.headers).toEqual({ 'content-type': 'image/jpeg' });
      expectError(await confirm(), 409, 'photo_missing', 'photo');
      // The store refuses more bytes or another type than the URL was signed for ...
      const larger = await putTo(declared.url, Buffer.concat([PHOTO, Buffer.alloc(100)]));
      expect(larger.status).toBe(413);
      expect(await larger.json()).toMatchObject({ error: { code: 'too_large', field: 'size' } });
      const otherType = await putTo(declared.url, PHOTO, 'image/png');
      expect(otherType.status).toBe(415);
      expect(await otherType.json()).toMatchObject({
        error: { code: 'content_type_mismatch', field: 'content-type' },
      });
      expectError(await confirm(), 409, 'photo_missing', 'photo');

      // ... and the confirmation checks what the store let through: only the first bytes of a JPEG ...
      expect((await putTo(declared.url, PHOTO.subarray(0, 5000))).status).toBe(201);
      expectError(await confirm(), 400, 'invalid_image', 'photo');
      // ... a whole image smaller than declared ...
      const roomy = await askUrl('image/jpeg', PHOTO.length + 100);
      expect((await putTo(roomy.url, PHOTO)).status).toBe(201);
      expectError(await confirm(), 400, 'size_mismatch', 'size');
      // ... and an object put at the key past the URL's conditions (with the store's own token).
      const store = `${h.stack.urls.upload}/buckets/ktp/objects/${roomy.key}`;
      const token = { authorization: 'Bearer gelombang-upload' };
      const big = Buffer.concat([PHOTO, Buffer.alloc(200)]);
      await fetch(store, { method: 'PUT', headers: { ...token, 'content-type': 'image/jpeg' }, body: big });
      expectError(await confirm(), 400, 'invalid_image', 'photo');
      await fetch(store, { method: 'PUT', headers: { ...token, 'content-type': 'image/png' }, body: PHOTO });
      expectError(await confirm(), 415, 'invalid_content_type', 'contentType');
      expect(photoAt(c)).toBeNull();

      const good = await askUrl('image/jpeg', PHOTO.length);
      expect((await putTo(good.url, PHOTO)).status).toBe(201);
      const confirmed = await confirm();
      expect(confirmed.status).toBe(201);
      expect(confirmed.body).toMatchObject({ key: good.key, size: PHOTO.length });
      expect(
        h.db.prepare('SELECT photo_key, photo_bytes FROM accounts WHERE email = ?').get(c.email),
      ).toEqual({ photo_key: good.key, photo_bytes: PHOTO.length });
    });

    it('refuses a wave that closes before it opens', async () => {
      const admin = { authorization: `Bearer ${h.stack.adminToken}` };
      const c = h.client();
      const r = await c.call('POST', '/admin/waves', {
        token: null,
        headers: admin,
        json: { number: 50, quota: 10, opensAt: '2030-01-02T00:00:00Z', closesAt: '2030-01-01T00:00:00Z' },
      });
      expectError(r, 400, 'invalid_field', 'closesAt');
      expect(r.body.error?.message).toMatch(/closesAt after opensAt/);
      expect(h.db.prepare('SELECT COUNT(*) AS n FROM waves WHERE number = 50').get()).toEqual({ n: 0 });
      const ok = await c.call('POST', '/admin/waves', {
        token: null,
        headers: admin,
        json: { number: 50, quota: 10, opensAt: '2030-01-01T00:00:00Z', closesAt: '2030-01-02T00:00:00Z' },
      });
      expect(ok.status).toBe(201);
    });
  });

  describe('kind 6: a way back from an expired link, and logout', () => {
    const mailTokens = async (email: string): Promise<string[]> => {
      const res = await fetch(`${h.stack.urls.email}/api/v1/mailboxes/${encodeURIComponent(email)}/messages`);
      const messages = (await res.json()) as Array<{ links?: string[] }>;
      return messages
        .flatMap((m) => m.links ?? [])
        .flatMap((l) => {
          const token = new URL(l).searchParams.get('token');
          return token ? [token] : [];
        });
    };
    const resend = (c: RegistrantClient, password = c.password) =>
      c.call('POST', '/api/v1/email-verifications/resend', {
        json: { email: c.email, password },
        token: null,
      });

    it('resends a fresh link that replaces the expired one, at most once per interval', async () => {
      const c = h.client();
      expect((await c.createAccount()).status).toBe(201);
      const first = await c.verificationToken();
      // The link expires (EMAIL_TOKEN_TTL_S is a day): the test ages it in the database, not by waiting.
      const writer = new Database(join(h.stack.dataDir, 'registration.db'));
      writer.pragma('busy_timeout = 10000');
      writer.prepare('UPDATE email_tokens SET expires_at = 0 WHERE account_id = ?').run(h.accountId(c));
      writer.close();
      expectError(await c.verifyEmail(first), 410, 'token_expired', 'token');
      expectError(await c.login(), 403, 'email_not_verified', 'email');

      expectError(await resend(c, 'Wrong-password-1'), 401, 'bad_credentials');
      const sent = await resend(c);
      expect(sent.status).toBe(202);
      expect(sent.body).toEqual({ email: c.email, emailVerification: 'sent' });
      const again = await resend(c);
      expectError(again, 429, 'resend_too_soon', 'email');
      expect(again.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);

      const tokens = await mailTokens(c.email);
      expect(tokens).toHaveLength(2);
      const fresh = tokens[1] as string;
      expect(fresh).not.toBe(first);
      expectError(await c.verifyEmail(first), 410, 'token_replaced', 'token');
      expect((await c.verifyEmail(fresh)).status).toBe(200);
      expectError(await resend(c), 409, 'already_verified', 'email');
      expect((await c.login()).status).toBe(201);
    });

    it('sends one mail for simultaneous resends', async () => {
      const c = h.client();
      expect((await c.createAccount()).status).toBe(201);
      await c.verificationToken();
      const answers = await Promise.all(Array.from({ length: 8 }, () => resend(c)));
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([202, 429, 429, 429, 429, 429, 429, 429]);
      // Two tokens (creation + the one resend), and only the newest still works.
      expect(
        h.db
          .prepare(
            'SELECT COUNT(*) AS n, SUM(replaced_at IS NULL) AS live FROM email_tokens WHERE account_id = ?',
          )
          .get(h.accountId(c)),
      ).toEqual({ n: 2, live: 1 });
    });

    it('logs out: the token is refused with 401 at once, other sessions live on', async () => {
      const c = h.client();
      expect((await c.createAccount()).status).toBe(201);
      expect((await c.verifyEmail(await c.verificationToken())).status).toBe(200);
      expect((await c.login()).status).toBe(201);
      const first = c.token;
      expect((await c.login()).status).toBe(201);
      const second = c.token;
      expect((await c.call('GET', '/api/v1/me/status', { token: first })).status).toBe(200);
      expect((await c.call('DELETE', '/api/v1/sessions/current', { token: first })).status).toBe(204);
      const after = await c.call('GET', '/api/v1/me/status', { token: first });
      expectError(after, 401, 'unauthorized');
      expect(after.body.error?.message).toMatch(/logged out/);
      expectError(await c.call('DELETE', '/api/v1/sessions/current', { token: first }), 401, 'unauthorized');
      expectError(await c.call('DELETE', '/api/v1/sessions/current', { token: null }), 401, 'unauthorized');
      expect((await c.call('GET', '/api/v1/me/status', { token: second })).status).toBe(200);
    });
  });

  describe('kind 7: every refused step counts in the rejection metric', () => {
    it('counts stage_incomplete, invalid_field and malformed_json at the stage of the step', async () => {
      const name = 'gelombang_funnel_rejections_total';
      const counts = async () => {
        const text = await h.metrics();
        return {
          photoIncomplete: metricValue(text, name, { stage: 'photo_uploaded', code: 'stage_incomplete' }),
          joinIncomplete: metricValue(text, name, { stage: 'joined_wave', code: 'stage_incomplete' }),
          assessmentIncomplete: metricValue(text, name, {
            stage: 'assessment_done',
            code: 'stage_incomplete',
          }),
          biodataInvalid: metricValue(text, name, { stage: 'biodata_verified', code: 'invalid_field' }),
          accountInvalid: metricValue(text, name, { stage: 'registered', code: 'invalid_field' }),
          accountMalformed: metricValue(text, name, { stage: 'registered', code: 'malformed_json' }),
          verifyInvalid: metricValue(text, name, { stage: 'email_verified', code: 'invalid_field' }),
        };
      };
      const c = h.client();
      expect((await c.createAccount()).status).toBe(201);
      expect((await c.verifyEmail(await c.verificationToken())).status).toBe(200);
      expect((await c.login()).status).toBe(201);
      const before = await counts();

      expectError(await c.uploadPhoto(), 409, 'stage_incomplete', 'biodata');
      expectError(await c.joinWave(1), 409, 'stage_incomplete', 'assessment');
      expectError(await c.joinWave(1), 409, 'stage_incomplete', 'assessment');
      expectError(await c.submitAssessment(), 409, 'stage_incomplete', 'photo');
      expectError(await c.submitBiodata(h.pool.take(), { nik: '123' }), 400, 'invalid_field', 'nik');
      expectError(
        await c.call('POST', '/api/v1/accounts', {
          json: { email: 'not-an-email', password: 'Rahasia-2020!' },
        }),
        400,
        'invalid_field',
        'email',
      );
      expectError(await c.call('POST', '/api/v1/accounts', { raw: '{"email":' }), 400, 'malformed_json');
      expectError(
        await c.call('POST', '/api/v1/email-verifications', { json: { token: 7 } }),
        400,
        'invalid_field',
        'token',
      );

      const after = await counts();
      expect({
        photoIncomplete: after.photoIncomplete - before.photoIncomplete,
        joinIncomplete: after.joinIncomplete - before.joinIncomplete,
        assessmentIncomplete: after.assessmentIncomplete - before.assessmentIncomplete,
        biodataInvalid: after.biodataInvalid - before.biodataInvalid,
        accountInvalid: after.accountInvalid - before.accountInvalid,
        accountMalformed: after.accountMalformed - before.accountMalformed,
        verifyInvalid: after.verifyInvalid - before.verifyInvalid,
      }).toEqual({
        photoIncomplete: 1,
        joinIncomplete: 2,
        assessmentIncomplete: 1,
        biodataInvalid: 1,
        accountInvalid: 1,
        accountMalformed: 1,
        verifyInvalid: 1,
      });
    });
  });
});

describe('kind 3: simultaneous submissions of one step, over two processes (WORKERS=2)', () => {
  const h = harness(2);
  const stageReached = async () =>
    metricValue(await h.metrics(), 'gelombang_funnel_stage_reached_total', { stage: 'photo_uploaded' });
  const photoRow = (c: RegistrantClient) =>
    h.db.prepare('SELECT photo_key, photo_bytes FROM accounts WHERE email = ?').get(c.email) as {
      photo_key: string | null;
      photo_bytes: number | null;
    };

  it('of 20 parallel photo uploads for one account, one wins (201), the others get 409, counted once', async () => {
    const c = await h.throughBiodata();
    const before = await stageReached();
    const answers = await Promise.all(Array.from({ length: 20 }, () => c.uploadPhoto()));
    const won = answers.filter((a) => a.status === 201);
    const lost = answers.filter((a) => a.status !== 201);
    expect(won).toHaveLength(1);
    for (const a of lost) expectError(a, 409, 'already_uploaded');
    expect((await stageReached()) - before).toBe(1);
    const winner = won[0]?.body as { key: string; size: number };
    expect(photoRow(c)).toEqual({ photo_key: winner.key, photo_bytes: PHOTO.length });
    // The object the row names is the one stored under its key.
    const stored = await fetch(`${h.stack.urls.upload}/buckets/ktp/objects/${winner.key}`, {
      headers: { authorization: 'Bearer gelombang-upload' },
    });
    expect(Buffer.from(await stored.arrayBuffer()).equals(PHOTO)).toBe(true);
    await h.expectAlive();
  });

  it('of 20 parallel presigned-upload confirmations, one wins (201), the others get 409, counted once', async () => {
    const c = await h.throughBiodata();
    const asked = await c.call('POST', '/api/v1/me/ktp-photo/upload-url', {
      json: { contentType: 'image/jpeg', size: PHOTO.length },
    });
    expect(asked.status).toBe(201);
    const { url, key } = asked.body as { url: string; key: string };
    expect(
      (await fetch(url, { method: 'PUT', headers: { 'content-type': 'image/jpeg' }, body: PHOTO })).status,
    ).toBe(201);
    const before = await stageReached();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => c.call('POST', '/api/v1/me/ktp-photo/confirm')),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 201)) expectError(a, 409, 'already_uploaded');
    expect((await stageReached()) - before).toBe(1);
    expect(photoRow(c)).toEqual({ photo_key: key, photo_bytes: PHOTO.length });
  });

  it('of 20 simultaneous creations of one wave, one wins (201) and the others get 409 duplicate_wave', async () => {
    const c = h.client();
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        c.call('POST', '/admin/waves', {
          token: null,
          headers: { authorization: `Bearer ${h.stack.adminToken}` },
          json: { number: 77, quota: 5 },
        }),
      ),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 201)) expectError(a, 409, 'duplicate_wave', 'number');
    expect(
      h.db.prepare('SELECT COUNT(*) AS n, MAX(quota) AS quota FROM waves WHERE number = 77').get(),
    ).toEqual({
      n: 1,
      quota: 5,
    });
    await h.expectAlive();
  });
});
