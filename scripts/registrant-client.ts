import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Person } from '../model/population.ts';

/**
 * A plain-fetch client of the reference service's journey, one method per step, for the demo and
 * the tests (the load scenarios use k6's http instead). Every call resolves with the status and the
 * parsed body; it never throws for an HTTP answer.
 */

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'scenarios', 'fixtures');

/** What a call returns; bodies are typed loosely: every error body is an ErrorBody. */
export type Body = Record<string, unknown> & Partial<ErrorBody>;

export interface Answer<T = Body> {
  status: number;
  body: T;
  headers: Headers;
  ms: number;
}

export interface ErrorBody {
  error: {
    code: string;
    message: string;
    field?: string;
    dependency?: string;
    details?: Record<string, unknown>;
  };
}

export class RegistrantClient {
  token = '';

  constructor(
    readonly urls: { registration: string; email: string },
    readonly email: string,
    readonly password = 'Rahasia-2020!',
  ) {}

  async call<T = Body>(
    method: string,
    path: string,
    opts: {
      json?: unknown;
      raw?: string;
      body?: FormData;
      token?: string | null;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    const token = opts.token === undefined ? this.token : opts.token;
    if (token) headers.authorization = `Bearer ${token}`;
    let body: string | FormData | undefined;
    if (opts.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.raw !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = opts.raw;
    } else if (opts.body) {
      body = opts.body;
    }
    const t0 = performance.now();
    const res = await fetch(new URL(path, this.urls.registration), {
      method,
      headers,
      body,
      signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // keep the text: the caller's assertion will show it
    }
    return { status: res.status, body: parsed as T, headers: res.headers, ms: performance.now() - t0 };
  }

  createAccount() {
    return this.call('POST', '/api/v1/accounts', { json: { email: this.email, password: this.password } });
  }

  /** Polls the email mock until the verification link arrives; returns its token. */
  async verificationToken(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const res = await fetch(
        new URL(`/api/v1/mailboxes/${encodeURIComponent(this.email)}/messages`, this.urls.email),
      );
      if (res.ok) {
        const messages = (await res.json()) as Array<{ links?: string[] }>;
        const link = messages.flatMap((m) => m.links ?? []).find((l) => l.includes('verify-email?token='));
        if (link) return new URL(link).searchParams.get('token') ?? '';
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no verification email for ${this.email} within ${timeoutMs} ms`);
  }

  verifyEmail(token: string) {
    return this.call('POST', '/api/v1/email-verifications', { json: { token } });
  }

  async login() {
    const r = await this.call<{ token?: string }>('POST', '/api/v1/sessions', {
      json: { email: this.email, password: this.password },
    });
    if (r.status === 201 && r.body.token) this.token = r.body.token;
    return r;
  }

  submitBiodata(person: Person, overrides: Record<string, unknown> = {}) {
    return this.call('PUT', '/api/v1/me/biodata', { json: { ...biodataOf(person), ...overrides } });
  }

  uploadPhoto(
    bytes: Uint8Array = readFileSync(join(FIXTURES, 'ktp-small.jpg')),
    filename = 'ktp.jpg',
    field = 'photo',
  ) {
    const form = new FormData();
    form.append(field, new Blob([bytes], { type: 'image/jpeg' }), filename);
    return this.call('PUT', '/api/v1/me/ktp-photo', { body: form });
  }

  submitAssessment(answers: number[] = Array.from({ length: 20 }, (_, i) => i % 4)) {
    return this.call('POST', '/api/v1/me/assessment', {
      json: {
        motivation:
          'Saya ingin meningkatkan keterampilan digital agar bisa kembali bekerja setelah dirumahkan.',
        answers,
      },
    });
  }

  joinWave(wave = 1) {
    return this.call('POST', `/api/v1/waves/${wave}/join`);
  }

  status() {
    return this.call<{ stage: string; wave: { number: number } | null }>('GET', '/api/v1/me/status');
  }

  /** Steps 1-6 in a row (account ... assessment), throwing at the first unexpected status. */
  async throughAssessment(person: Person): Promise<void> {
    const expect = (step: string, r: Answer<unknown>, status: number) => {
      if (r.status !== status)
        throw new Error(`${step}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
    };
    expect('create_account', await this.createAccount(), 201);
    expect('verify_email', await this.verifyEmail(await this.verificationToken()), 200);
    expect('login', await this.login(), 201);
    expect('submit_biodata', await this.submitBiodata(person), 200);
    expect('upload_photo', await this.uploadPhoto(), 201);
    expect('submit_assessment', await this.submitAssessment(), 200);
  }
}

export function biodataOf(person: Person) {
  return {
    fullName: person.fullName,
    placeOfBirth: person.placeOfBirth,
    dateOfBirth: person.dateOfBirth,
    gender: person.gender,
    nik: person.nik,
    address: person.address,
    occupationStatus: 'laid_off',
  };
}
