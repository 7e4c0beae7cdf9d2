import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAGES } from '../mock-services/registration/stages.ts';
import { isEligible } from '../model/population.ts';
import { type ErrorBody, FIXTURES, RegistrantClient } from '../scripts/registrant-client.ts';
import { type RunningStack, startStack } from '../scripts/stack.ts';
import { people } from './support/population.ts';

/**
 * The reference service against the real mock processes: the journey, every bad input (each a 4xx
 * with a code and a field, and no row left behind), and what its metrics say.
 */

let stack: RunningStack;
let db: Database.Database;
const pool = people(2020, 0);
let n = 0;
const client = () => new RegistrantClient(stack.urls, `reg${++n}.${Date.now()}@example.test`);
const count = (sql: string, ...args: unknown[]) => (db.prepare(sql).get(...args) as { n: number }).n;
const rows = () => ({
  accounts: count('SELECT COUNT(*) AS n FROM accounts'),
  tokens: count('SELECT COUNT(*) AS n FROM email_tokens'),
  biodata: count('SELECT COUNT(*) AS n FROM accounts WHERE biodata_at IS NOT NULL'),
  photos: count('SELECT COUNT(*) AS n FROM accounts WHERE photo_at IS NOT NULL'),
  members: count('SELECT COUNT(*) AS n FROM wave_members'),
});

beforeAll(async () => {
  stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: { registration: { SCRYPT_N: '1024', EMAIL_TOKEN_TTL_S: '2' } },
  });
  db = new Database(join(stack.dataDir, 'registration.db'), { readonly: true, fileMustExist: true });
});

afterAll(async () => {
  db?.close();
  await stack?.stop();
});

function expectError(r: { status: number; body: unknown }, status: number, code: string, field?: string) {
  expect({ status: r.status, code: (r.body as ErrorBody).error?.code }).toEqual({ status, code });
  if (field !== undefined) expect((r.body as ErrorBody).error.field).toBe(field);
  expect(typeof (r.body as ErrorBody).error.message).toBe('string');
}

describe('the journey', () => {
  it('walks a registrant through all eight steps, and the funnel metrics count each stage', async () => {
    const c = client();
    const person = pool.take();
    expect((await c.createAccount()).status).toBe(201);
    const token = await c.verificationToken();
    expect(token).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect((await c.verifyEmail(token)).body).toMatchObject({ verified: true });
    expect((await c.login()).status).toBe(201);
    const bio = await c.submitBiodata(person);
    expect(bio.status).toBe(200);
    expect(bio.body).toMatchObject({ eligible: true, priority: person.dtksRecipient ? 'low' : 'high' });
    expect((await c.status()).body.stage).toBe('biodata_verified');
    const photo = await c.uploadPhoto();
    expect(photo.status).toBe(201);
    const assessment = await c.submitAssessment();
    expect(assessment.body).toMatchObject({ stage: 'assessment_done' });
    expect((await c.joinWave(1)).status).toBe(201);
    const status = await c.status();
    expect(status.body).toMatchObject({ stage: 'joined_wave', wave: { number: 1 } });

    // The object really is in the store.
    const key = (photo.body as { key: string }).key;
    const stored = await fetch(`${stack.urls.upload}/buckets/ktp/objects/${key}`, {
      headers: { authorization: 'Bearer gelombang-upload' },
    });
    expect(stored.status).toBe(200);
    expect((await stored.arrayBuffer()).byteLength).toBe((photo.body as { size: number }).size);

    const metrics = await (await fetch(`${stack.urls.registration}/metrics`)).text();
    for (const stage of STAGES) {
      expect(metrics).toMatch(new RegExp(`gelombang_funnel_stage_reached_total\\{stage="${stage}"\\} [1-9]`));
    }
    expect(metrics).toMatch(
      /gelombang_dependency_request_duration_seconds_count\{dependency="dukcapil",outcome="ok"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /gelombang_dependency_request_duration_seconds_count\{dependency="email",outcome="ok"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /gelombang_http_requests_total\{method="PUT",route="\/api\/v1\/me\/biodata",status="200"\} [1-9]/,
    );
    expect(metrics).toMatch(/gelombang_wave_places\{wave="1",state="joined"\} [1-9]/);
    expect(metrics).toMatch(/nodejs_eventloop_lag_seconds/);
  });

  it('answers health and readiness', async () => {
    expect((await fetch(`${stack.urls.registration}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${stack.urls.registration}/readyz`)).json()).toEqual({ status: 'ready' });
  });
});

describe('bad input: a 4xx naming code and field, and nothing stored', () => {
  it('refuses malformed JSON, missing and extra fields on account creation', async () => {
    const before = rows();
    const c = client();
    expectError(
      await c.call('POST', '/api/v1/accounts', { raw: '{"email": "a@b.c",' }),
      400,
      'malformed_json',
    );
    expectError(
      await c.call('POST', '/api/v1/accounts', { json: { email: c.email } }),
      400,
      'invalid_field',
      'password',
    );
    expectError(
      await c.call('POST', '/api/v1/accounts', {
        json: { email: c.email, password: 'Rahasia-2020!', admin: true },
      }),
      400,
      'invalid_field',
      'admin',
    );
    expectError(
      await c.call('POST', '/api/v1/accounts', {
        json: { email: 'not-an-email', password: 'Rahasia-2020!' },
      }),
      400,
      'invalid_field',
      'email',
    );
    expectError(
      await c.call('POST', '/api/v1/accounts', { json: { email: c.email, password: 'short' } }),
      400,
      'invalid_field',
      'password',
    );
    expect(rows()).toEqual(before);
  });

  it('refuses a duplicate email, whatever its case', async () => {
    const c = client();
    expect((await c.createAccount()).status).toBe(201);
    const before = rows();
    expectError(
      await c.call('POST', '/api/v1/accounts', {
        json: { email: c.email.toUpperCase(), password: 'Rahasia-2020!' },
      }),
      409,
      'duplicate_email',
      'email',
    );
    expect(rows()).toEqual(before);
  });

  it('refuses wrong, replayed and expired verification tokens, and logging in unverified', async () => {
    const c = client();
    await c.createAccount();
    expectError(await c.login(), 403, 'email_not_verified', 'email');
    expectError(await c.verifyEmail('not-a-token'), 400, 'invalid_token', 'token');
    const token = await c.verificationToken();
    expect((await c.verifyEmail(token)).status).toBe(200);
    expectError(await c.verifyEmail(token), 409, 'token_used', 'token');

    const late = client();
    await late.createAccount();
    const lateToken = await late.verificationToken();
    await new Promise((r) => setTimeout(r, 2500)); // EMAIL_TOKEN_TTL_S=2 in this stack
    expectError(await late.verifyEmail(lateToken), 410, 'token_expired', 'token');
    expect(
      count(
        'SELECT COUNT(*) AS n FROM accounts WHERE email = ? AND email_verified_at IS NOT NULL',
        late.email,
      ),
    ).toBe(0);
  });

  it('refuses requests without a valid session', async () => {
    const c = client();
    expectError(await c.call('GET', '/api/v1/me/status', { token: null }), 401, 'unauthorized');
    expectError(await c.call('GET', '/api/v1/me/status', { token: 'forged' }), 401, 'unauthorized');
    expectError(
      await c.call('POST', '/api/v1/sessions', { json: { email: c.email, password: 'Rahasia-2020!' } }),
      401,
      'bad_credentials',
    );
  });

  describe('biodata', () => {
    let c: RegistrantClient;
    beforeAll(async () => {
      c = client();
      await c.createAccount();
      await c.verifyEmail(await c.verificationToken());
      await c.login();
    });
    const person = () => pool.take();
    const cases: Array<
      [string, (p: ReturnType<typeof person>) => Record<string, unknown>, number, string, string]
    > = [
      ['a NIK that is not 16 digits', () => ({ nik: '12345' }), 400, 'invalid_field', 'nik'],
      ['a NIK with an unknown province', (p) => ({ nik: `99${p.nik.slice(2)}` }), 400, 'invalid_nik', 'nik'],
      [
        'a NIK with region 00',
        (p) => ({ nik: `${p.nik.slice(0, 2)}00${p.nik.slice(4)}` }),
        400,
        'invalid_nik',
        'nik',
      ],
      [
        'a NIK whose date is impossible',
        (p) => ({ nik: `${p.nik.slice(0, 6)}32${p.nik.slice(8)}` }),
        400,
        'invalid_nik',
        'nik',
      ],
      [
        'a NIK whose date differs from dateOfBirth',
        (p) => ({ dateOfBirth: p.dateOfBirth.replace(/-\d\d$/, (d) => (d === '-01' ? '-02' : '-01')) }),
        400,
        'invalid_nik',
        'nik',
      ],
      [
        'a gender the NIK contradicts',
        (p) => ({ gender: p.gender === 'M' ? 'F' : 'M' }),
        400,
        'invalid_nik',
        'nik',
      ],
      [
        'a dateOfBirth that is not a date',
        () => ({ dateOfBirth: '1990-02-30' }),
        400,
        'invalid_nik',
        'dateOfBirth',
      ],
      [
        'a missing address field',
        (p) => ({ address: { ...p.address, postalCode: undefined } }),
        400,
        'invalid_field',
        'address.postalCode',
      ],
      ['an extra field', () => ({ salary: 1 }), 400, 'invalid_field', 'salary'],
    ];
    for (const [name, change, status, code, field] of cases) {
      it(`refuses ${name}`, async () => {
        const before = rows();
        const p = person();
        expectError(await c.submitBiodata(p, change(p)), status, code, field);
        expect(rows()).toEqual(before);
      });
    }
    it('refuses a NIK whose mismatch comes from the NIK itself (date encoded differently)', async () => {
      const p = person();
      const r = await c.submitBiodata(p, {
        nik: `${p.nik.slice(0, 6)}${p.nik.slice(6, 8)}13${p.nik.slice(10)}`,
      });
      expectError(r, 400, 'invalid_nik', 'nik');
    });

    it('refuses an under-18, a student, an unknown NIK, a name mismatch and a non-citizen, storing nothing', async () => {
      const before = rows();
      expectError(await c.submitBiodata(pool.take((p) => p.age < 18)), 422, 'too_young', 'dateOfBirth');
      expectError(
        await c.submitBiodata(
          pool.take(
            (p) =>
              p.inDukcapil &&
              p.age >= 18 &&
              p.citizen &&
              p.enrolledInEducation &&
              p.fullName === p.registeredName,
          ),
        ),
        422,
        'in_formal_education',
        'nik',
      );
      const unknown = await c.submitBiodata(pool.take((p) => !p.inDukcapil && p.age >= 18));
      expectError(unknown, 422, 'nik_not_verified', 'nik');
      expect((unknown.body as ErrorBody).error.details).toMatchObject({ reason: 'nik_not_found' });
      const mismatch = await c.submitBiodata(
        pool.take((p) => p.inDukcapil && p.fullName !== p.registeredName && p.age >= 18),
      );
      expect((mismatch.body as ErrorBody).error.details).toMatchObject({ reason: 'name_mismatch' });
      expectError(
        await c.submitBiodata(
          pool.take((p) => p.inDukcapil && !p.citizen && p.fullName === p.registeredName && p.age >= 18),
        ),
        422,
        'not_citizen',
        'nik',
      );
      expect(rows()).toEqual(before);
    });

    it('refuses a NIK registered to another account', async () => {
      const p = pool.take();
      expect((await c.submitBiodata(p)).status).toBe(200);
      const other = client();
      await other.createAccount();
      await other.verifyEmail(await other.verificationToken());
      await other.login();
      const before = rows();
      expectError(await other.submitBiodata(p), 409, 'duplicate_nik', 'nik');
      expect(rows()).toEqual(before);
    });
  });

  describe('photo, assessment and wave', () => {
    let c: RegistrantClient;
    beforeAll(async () => {
      c = client();
      await c.createAccount();
      await c.verifyEmail(await c.verificationToken());
      await c.login();
    });

    it('refuses a photo before biodata, then a non-image, a too-large photo and a wrong field', async () => {
      expectError(await c.uploadPhoto(), 409, 'stage_incomplete', 'biodata');
      expect((await c.submitBiodata(pool.take(isEligible))).status).toBe(200);
      const before = rows();
      expectError(
        await c.uploadPhoto(new TextEncoder().encode('GIF89a this is not a jpeg')),
        415,
        'not_an_image',
        'photo',
      );
      const big = new Uint8Array(2 * 1024 * 1024 + 10);
      big.set([0xff, 0xd8, 0xff]);
      expectError(await c.uploadPhoto(big), 413, 'photo_too_large', 'photo');
      expectError(await c.uploadPhoto(undefined, 'ktp.jpg', 'selfie'), 400, 'invalid_field', 'selfie');
      expectError(
        await c.call('PUT', '/api/v1/me/ktp-photo', { json: { photo: 'base64...' } }),
        415,
        'invalid_content_type',
        'photo',
      );
      expect(rows()).toEqual(before);
    });

    it('refuses joining before the test, a bad test, then joining twice, an unknown, a closed and a full wave', async () => {
      expectError(await c.joinWave(1), 409, 'stage_incomplete', 'assessment');
      expect((await c.uploadPhoto()).status).toBe(201);
      expectError(await c.submitAssessment([1, 2, 3]), 400, 'invalid_field', 'answers');
      expectError(await c.submitAssessment(Array(20).fill(7)), 400, 'invalid_field', 'answers.0');
      expect((await c.submitAssessment()).status).toBe(200);

      const admin = { authorization: `Bearer ${stack.adminToken}` };
      const mkWave = (body: unknown) =>
        c.call('POST', '/admin/waves', { json: body, token: null, headers: admin });
      expectError(
        await c.call('POST', '/admin/waves', { json: { number: 90, quota: 1 }, token: null }),
        401,
        'unauthorized',
      );
      expectError(await mkWave({ number: 90, quota: -1 }), 400, 'invalid_field', 'quota');
      expect((await mkWave({ number: 90, quota: 0 })).status).toBe(201);
      expect((await mkWave({ number: 91, quota: 5, status: 'closed' })).status).toBe(201);

      const before = rows();
      expectError(await c.joinWave(404), 404, 'wave_not_found', 'waveNumber');
      expectError(await c.joinWave(91), 409, 'wave_closed', 'waveNumber');
      expectError(await c.joinWave(90), 409, 'wave_full', 'waveNumber');
      expectError(await c.call('POST', '/api/v1/waves/abc/join'), 400, 'invalid_field', 'waveNumber');
      expect(rows()).toEqual(before);
      expect((await c.joinWave(1)).status).toBe(201);
      expectError(await c.joinWave(1), 409, 'already_joined');
      expect(rows().members).toBe(before.members + 1);
    });
  });
});

describe('the presigned photo flow, failing dependencies, and wave administration', () => {
  const adminHeaders = () => ({
    authorization: `Bearer ${stack.adminToken}`,
    'content-type': 'application/json',
  });
  const configure = async (svc: 'ministry' | 'email' | 'upload', patch: unknown) => {
    const res = await fetch(`${stack.urls[svc]}/admin/config`, {
      method: 'PATCH',
      headers: adminHeaders(),
      body: JSON.stringify(patch),
    });
    expect(res.status).toBe(200);
  };
  const verified = async () => {
    const c = client();
    expect((await c.createAccount()).status).toBe(201);
    await c.verifyEmail(await c.verificationToken());
    expect((await c.login()).status).toBe(201);
    return c;
  };
  const jpeg = () => readFileSync(join(FIXTURES, 'ktp-small.jpg'));

  it('takes the photo through a presigned URL, then confirms it with the store', async () => {
    const c = await verified();
    expectError(
      await c.call('POST', '/api/v1/me/ktp-photo/upload-url', {
        json: { contentType: 'image/jpeg', size: 1000 },
      }),
      409,
      'stage_incomplete',
      'biodata',
    );
    expect((await c.submitBiodata(pool.take(isEligible))).status).toBe(200);
    expectError(
      await c.call('POST', '/api/v1/me/ktp-photo/upload-url', {
        json: { contentType: 'image/gif', size: 1000 },
      }),
      400,
      'invalid_field',
      'contentType',
    );
    expectError(
      await c.call('POST', '/api/v1/me/ktp-photo/upload-url', {
        json: { contentType: 'image/jpeg', size: 3 * 1024 * 1024 },
      }),
      413,
      'photo_too_large',
      'size',
    );
    const before = rows();
    // Confirming before anything was uploaded stores nothing.
    expectError(await c.call('POST', '/api/v1/me/ktp-photo/confirm'), 409, 'photo_missing', 'photo');

    const bytes = jpeg();
    const grant = await c.call<{ url: string; method: string; expiresAt: string }>(
      'POST',
      '/api/v1/me/ktp-photo/upload-url',
      { json: { contentType: 'image/jpeg', size: bytes.length } },
    );
    expect(grant.status).toBe(201);
    expect(grant.body.method).toBe('PUT');
    expect(Date.parse(grant.body.expiresAt)).toBeGreaterThan(Date.now());
    expect(new URL(grant.body.url).origin).toBe(new URL(stack.urls.upload).origin);

    // A non-image put at the signed URL is refused at confirmation.
    const put = (body: Uint8Array) =>
      fetch(grant.body.url, { method: 'PUT', body, headers: { 'content-type': 'image/jpeg' } });
    expect((await put(new TextEncoder().encode('%PDF-1.4 not a photo'))).status).toBe(201);
    expectError(await c.call('POST', '/api/v1/me/ktp-photo/confirm'), 415, 'not_an_image', 'photo');
    expect(rows()).toEqual(before);

    expect((await put(bytes)).status).toBe(201);
    const confirmed = await c.call('POST', '/api/v1/me/ktp-photo/confirm');
    expect(confirmed.status).toBe(201);
    expect(confirmed.body).toMatchObject({ size: bytes.length, stage: 'photo_uploaded' });
    expect((await c.status()).body.stage).toBe('photo_uploaded');
    expect(rows().photos).toBe(before.photos + 1);
    expectError(await c.call('POST', '/api/v1/me/ktp-photo/confirm'), 409, 'already_uploaded');
  });

  it('refuses an account with 503 naming email when SMTP fails (inline mail), leaving no row', async () => {
    const c = client();
    const before = rows();
    await configure('email', { email: { errorRate: 1 } });
    try {
      const r = await c.createAccount();
      expectError(r, 503, 'dependency_unavailable');
      expect((r.body as ErrorBody).error.dependency).toBe('email');
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(rows()).toEqual(before);
      expect(count('SELECT COUNT(*) AS n FROM accounts WHERE email = ?', c.email)).toBe(0);
    } finally {
      await configure('email', { email: { errorRate: 0 } });
    }
    // Nothing was half-registered: the same email simply works now.
    expect((await c.createAccount()).status).toBe(201);
    expect((await c.verifyEmail(await c.verificationToken())).status).toBe(200);
  });

  it('answers 503 naming Dapodik, DTKS or the upload store when each fails, storing nothing', async () => {
    const c = await verified();
    const person = pool.take(isEligible);
    const before = rows();
    // Dapodik's gateway gives up: it answers 504.
    await configure('ministry', { dapodik: { errorRate: 1, errorStatus: 504 } });
    try {
      const r = await c.submitBiodata(person);
      expectError(r, 503, 'dependency_unavailable');
      expect((r.body as ErrorBody).error).toMatchObject({
        dependency: 'dapodik',
        details: { outcome: 'timeout' },
      });
    } finally {
      await configure('ministry', { dapodik: { errorRate: 0 } });
    }
    await configure('ministry', { dtks: { errorRate: 1, errorStatus: 500 } });
    try {
      const r = await c.submitBiodata(person);
      expectError(r, 503, 'dependency_unavailable');
      expect((r.body as ErrorBody).error).toMatchObject({
        dependency: 'dtks',
        details: { outcome: 'error' },
      });
    } finally {
      await configure('ministry', { dtks: { errorRate: 0 } });
    }
    expect(rows()).toEqual(before);
    expect((await c.status()).body.stage).toBe('email_verified');

    expect((await c.submitBiodata(person)).status).toBe(200);
    const afterBiodata = rows();
    await configure('upload', { upload: { errorRate: 1, errorStatus: 500 } });
    try {
      const r = await c.uploadPhoto();
      expectError(r, 503, 'dependency_unavailable');
      expect((r.body as ErrorBody).error.dependency).toBe('upload');
    } finally {
      await configure('upload', { upload: { errorRate: 0 } });
    }
    expect(rows()).toEqual(afterBiodata);
    expect((await c.uploadPhoto()).status).toBe(201);

    const metrics = await (await fetch(`${stack.urls.registration}/metrics`)).text();
    expect(metrics).toMatch(
      /gelombang_dependency_request_duration_seconds_count\{dependency="dapodik",outcome="timeout"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /gelombang_funnel_rejections_total\{stage="biodata_verified",code="dependency_unavailable"\} [1-9]/,
    );
  });

  it('opens, closes and lists waves for the admin only, and keeps a not-yet-open wave shut', async () => {
    const c = client();
    await c.throughAssessment(pool.take(isEligible));
    const admin = (method: string, path: string, body: unknown, token = stack.adminToken) =>
      c.call(method, path, { json: body, token: null, headers: { authorization: `Bearer ${token}` } });

    expectError(await admin('POST', '/admin/waves', { number: 70, quota: 2 }, 'wrong'), 403, 'forbidden');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    expect((await admin('POST', '/admin/waves', { number: 70, quota: 2, opensAt: tomorrow })).status).toBe(
      201,
    );
    expectError(
      await admin('POST', '/admin/waves', { number: 70, quota: 2 }),
      409,
      'duplicate_wave',
      'number',
    );
    expectError(
      await admin('POST', '/admin/waves', { number: 71, quota: 2, opensAt: 'tomorrow' }),
      400,
      'invalid_field',
      'opensAt',
    );
    expectError(await c.joinWave(70), 409, 'wave_closed', 'waveNumber');

    expect((await admin('POST', '/admin/waves', { number: 72, quota: 3 })).status).toBe(201);
    expect((await admin('PATCH', '/admin/waves/72', { status: 'closed' })).status).toBe(200);
    expectError(await c.joinWave(72), 409, 'wave_closed', 'waveNumber');
    expectError(
      await admin('PATCH', '/admin/waves/72', { status: 'paused' }),
      400,
      'invalid_field',
      'status',
    );
    expectError(await admin('PATCH', '/admin/waves/404', { status: 'open' }), 404, 'wave_not_found');
    expect((await admin('PATCH', '/admin/waves/72', { status: 'open', quota: 4 })).status).toBe(200);
    expect((await c.joinWave(72)).status).toBe(201);
    expectError(await admin('PATCH', '/admin/waves/72', { quota: 0 }), 409, 'quota_below_joined', 'quota');

    const waves = (await c.call<Array<Record<string, unknown>>>('GET', '/api/v1/waves')).body;
    expect(waves.find((w) => w.number === 72)).toMatchObject({
      quota: 4,
      joined: 1,
      remaining: 3,
      status: 'open',
    });
    expect(waves.find((w) => w.number === 70)).toMatchObject({ remaining: 2, opensAt: tomorrow });
  });
});
