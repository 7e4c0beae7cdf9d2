import { check, sleep } from 'k6';
import exec from 'k6/execution';
import http, { type RefinedResponse, type RequestBody } from 'k6/http';
import { Counter } from 'k6/metrics';
import { backoffSeconds, type RetryPolicy } from '../../model/behaviour.ts';
import {
  MAILBOX_POLL_S,
  PHOTO_TIMEOUT_S,
  REQUEST_TIMEOUT_S,
  RETRYABLE_STATUSES,
  STILL_RUNNING_CODE,
  WAITING_ROOM_PATIENCE,
  type WaitingRoomPatience,
} from '../../model/journey.ts';
import type { Address, Person } from '../../model/population.ts';
import { SLOS } from '../../model/slo.ts';

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
  // Its retries used up on a request the service never finished: said as the service says it.
  if (res.status === 409 && body.error?.code === STILL_RUNNING_CODE) return STILL_RUNNING_CODE;
  return `http_${Math.floor(res.status / 100)}xx`;
}

/**
 * step_slow_requests{step, above_ms}: 1 for each request of a step that took longer than the
 * step's p95 objective (model/slo.ts), 0 for the others. Beside http_reqs it tells how many of an
 * interval's requests were slow, which k6's Prometheus output cannot: it keeps a trend's
 * percentiles since the start of the test, not per interval. Created when the module loads, in
 * the init context, as k6 requires of metrics.
 */
const slowRequests = new Counter('step_slow_requests');

function countSlow(step: StepName, res: RefinedResponse<'text'>): void {
  const above = SLOS[step].p95Ms;
  slowRequests.add(res.timings.duration > above ? 1 : 0, { step, above_ms: String(above) });
}

/** A status the registrant can do nothing about but wait and try again. */
function retryable(res: RefinedResponse<'text'>): boolean {
  if (RETRYABLE_STATUSES.indexOf(res.status) >= 0) return true;
  return res.status === 409 && errorBody(res).error?.code === STILL_RUNNING_CODE;
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
  /** the step's own headers (a waiting-room ticket) */
  headers?: Record<string, string>;
  /**
   * error codes that end the call at once, handed back as `rejected` with the code as reason and
   * no retry attempt spent: a waiting room's "come back later" is not a failure to retry
   */
  handBack?: string[];
}

const randomPart = () => Math.random().toString(36).slice(2, 12);

/**
 * An Idempotency-Key for one step of one registrant: the VU and its iteration where there is one
 * (setup has neither), the clock, and about 100 random bits, so that no two registrants share one.
 */
function idempotencyKey(step: StepName): string {
  let where = 'setup';
  try {
    where = `${exec.vu.idInTest}.${exec.vu.iterationInScenario}`;
  } catch {
    // outside an iteration (setup): the clock and the random part are unique enough
  }
  return `${step}.${where}.${Date.now().toString(36)}.${randomPart()}${randomPart()}`;
}

/** One step's request with retries; never throws for an HTTP outcome. */
export async function callStep(o: CallOptions): Promise<StepResult> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.json) headers['Content-Type'] = 'application/json';
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  // One key for every attempt of the step: when an answer is lost (a timeout) and the registrant
  // tries again, a service with IDEMPOTENCY=on answers with the first answer instead of acting
  // twice; a 2020 service ignores the header.
  if (o.method !== 'GET') headers['Idempotency-Key'] = idempotencyKey(o.step);
  let last: RefinedResponse<'text'> | undefined;
  for (let attempt = 1; attempt <= o.retry.attempts; attempt++) {
    const res = await http.asyncRequest(o.method, o.url, o.body ?? null, {
      headers,
      tags: { step: o.step, name: `${o.step}` },
      responseCallback: http.expectedStatuses(...o.ok, ...(o.answers ?? [])),
      timeout: o.timeout ?? `${REQUEST_TIMEOUT_S}s`,
      responseType: 'text',
    });
    countSlow(o.step, res);
    last = res;
    if (o.ok.indexOf(res.status) >= 0) return { outcome: 'continued', res, attempts: attempt };
    const code = o.handBack && res.status >= 400 ? errorBody(res).error?.code : undefined;
    if (code !== undefined && o.handBack && o.handBack.indexOf(code) >= 0)
      return { outcome: 'rejected', reason: code, res, attempts: attempt };
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

/** How long a registrant stays in a waiting room, and how long at most between two looks at it. */
interface WaitingRoomBody {
  error?: { code?: string; details?: { ticket?: unknown } };
}

/**
 * Step 1, through the service's waiting room when it has one (ADMISSION_RATE > 0): told to come
 * back later (429 waiting_room), the registrant keeps the ticket, waits as told and comes back
 * with it, keeping the place. The waiting spends none of the retry attempts, which are for errors.
 */
export async function createAccount(
  api: Endpoints,
  email: string,
  password: string,
  retry: RetryPolicy,
  patience: WaitingRoomPatience = WAITING_ROOM_PATIENCE,
): Promise<StepResult> {
  let ticket = '';
  let waitedS = 0;
  for (;;) {
    const r = await callStep({
      step: 'create_account',
      method: 'POST',
      url: `${api.registration}/api/v1/accounts`,
      body: json({ email, password }),
      json: true,
      headers: ticket ? { 'Waiting-Room-Ticket': ticket } : {},
      ok: [201],
      // The waiting room's answer is the service working as designed, not an error.
      answers: [429],
      handBack: ['waiting_room', 'ticket_expired'],
      retry,
    });
    if (r.outcome !== 'rejected' || (r.reason !== 'waiting_room' && r.reason !== 'ticket_expired')) return r;
    if (r.reason === 'ticket_expired') {
      if (!ticket) return r;
      // Came back too late: a new place at the end of the line.
      ticket = '';
      continue;
    }
    const body = (() => {
      try {
        return JSON.parse(String(r.res.body ?? '')) as WaitingRoomBody;
      } catch {
        return {};
      }
    })();
    const given = body.error?.details?.ticket;
    if (typeof given === 'string' && given) ticket = given;
    const asked = Number(r.res.headers['Retry-After']);
    const left = patience.maxWaitS - waitedS;
    if (left <= 0) return { outcome: 'failed', reason: 'waiting_room', attempts: r.attempts };
    // At least a moment, so that a patience of zero polls cannot spin.
    const wait = Math.max(
      0.1,
      Math.min(Number.isFinite(asked) && asked > 0 ? asked : 1, patience.maxPollS, left),
    );
    await sleep(wait);
    waitedS += wait;
  }
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
  pollS = MAILBOX_POLL_S,
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

/**
 * How the registrant's app sends the KTP photo: `service` (2020: the bytes through the service) or
 * `presigned` (to the object store with a signed URL, then confirmed). The scenario's knob
 * PHOTO_UPLOAD; read it in the init context, so that a typo stops the run before any load.
 */
export type PhotoUpload = 'service' | 'presigned';

export function photoUploadFromEnv(env: Record<string, string | undefined>): PhotoUpload {
  const v = env.PHOTO_UPLOAD;
  if (v === undefined || v === '' || v === 'service') return 'service';
  if (v === 'presigned') return 'presigned';
  throw new Error(`environment variable PHOTO_UPLOAD: expected service or presigned, got '${v}'`);
}

/** The photo step, one outcome whichever way the photo goes (`mode`: see PhotoUpload). */
export function uploadPhoto(
  api: Endpoints,
  token: string,
  photo: ArrayBuffer,
  retry: RetryPolicy,
  mode: PhotoUpload = 'service',
): Promise<StepResult> {
  if (mode === 'presigned') return uploadPhotoPresigned(api, token, photo, retry);
  return callStep({
    step: 'upload_photo',
    method: 'PUT',
    url: `${api.registration}/api/v1/me/ktp-photo`,
    body: { photo: http.file(photo, 'ktp.jpg', 'image/jpeg') },
    token,
    ok: [201],
    retry,
    timeout: `${PHOTO_TIMEOUT_S}s`,
  });
}

/**
 * The presigned flow: ask the service for an upload URL, PUT the bytes to the object store, then
 * have the service confirm what the store holds. All three requests are the step upload_photo
 * (the step's latency and error objectives judge the photo however it travels); the PUT to the
 * store is named upload_put. The first that fails ends the step with its outcome.
 */
async function uploadPhotoPresigned(
  api: Endpoints,
  token: string,
  photo: ArrayBuffer,
  retry: RetryPolicy,
): Promise<StepResult> {
  const declared = await callStep({
    step: 'upload_photo',
    method: 'POST',
    url: `${api.registration}/api/v1/me/ktp-photo/upload-url`,
    body: json({ contentType: 'image/jpeg', size: photo.byteLength }),
    json: true,
    token,
    ok: [201],
    retry,
  });
  if (declared.outcome !== 'continued') return declared;
  const target = declared.res.json() as { url?: unknown; headers?: Record<string, string> } | null;
  if (typeof target?.url !== 'string') {
    check(declared.res, { 'the upload URL answer has a url': () => false });
    return { outcome: 'failed', reason: 'http_2xx', attempts: declared.attempts };
  }
  const stored = await putToStore(target.url, photo, target.headers ?? {}, retry);
  if (stored.outcome !== 'continued') return stored;
  return callStep({
    step: 'upload_photo',
    method: 'POST',
    url: `${api.registration}/api/v1/me/ktp-photo/confirm`,
    token,
    ok: [201],
    retry,
  });
}

/**
 * The PUT of the photo to a presigned URL, retried as callStep retries (it writes one key, so a
 * repeat is harmless). Anything but 201 is the object store failing: `dependency:upload`, as when
 * the service's own upload to the store fails.
 */
async function putToStore(
  url: string,
  photo: ArrayBuffer,
  headers: Record<string, string>,
  retry: RetryPolicy,
): Promise<StepResult> {
  for (let attempt = 1; attempt <= retry.attempts; attempt++) {
    const res = await http.asyncRequest('PUT', url, photo, {
      // The service's headers are what the URL was signed for (lower-case names, as it sends them).
      headers: { 'content-type': 'image/jpeg', ...headers },
      tags: { step: 'upload_photo', name: 'upload_put' },
      responseCallback: http.expectedStatuses(201),
      timeout: `${PHOTO_TIMEOUT_S}s`,
      responseType: 'text',
    });
    countSlow('upload_photo', res);
    if (res.status === 201) return { outcome: 'continued', res, attempts: attempt };
    // An object store's 500 means "try again" (S3's InternalError; its SDKs retry it), and an
    // app's upload library does: through the service the same failure arrives as a retryable 503.
    if (!(retryable(res) || res.status >= 500) || attempt === retry.attempts)
      return { outcome: 'failed', reason: 'dependency:upload', attempts: attempt };
    await sleep(waitBeforeRetry(retry, attempt, res.headers['Retry-After']));
  }
  return { outcome: 'failed', reason: 'no_attempt', attempts: retry.attempts };
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
