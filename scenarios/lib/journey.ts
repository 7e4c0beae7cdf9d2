import { check, sleep } from 'k6';
import http, { type RefinedResponse, type RequestBody } from 'k6/http';
import { backoffSeconds, type RetryPolicy } from '../../model/behaviour.ts';
import type { Address, Person } from '../../model/population.ts';

export type { RetryPolicy } from '../../model/behaviour.ts';

/**
 * The registration journey as k6 requests: one function per step, each tagged with `step` so that
 * thresholds, dashboards and reports can tell the steps apart, each retrying as a real person does
 * (on overload or a timeout, with backoff, up to a limit) and each ending in one outcome:
 * continued, rejected (the rules said no), or failed (the system said no: status class, timeout,
 * or the dependency named in the error).
 */

export type StepName =
  | 'create_account'
  | 'verify_email'
  | 'login'
  | 'submit_biodata'
  | 'upload_photo'
  | 'submit_assessment'
  | 'join_wave'
  | 'read_status';

export interface Endpoints {
  registration: string;
  email: string;
}

export type StepResult =
  | { outcome: 'continued'; res: RefinedResponse<'text'>; attempts: number }
  | { outcome: 'rejected'; reason: string; res: RefinedResponse<'text'>; attempts: number }
  | { outcome: 'failed'; reason: string; attempts: number };

interface ErrorBody {
  error?: { code?: string; dependency?: string; details?: { dependency?: string } };
}

function errorBody(res: RefinedResponse<'text'>): ErrorBody {
  try {
    const parsed = JSON.parse(String(res.body ?? ''));
    return typeof parsed === 'object' && parsed !== null ? (parsed as ErrorBody) : {};
  } catch {
    return {};
  }
}

/** Why the system failed a request: the dependency it names, else the status class or the transport error. */
export function failureReason(res: RefinedResponse<'text'>): string {
  if (res.error_code === 1050 || res.status === 0) return res.error_code === 1050 ? 'timeout' : 'connection';
  const body = errorBody(res);
  const dependency = body.error?.dependency ?? body.error?.details?.dependency;
  if (dependency) return `dependency:${dependency}`;
  if (res.status === 504) return 'timeout';
  return `http_${Math.floor(res.status / 100)}xx`;
}

/** A status the registrant can do nothing about but wait and try again. */
function retryable(res: RefinedResponse<'text'>): boolean {
  return (
    res.status === 0 || res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504
  );
}

/** The registrant's wait before trying again: their own backoff, or longer if the server asked (Retry-After). */
function waitBeforeRetry(policy: RetryPolicy, attempt: number, retryAfter: string | undefined): number {
  const own = backoffSeconds(policy, attempt, Math.random);
  const asked = retryAfter ? Number(retryAfter) : Number.NaN;
  return Number.isFinite(asked) ? Math.max(own, Math.min(asked, policy.maxBackoffS)) : own;
}

export interface CallOptions {
  step: StepName;
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  body?: RequestBody | null;
  token?: string;
  json?: boolean;
  /** statuses that mean success for this step */
  ok: number[];
  /**
   * statuses that are the rules' answer (422 too young, 409 wave full): not the system failing, so
   * not counted in http_req_failed and its error-rate SLO
   */
  answers?: number[];
  retry: RetryPolicy;
  timeout?: string;
}

/** One step's request with retries; never throws for an HTTP outcome. */
export async function callStep(o: CallOptions): Promise<StepResult> {
  const headers: Record<string, string> = {};
  if (o.json) headers['Content-Type'] = 'application/json';
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  let last: RefinedResponse<'text'> | undefined;
  for (let attempt = 1; attempt <= o.retry.attempts; attempt++) {
    const res = await http.asyncRequest(o.method, o.url, o.body ?? null, {
      headers,
      tags: { step: o.step, name: `${o.step}` },
      responseCallback: http.expectedStatuses(...o.ok, ...(o.answers ?? [])),
      timeout: o.timeout ?? '30s',
      responseType: 'text',
    });
    last = res;
    if (o.ok.indexOf(res.status) >= 0) return { outcome: 'continued', res, attempts: attempt };
    if (!retryable(res)) {
      // 4xx other than 429: the rules said no (or our request was wrong, which a check will show).
      if (res.status >= 400 && res.status < 500) {
        return {
          outcome: 'rejected',
          reason: errorBody(res).error?.code ?? `http_${res.status}`,
          res,
          attempts: attempt,
        };
      }
      return { outcome: 'failed', reason: failureReason(res), attempts: attempt };
    }
    if (attempt < o.retry.attempts) {
      await sleep(waitBeforeRetry(o.retry, attempt, res.headers['Retry-After']));
    }
  }
  return { outcome: 'failed', reason: last ? failureReason(last) : 'no_attempt', attempts: o.retry.attempts };
}

export interface Biodata {
  fullName: string;
  placeOfBirth: string;
  dateOfBirth: string;
  gender: 'M' | 'F';
  nik: string;
  address: Address;
  occupationStatus: 'laid_off' | 'furloughed' | 'micro_business' | 'other';
}

const json = JSON.stringify;

/** The biodata a person types into the form (never the registry's own fields). */
export function biodataOf(p: Person, occupationStatus: Biodata['occupationStatus'] = 'other'): Biodata {
  return {
    fullName: p.fullName,
    placeOfBirth: p.placeOfBirth,
    dateOfBirth: p.dateOfBirth,
    gender: p.gender,
    nik: p.nik,
    address: p.address,
    occupationStatus,
  };
}

export function createAccount(api: Endpoints, email: string, password: string, retry: RetryPolicy) {
  return callStep({
    step: 'create_account',
    method: 'POST',
    url: `${api.registration}/api/v1/accounts`,
    body: json({ email, password }),
    json: true,
    ok: [201],
    retry,
  });
}

interface MailboxMessage {
  links?: string[];
}

/**
 * Reads the registrant's mailbox until the verification link arrives (or `waitS` passes: the email
 * never came, a system failure at this stage), then follows it.
 */
export async function verifyEmail(
  api: Endpoints,
  email: string,
  retry: RetryPolicy,
  waitS: number,
  pollS = 0.5,
): Promise<StepResult> {
  const polls = Math.max(1, Math.ceil(waitS / pollS));
  let token = '';
  for (let i = 0; i < polls && !token; i++) {
    const res = await http.asyncRequest(
      'GET',
      `${api.email}/api/v1/mailboxes/${encodeURIComponent(email)}/messages`,
      null,
      {
        tags: { step: 'read_mailbox', name: 'read_mailbox' },
        responseType: 'text',
      },
    );
    if (res.status === 200) {
      const messages = JSON.parse(String(res.body)) as MailboxMessage[];
      for (const m of messages) {
        for (const link of m.links ?? []) {
          const match = /verify-email\?token=([A-Za-z0-9_-]+)/.exec(link);
          if (match?.[1]) token = match[1];
        }
      }
    }
    if (!token) await sleep(pollS);
  }
  if (!token) return { outcome: 'failed', reason: 'dependency:email', attempts: polls };
  return callStep({
    step: 'verify_email',
    method: 'POST',
    url: `${api.registration}/api/v1/email-verifications`,
    body: json({ token }),
    json: true,
    ok: [200],
    retry,
  });
}

export async function login(api: Endpoints, email: string, password: string, retry: RetryPolicy) {
  const r = await callStep({
    step: 'login',
    method: 'POST',
    url: `${api.registration}/api/v1/sessions`,
    body: json({ email, password }),
    json: true,
    ok: [201],
    retry,
  });
  return r;
}

/** The bearer token of a successful login. */
export function sessionToken(r: StepResult): string {
  if (r.outcome !== 'continued') return '';
  const body = r.res.json() as { token?: string } | null;
  return body?.token ?? '';
}

export function submitBiodata(api: Endpoints, token: string, biodata: Biodata, retry: RetryPolicy) {
  return callStep({
    step: 'submit_biodata',
    method: 'PUT',
    url: `${api.registration}/api/v1/me/biodata`,
    body: json(biodata),
    json: true,
    token,
    ok: [200],
    answers: [422],
    retry,
  });
}

export function uploadPhoto(api: Endpoints, token: string, photo: ArrayBuffer, retry: RetryPolicy) {
  return callStep({
    step: 'upload_photo',
    method: 'PUT',
    url: `${api.registration}/api/v1/me/ktp-photo`,
    body: { photo: http.file(photo, 'ktp.jpg', 'image/jpeg') },
    token,
    ok: [201],
    retry,
    timeout: '60s',
  });
}

export function submitAssessment(
  api: Endpoints,
  token: string,
  answers: { motivation: string; answers: number[] },
  retry: RetryPolicy,
) {
  return callStep({
    step: 'submit_assessment',
    method: 'POST',
    url: `${api.registration}/api/v1/me/assessment`,
    body: json(answers),
    json: true,
    token,
    ok: [200],
    retry,
  });
}

export function joinWave(api: Endpoints, token: string, wave: number, retry: RetryPolicy) {
  return callStep({
    step: 'join_wave',
    method: 'POST',
    url: `${api.registration}/api/v1/waves/${wave}/join`,
    token,
    ok: [201],
    answers: [409],
    retry,
  });
}

export async function readStatus(api: Endpoints, token: string, retry: RetryPolicy) {
  const r = await callStep({
    step: 'read_status',
    method: 'GET',
    url: `${api.registration}/api/v1/me/status`,
    token,
    ok: [200],
    retry,
  });
  if (r.outcome === 'continued') {
    check(r.res, {
      'status names a stage': (res) => typeof (res.json() as { stage?: unknown })?.stage === 'string',
    });
  }
  return r;
}
