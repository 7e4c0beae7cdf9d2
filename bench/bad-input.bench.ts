import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { presignPath } from '../mock-services/upload/presign.ts';
import { isEligible, type Person, personAt } from '../model/population.ts';
import { biodataOf, FIXTURES, RegistrantClient } from '../scripts/registrant-client.ts';
import { type RunningStack, startStack } from '../scripts/stack.ts';
import { loopbackRequest, type RawAnswer } from '../test/support/loopback-request.ts';
import { QuotaProperty, quotaCase } from '../test/support/quota-property.ts';
import { benchEnv } from './env.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * Issue 17's sweep: every class of bad input we could name, sent over loopback to a stack started
 * with startStack (the registration service with two processes, and the mocks), each checked
 * against what the ground rules promise: a 4xx with a code and a message (naming the field where
 * there is one), never a 5xx, no process down, and nothing stored by a refused request (the
 * database's counts before and after each class). Then the quota property of
 * test/support/quota-property.ts on as many generated cases as fit (BENCH_QUOTA_CASES, 1,000 by
 * default, within BENCH_QUOTA_SECONDS).
 */

const QUOTA_CASES = benchEnv('BENCH_QUOTA_CASES', 'count', 1000);
const QUOTA_SECONDS = benchEnv('BENCH_QUOTA_SECONDS', 'positive', 600);
const SEED = benchEnv('BENCH_SEED', 'int', 20_201_204);
const PHOTO_MAX_BYTES = 2 * 1024 * 1024;

type Target = 'registration' | 'ministry' | 'email' | 'upload';

interface Ctx {
  stack: RunningStack;
  fx: Fixtures;
  url(target: Target): string;
}

/** What a class sends: one request or several (a duplicate submit), each answer judged. */
interface Sent {
  answers: RawAnswer[];
  /** answers that may be 2xx (the one winner of simultaneous submits, a setup request) */
  allowed2xx?: number;
}

interface BadClass {
  category: string;
  name: string;
  send(ctx: Ctx): Promise<Sent | RawAnswer>;
  /** the field the refusal should name (a prefix match: `address` accepts `address.street`) */
  field?: string;
  /** the database counts a class may change (default: none) */
  stores?: Partial<Counts>;
  /** which mock's configuration must be unchanged (admin classes) */
  config?: Target;
  /** an answer outside the 4xx JSON shape that is still a refusal (Node's own 431 has no body) */
  bare4xx?: boolean;
  /** what the class must end with, beyond being refused (a limit reached: the last answer a 429) */
  outcome?: (answers: RawAnswer[]) => string | undefined;
}

// ---------------------------------------------------------------------------------------------
// fixtures: registrants at each stage, through the real journey

interface Fixtures {
  admin: Record<string, string>;
  verified: RegistrantClient;
  biodata: RegistrantClient;
  photo: RegistrantClient;
  assessed: RegistrantClient;
  loggedOut: string;
  nextPerson(): Person;
  fresh(stage: 'account' | 'verified' | 'biodata' | 'photo' | 'assessed'): Promise<RegistrantClient>;
}

async function fixtures(stack: RunningStack): Promise<Fixtures> {
  let next = 600_000;
  let n = 0;
  const nextPerson = () => {
    for (;;) {
      const p = personAt(2020, next++);
      if (isEligible(p)) return p;
    }
  };
  const must = (what: string, r: { status: number; body: unknown }, status: number) => {
    if (r.status !== status) throw new Error(`fixture ${what}: ${r.status} ${JSON.stringify(r.body)}`);
  };
  const fresh: Fixtures['fresh'] = async (stage) => {
    const c = new RegistrantClient(stack.urls, `bad.${++n}.${Date.now()}@example.test`);
    must('account', await c.createAccount(), 201);
    if (stage === 'account') return c;
    must('verify', await c.verifyEmail(await c.verificationToken()), 200);
    must('login', await c.login(), 201);
    if (stage === 'verified') return c;
    must('biodata', await c.submitBiodata(nextPerson()), 200);
    if (stage === 'biodata') return c;
    must('photo', await c.uploadPhoto(), 201);
    if (stage === 'photo') return c;
    must('assessment', await c.submitAssessment(), 200);
    return c;
  };
  const out = await fresh('verified');
  must('logout', await out.call('DELETE', '/api/v1/sessions/current'), 204);
  return {
    admin: { authorization: `Bearer ${stack.adminToken}` },
    verified: await fresh('verified'),
    biodata: await fresh('biodata'),
    photo: await fresh('photo'),
    assessed: await fresh('assessed'),
    loggedOut: out.token,
    nextPerson,
    fresh,
  };
}

// ---------------------------------------------------------------------------------------------
// the database's counts, before and after each class

const COUNTS_SQL = `SELECT
  (SELECT COUNT(*) FROM accounts) AS accounts,
  (SELECT COUNT(*) FROM email_tokens) AS emailTokens,
  (SELECT COUNT(*) FROM email_tokens WHERE used_at IS NOT NULL) AS tokensUsed,
  (SELECT COUNT(*) FROM accounts WHERE email_verified_at IS NOT NULL) AS verified,
  (SELECT COUNT(*) FROM sessions) AS sessions,
  (SELECT COUNT(*) FROM sessions WHERE revoked_at IS NOT NULL) AS revoked,
  (SELECT COUNT(*) FROM accounts WHERE biodata_at IS NOT NULL) AS biodata,
  (SELECT COUNT(*) FROM accounts WHERE photo_at IS NOT NULL) AS photos,
  (SELECT COUNT(*) FROM photo_uploads) AS pendingPhotos,
  (SELECT COUNT(*) FROM accounts WHERE assessment_at IS NOT NULL) AS assessments,
  (SELECT COUNT(*) FROM waves) AS waves,
  (SELECT COALESCE(SUM(quota), 0) FROM waves) AS quotas,
  (SELECT COUNT(*) FROM wave_members) AS members,
  (SELECT COUNT(*) FROM verification_resends) AS resends`;

type Counts = Record<
  | 'accounts'
  | 'emailTokens'
  | 'tokensUsed'
  | 'verified'
  | 'sessions'
  | 'revoked'
  | 'biodata'
  | 'photos'
  | 'pendingPhotos'
  | 'assessments'
  | 'waves'
  | 'quotas'
  | 'members'
  | 'resends',
  number
>;

// ---------------------------------------------------------------------------------------------
// the classes

const send = loopbackRequest;
const JSON_TYPE = { 'content-type': 'application/json' };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

interface JsonEndpoint {
  name: string;
  method: string;
  path: string;
  auth(fx: Fixtures): Record<string, string>;
  valid(fx: Fixtures): Record<string, unknown>;
  /** fields whose absence is an error (optional ones have defaults) */
  required: string[];
  /** every field, nested ones dotted */
  fields: string[];
  /** a string field to carry bad characters */
  text: string;
}

let unique = 0;
const ENDPOINTS: JsonEndpoint[] = [
  {
    name: 'create account',
    method: 'POST',
    path: '/api/v1/accounts',
    auth: () => ({}),
    valid: () => ({ email: `never.${++unique}@example.test`, password: 'Rahasia-2020!' }),
    required: ['email', 'password'],
    fields: ['email', 'password'],
    text: 'password',
  },
  {
    name: 'verify email',
    method: 'POST',
    path: '/api/v1/email-verifications',
    auth: () => ({}),
    valid: () => ({ token: 'A'.repeat(43) }),
    required: ['token'],
    fields: ['token'],
    text: 'token',
  },
  {
    name: 'resend',
    method: 'POST',
    path: '/api/v1/email-verifications/resend',
    auth: () => ({}),
    valid: (fx) => ({ email: fx.verified.email, password: fx.verified.password }),
    required: ['email', 'password'],
    fields: ['email', 'password'],
    text: 'password',
  },
  {
    name: 'log in',
    method: 'POST',
    path: '/api/v1/sessions',
    auth: () => ({}),
    valid: (fx) => ({ email: fx.verified.email, password: fx.verified.password }),
    required: ['email', 'password'],
    fields: ['email', 'password'],
    text: 'password',
  },
  {
    name: 'biodata',
    method: 'PUT',
    path: '/api/v1/me/biodata',
    auth: (fx) => bearer(fx.verified.token),
    valid: (fx) => biodataOf(fx.nextPerson()),
    required: [
      'fullName',
      'placeOfBirth',
      'dateOfBirth',
      'gender',
      'nik',
      'address',
      'address.street',
      'address.village',
      'address.district',
      'address.regency',
      'address.province',
      'address.postalCode',
    ],
    fields: [
      'fullName',
      'placeOfBirth',
      'dateOfBirth',
      'gender',
      'nik',
      'address',
      'address.street',
      'address.village',
      'address.district',
      'address.regency',
      'address.province',
      'address.postalCode',
      'occupationStatus',
    ],
    text: 'fullName',
  },
  {
    name: 'upload URL',
    method: 'POST',
    path: '/api/v1/me/ktp-photo/upload-url',
    auth: (fx) => bearer(fx.biodata.token),
    valid: () => ({ contentType: 'image/jpeg', size: 5000 }),
    required: ['contentType', 'size'],
    fields: ['contentType', 'size'],
    text: 'contentType',
  },
  {
    name: 'assessment',
    method: 'POST',
    path: '/api/v1/me/assessment',
    auth: (fx) => bearer(fx.photo.token),
    valid: () => ({
      motivation: 'Saya ingin bekerja kembali setelah dirumahkan karena pandemi.',
      answers: Array(20).fill(1),
    }),
    required: ['motivation', 'answers'],
    fields: ['motivation', 'answers'],
    text: 'motivation',
  },
  {
    name: 'create wave',
    method: 'POST',
    path: '/admin/waves',
    auth: (fx) => fx.admin,
    valid: () => ({ number: 5000 + ++unique, quota: 10 }),
    required: ['number', 'quota'],
    fields: ['number', 'quota', 'status', 'opensAt', 'closesAt'],
    text: 'status',
  },
  {
    name: 'change wave',
    method: 'PATCH',
    path: '/admin/waves/1',
    auth: (fx) => fx.admin,
    valid: () => ({ quota: 1_000_000 }),
    required: [],
    fields: ['status', 'quota'],
    text: 'status',
  },
];

function setPath(body: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(body);
  const parts = path.split('.');
  let at: Record<string, unknown> = copy;
  for (const p of parts.slice(0, -1)) at = at[p] as Record<string, unknown>;
  const last = parts[parts.length - 1] as string;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

/** The body with one field's JSON text replaced by `raw` (bytes or literals JSON.stringify cannot make). */
function withRaw(body: Record<string, unknown>, path: string, raw: Buffer | string): Buffer {
  const marker = `@@raw-${++unique}@@`;
  const text = JSON.stringify(setPath(body, path, marker));
  const [before, after] = text.split(JSON.stringify(marker)) as [string, string];
  return Buffer.concat([Buffer.from(before), Buffer.from(raw), Buffer.from(after)]);
}

function jsonClasses(): BadClass[] {
  const classes: BadClass[] = [];
  for (const e of ENDPOINTS) {
    const call =
      (body: (fx: Fixtures) => string | Buffer, headers: Record<string, string> = JSON_TYPE) =>
      ({ fx, url }: Ctx) =>
        send(url('registration'), e.method, e.path, {
          headers: { ...headers, ...e.auth(fx) },
          body: body(fx),
        });
    const add = (category: string, name: string, c: Omit<BadClass, 'category' | 'name'>) =>
      classes.push({ category, name: `${e.name}: ${name}`, ...c });

    // the body as a whole
    add('malformed JSON', 'truncated JSON', { send: call(() => '{"email": "a@b.c", "pass'), field: 'body' });
    add('malformed JSON', 'not JSON at all', { send: call(() => 'hello=world'), field: 'body' });
    add('malformed JSON', 'trailing garbage after the object', {
      send: call((fx) => `${JSON.stringify(e.valid(fx))} x`),
      field: 'body',
    });
    add('malformed JSON', 'single quotes', { send: call(() => "{'a': 1}"), field: 'body' });
    // The body parser takes an empty body for {} (a common client mistake): the first required field is missing.
    if (e.required.length)
      add('malformed JSON', 'an empty body declared as JSON', { send: call(() => ''), field: e.required[0] });
    add('malformed JSON', 'a top-level array', { send: call(() => '[]'), field: 'body' });
    add('malformed JSON', 'a top-level string', { send: call(() => '"x"'), field: 'body' });
    add('malformed JSON', 'a top-level null', { send: call(() => 'null'), field: 'body' });
    add('malformed JSON', 'a top-level number', { send: call(() => '42'), field: 'body' });
    add('malformed JSON', 'nested 3,000 levels deep', {
      send: call((fx) =>
        withRaw(e.valid(fx), e.fields[0] as string, `${'['.repeat(3000)}${']'.repeat(3000)}`),
      ),
      field: e.fields[0],
    });
    add('malformed JSON', 'an unexpected extra field', {
      send: call((fx) => JSON.stringify({ ...e.valid(fx), isAdmin: true })),
      field: 'isAdmin',
    });
    add('malformed JSON', 'a __proto__ key', {
      send: call((fx) => JSON.stringify(e.valid(fx)).replace(/^\{/, '{"__proto__":{"isAdmin":true},')),
      field: '__proto__',
    });
    // content type, charset, encoding
    add('content type', 'Content-Type text/plain', {
      send: call((fx) => JSON.stringify(e.valid(fx)), { 'content-type': 'text/plain' }),
      field: 'body',
    });
    add('content type', 'no Content-Type', {
      send: call((fx) => JSON.stringify(e.valid(fx)), {}),
      field: 'body',
    });
    add('content type', 'multipart instead of JSON', {
      send: call(() => '--x\r\n\r\n--x--\r\n', { 'content-type': 'multipart/form-data; boundary=x' }),
      field: 'body',
    });
    add('encoding', 'charset=iso-8859-1', {
      send: call((fx) => JSON.stringify(e.valid(fx)), {
        'content-type': 'application/json; charset=iso-8859-1',
      }),
      field: 'content-type',
    });
    add('encoding', 'charset=utf-16', {
      send: call((fx) => Buffer.from(JSON.stringify(e.valid(fx)), 'utf16le'), {
        'content-type': 'application/json; charset=utf-16',
      }),
      field: 'content-type',
    });
    add('encoding', 'Content-Encoding gzip over bytes that are not gzip', {
      send: call((fx) => JSON.stringify(e.valid(fx)), { ...JSON_TYPE, 'content-encoding': 'gzip' }),
      field: 'content-encoding',
    });
    add('encoding', 'Content-Encoding x-unknown', {
      send: call((fx) => JSON.stringify(e.valid(fx)), { ...JSON_TYPE, 'content-encoding': 'x-unknown' }),
      field: 'content-encoding',
    });
    add('encoding', 'a gzip bomb: 1 KB that inflates past the body limit', {
      send: call(() => gzipSync(Buffer.from(`{"a":"${'0'.repeat(200_000)}"}`)), {
        ...JSON_TYPE,
        'content-encoding': 'gzip',
      }),
      field: 'body',
    });
    add('encoding', `invalid UTF-8 in ${e.text}`, {
      send: call((fx) => withRaw(e.valid(fx), e.text, Buffer.from([0x22, 0x61, 0xff, 0xfe, 0x62, 0x22]))),
      field: e.text,
    });
    add('encoding', `an overlong UTF-8 sequence in ${e.text}`, {
      send: call((fx) => withRaw(e.valid(fx), e.text, Buffer.from([0x22, 0xc0, 0xaf, 0x22]))),
      field: e.text,
    });
    add('encoding', `a lone surrogate escape in ${e.text}`, {
      send: call((fx) => withRaw(e.valid(fx), e.text, '"ab\\ud800cd"')),
      field: e.text,
    });
    add('size', 'a 40 KB body (limit 32 KiB)', {
      send: call((fx) => JSON.stringify({ ...e.valid(fx), filler: 'x'.repeat(40_000) })),
      field: 'body',
    });
    add('size', 'a 2 MB body', {
      send: call((fx) => JSON.stringify({ ...e.valid(fx), filler: 'x'.repeat(2_000_000) })),
      field: 'body',
    });

    // each field: missing, and of every wrong type
    for (const f of e.required)
      add('missing field', `${f} missing`, {
        send: call((fx) => JSON.stringify(setPath(e.valid(fx), f, undefined))),
        field: f,
      });
    const wrong: Array<[string, unknown]> = [
      ['null', null],
      ['a boolean', true],
      ['an array', ['x']],
      ['an object', { x: 1 }],
      ['a number', 12345.5],
      ['an empty string', ''],
      ['a 5,000-character string', 'x'.repeat(5000)],
    ];
    for (const f of e.fields)
      for (const [what, value] of wrong)
        add('wrong type', `${f} is ${what}`, {
          send: call((fx) => JSON.stringify(setPath(e.valid(fx), f, value))),
          field: f,
        });
  }
  return classes;
}

/** Values of the right type but out of range, field by field. */
function rangeClasses(): BadClass[] {
  const byName = (name: string) => ENDPOINTS.find((e) => e.name === name) as JsonEndpoint;
  const cases: Array<[endpoint: string, field: string, what: string, value: unknown, raw?: string]> = [
    ['create account', 'email', 'without @', 'no-at-sign.example.test'],
    ['create account', 'email', 'with two @', 'a@b@example.test'],
    ['create account', 'email', 'with a space', 'a b@example.test'],
    ['create account', 'email', 'of 300 characters', `${'a'.repeat(290)}@example.test`],
    ['create account', 'email', 'with a newline', 'a@example.test\n'],
    ['create account', 'password', 'of 7 characters', 'short77'],
    ['create account', 'password', 'of 129 characters', 'p'.repeat(129)],
    ['create account', 'password', 'with NUL', 'Rahasia\u00002020'],
    ['create account', 'password', 'with a newline', 'Rahasia\n2020!'],
    ['verify email', 'token', 'of 201 characters', 't'.repeat(201)],
    ['verify email', 'token', 'that names no token', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
    ['biodata', 'nik', 'of 15 digits', '320101450890000'],
    ['biodata', 'nik', 'with letters', '32010145089000AB'],
    ['biodata', 'nik', 'of a province that does not exist', '9901014508900001'],
    ['biodata', 'nik', 'of region 00', '3200014508900001'],
    ['biodata', 'nik', 'of an impossible date', '3201013213900001'],
    ['biodata', 'nik', 'as a number', 3201014508900001],
    ['biodata', 'dateOfBirth', 'not a date', 'yesterday'],
    ['biodata', 'dateOfBirth', 'an impossible date', '1990-02-30'],
    ['biodata', 'dateOfBirth', 'in another format', '15/08/1990'],
    ['biodata', 'dateOfBirth', 'that disagrees with the NIK (the NIK is named)', '1991-01-01'],
    ['biodata', 'gender', 'lower case', 'm'],
    ['biodata', 'gender', 'spelled out', 'female'],
    ['biodata', 'fullName', 'only spaces', '    '],
    ['biodata', 'fullName', 'with a tab', 'Eka\tSaputra'],
    ['biodata', 'fullName', 'with NUL', 'Eka\u0000Saputra'],
    ['biodata', 'fullName', 'with an escape sequence', 'Eka\u001b[31mSaputra'],
    ['biodata', 'fullName', 'of 201 characters', 'E'.repeat(201)],
    ['biodata', 'placeOfBirth', 'of 101 characters', 'B'.repeat(101)],
    ['biodata', 'address.postalCode', 'of 4 digits', '4011'],
    ['biodata', 'address.postalCode', 'as a number', 40111],
    ['biodata', 'address.street', 'with a line break', 'Jl. Merdeka\n12'],
    ['biodata', 'occupationStatus', 'not one of the choices', 'unemployed'],
    ['upload URL', 'contentType', 'image/gif', 'image/gif'],
    ['upload URL', 'contentType', 'with parameters', 'image/jpeg; q=1'],
    ['upload URL', 'size', 'zero', 0],
    ['upload URL', 'size', 'negative', -1],
    ['upload URL', 'size', 'a fraction', 1.5],
    ['upload URL', 'size', 'over the photo limit', PHOTO_MAX_BYTES + 1],
    ['upload URL', 'size', '1e400 (Infinity)', undefined, '1e400'],
    ['upload URL', 'size', 'past 2^53', undefined, '9007199254740993'],
    ['upload URL', 'size', 'a numeric string', '5000'],
    ['assessment', 'motivation', 'of 49 characters', 'm'.repeat(49)],
    ['assessment', 'motivation', 'of 2,001 characters', 'm'.repeat(2001)],
    ['assessment', 'motivation', 'with NUL', `${'m'.repeat(60)}\u0000`],
    ['assessment', 'answers', 'of 19 answers', Array(19).fill(1)],
    ['assessment', 'answers', 'of 21 answers', Array(21).fill(1)],
    ['assessment', 'answers', 'an answer of 4', [...Array(19).fill(1), 4]],
    ['assessment', 'answers', 'an answer of -1', [-1, ...Array(19).fill(1)]],
    ['assessment', 'answers', 'an answer of 1.5', [1.5, ...Array(19).fill(1)]],
    ['assessment', 'answers', 'answers as strings', Array(20).fill('1')],
    ['create wave', 'number', 'zero', 0],
    ['create wave', 'number', 'negative', -3],
    ['create wave', 'number', '1e400 (Infinity)', undefined, '1e400'],
    ['create wave', 'quota', 'negative', -1],
    ['create wave', 'quota', 'a fraction', 2.5],
    ['create wave', 'quota', 'past 2^53', undefined, '18014398509481985'],
    ['create wave', 'status', 'not open or closed', 'paused'],
    ['create wave', 'opensAt', 'not a date-time', 'tomorrow'],
    ['create wave', 'opensAt', 'a date without time', '2026-12-05'],
    ['create wave', 'closesAt', 'before opensAt', undefined],
    ['change wave', 'quota', 'negative', -1],
    ['change wave', 'status', 'not open or closed', 'archived'],
  ];
  return cases.map(([endpoint, field, what, value, raw]) => {
    const e = byName(endpoint);
    return {
      category: 'out of range',
      name: `${endpoint}: ${field} ${what}`,
      field: what.endsWith('(the NIK is named)') ? 'nik' : field,
      send: ({ fx, url }: Ctx) => {
        let body: string | Buffer;
        if (what === 'before opensAt')
          body = JSON.stringify({
            ...e.valid(fx),
            opensAt: '2026-12-06T00:00:00Z',
            closesAt: '2026-12-05T00:00:00Z',
          });
        else if (raw !== undefined) body = withRaw(e.valid(fx), field, raw);
        else if (endpoint === 'biodata' && field === 'nik' && what.startsWith('of an impossible'))
          body = JSON.stringify({ ...e.valid(fx), nik: value });
        else body = JSON.stringify(setPath(e.valid(fx), field, value));
        return send(url('registration'), e.method, e.path, {
          headers: { ...JSON_TYPE, ...e.auth(fx) },
          body,
        });
      },
    } satisfies BadClass;
  });
}

/**
 * Bytes that are not quite HTTP, on a socket of their own: Node's parser refuses most before the
 * app sees them (a bare 400 and the connection closed); the answer's status line is read.
 */
function rawHttp(base: string, head: string, body: Buffer | string = ''): Promise<RawAnswer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    const chunks: Buffer[] = [];
    const done = () => {
      socket.destroy();
      // an interim 100 Continue is not the answer
      const text = Buffer.concat(chunks)
        .toString('latin1')
        .replace(/^(HTTP\/1\.1 100 Continue\r\n\r\n)+/, '');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const payload = text.slice(text.indexOf('\r\n\r\n') + 4);
      let json: RawAnswer['json'] = {};
      try {
        json = JSON.parse(payload);
      } catch {
        // a bare answer
      }
      resolve({ status, headers: {}, text: text.slice(0, 300), json });
    };
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const text = Buffer.concat(chunks)
        .toString('latin1')
        .replace(/^(HTTP\/1\.1 100 Continue\r\n\r\n)+/, '');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /\r\ncontent-length: (\d+)/i.exec(text.slice(0, end))?.[1];
      if (length !== undefined && Buffer.byteLength(text.slice(end + 4), 'latin1') >= Number(length)) done();
    });
    socket.on('end', done);
    socket.on('error', (err) => (chunks.length ? done() : reject(err)));
    socket.write(Buffer.concat([Buffer.from(head.replace(/\n/g, '\r\n'), 'latin1'), Buffer.from(body)]));
  });
}

function framingClasses(): BadClass[] {
  const raw = (head: string, body?: Buffer | string) => (c: Ctx) =>
    rawHttp(c.url('registration'), head, body);
  const host = 'Host: 127.0.0.1\n';
  const list: Array<Omit<BadClass, 'category'>> = [
    {
      name: 'a Content-Length that is not a number',
      send: raw(
        `POST /api/v1/accounts HTTP/1.1\n${host}Content-Type: application/json\nContent-Length: ten\n\n`,
        '{}',
      ),
      bare4xx: true,
    },
    {
      name: 'two different Content-Lengths',
      send: raw(
        `POST /api/v1/accounts HTTP/1.1\n${host}Content-Type: application/json\nContent-Length: 2\nContent-Length: 3\n\n`,
        '{} ',
      ),
      bare4xx: true,
    },
    {
      name: 'both Transfer-Encoding chunked and Content-Length',
      send: raw(
        `POST /api/v1/accounts HTTP/1.1\n${host}Content-Type: application/json\nTransfer-Encoding: chunked\nContent-Length: 7\n\n`,
        '2\r\n{}\r\n0\r\n\r\n',
      ),
      bare4xx: true,
    },
    {
      name: 'a chunk size that is not hexadecimal',
      send: raw(
        `POST /api/v1/accounts HTTP/1.1\n${host}Content-Type: application/json\nTransfer-Encoding: chunked\n\n`,
        'zz\r\n{}\r\n0\r\n\r\n',
      ),
      bare4xx: true,
    },
    {
      name: 'a header line without a colon',
      send: raw(`GET /api/v1/waves HTTP/1.1\n${host}this is not a header\n\n`),
      bare4xx: true,
    },
    {
      name: 'a NUL in a header value',
      send: raw(`GET /api/v1/waves HTTP/1.1\n${host}X-A: a\u0000b\n\n`),
      bare4xx: true,
    },
    {
      name: 'HTTP/3.0 on the request line',
      send: raw(`GET /api/v1/waves HTTP/3.0\n${host}\n`),
      bare4xx: true,
    },
    {
      name: 'a space in the request target',
      send: raw(`GET /api/v1/wa ves HTTP/1.1\n${host}\n`),
      bare4xx: true,
    },
    {
      name: 'latin-1 bytes in the bearer token',
      send: raw(
        `GET /api/v1/me/status HTTP/1.1\n${host}Authorization: Bearer caf\u00e9\u00ff\nConnection: close\n\n`,
      ),
    },
    {
      name: 'a 10 MB JSON body announced with Expect: 100-continue',
      send: raw(
        `POST /api/v1/accounts HTTP/1.1\n${host}Content-Type: application/json\nContent-Length: 10000000\nExpect: 100-continue\nConnection: close\n\n`,
      ),
      field: 'body',
    },
    {
      name: 'a chunked JSON body past 32 KiB',
      send: raw(
        `POST /api/v1/sessions HTTP/1.1\n${host}Content-Type: application/json\nTransfer-Encoding: chunked\nConnection: close\n\n`,
        `${(40_000).toString(16)}\r\n${'{'.padEnd(40_000, ' ')}\r\n0\r\n\r\n`,
      ),
      field: 'body',
    },
  ];
  return list.map((c) => ({ ...c, category: 'HTTP framing' }));
}

/** Paths, methods and headers of the registration API. */
function routingClasses(): BadClass[] {
  const get =
    (path: string, headers: Record<string, string> = {}) =>
    (c: Ctx) =>
      send(c.url('registration'), 'GET', path, { headers });
  const asMethod = (method: string, path: string) => (c: Ctx) =>
    send(c.url('registration'), method, path, {
      headers: { ...JSON_TYPE, ...bearer(c.fx.assessed.token) },
      body: '{}',
    });
  const join = (path: string) => (c: Ctx) =>
    send(c.url('registration'), 'POST', path, { headers: bearer(c.fx.assessed.token) });
  const classes: BadClass[] = [
    {
      category: 'path',
      name: 'join: wave number %E0%A4%A (bad percent-encoding)',
      send: join('/api/v1/waves/%E0%A4%A/join'),
      field: 'path',
    },
    { category: 'path', name: 'join: wave number %ZZ', send: join('/api/v1/waves/%ZZ/join'), field: 'path' },
    {
      category: 'path',
      name: 'join: wave number %00',
      send: join('/api/v1/waves/%00/join'),
      field: 'waveNumber',
    },
    {
      category: 'path',
      name: 'join: wave number abc',
      send: join('/api/v1/waves/abc/join'),
      field: 'waveNumber',
    },
    {
      category: 'path',
      name: 'join: wave number 0',
      send: join('/api/v1/waves/0/join'),
      field: 'waveNumber',
    },
    {
      category: 'path',
      name: 'join: wave number -1',
      send: join('/api/v1/waves/-1/join'),
      field: 'waveNumber',
    },
    {
      category: 'path',
      name: 'join: wave number 1.5',
      send: join('/api/v1/waves/1.5/join'),
      field: 'waveNumber',
    },
    {
      category: 'path',
      name: 'join: wave number 1e400',
      send: join('/api/v1/waves/1e400/join'),
      field: 'waveNumber',
    },
    {
      category: 'path',
      name: 'join: a wave that does not exist',
      send: join('/api/v1/waves/424242/join'),
      field: 'waveNumber',
    },
    {
      category: 'path',
      name: 'change wave: bad percent-encoding',
      send: (c) =>
        send(c.url('registration'), 'PATCH', '/admin/waves/%E0%A4%A', {
          headers: { ...JSON_TYPE, ...c.fx.admin },
          body: '{}',
        }),
      field: 'path',
    },
    {
      category: 'path',
      name: 'change wave: a wave that does not exist',
      send: (c) =>
        send(c.url('registration'), 'PATCH', '/admin/waves/987654', {
          headers: { ...JSON_TYPE, ...c.fx.admin },
          body: '{"quota":1}',
        }),
      field: 'waveNumber',
    },
    { category: 'path', name: 'an unknown route', send: get('/api/v1/nothing-here') },
    { category: 'path', name: 'a route with dot segments', send: get('/api/v1/../../etc/passwd') },
    { category: 'path', name: 'an encoded slash in a route', send: get('/api/v1/me%2Fstatus') },
    { category: 'path', name: 'a 7 KB path', send: get(`/api/v1/${'a'.repeat(7000)}`) },
    {
      category: 'path',
      name: 'a query string full of junk',
      send: get('/api/v1/me/status?%E0%A4%A=%ZZ&a[b][c]=1', bearer('x')),
    },
    {
      category: 'headers',
      name: 'headers over 16 KiB',
      send: get('/api/v1/waves', { 'x-filler': 'x'.repeat(20_000) }),
      bare4xx: true,
    },
    { category: 'method', name: 'GET on create account', send: asMethod('GET', '/api/v1/accounts') },
    { category: 'method', name: 'DELETE on accounts', send: asMethod('DELETE', '/api/v1/accounts') },
    { category: 'method', name: 'PUT on sessions', send: asMethod('PUT', '/api/v1/sessions') },
    {
      category: 'method',
      name: 'POST on biodata (PUT expected)',
      send: asMethod('POST', '/api/v1/me/biodata'),
    },
    { category: 'method', name: 'GET on join', send: asMethod('GET', '/api/v1/waves/1/join') },
    { category: 'method', name: 'DELETE on waves', send: asMethod('DELETE', '/api/v1/waves') },
    { category: 'method', name: 'PATCH on status', send: asMethod('PATCH', '/api/v1/me/status') },
    { category: 'method', name: 'OPTIONS on assessment', send: asMethod('OPTIONS', '/api/v1/me/assessment') },
    { category: 'method', name: 'DELETE on admin waves', send: asMethod('DELETE', '/admin/waves/1') },
    {
      category: 'method',
      name: 'PROPFIND (WebDAV) on accounts',
      send: asMethod('PROPFIND', '/api/v1/accounts'),
    },
  ];
  // bearer tokens, on every route behind a session
  const protectedRoutes: Array<[string, string]> = [
    ['PUT', '/api/v1/me/biodata'],
    ['PUT', '/api/v1/me/ktp-photo'],
    ['POST', '/api/v1/me/ktp-photo/upload-url'],
    ['POST', '/api/v1/me/ktp-photo/confirm'],
    ['POST', '/api/v1/me/assessment'],
    ['POST', '/api/v1/waves/1/join'],
    ['GET', '/api/v1/me/status'],
    ['DELETE', '/api/v1/sessions/current'],
  ];
  const tokens: Array<[string, (fx: Fixtures) => Record<string, string>]> = [
    ['no Authorization', () => ({})],
    ['a forged token', () => bearer('forged-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')],
    ['Basic instead of Bearer', (fx) => ({ authorization: `Basic ${fx.assessed.token}` })],
    ['Bearer and nothing', () => ({ authorization: 'Bearer ' })],
    ['the token of a logged-out session', (fx) => bearer(fx.loggedOut)],
  ];
  for (const [method, path] of protectedRoutes)
    for (const [what, headers] of tokens)
      classes.push({
        category: 'token',
        name: `${method} ${path}: ${what}`,
        send: (c) =>
          send(c.url('registration'), method, path, {
            headers: {
              ...headers(c.fx),
              ...(method === 'PUT' && path.endsWith('ktp-photo') ? {} : JSON_TYPE),
            },
            body: method === 'GET' || method === 'DELETE' ? undefined : '{}',
          }),
      });
  return classes;
}

function multipart(
  boundary: string,
  parts: Array<{ name: string; filename?: string; type?: string; data: Buffer }>,
  close = true,
) {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename ? `; filename="${p.filename}"` : ''}\r\n` +
          (p.type ? `Content-Type: ${p.type}\r\n` : '') +
          '\r\n',
      ),
      p.data,
      Buffer.from('\r\n'),
    );
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

function photoClasses(jpeg: Buffer): BadClass[] {
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
  const put =
    (body: Buffer, contentType: string, extra: Record<string, string> = {}) =>
    (c: Ctx) =>
      send(c.url('registration'), 'PUT', '/api/v1/me/ktp-photo', {
        headers: { 'content-type': contentType, ...bearer(c.fx.biodata.token), ...extra },
        body,
      });
  const mp = 'multipart/form-data; boundary=XyZ';
  const file = (data: Buffer, name = 'photo') => ({ name, filename: 'ktp.jpg', type: 'image/jpeg', data });
  return [
    {
      name: 'cut before the closing boundary',
      send: put(multipart('XyZ', [file(jpeg)], false), mp),
      field: 'photo',
    },
    {
      name: 'cut in the middle of the file',
      send: put(multipart('XyZ', [file(jpeg)], false).subarray(0, 200), mp),
      field: 'photo',
    },
    {
      name: 'the file under another field name',
      send: put(multipart('XyZ', [file(jpeg, 'selfie')]), mp),
      field: 'selfie',
    },
    { name: 'two files', send: put(multipart('XyZ', [file(jpeg), file(jpeg)]), mp), field: 'photo' },
    {
      name: 'a text field besides the file',
      send: put(multipart('XyZ', [{ name: 'note', data: Buffer.from('hi') }, file(jpeg)]), mp),
      field: 'note',
    },
    { name: 'no file at all', send: put(Buffer.from('--XyZ--\r\n'), mp), field: 'photo' },
    {
      name: 'no boundary parameter',
      send: put(multipart('XyZ', [file(jpeg)]), 'multipart/form-data'),
      field: 'photo',
    },
    {
      name: 'a boundary other than the body uses',
      send: put(multipart('XyZ', [file(jpeg)]), 'multipart/form-data; boundary=Other'),
      field: 'photo',
    },
    {
      name: 'a text file',
      send: put(multipart('XyZ', [file(Buffer.from('not an image at all'))]), mp),
      field: 'photo',
    },
    {
      name: 'the first 100 bytes of a JPEG',
      send: put(multipart('XyZ', [file(jpeg.subarray(0, 100))]), mp),
      field: 'photo',
    },
    {
      name: 'a PNG signature and nothing more',
      send: put(multipart('XyZ', [file(png)]), mp),
      field: 'photo',
    },
    { name: 'an empty file', send: put(multipart('XyZ', [file(Buffer.alloc(0))]), mp), field: 'photo' },
    {
      name: 'a 3 MB file (limit 2 MiB)',
      send: put(multipart('XyZ', [file(Buffer.concat([jpeg, Buffer.alloc(3_000_000)]))]), mp),
      field: 'photo',
    },
    { name: 'raw image/jpeg instead of multipart', send: put(jpeg, 'image/jpeg'), field: 'photo' },
    {
      name: 'JSON instead of multipart',
      send: put(Buffer.from('{"photo":"x"}'), 'application/json'),
      field: 'photo',
    },
    {
      name: 'multipart declared gzip that is not',
      send: put(multipart('XyZ', [file(jpeg)]), mp, { 'content-encoding': 'gzip' }),
      field: 'content-encoding',
    },
    {
      name: 'multipart really gzipped (not supported)',
      send: put(gzipSync(multipart('XyZ', [file(jpeg)])), mp, { 'content-encoding': 'gzip' }),
      field: 'content-encoding',
    },
  ].map((c) => ({ ...c, category: 'multipart', name: `photo upload: ${c.name}` }));
}

const lastIsLimit = (answers: RawAnswer[]) => {
  const last = answers[answers.length - 1];
  return last?.status === 429 && last.json.error?.code === 'too_many_attempts' && last.headers['retry-after']
    ? undefined
    : `the limit was not reached: last answer ${last?.status} ${last?.text.slice(0, 120)}`;
};

/** Steps out of order, twice, or at once: one winner at most, the others told why. */
function stateClasses(): BadClass[] {
  const parallel = async (n: number, one: () => Promise<RawAnswer>): Promise<Sent> => ({
    answers: await Promise.all(Array.from({ length: n }, one)),
    allowed2xx: 1,
  });
  const json = (c: Ctx, method: string, path: string, token: string, body: unknown) =>
    send(c.url('registration'), method, path, { headers: { ...JSON_TYPE, ...bearer(token) }, json: body });
  const list: Array<Omit<BadClass, 'category'>> = [
    {
      name: 'photo before biodata',
      send: async (c) =>
        json(c, 'POST', '/api/v1/me/ktp-photo/upload-url', c.fx.verified.token, {
          contentType: 'image/jpeg',
          size: 10,
        }),
      field: 'biodata',
    },
    {
      name: 'assessment before photo',
      send: async (c) =>
        json(c, 'POST', '/api/v1/me/assessment', c.fx.biodata.token, {
          motivation: 'm'.repeat(60),
          answers: Array(20).fill(1),
        }),
      field: 'photo',
    },
    {
      name: 'join before the assessment',
      send: async (c) =>
        send(c.url('registration'), 'POST', '/api/v1/waves/1/join', { headers: bearer(c.fx.photo.token) }),
      field: 'assessment',
    },
    {
      name: 'confirm a photo never declared',
      send: async (c) => json(c, 'POST', '/api/v1/me/ktp-photo/confirm', c.fx.biodata.token, {}),
      field: 'photo',
    },
    {
      name: 'biodata a second time',
      send: async (c) => json(c, 'PUT', '/api/v1/me/biodata', c.fx.photo.token, biodataOf(c.fx.nextPerson())),
    },
    {
      name: 'assessment a second time',
      send: async (c) =>
        json(c, 'POST', '/api/v1/me/assessment', c.fx.assessed.token, {
          motivation: 'm'.repeat(60),
          answers: Array(20).fill(1),
        }),
    },
    {
      name: 'log in before verifying the email',
      send: async (c) => {
        const a = await c.fx.fresh('account');
        return {
          answers: [await json(c, 'POST', '/api/v1/sessions', '', { email: a.email, password: a.password })],
        };
      },
      field: 'email',
      stores: { accounts: 1, emailTokens: 1 },
    },
    {
      name: 'a duplicate email, in other case',
      send: async (c) =>
        json(c, 'POST', '/api/v1/accounts', '', {
          email: c.fx.verified.email.toUpperCase(),
          password: 'Rahasia-2020!',
        }),
      field: 'email',
    },
    {
      name: 'a NIK already registered to another account',
      send: async (c) => {
        const v = await c.fx.fresh('verified');
        const taken = await c.fx.fresh('verified');
        const person = c.fx.nextPerson();
        const first = await json(c, 'PUT', '/api/v1/me/biodata', taken.token, biodataOf(person));
        return {
          answers: [first, await json(c, 'PUT', '/api/v1/me/biodata', v.token, biodataOf(person))],
          allowed2xx: 1,
        };
      },
      field: 'nik',
      stores: { accounts: 2, emailTokens: 2, tokensUsed: 2, verified: 2, sessions: 2, biodata: 1 },
    },
    {
      name: 'the same verification link used twice',
      send: async (c) => {
        const a = new RegistrantClient(c.stack.urls, `twice.${++unique}@example.test`);
        await a.createAccount();
        const token = await a.verificationToken();
        const first = await json(c, 'POST', '/api/v1/email-verifications', '', { token });
        return {
          answers: [first, await json(c, 'POST', '/api/v1/email-verifications', '', { token })],
          allowed2xx: 1,
        };
      },
      field: 'token',
      stores: { accounts: 1, emailTokens: 1, tokensUsed: 1, verified: 1 },
    },
    {
      name: '20 simultaneous sign-ups of one email',
      send: async (c) => {
        const email = `same.${++unique}@example.test`;
        return parallel(20, () =>
          json(c, 'POST', '/api/v1/accounts', '', { email, password: 'Rahasia-2020!' }),
        );
      },
      field: 'email',
      stores: { accounts: 1, emailTokens: 1 },
    },
    {
      name: '20 simultaneous biodata submissions',
      send: async (c) => {
        const v = await c.fx.fresh('verified');
        const body = biodataOf(c.fx.nextPerson());
        return parallel(20, () => json(c, 'PUT', '/api/v1/me/biodata', v.token, body));
      },
      stores: { accounts: 1, emailTokens: 1, tokensUsed: 1, verified: 1, sessions: 1, biodata: 1 },
    },
    {
      name: '20 simultaneous photo uploads',
      send: async (c) => {
        const b = await c.fx.fresh('biodata');
        return parallel(20, async () => {
          const r = await b.uploadPhoto();
          return {
            status: r.status,
            headers: {},
            text: JSON.stringify(r.body),
            json: r.body as RawAnswer['json'],
          };
        });
      },
      stores: { accounts: 1, emailTokens: 1, tokensUsed: 1, verified: 1, sessions: 1, biodata: 1, photos: 1 },
    },
    {
      name: '20 simultaneous assessments',
      send: async (c) => {
        const p = await c.fx.fresh('photo');
        const body = { motivation: 'm'.repeat(60), answers: Array(20).fill(2) };
        return parallel(20, () => json(c, 'POST', '/api/v1/me/assessment', p.token, body));
      },
      stores: {
        accounts: 1,
        emailTokens: 1,
        tokensUsed: 1,
        verified: 1,
        sessions: 1,
        biodata: 1,
        photos: 1,
        assessments: 1,
      },
    },
    {
      name: '20 simultaneous joins of one registrant',
      send: async (c) => {
        const a = await c.fx.fresh('assessed');
        return parallel(20, () =>
          send(c.url('registration'), 'POST', '/api/v1/waves/1/join', { headers: bearer(a.token) }),
        );
      },
      stores: {
        accounts: 1,
        emailTokens: 1,
        tokensUsed: 1,
        verified: 1,
        sessions: 1,
        biodata: 1,
        photos: 1,
        assessments: 1,
        members: 1,
      },
    },
    {
      name: '20 simultaneous creations of one wave',
      send: async (c) => {
        const number = 9000 + ++unique;
        return parallel(20, () =>
          send(c.url('registration'), 'POST', '/admin/waves', {
            headers: { ...JSON_TYPE, ...c.fx.admin },
            json: { number, quota: 1 },
          }),
        );
      },
      field: 'number',
      stores: { waves: 1, quotas: 1 },
    },
    {
      name: '20 simultaneous log-outs of one session',
      send: async (c) => {
        const v = await c.fx.fresh('verified');
        return parallel(20, () =>
          send(c.url('registration'), 'DELETE', '/api/v1/sessions/current', { headers: bearer(v.token) }),
        );
      },
      stores: { accounts: 1, emailTokens: 1, tokensUsed: 1, verified: 1, sessions: 1, revoked: 1 },
    },
    {
      name: 'a full wave',
      send: async (c) => {
        const number = 9500 + ++unique;
        await send(c.url('registration'), 'POST', '/admin/waves', {
          headers: { ...JSON_TYPE, ...c.fx.admin },
          json: { number, quota: 0 },
        });
        return {
          answers: [
            await send(c.url('registration'), 'POST', `/api/v1/waves/${number}/join`, {
              headers: bearer(c.fx.assessed.token),
            }),
          ],
        };
      },
      field: 'waveNumber',
      stores: { waves: 1 },
    },
    {
      name: 'a quota below the places taken',
      send: async (c) => {
        const number = 9800 + ++unique;
        const a = await c.fx.fresh('assessed');
        const admin = { ...JSON_TYPE, ...c.fx.admin };
        const made = await send(c.url('registration'), 'POST', '/admin/waves', {
          headers: admin,
          json: { number, quota: 2 },
        });
        const joined = await send(c.url('registration'), 'POST', `/api/v1/waves/${number}/join`, {
          headers: bearer(a.token),
        });
        const patch = await send(c.url('registration'), 'PATCH', `/admin/waves/${number}`, {
          headers: admin,
          json: { quota: 0 },
        });
        return { answers: [made, joined, patch], allowed2xx: 2 };
      },
      field: 'quota',
      stores: {
        accounts: 1,
        emailTokens: 1,
        tokensUsed: 1,
        verified: 1,
        sessions: 1,
        biodata: 1,
        photos: 1,
        assessments: 1,
        waves: 1,
        quotas: 2,
        members: 1,
      },
    },
    {
      name: 'a closed wave',
      send: async (c) => {
        const number = 9700 + ++unique;
        await send(c.url('registration'), 'POST', '/admin/waves', {
          headers: { ...JSON_TYPE, ...c.fx.admin },
          json: { number, quota: 5, status: 'closed' },
        });
        return {
          answers: [
            await send(c.url('registration'), 'POST', `/api/v1/waves/${number}/join`, {
              headers: bearer(c.fx.assessed.token),
            }),
          ],
        };
      },
      field: 'waveNumber',
      stores: { waves: 1, quotas: 5 },
    },
    {
      name: 'a presigned upload of another type than declared',
      send: async (c) => {
        const b = await c.fx.fresh('biodata');
        const url = await json(c, 'POST', '/api/v1/me/ktp-photo/upload-url', b.token, {
          contentType: 'image/png',
          size: 5000,
        });
        const u = url.json as unknown as { url: string };
        const put = await send(c.url('upload'), 'PUT', new URL(u.url).pathname + new URL(u.url).search, {
          headers: { 'content-type': 'image/jpeg' },
          body: Buffer.alloc(10),
        });
        return { answers: [url, put], allowed2xx: 1 };
      },
      stores: {
        accounts: 1,
        emailTokens: 1,
        tokensUsed: 1,
        verified: 1,
        sessions: 1,
        biodata: 1,
        pendingPhotos: 1,
      },
    },
    {
      name: 'a presigned upload larger than declared',
      send: async (c) => {
        const b = await c.fx.fresh('biodata');
        const url = await json(c, 'POST', '/api/v1/me/ktp-photo/upload-url', b.token, {
          contentType: 'image/jpeg',
          size: 100,
        });
        const u = new URL((url.json as unknown as { url: string }).url);
        const put = await send(c.url('upload'), 'PUT', u.pathname + u.search, {
          headers: { 'content-type': 'image/jpeg' },
          body: Buffer.alloc(5000),
        });
        const confirm = await json(c, 'POST', '/api/v1/me/ktp-photo/confirm', b.token, {});
        return { answers: [url, put, confirm], allowed2xx: 1 };
      },
      stores: {
        accounts: 1,
        emailTokens: 1,
        tokensUsed: 1,
        verified: 1,
        sessions: 1,
        biodata: 1,
        pendingPhotos: 1,
      },
    },
    {
      name: 'guessing a password 12 times (limit 10 per email)',
      send: async (c) => {
        const answers: RawAnswer[] = [];
        for (let i = 0; i < 12; i++)
          answers.push(
            await send(c.url('registration'), 'POST', '/api/v1/sessions', {
              json: { email: c.fx.photo.email, password: `guess-number-${i}` },
              from: '127.0.0.77',
            }),
          );
        return { answers };
      },
      outcome: lastIsLimit,
    },
    {
      name: 'guessing verification tokens 1,001 times from one address (limit 1,000)',
      send: async (c) => {
        const answers: RawAnswer[] = [];
        for (let i = 0; i < 1001; i++)
          answers.push(
            await send(c.url('registration'), 'POST', '/api/v1/email-verifications', {
              json: { token: `guess${i}`.padEnd(43, 'A') },
              from: '127.0.0.78',
            }),
          );
        return { answers };
      },
      field: 'token',
      outcome: lastIsLimit,
    },
  ];
  return list.map((c) => ({ ...c, category: 'state and duplicates' }));
}

/** The mocks: their admin endpoint, and their own APIs. */
function mockClasses(): BadClass[] {
  const classes: BadClass[] = [];
  const stations: Record<Exclude<Target, 'registration'>, string> = {
    ministry: 'dukcapil',
    email: 'email',
    upload: 'upload',
  };
  for (const [mock, station] of Object.entries(stations) as Array<
    [Exclude<Target, 'registration'>, string]
  >) {
    const patch =
      (body: string | Buffer, headers: Record<string, string> = {}, auth = true) =>
      (c: Ctx) =>
        send(c.url(mock), 'PATCH', '/admin/config', {
          headers: { ...JSON_TYPE, ...(auth ? c.fx.admin : {}), ...headers },
          body,
        });
    const st = (fields: Record<string, unknown>) => JSON.stringify({ [station]: fields });
    const add = (name: string, c: Omit<BadClass, 'category' | 'name' | 'config'>) =>
      classes.push({ category: 'mock admin', name: `${mock} admin: ${name}`, config: mock, ...c });
    add('no token', { send: patch(st({ concurrency: 1 }), {}, false) });
    add('a wrong token', { send: patch(st({ concurrency: 1 }), { authorization: 'Bearer nope' }, false) });
    add('GET without a token', { send: (c) => send(c.url(mock), 'GET', '/admin/config') });
    add('malformed JSON', { send: patch('{"a":'), field: 'body' });
    add('a JSON array', { send: patch('[]') });
    add('a JSON string', { send: patch('"x"') });
    add('a station of another mock', {
      send: patch(JSON.stringify({ [station === 'dukcapil' ? 'email' : 'dukcapil']: {} })),
    });
    add('an unknown station field', { send: patch(st({ speed: 11 })), field: station });
    add('concurrency as a string', {
      send: patch(st({ concurrency: 'many' })),
      field: `${station}.concurrency`,
    });
    add('concurrency 0', { send: patch(st({ concurrency: 0 })), field: `${station}.concurrency` });
    add('queue -1', { send: patch(st({ queue: -1 })), field: `${station}.queue` });
    add('queue 1.5', { send: patch(st({ queue: 1.5 })), field: `${station}.queue` });
    add('errorRate 2', { send: patch(st({ errorRate: 2 })), field: `${station}.errorRate` });
    add('errorStatus 200', { send: patch(st({ errorStatus: 200 })), field: `${station}.errorStatus` });
    add('rejectStatus 418', { send: patch(st({ rejectStatus: 418 })), field: `${station}.rejectStatus` });
    add('timeoutMs past what a timer can wait', {
      send: patch(st({ timeoutMs: 2 ** 31 })),
      field: `${station}.timeoutMs`,
    });
    add('timeoutMs 1e400', {
      send: patch(`{"${station}":{"timeoutMs":1e400}}`),
      field: `${station}.timeoutMs`,
    });
    add('retryAfterSeconds 99999', {
      send: patch(st({ retryAfterSeconds: 99_999 })),
      field: `${station}.retryAfterSeconds`,
    });
    add('an unknown service-time distribution', {
      send: patch(st({ serviceTime: { distribution: 'pareto', alpha: 1 } })),
      field: `${station}.serviceTime`,
    });
    add('a median service time beyond the timeout', {
      send: patch(
        st({ timeoutMs: 100, serviceTime: { distribution: 'lognormal', medianMs: 500, p99Ms: 900 } }),
      ),
      field: `${station}.serviceTime`,
    });
    add('a 70 KB body (limit 64 KiB)', { send: patch(st({ filler: 'x'.repeat(70_000) })), field: 'body' });
    add('Content-Encoding gzip over garbage', {
      send: patch(st({ queue: 1 }), { 'content-encoding': 'gzip' }),
      field: 'content-encoding',
    });
    add('Content-Encoding x-unknown', {
      send: patch(st({ queue: 1 }), { 'content-encoding': 'x-unknown' }),
      field: 'content-encoding',
    });
    add('charset=iso-8859-1', {
      send: patch(st({ queue: 1 }), { 'content-type': 'application/json; charset=iso-8859-1' }),
      field: 'content-type',
    });
    add('a path that does not decode', {
      send: (c) => send(c.url(mock), 'GET', '/admin/%E0%A4%A', { headers: c.fx.admin }),
    });
    add('DELETE on the config', {
      send: (c) => send(c.url(mock), 'DELETE', '/admin/config', { headers: c.fx.admin }),
    });
  }
  const ministry = (method: string, path: string, body?: string) => (c: Ctx) =>
    send(c.url('ministry'), method, path, { headers: body === undefined ? {} : JSON_TYPE, body });
  const email =
    (path: string, method = 'GET') =>
    (c: Ctx) =>
      send(c.url('email'), method, path);
  const upload =
    (method: string, path: string, headers: Record<string, string> = {}, body?: Buffer) =>
    (c: Ctx) =>
      send(c.url('upload'), method, path, { headers, body });
  const access = { authorization: 'Bearer gelombang-upload', 'content-type': 'image/jpeg' };
  const now = Math.floor(Date.now() / 1000);
  const api: Array<[string, (c: Ctx) => Promise<RawAnswer>, string?]> = [
    ['dapodik: NIK of 15 digits', ministry('GET', '/dapodik/v1/enrolments/320101450890000'), 'nik'],
    ['dtks: NIK with letters', ministry('GET', '/dtks/v1/recipients/3201014508900ABC'), 'nik'],
    ['dtks: NIK that does not decode', ministry('GET', '/dtks/v1/recipients/%E0%A4%A'), 'path'],
    ['dukcapil: malformed JSON', ministry('POST', '/dukcapil/v1/nik-verifications', '{"nik":'), 'body'],
    [
      'dukcapil: nik as a number',
      ministry(
        'POST',
        '/dukcapil/v1/nik-verifications',
        '{"nik":3201014508900001,"fullName":"A","dateOfBirth":"1990-08-05"}',
      ),
      'nik',
    ],
    ['dukcapil: an empty object', ministry('POST', '/dukcapil/v1/nik-verifications', '{}'), 'nik'],
    ['dukcapil: a JSON array', ministry('POST', '/dukcapil/v1/nik-verifications', '[]')],
    [
      'dukcapil: a 10 KB body (limit 8 KiB)',
      ministry('POST', '/dukcapil/v1/nik-verifications', JSON.stringify({ nik: 'x'.repeat(10_000) })),
      'body',
    ],
    [
      'email: a mailbox that is not an address',
      email('/api/v1/mailboxes/not-an-address/messages'),
      'address',
    ],
    ['email: a mailbox that does not decode', email('/api/v1/mailboxes/%E0%A4%A/messages'), 'path'],
    ['email: delete a mailbox that is not an address', email('/api/v1/mailboxes/x%20y/messages', 'DELETE')],
    ['email: a message that does not exist', email('/api/v1/messages/no-such-id')],
    ['upload: a key with ..', upload('PUT', '/buckets/ktp/objects/..', access, Buffer.alloc(10)), 'key'],
    [
      'upload: a key with a leading dot',
      upload('PUT', '/buckets/ktp/objects/.hidden', access, Buffer.alloc(10)),
      'key',
    ],
    [
      'upload: a key with an encoded slash',
      upload('PUT', '/buckets/ktp/objects/a%2Fb', access, Buffer.alloc(10)),
      'key',
    ],
    [
      'upload: a bucket of 64 characters',
      upload('PUT', `/buckets/${'b'.repeat(64)}/objects/k`, access, Buffer.alloc(10)),
      'bucket',
    ],
    [
      'upload: a key of 201 characters',
      upload('PUT', `/buckets/ktp/objects/${'k'.repeat(201)}`, access, Buffer.alloc(10)),
      'key',
    ],
    [
      'upload: no token',
      upload('PUT', '/buckets/ktp/objects/anon.jpg', { 'content-type': 'image/jpeg' }, Buffer.alloc(10)),
    ],
    [
      'upload: a wrong token',
      upload(
        'PUT',
        '/buckets/ktp/objects/anon.jpg',
        { authorization: 'Bearer no', 'content-type': 'image/jpeg' },
        Buffer.alloc(10),
      ),
    ],
    [
      'upload: a Content-Type that is not a media type',
      upload(
        'PUT',
        '/buckets/ktp/objects/ct.jpg',
        { authorization: access.authorization, 'content-type': 'jpeg' },
        Buffer.alloc(10),
      ),
      'content-type',
    ],
    [
      'upload: a presigned URL with a forged signature',
      upload(
        'PUT',
        `/buckets/ktp/objects/f.jpg?expires=${now + 600}&signature=${'0'.repeat(64)}`,
        { 'content-type': 'image/jpeg' },
        Buffer.alloc(10),
      ),
    ],
    [
      'upload: an expired presigned URL',
      upload(
        'PUT',
        presignPath('gelombang-signing', 'PUT', 'ktp', 'old.jpg', now - 10),
        { 'content-type': 'image/jpeg' },
        Buffer.alloc(10),
      ),
    ],
    [
      'upload: a presigned URL whose expiry is not a number',
      upload(
        'PUT',
        `/buckets/ktp/objects/f.jpg?expires=soon&signature=abc`,
        { 'content-type': 'image/jpeg' },
        Buffer.alloc(10),
      ),
    ],
    [
      'upload: an object over the size limit',
      upload('PUT', '/buckets/ktp/objects/big.jpg', access, Buffer.alloc(3_000_000)),
    ],
    [
      'upload: GET of an object that does not exist',
      upload('GET', '/buckets/ktp/objects/none.jpg', { authorization: access.authorization }),
    ],
    [
      'upload: a path that does not decode',
      upload('GET', '/buckets/%E0%A4%A/objects/x', { authorization: access.authorization }),
      'path',
    ],
  ];
  for (const [name, s, field] of api) classes.push({ category: 'mock API', name, send: s, field });
  return classes;
}

// ---------------------------------------------------------------------------------------------
// judging

interface Verdict {
  klass: BadClass;
  requests: number;
  fivexx: string[];
  accepted: string[];
  /** 4xx answers without a JSON error {code, message} */
  shapeless: string[];
  /** the refusal named another field than expected (or none) */
  fieldMiss: string[];
  /** the class's own outcome check failed */
  wrongOutcome: string[];
  stored: string[];
  configChanged: boolean;
  crashed: string[];
}

function judge(klass: BadClass, sent: Sent): Omit<Verdict, 'stored' | 'configChanged' | 'crashed'> {
  const v = {
    klass,
    requests: sent.answers.length,
    fivexx: [] as string[],
    accepted: [] as string[],
    shapeless: [] as string[],
    fieldMiss: [] as string[],
    wrongOutcome: [] as string[],
  };
  const outcome = klass.outcome?.(sent.answers);
  if (outcome) v.wrongOutcome.push(outcome);
  let allowed = sent.allowed2xx ?? 0;
  const describe = (a: RawAnswer) => `${a.status} ${a.text.slice(0, 160)}`;
  const refusals: RawAnswer[] = [];
  for (const a of sent.answers) {
    if (a.status >= 500 || a.status < 200) v.fivexx.push(describe(a));
    else if (a.status < 400) {
      if (allowed-- <= 0) v.accepted.push(describe(a));
    } else {
      refusals.push(a);
      const e = a.json.error;
      if (!klass.bare4xx && (typeof e?.code !== 'string' || typeof e?.message !== 'string'))
        v.shapeless.push(describe(a));
    }
  }
  if (klass.field !== undefined) {
    // At least the refusals that are the class's point name the field: the last one judged (a
    // setup request before it, or the limit reached after it, may name none).
    const named = refusals.some((a) => {
      const f = a.json.error?.field;
      return f === klass.field || f?.startsWith(`${klass.field}.`) === true;
    });
    if (!named)
      v.fieldMiss.push(
        `expected ${klass.field}: ${refusals.map((a) => a.json.error?.field ?? '-').join(', ')}`,
      );
  }
  return v;
}

async function sweep(): Promise<{ verdicts: Verdict[]; workerDeaths: string[]; ms: number }> {
  const workerDeaths: string[] = [];
  const stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: { registration: { SCRYPT_N: '1024', WORKERS: '2' } },
    log: (service, line) => {
      if (service === 'registration' && / died \(/.test(line)) workerDeaths.push(line);
    },
  });
  const db = new Database(join(stack.dataDir, 'registration.db'), { readonly: true, fileMustExist: true });
  const counts = () => db.prepare(COUNTS_SQL).get() as Counts;
  const verdicts: Verdict[] = [];
  const t0 = performance.now();
  try {
    const fx = await fixtures(stack);
    const jpeg = readFileSync(join(FIXTURES, 'ktp-small.jpg'));
    const ctx: Ctx = {
      stack,
      fx,
      url: (t) => (t === 'email' ? stack.urls.email : stack.urls[t]),
    };
    const classes = [
      ...jsonClasses(),
      ...rangeClasses(),
      ...routingClasses(),
      ...framingClasses(),
      ...photoClasses(jpeg),
      ...stateClasses(),
      ...mockClasses(),
    ];
    const names = new Set<string>();
    for (const k of classes) {
      if (names.has(k.name)) throw new Error(`two classes named '${k.name}'`);
      names.add(k.name);
    }
    for (const klass of classes) {
      const before = counts();
      const configBefore = klass.config
        ? (await send(ctx.url(klass.config), 'GET', '/admin/config', { headers: fx.admin })).text
        : '';
      const deathsBefore = workerDeaths.length;
      let sent: Sent;
      try {
        const r = await klass.send(ctx);
        sent = 'answers' in r ? r : { answers: [r] };
      } catch (err) {
        // No answer at all (the connection dropped): as bad as a 5xx.
        sent = {
          answers: [{ status: 0, headers: {}, text: `no answer: ${(err as Error).message}`, json: {} }],
        };
      }
      const after = counts();
      const stored: string[] = [];
      for (const key of Object.keys(before) as Array<keyof Counts>) {
        const delta = after[key] - before[key];
        if (delta !== (klass.stores?.[key] ?? 0)) stored.push(`${key} ${delta >= 0 ? '+' : ''}${delta}`);
      }
      const configChanged = klass.config
        ? (await send(ctx.url(klass.config), 'GET', '/admin/config', { headers: fx.admin })).text !==
          configBefore
        : false;
      const crashed = [
        ...stack.exits.filter((e) => !e.expected).map((e) => e.message),
        ...workerDeaths.slice(deathsBefore),
      ];
      verdicts.push({ ...judge(klass, sent), stored, configChanged, crashed });
      if (crashed.length) break;
    }
  } finally {
    db.close();
    await stack.stop();
  }
  return { verdicts, workerDeaths, ms: performance.now() - t0 };
}

async function quotaProperty(): Promise<{ cases: number; violations: string[]; ms: number }> {
  const stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: { registration: { SCRYPT_N: '1024', WORKERS: '2' } },
  });
  const property = new QuotaProperty(stack);
  const violations: string[] = [];
  const t0 = performance.now();
  let cases = 0;
  try {
    const deadline = t0 + QUOTA_SECONDS * 1000;
    for (const c of fc.sample(quotaCase(12), { numRuns: QUOTA_CASES, seed: SEED })) {
      if (performance.now() > deadline) break;
      const problems = await property.check(c);
      cases++;
      for (const p of problems) violations.push(`case ${cases} (${JSON.stringify(c)}): ${p}`);
    }
  } finally {
    property.close();
    await stack.stop();
  }
  return { cases, violations, ms: performance.now() - t0 };
}

const bench: Bench = {
  name: 'bad-input',
  async run() {
    const { verdicts, ms } = await sweep();
    const sum = (f: (v: Verdict) => boolean) => verdicts.filter(f).length;
    const withField = verdicts.filter((v) => v.klass.field !== undefined);
    const failing = verdicts.filter(
      (v) =>
        v.fivexx.length ||
        v.accepted.length ||
        v.shapeless.length ||
        v.fieldMiss.length ||
        v.wrongOutcome.length ||
        v.stored.length ||
        v.configChanged ||
        v.crashed.length,
    );
    // Per category, on stderr: the detail behind the rows.
    const categories = [...new Set(verdicts.map((v) => v.klass.category))];
    const lines = [
      '| category | classes | requests | 4xx with code and message | naming the field | 5xx | accepted | stored |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...categories.map((c) => {
        const vs = verdicts.filter((v) => v.klass.category === c);
        const n = (f: (v: Verdict) => boolean) => vs.filter(f).length;
        return `| ${c} | ${vs.length} | ${vs.reduce((s, v) => s + v.requests, 0)} | ${n((v) => !v.fivexx.length && !v.accepted.length && !v.shapeless.length)} | ${n((v) => v.klass.field !== undefined && !v.fieldMiss.length)}/${n((v) => v.klass.field !== undefined)} | ${n((v) => v.fivexx.length > 0)} | ${n((v) => v.accepted.length > 0)} | ${n((v) => v.stored.length > 0 || v.configChanged)} |`;
      }),
    ];
    console.error(lines.join('\n'));
    for (const v of failing)
      console.error(
        `  ${v.klass.name}: ${[...v.fivexx.map((x) => `5xx ${x}`), ...v.accepted.map((x) => `accepted ${x}`), ...v.shapeless.map((x) => `no error body ${x}`), ...v.fieldMiss, ...v.wrongOutcome, ...v.stored.map((x) => `stored ${x}`), ...(v.configChanged ? ['config changed'] : []), ...v.crashed].join('; ')}`,
      );
    const quota = await quotaProperty();
    for (const x of quota.violations.slice(0, 20)) console.error(`  quota: ${x}`);
    const rows: BenchRow[] = [
      {
        bench: 'bad-input',
        metric: 'bad-input classes tried',
        value: verdicts.length,
        unit: 'classes',
        reference: 200,
        ratio: verdicts.length / 200,
        note: `${verdicts.reduce((s, v) => s + v.requests, 0)} requests in ${(ms / 1000).toFixed(0)} s; reference: the goal`,
      },
      {
        bench: 'bad-input',
        metric: 'answered 4xx with a code and a message',
        value: sum((v) => !v.fivexx.length && !v.accepted.length && !v.shapeless.length),
        unit: 'classes',
        reference: verdicts.length,
        ratio: sum((v) => !v.fivexx.length && !v.accepted.length && !v.shapeless.length) / verdicts.length,
        note: 'one winner allowed where simultaneous submits race',
      },
      {
        bench: 'bad-input',
        metric: 'refusal named the expected field',
        value: withField.length - withField.filter((v) => v.fieldMiss.length).length,
        unit: 'classes',
        reference: withField.length,
        ratio: (withField.length - withField.filter((v) => v.fieldMiss.length).length) / withField.length,
        note: 'classes whose input has a field',
      },
      {
        bench: 'bad-input',
        metric: 'answered 5xx (or not at all)',
        value: sum((v) => v.fivexx.length > 0),
        unit: 'classes',
        reference: 0,
        note: 'goal 0',
      },
      {
        bench: 'bad-input',
        metric: 'bad input accepted (2xx)',
        value: sum((v) => v.accepted.length > 0),
        unit: 'classes',
        reference: 0,
        note: 'goal 0',
      },
      {
        bench: 'bad-input',
        metric: 'refusals that stored or changed something',
        value: sum((v) => v.stored.length > 0 || v.configChanged),
        unit: 'classes',
        reference: 0,
        note: 'database counts and mock configs before/after each class; goal 0',
      },
      {
        bench: 'bad-input',
        metric: 'process crashes',
        value: sum((v) => v.crashed.length > 0),
        unit: 'classes',
        reference: 0,
        note: 'stack.exits + workers replaced by the primary; goal 0',
      },
      {
        bench: 'bad-input',
        metric: 'quota property: generated cases run',
        value: quota.cases,
        unit: 'cases',
        reference: QUOTA_CASES,
        ratio: quota.cases / QUOTA_CASES,
        note: `up to 12 registrants, repeats, batches of 1-8 simultaneous joins, WORKERS=2; ${(quota.ms / 1000).toFixed(0)} s; seed ${SEED}`,
      },
      {
        bench: 'bad-input',
        metric: 'quota property: violations',
        value: quota.violations.length,
        unit: 'violations',
        reference: 0,
        note: 'oversold, joined twice, a 201 without a row, a wrong refusal; goal 0',
      },
    ];
    return rows;
  },
};

export default bench;
