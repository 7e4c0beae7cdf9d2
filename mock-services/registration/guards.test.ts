import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, RegistrantClient } from '../../scripts/registrant-client.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';
import { loopbackRequest, type RawAnswer } from '../../test/support/loopback-request.ts';
import { people } from '../../test/support/population.ts';

/**
 * Two switches of the service through its real processes (two workers on one SQLite file) on
 * loopback: idempotency keys (IDEMPOTENCY=on) and the waiting room (ADMISSION_RATE > 0), each
 * on a stack where the other switch is at its 2020 default, which shows that default unchanged.
 */

const PASSWORD = 'Rahasia-2020!';
let serial = 0;
const email = (tag: string) => `${tag}.${++serial}.${Date.now()}@example.test`;

function signUp(stack: RunningStack, address: string, headers: Record<string, string> = {}) {
  return loopbackRequest(stack.urls.registration, 'POST', '/api/v1/accounts', {
    headers,
    json: { email: address, password: PASSWORD },
  });
}

function expectError(r: RawAnswer, status: number, code: string, field?: string) {
  expect({ status: r.status, code: r.json.error?.code }).toEqual({ status, code });
  expect(typeof r.json.error?.message).toBe('string');
  if (field !== undefined) expect(r.json.error?.field).toBe(field);
}

async function mails(stack: RunningStack, address: string): Promise<number> {
  const res = await fetch(`${stack.urls.email}/api/v1/mailboxes/${encodeURIComponent(address)}/messages`);
  return ((await res.json()) as unknown[]).length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('IDEMPOTENCY=on, two processes (and ADMISSION_RATE=0: sign-ups run at once, as in 2020)', () => {
  let stack: RunningStack;
  let db: Database.Database;
  beforeAll(async () => {
    stack = await startStack({
      ports: 'auto',
      capacityFile: 'mock-services/capacity.unlimited.json',
      env: { registration: { SCRYPT_N: '1024', WORKERS: '2', IDEMPOTENCY: 'on' } },
    });
    db = new Database(join(stack.dataDir, 'registration.db'), { readonly: true, fileMustExist: true });
  });
  afterAll(async () => {
    db?.close();
    await stack?.stop();
  });
  const accounts = (address: string) =>
    (db.prepare('SELECT COUNT(*) AS n FROM accounts WHERE email = ?').get(address) as { n: number }).n;

  it('20 simultaneous sign-ups with one key make one account, and all 20 get the same answer', async () => {
    const address = email('idem');
    const headers = { 'Idempotency-Key': `signup-${Date.now()}-${Math.random()}` };
    // Each client does what the 409 says: comes back after Retry-After until the first one's answer is stored.
    const client = async (): Promise<{ answer: RawAnswer; inProgress: number }> => {
      let inProgress = 0;
      const deadline = Date.now() + 30_000;
      for (;;) {
        const r = await signUp(stack, address, headers);
        if (r.status !== 409 || r.json.error?.code !== 'request_in_progress')
          return { answer: r, inProgress };
        expect(r.headers['retry-after']).toBe('1');
        expect(r.json.error?.field).toBe('idempotency-key');
        inProgress++;
        if (Date.now() > deadline) throw new Error('the first sign-up never finished');
        await sleep(200);
      }
    };
    const results = await Promise.all(Array.from({ length: 20 }, client));
    const answers = results.map((r) => r.answer);
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(201));
    expect(new Set(answers.map((a) => a.text)).size).toBe(1);
    expect(answers[0]?.json).toMatchObject({ email: address, emailVerification: 'sent' });
    expect(answers.filter((a) => a.headers['idempotent-replayed'] === 'true')).toHaveLength(19);
    expect(accounts(address)).toBe(1);
    expect(await mails(stack, address)).toBe(1);

    // The same key with another body is another request: refused, and nothing is created.
    const other = email('idem-other');
    const reused = await signUp(stack, other, headers);
    expectError(reused, 422, 'idempotency_key_reused', 'idempotency-key');
    expect(accounts(other)).toBe(0);
  });

  it('a refusal (4xx) is final and replayed; a key that is not 1-255 visible ASCII characters is refused', async () => {
    const key = { 'Idempotency-Key': `verify-${Date.now()}` };
    const body = { json: { token: 'x'.repeat(43) }, headers: key };
    const first = await loopbackRequest(stack.urls.registration, 'POST', '/api/v1/email-verifications', body);
    expectError(first, 400, 'invalid_token');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await loopbackRequest(stack.urls.registration, 'POST', '/api/v1/email-verifications', body);
    expect({ status: again.status, text: again.text }).toEqual({ status: first.status, text: first.text });
    expect(again.headers['idempotent-replayed']).toBe('true');

    for (const bad of ['', 'has space', 'x'.repeat(256), 'ü-non-ascii']) {
      const r = await signUp(stack, email('badkey'), { 'Idempotency-Key': bad });
      expectError(r, 400, 'invalid_field', 'idempotency-key');
    }
    // Without a key, and without a waiting room, a sign-up runs at once as in 2020.
    expect((await signUp(stack, email('nokey'))).status).toBe(201);
  });

  it('a photo sent again (another multipart boundary) and a join sent again get their first answers', async () => {
    const c = new RegistrantClient(stack.urls, email('idem-journey'));
    expect((await c.createAccount()).status).toBe(201);
    expect((await c.verifyEmail(await c.verificationToken())).status).toBe(200);
    expect((await c.login()).status).toBe(201);
    expect((await c.submitBiodata(people(2020, 0).take())).status).toBe(200);
    const auth = { authorization: `Bearer ${c.token}` };
    const photo = (bytes: Buffer, boundary: string, key: string) =>
      loopbackRequest(stack.urls.registration, 'PUT', '/api/v1/me/ktp-photo', {
        headers: {
          ...auth,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'Idempotency-Key': key,
        },
        body: Buffer.concat([
          Buffer.from(
            `--${boundary}\r\nContent-Disposition: form-data; name="photo"; filename="ktp.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`,
          ),
          bytes,
          Buffer.from(`\r\n--${boundary}--\r\n`),
        ]),
      });
    const small = readFileSync(join(FIXTURES, 'ktp-small.jpg'));
    const first = await photo(small, 'first-boundary-1', 'photo-key');
    expect(first.status).toBe(201);
    const again = await photo(small, 'another-boundary-22', 'photo-key');
    expect({ status: again.status, text: again.text }).toEqual({ status: 201, text: first.text });
    expect(again.headers['idempotent-replayed']).toBe('true');
    const otherPhoto = await photo(readFileSync(join(FIXTURES, 'ktp-medium.jpg')), 'b3', 'photo-key');
    expectError(otherPhoto, 422, 'idempotency_key_reused', 'idempotency-key');

    expect((await c.submitAssessment()).status).toBe(200);
    const joinWave = (key: string) =>
      loopbackRequest(stack.urls.registration, 'POST', '/api/v1/waves/1/join', {
        headers: { ...auth, 'Idempotency-Key': key },
      });
    const joined = await joinWave('join-key');
    expect(joined.status).toBe(201);
    const rejoined = await joinWave('join-key');
    expect({ status: rejoined.status, text: rejoined.text }).toEqual({ status: 201, text: joined.text });
    expect(rejoined.headers['idempotent-replayed']).toBe('true');
    // Another key is another request, which the step's own rule refuses.
    expectError(await joinWave('join-key-2'), 409, 'already_joined');
    const members = db
      .prepare(
        'SELECT COUNT(*) AS n FROM wave_members m JOIN accounts a ON a.id = m.account_id WHERE a.email = ?',
      )
      .get(c.email) as { n: number };
    expect(members.n).toBe(1);
  });

  it('a 503 is not stored: the retry with the same key runs again and succeeds', async () => {
    const address = email('idem503');
    const headers = { 'Idempotency-Key': `retry-${Date.now()}` };
    await stack.kill('email');
    const failed = await signUp(stack, address, headers);
    expectError(failed, 503, 'dependency_unavailable');
    await stack.restart('email');
    const retried = await signUp(stack, address, headers);
    expect(retried.status).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
    expect(accounts(address)).toBe(1);
  });
});

describe('ADMISSION_RATE=0.5, two processes (and IDEMPOTENCY=off: the key is ignored, as in 2020)', () => {
  let stack: RunningStack;
  const STEP_MS = 2000;
  beforeAll(async () => {
    stack = await startStack({
      ports: 'auto',
      capacityFile: 'mock-services/capacity.unlimited.json',
      env: { registration: { SCRYPT_N: '1024', WORKERS: '2', ADMISSION_RATE: '0.5' } },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  interface Place {
    ticket: string;
    position: number;
    admitAt: number;
    retryAfter: number;
  }
  const placeOf = (r: RawAnswer): Place => {
    expectError(r, 429, 'waiting_room');
    const d = (r.json.error as { details?: { ticket: string; position: number; admitAt: string } }).details;
    if (!d) throw new Error('a waiting_room answer without details');
    return {
      ticket: d.ticket,
      position: d.position,
      admitAt: Date.parse(d.admitAt),
      retryAfter: Number(r.headers['retry-after']),
    };
  };

  it('queues sign-ups in arrival order, keeps each place, and admits each after its turn, in order', async () => {
    // Nobody in line: a sign-up without a ticket runs at once, as if there were no room.
    const walkIn = await signUp(stack, email('walk-in'));
    expect(walkIn.status).toBe(201);
    const addresses = Array.from({ length: 4 }, () => email('room'));
    const places: Place[] = [];
    for (const address of addresses) places.push(placeOf(await signUp(stack, address)));
    for (const p of places) {
      expect(p.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(Number.isInteger(p.retryAfter) && p.retryAfter >= 1).toBe(true);
    }
    for (let i = 1; i < places.length; i++) {
      expect((places[i] as Place).admitAt - (places[i - 1] as Place).admitAt).toBeGreaterThanOrEqual(STEP_MS);
    }
    // The walk-in took the turn of its moment, so the next turn is one step (2 s) later. Four
    // requests in a row take far less than that, so nobody is admitted meanwhile.
    expect(places.map((p) => p.position)).toEqual([1, 2, 3, 4]);

    // Back early with the ticket: the same place, not a new one at the end of the line.
    const early = placeOf(
      await signUp(stack, addresses[3] as string, { 'Waiting-Room-Ticket': places[3]?.ticket ?? '' }),
    );
    expect(early).toMatchObject({ ticket: places[3]?.ticket, admitAt: places[3]?.admitAt });
    expect(early.position).toBeLessThanOrEqual(places[3]?.position ?? 0);

    // Each registrant comes back when told, until admitted. The first three: each in turn.
    const admitted: number[] = [];
    const attend = async (i: number) => {
      const deadline = Date.now() + 40_000;
      let wait = (places[i] as Place).retryAfter;
      for (;;) {
        await sleep(wait * 1000);
        const headers: Record<string, string> = { 'Waiting-Room-Ticket': (places[i] as Place).ticket };
        // IDEMPOTENCY=off: the key is not even validated.
        if (i === 0) headers['Idempotency-Key'] = 'not a valid key';
        if (i > 0) headers['Idempotency-Key'] = 'one-key-for-two';
        const r = await signUp(stack, addresses[i === 2 ? 1 : i] as string, headers);
        if (r.status !== 429) {
          admitted.push(i);
          return r;
        }
        const again = placeOf(r);
        expect(again.admitAt).toBe((places[i] as Place).admitAt);
        expect(Date.now()).toBeLessThan(deadline);
        wait = again.retryAfter;
      }
    };
    const answers = await Promise.all([0, 1, 2].map(attend));
    expect(admitted).toEqual([0, 1, 2]);
    expect(answers[0]?.status).toBe(201);
    expect(answers[1]?.status).toBe(201);
    // Ticket 2 signs up the same email with the same key: no replay without IDEMPOTENCY, a duplicate.
    expectError(answers[2] as RawAnswer, 409, 'duplicate_email', 'email');
    expect(answers[2]?.headers['idempotent-replayed']).toBeUndefined();

    // A used ticket admits nobody else; the refused sign-up gave its ticket back.
    const used = await signUp(stack, email('room-again'), { 'Waiting-Room-Ticket': places[0]?.ticket ?? '' });
    expectError(used, 410, 'ticket_used', 'waiting-room-ticket');
    const third = await signUp(stack, email('room-third'), {
      'Waiting-Room-Ticket': places[2]?.ticket ?? '',
    });
    expect(third.status).toBe(201);

    const metrics = await (await fetch(`${stack.urls.registration}/metrics`)).text();
    expect(metrics).toMatch(/^gelombang_waiting_room_admissions_total 4$/m);
    expect(metrics).toMatch(/^gelombang_waiting_room_queue_length \d+$/m);
    expect(metrics).toMatch(
      /gelombang_http_requests_total\{method="POST",route="\/api\/v1\/accounts",status="429"\} \d+/,
    );
  }, 90_000);

  it('refuses a malformed or unknown ticket, naming the header', async () => {
    for (const ticket of ['short', `${'A'.repeat(42)}!`, 'B'.repeat(43)]) {
      const r = await signUp(stack, email('badticket'), { 'Waiting-Room-Ticket': ticket });
      expectError(r, 400, 'invalid_field', 'waiting-room-ticket');
    }
  });
});
