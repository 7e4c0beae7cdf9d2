import { Agent, FormData, request } from 'undici';
import { parseDuration } from '../options/duration.ts';
import { currentVu, runtime } from '../runtime.ts';
import { armPhases, phases } from './http-timings.ts';

/**
 * `k6/http` for the portable subset: `await http.asyncRequest(...)` with k6's params, Response,
 * built-in metrics and tags. The synchronous http.get/post/... cannot be offered without blocking
 * every VU of the thread, so they throw and say what to use instead.
 *
 * Timings come from undici's diagnostics channels (http-timings.ts): blocked, connecting,
 * sending, waiting, receiving as k6 defines them; `duration` = sending + waiting + receiving.
 * `tls_handshaking` is 0: the runner targets plain HTTP on loopback.
 */

export interface FileData {
  data: string | ArrayBuffer;
  filename?: string;
  content_type?: string;
  __k6File: true;
}

export interface Params {
  headers?: Record<string, string>;
  tags?: Record<string, string>;
  timeout?: string | number;
  responseType?: 'text' | 'binary' | 'none';
  redirects?: number;
  responseCallback?: (res: { status: number }) => boolean;
}

interface Timings {
  blocked: number;
  connecting: number;
  tls_handshaking: number;
  sending: number;
  waiting: number;
  receiving: number;
  duration: number;
}

export class Response {
  constructor(
    readonly status: number,
    readonly body: string | ArrayBuffer | null,
    readonly headers: Record<string, string>,
    readonly timings: Timings,
    readonly url: string,
    readonly error: string,
    readonly error_code: number,
    readonly request: { method: string; url: string; headers: Record<string, string> },
    readonly status_text: string,
  ) {}

  readonly proto = 'HTTP/1.1';
  readonly remote_ip = '';
  readonly remote_port = 0;
  readonly cookies: Record<string, unknown> = {};

  json(selector?: string): unknown {
    if (this.body === null) throw new Error('the response has no body (responseType none?)');
    const text = typeof this.body === 'string' ? this.body : Buffer.from(this.body).toString('utf8');
    let value: unknown = JSON.parse(text);
    if (selector) {
      for (const part of selector.split('.')) {
        if (value === null || typeof value !== 'object') return undefined;
        value = (value as Record<string, unknown>)[part];
      }
    }
    return value;
  }

  html(): never {
    throw new Error('Response.html() is not supported by the embedded runner');
  }
}

export function file(data: string | ArrayBuffer, filename?: string, contentType?: string): FileData {
  return {
    data,
    filename: filename ?? 'file',
    content_type: contentType ?? 'application/octet-stream',
    __k6File: true,
  };
}

const isFile = (v: unknown): v is FileData =>
  typeof v === 'object' && v !== null && (v as FileData).__k6File === true;

let agent: Agent | undefined;
function dispatcher(): Agent {
  agent ??= new Agent({
    keepAliveTimeout: 60_000,
    keepAliveMaxTimeout: 600_000,
    connections: null,
    pipelining: 1,
  });
  return agent;
}

let expected: (status: number) => boolean = (s) => s >= 200 && s < 400;

/** http.expectedStatuses(200, {min: 300, max: 399}, ...) for setResponseCallback. */
export function expectedStatuses(
  ...specs: Array<number | { min: number; max: number }>
): (res: { status: number }) => boolean {
  return (res) =>
    specs.some((s) =>
      typeof s === 'number' ? res.status === s : res.status >= s.min && res.status <= s.max,
    );
}

export function setResponseCallback(cb: ((res: { status: number }) => boolean) | null): void {
  expected = cb ? (s) => cb({ status: s }) : () => true;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/i;

const canonicalNames = new Map<string, string>();
/** Content-Type, as k6 (Go) spells header names; cached: responses repeat the same few names. */
function canonicalHeader(name: string): string {
  let c = canonicalNames.get(name);
  if (c === undefined) {
    c = name.replace(/(^|-)([a-z])/g, (_, dash: string, ch: string) => `${dash}${ch.toUpperCase()}`);
    if (canonicalNames.size < 1000) canonicalNames.set(name, c);
  }
  return c;
}

function errorCode(err: unknown): { code: number; message: string } {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  const message = e.message ?? String(err);
  if (
    e.name === 'TimeoutError' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT' ||
    code === 'ABORT_ERR'
  ) {
    return { code: 1050, message: 'request timeout' };
  }
  if (code === 'ECONNREFUSED') return { code: 1212, message: `dial: connection refused (${message})` };
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return { code: 1211, message: 'dial: i/o timeout' };
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET')
    return { code: 1220, message: `read: connection reset by peer (${message})` };
  if (code === 'ENOTFOUND') return { code: 1101, message: `lookup: no such host (${message})` };
  if (code === 'EPIPE') return { code: 1201, message: 'write: broken pipe' };
  return { code: 1000, message };
}

function encodeBody(
  body: unknown,
  headers: Record<string, string>,
): { payload: string | Buffer | FormData | undefined; size: number } {
  if (body === null || body === undefined) return { payload: undefined, size: 0 };
  if (typeof body === 'string') return { payload: body, size: Buffer.byteLength(body) };
  if (body instanceof ArrayBuffer) return { payload: Buffer.from(body), size: body.byteLength };
  if (ArrayBuffer.isView(body))
    return { payload: Buffer.from(body.buffer, body.byteOffset, body.byteLength), size: body.byteLength };
  if (typeof body === 'object') {
    const entries = Object.entries(body as Record<string, unknown>);
    if (entries.some(([, v]) => isFile(v))) {
      const form = new FormData();
      let size = 0;
      for (const [k, v] of entries) {
        if (isFile(v)) {
          const bytes =
            typeof v.data === 'string' ? Buffer.from(v.data) : Buffer.from(new Uint8Array(v.data));
          size += bytes.length;
          form.append(k, new Blob([bytes], { type: v.content_type }), v.filename);
        } else {
          size += String(v).length;
          form.append(k, String(v));
        }
      }
      return { payload: form, size };
    }
    const text = new URLSearchParams(entries.map(([k, v]) => [k, String(v)] as [string, string])).toString();
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
    return { payload: text, size: text.length };
  }
  throw new Error(`unsupported request body of type ${typeof body}`);
}

export async function asyncRequest(
  method: string,
  url: string,
  body?: unknown,
  params: Params = {},
): Promise<Response> {
  const rt = runtime();
  if (rt.initPhase) throw new Error('http requests cannot be made in the init context');
  const vu = currentVu();
  const headers: Record<string, string> = {
    'User-Agent': 'gelombang-runner (k6 compatible)',
    ...(params.headers ?? {}),
  };
  const timeoutMs = params.timeout === undefined ? 60_000 : parseDuration(params.timeout, 'params.timeout');
  const upper = method.toUpperCase();
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  const tags: Record<string, string> = {
    ...rt.globalTags,
    ...(vu?.tags ?? {}),
    ...(vu ? { scenario: vu.scenario } : {}),
    method: upper,
    url,
    name: url,
    proto: 'HTTP/1.1',
    group: '',
    ...(params.tags ?? {}),
  };
  const req = { method: upper, url, headers };
  if (parsed && !LOOPBACK.test(parsed.hostname) && rt.env.GELOMBANG_ALLOW_REMOTE !== '1') {
    throw new Error(
      `refusing to send ${upper} ${url}: ${parsed.hostname} is not a loopback address. Pointing load at a remote system must be confirmed explicitly (gelombang run --allow-remote-target).`,
    );
  }

  const t0 = performance.now();
  let marks: ReturnType<typeof armPhases> | undefined;
  let status = 0;
  let statusText = '';
  let resHeaders: Record<string, string> = {};
  let resBody: string | ArrayBuffer | null = null;
  let error = '';
  let code = 0;
  let tHeaders = t0;
  let received = 0;
  let sent = upper.length + url.length + 12;
  for (const [k, v] of Object.entries(headers)) sent += k.length + v.length + 4;
  try {
    if (!parsed) throw Object.assign(new Error(`invalid URL "${url}"`), { code: 'INVALID_URL' });
    const { payload, size } = encodeBody(body, headers);
    sent += size;
    marks = armPhases();
    const res = await request(parsed, {
      method: upper as 'GET',
      headers,
      body: payload as string | Buffer | undefined,
      dispatcher: dispatcher(),
      // undici's own timers: an AbortSignal per request costs ~5 % of the runner's throughput.
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    tHeaders = performance.now();
    status = res.statusCode;
    for (const [k, v] of Object.entries(res.headers)) {
      const value = Array.isArray(v) ? v.join(', ') : String(v ?? '');
      resHeaders[canonicalHeader(k)] = value;
      received += k.length + value.length + 4;
    }
    received += 17;
    const buf = Buffer.from(await res.body.arrayBuffer());
    received += buf.length;
    if (params.responseType === 'none') resBody = null;
    else if (params.responseType === 'binary')
      resBody = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    else resBody = buf.toString('utf8');
    statusText = `${status}`;
  } catch (err) {
    if ((err as { code?: string }).code === 'INVALID_URL') {
      error = (err as Error).message;
      code = 1020;
    } else {
      const e = errorCode(err);
      error = e.message;
      code = e.code;
    }
    status = 0;
    resHeaders = {};
    tHeaders = performance.now();
  }
  const tEnd = performance.now();
  const p = marks
    ? phases(marks, t0, tEnd)
    : { blocked: 0, connecting: 0, sending: 0, waiting: tHeaders - t0, receiving: tEnd - tHeaders };
  const timings: Timings = {
    blocked: p.blocked,
    connecting: p.connecting,
    tls_handshaking: 0,
    sending: p.sending,
    waiting: p.waiting,
    receiving: p.receiving,
    duration: p.sending + p.waiting + p.receiving,
  };
  const ok = code === 0 && (params.responseCallback ? params.responseCallback({ status }) : expected(status));
  // data_sent/received carry the request's tags; the http_req_* samples add the outcome to the same object.
  rt.emit('data_sent', sent, tags);
  rt.emit('data_received', received, tags);
  const sampleTags = tags;
  sampleTags.status = String(status);
  sampleTags.expected_response = ok ? 'true' : 'false';
  if (code) sampleTags.error_code = String(code);
  rt.emit('http_reqs', 1, sampleTags);
  rt.emit('http_req_duration', timings.duration, sampleTags);
  rt.emit('http_req_blocked', timings.blocked, sampleTags);
  rt.emit('http_req_connecting', timings.connecting, sampleTags);
  rt.emit('http_req_tls_handshaking', 0, sampleTags);
  rt.emit('http_req_sending', timings.sending, sampleTags);
  rt.emit('http_req_waiting', timings.waiting, sampleTags);
  rt.emit('http_req_receiving', timings.receiving, sampleTags);
  rt.emit('http_req_failed', ok ? 0 : 1, sampleTags);
  return new Response(status, resBody, resHeaders, timings, url, error, code, req, statusText);
}

const syncNotPortable = (name: string) => () => {
  throw new Error(
    `http.${name}() blocks the whole VU runtime and is not part of the portable subset: use 'await http.asyncRequest(method, url, body, params)' (k6 v0.43+ runs it too).`,
  );
};

export const get = syncNotPortable('get');
export const post = syncNotPortable('post');
export const put = syncNotPortable('put');
export const patch = syncNotPortable('patch');
export const del = syncNotPortable('del');
export const head = syncNotPortable('head');
export const options = syncNotPortable('options');
export const batch = syncNotPortable('batch');
export const syncRequest = syncNotPortable('request');

export default {
  asyncRequest,
  file,
  expectedStatuses,
  setResponseCallback,
  get,
  post,
  put,
  patch,
  del,
  head,
  options,
  batch,
  request: syncRequest,
};
