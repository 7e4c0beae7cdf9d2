import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { personAt } from '../scenarios/lib/population.ts';

/**
 * Walks one registrant through the eight steps of the journey against a running stack, with plain
 * fetch: the interim main job, and a quick way to see the service answer as a registrant does.
 */

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'scenarios', 'fixtures');

export interface WalkthroughStep {
  step: string;
  status: number;
  ms: number;
  detail: string;
}

export interface WalkthroughTarget {
  registration: string;
  email: string;
}

export interface WalkthroughOptions {
  /** population seed the ministry mock runs with */
  seed?: number;
  /** which person of the synthetic population to register (one the registry knows and accepts) */
  index?: number;
  /** wave to join */
  wave?: number;
  /** called as each step ends */
  onStep?: (s: WalkthroughStep) => void;
  /** how long to wait for the verification email */
  mailTimeoutMs?: number;
}

class StepFailed extends Error {}

async function call(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; json?: unknown; body?: FormData } = {},
): Promise<{ status: number; body: unknown; ms: number }> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | FormData | undefined;
  if (opts.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body) {
    body = opts.body;
  }
  const t0 = performance.now();
  const res = await fetch(new URL(path, base), {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text for the error message
  }
  return { status: res.status, body: parsed, ms };
}

function field(body: unknown, key: string): unknown {
  return typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
}

async function waitForVerificationLink(
  emailBase: string,
  address: string,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await fetch(new URL(`/api/v1/mailboxes/${encodeURIComponent(address)}/messages`, emailBase));
    if (res.ok) {
      const messages = (await res.json()) as Array<{ links?: string[] }>;
      const link = messages.flatMap((m) => m.links ?? []).find((l) => l.includes('verify-email?token='));
      if (link) return link;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new StepFailed(`no verification email for ${address} within ${timeoutMs} ms`);
}

/** Runs the journey; resolves with every step, throws StepFailed at the first unexpected answer. */
export async function walkOneRegistrant(
  target: WalkthroughTarget,
  options: WalkthroughOptions = {},
): Promise<WalkthroughStep[]> {
  const seed = options.seed ?? 2020;
  const person = personAt(seed, options.index ?? findEligibleIndex(seed));
  const email = `${person.nik}.${Date.now()}@example.test`;
  const password = 'Rahasia-2020!';
  const steps: WalkthroughStep[] = [];
  const expect = (
    step: string,
    r: { status: number; body: unknown; ms: number },
    ok: number,
    detail: string,
  ) => {
    const s = {
      step,
      status: r.status,
      ms: Math.round(r.ms),
      detail: r.status === ok ? detail : JSON.stringify(r.body),
    };
    steps.push(s);
    options.onStep?.(s);
    if (r.status !== ok) throw new StepFailed(`${step}: expected HTTP ${ok}, got ${r.status} ${s.detail}`);
  };
  const base = target.registration;

  expect(
    'create_account',
    await call(base, 'POST', '/api/v1/accounts', { json: { email, password } }),
    201,
    email,
  );

  const t0 = performance.now();
  const link = await waitForVerificationLink(target.email, email, options.mailTimeoutMs ?? 15_000);
  const token = new URL(link).searchParams.get('token') ?? '';
  const r2 = await call(base, 'POST', '/api/v1/email-verifications', { json: { token } });
  expect(
    'verify_email',
    { ...r2, ms: r2.ms + (performance.now() - t0 - r2.ms) },
    200,
    'link from the mailbox',
  );

  const login = await call(base, 'POST', '/api/v1/sessions', { json: { email, password } });
  expect('login', login, 201, 'bearer token');
  const session = String(field(login.body, 'token'));

  const biodata = {
    fullName: person.fullName,
    placeOfBirth: person.placeOfBirth,
    dateOfBirth: person.dateOfBirth,
    gender: person.gender,
    nik: person.nik,
    address: person.address,
    occupationStatus: 'laid_off',
  };
  const bio = await call(base, 'PUT', '/api/v1/me/biodata', { token: session, json: biodata });
  expect('submit_biodata', bio, 200, `NIK ${person.nik}, priority ${String(field(bio.body, 'priority'))}`);

  const photo = readFileSync(join(FIXTURES, 'ktp-medium.jpg'));
  const form = new FormData();
  form.append('photo', new Blob([photo], { type: 'image/jpeg' }), 'ktp.jpg');
  expect(
    'upload_photo',
    await call(base, 'PUT', '/api/v1/me/ktp-photo', { token: session, body: form }),
    201,
    `${(photo.length / 1024).toFixed(0)} KiB JPEG`,
  );

  const assessment = {
    motivation: 'Saya ingin meningkatkan keterampilan digital agar bisa kembali bekerja setelah dirumahkan.',
    answers: Array.from({ length: 20 }, (_, i) => i % 4),
  };
  const test = await call(base, 'POST', '/api/v1/me/assessment', { token: session, json: assessment });
  expect('submit_assessment', test, 200, `score ${String(field(test.body, 'score'))}`);

  const wave = options.wave ?? 1;
  expect(
    'join_wave',
    await call(base, 'POST', `/api/v1/waves/${wave}/join`, { token: session }),
    201,
    `wave ${wave}`,
  );

  const status = await call(base, 'GET', '/api/v1/me/status', { token: session });
  expect('read_status', status, 200, `stage ${String(field(status.body, 'stage'))}`);
  if (field(status.body, 'stage') !== 'joined_wave') {
    throw new StepFailed(`read_status: expected stage joined_wave, got ${JSON.stringify(status.body)}`);
  }
  return steps;
}

/** The first person of the population the registries know and the rules accept. */
export function findEligibleIndex(seed: number, from = 0): number {
  for (let i = from; i < from + 10_000; i++) {
    const p = personAt(seed, i);
    if (p.inDukcapil && p.citizen && !p.enrolledInEducation && p.age >= 18) return i;
  }
  throw new Error(`no eligible person among 10,000 from index ${from}: check the population shares`);
}
