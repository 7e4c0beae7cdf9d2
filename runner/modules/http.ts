import type { Tags } from '../metrics/api.ts';
import { parseDuration } from '../options/duration.ts';
import { currentVu, type Runtime, runtime, type VuState, withVuTags } from '../runtime.ts';
import {
  type CookieParams,
  cookieHeader,
  type ResponseCookie,
  responseCookies,
  storeCookies,
} from './cookies.ts';
import { type EncodedBody, encodeBody, type FileData } from './http-client/body.ts';
import { type ClientResponse, failedBeforeSending, HttpClient } from './http-client/client.ts';
import { ClientError, k6Error } from './http-client/errors.ts';
import { parseTarget, type Target } from './http-client/target.ts';
import { goError, NULL_BODY, parseJson, selectJson, UnsupportedSelector } from './json.ts';
import { type Hop, nextHop } from './redirects.ts';

export type { FileData } from './http-client/body.ts';

/**
 * `k6/http` for the portable subset: `await http.asyncRequest(...)` with k6's params, Response,
 * built-in metrics and tags. The synchronous http.get/post/... cannot be offered without blocking
 * every VU of the thread: a script that calls them is refused (see ../unsupported.ts).
 *
 * Requests go through the runner's own HTTP/1.1 client (http-client/), which measures k6's
 * phases itself: blocked, connecting, tls_handshaking, sending, waiting, receiving;
 * `duration` = sending + waiting + receiving.
 */

export interface Params {
  headers?: Record<string, string>;
  tags?: Record<string, string>;
  timeout?: string | number;
  responseType?: 'text' | 'binary' | 'none';
  redirects?: number;
  responseCallback?: (res: { status: number }) => boolean;
  /** sent besides the VU's jar; `replace: true` in place of the jar's cookie of that name */
  cookies?: CookieParams;
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
    /** the first request of the call (a redirect's hops are not it), as it was sent */
    private readonly sentFirst: SentRequest,
    readonly status_text: string,
    /** this response's own Set-Cookie headers by name (the VU's jar keeps them for later requests) */
    readonly cookies: Record<string, ResponseCookie[]> = {},
  ) {
    this.proto = status === 0 ? '' : 'HTTP/1.1';
  }

  /** HTTP/1.1 for an answer, '' for a request that got none (as k6) */
  readonly proto: string;

  /**
   * As k6 gives it: the call's first request, each header's values in an array (Go's
   * http.Header), its body as text and its cookies by name. Made when read: a photo's body is
   * not decoded for every upload.
   */
  get request(): RequestView {
    const { method, url, headers, body } = this.sentFirst;
    const arrays: Record<string, string[]> = {};
    let cookie = '';
    for (const name in headers) {
      arrays[name] = [headers[name] as string];
      if (name.toLowerCase() === 'cookie') cookie = headers[name] as string;
    }
    const cookies: RequestView['cookies'] = {};
    for (const pair of cookie ? cookie.split('; ') : []) {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      const c = { name, value: eq < 0 ? '' : pair.slice(eq + 1), replace: false };
      const same = cookies[name];
      if (same) same.push(c);
      else cookies[name] = [c];
    }
    return { method, url, headers: arrays, body: body ? body.toString('utf8') : '', cookies };
  }

  /** JSON.stringify(res): the fields a script reads, the request among them. */
  toJSON(): Record<string, unknown> {
    const { sentFirst: _, ...fields } = this;
    return { ...fields, request: this.request };
  }
  readonly remote_ip = '';
  readonly remote_port = 0;

  /**
   * As k6's: the body parsed once and the same object returned again (a script may keep state on
   * it); a selector is gjson's and finds undefined in a body that is not JSON.
   */
  json(selector?: string): unknown {
    if (this.body === null) throw goError(NULL_BODY);
    const text = typeof this.body === 'string' ? this.body : Buffer.from(this.body).toString('utf8');
    if (selector !== undefined) {
      try {
        return selectJson(text, String(selector));
      } catch (err) {
        if (err instanceof UnsupportedSelector) return runtime().refuse('Response.json', String(selector));
        throw err;
      }
    }
    if (!parsedBodies.has(this)) parsedBodies.set(this, parseJson(text));
    return parsedBodies.get(this);
  }

  html(..._args: unknown[]): never {
    return runtime().refuse('Response', 'html');
  }

  submitForm(..._args: unknown[]): never {
    return runtime().refuse('Response', 'submitForm');
  }

  clickLink(..._args: unknown[]): never {
    return runtime().refuse('Response', 'clickLink');
  }
}

/** Response.json()'s parse of each body, kept off the Response so that toJSON() does not show it. */
const parsedBodies = new WeakMap<Response, unknown>();

export function file(data: string | ArrayBuffer, filename?: string, contentType?: string): FileData {
  return {
    data,
    filename: filename ?? 'file',
    content_type: contentType ?? 'application/octet-stream',
    __k6File: true,
  };
}

/**
 * One client per VU, as k6 gives each VU a Transport of its own (js/runner.go newVU): a VU's
 * requests reuse its own kept-alive connections, across its iterations, and never another VU's;
 * setup and teardown share one. A client per worker thread had every VU of the thread take
 * whichever connection was idle and open one when none was: on a loaded rehearsal a tenth of the
 * light steps' requests then waited for the server to accept a new connection, five times the
 * latency of a reused one, in shares that differed by step.
 */
const clients = new Map<number, HttpClient>();

/** The test's options that k6/http reads (the runtime's snapshot of the script's options). */
interface HttpOptions {
  insecureSkipTLSVerify?: boolean;
  maxRedirects?: number;
  noCookiesReset?: boolean;
  discardResponseBodies?: boolean;
  userAgent?: string;
  noConnectionReuse?: boolean;
  noVUConnectionReuse?: boolean;
  throw?: boolean;
}

const DEFAULT_USER_AGENT = 'gelombang-runner (k6 compatible)';
/** the runtime whose calls' ends close their VU's connections (one listener per worker thread) */
let closingOnCallEnd: Runtime | undefined;

/**
 * The VU's client, made with the test's options as its first request finds them (they are set when
 * the test starts, not in setup): insecureSkipTLSVerify, noVUConnectionReuse.
 */
function clientFor(rt: Runtime, vu: VuState | undefined, o: HttpOptions | undefined): HttpClient {
  const key = vu?.idInInstance ?? 0;
  let client = clients.get(key);
  if (client === undefined) {
    client = new HttpClient(o?.insecureSkipTLSVerify === true ? { rejectUnauthorized: false } : {});
    clients.set(key, client);
    // k6's noVUConnectionReuse: the VU's idle connections closed as each call of the script ends
    // (js/runner.go runFn), so every iteration, setup and teardown opens its own.
    if (o?.noVUConnectionReuse === true && closingOnCallEnd !== rt) {
      closingOnCallEnd = rt;
      rt.onCallEnd((ended) => clients.get(ended.idInInstance ?? 0)?.close());
    }
  }
  return client;
}

const defaultExpected = (s: number) => s >= 200 && s < 400;
let expected: (status: number) => boolean = defaultExpected;
const expectedResponse = (res: { status: number }) => expected(res.status);

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

/** Already as Go spells it: an upper-case letter first and after each dash, lower-case elsewhere. */
function isCanonical(name: string): boolean {
  let upper = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2d) upper = true;
    else {
      if (upper ? c >= 0x61 && c <= 0x7a : c >= 0x41 && c <= 0x5a) return false;
      upper = false;
    }
  }
  return true;
}

const canonicalNames = new Map<string, string>();
/** Content-Type, as k6 (Go) spells header names; cached: responses repeat the same few names. */
function canonicalHeader(name: string): string {
  if (isCanonical(name)) return name;
  let c = canonicalNames.get(name);
  if (c === undefined) {
    c = name
      .toLowerCase()
      .replace(/(^|-)([a-z])/g, (_, dash: string, ch: string) => `${dash}${ch.toUpperCase()}`);
    if (canonicalNames.size < 1000) canonicalNames.set(name, c);
  }
  return c;
}

/** Headers in canonical case; a repeated header's values joined with ", ". */
function responseHeaders(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = canonicalHeader(raw[i] as string);
    const value = raw[i + 1] as string;
    const prev = out[name];
    out[name] = prev === undefined ? value : `${prev}, ${value}`;
  }
  return out;
}

function responseBody(res: ClientResponse, type: Params['responseType']): string | ArrayBuffer | null {
  if (type === 'none') return null;
  const buf = res.body;
  // A copy: the socket's chunk may share its memory with other bytes.
  if (type === 'binary') return new Uint8Array(buf).buffer;
  return buf.toString('utf8');
}

type Emit = (value: number, tags: Tags) => void;

/** k6's built-in metrics of a request, looked up once per runtime (one per worker thread). */
interface RequestSamples {
  rt: Runtime;
  reqs: Emit;
  duration: Emit;
  blocked: Emit;
  connecting: Emit;
  tlsHandshaking: Emit;
  sending: Emit;
  waiting: Emit;
  receiving: Emit;
  failed: Emit;
}

let samples: RequestSamples | undefined;
function samplesOf(rt: Runtime): RequestSamples {
  if (samples?.rt !== rt) {
    samples = {
      rt,
      reqs: rt.emitter('http_reqs'),
      duration: rt.emitter('http_req_duration'),
      blocked: rt.emitter('http_req_blocked'),
      connecting: rt.emitter('http_req_connecting'),
      tlsHandshaking: rt.emitter('http_req_tls_handshaking'),
      sending: rt.emitter('http_req_sending'),
      waiting: rt.emitter('http_req_waiting'),
      receiving: rt.emitter('http_req_receiving'),
      failed: rt.emitter('http_req_failed'),
    };
  }
  return samples;
}

/** The name a header has in `headers`, whatever its case; `lower` is the name in lower case. */
const headerName = (headers: Record<string, string>, lower: string) =>
  Object.keys(headers).find((h) => h.toLowerCase() === lower);

/** k6's default maxRedirects: a request follows up to this many redirects unless told otherwise. */
const MAX_REDIRECTS = 10;

/** What every hop of one asyncRequest shares: where it runs and what the script asked. */
interface RequestContext {
  rt: Runtime;
  vu: VuState | undefined;
  params: Params;
  timeoutMs: number;
  /** the VU's cookies are emptied at each iteration (k6's noCookiesReset: false) */
  resetCookies: boolean;
  /** the request's, or 'none' under k6's discardResponseBodies, or 'text' */
  responseType: NonNullable<Params['responseType']>;
  /** k6's throw option: a request that gets no answer rejects instead of resolving with its error */
  throws: boolean;
  client: HttpClient;
  /** the call's first request as sent, which every hop's Response gives as its `request` */
  sentFirst?: SentRequest;
}

interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

interface RequestView {
  method: string;
  url: string;
  headers: Record<string, string[]>;
  body: string;
  cookies: Record<string, Array<{ name: string; value: string; replace: boolean }>>;
}

function refuseRemote(rt: Runtime, method: string, url: string, hostname: string): void {
  if (!LOOPBACK.test(hostname) && rt.env.GELOMBANG_ALLOW_REMOTE !== '1') {
    throw new Error(
      `refusing to send ${method} ${url}: ${hostname} is not a loopback address. Pointing load at a remote system must be confirmed explicitly (gelombang run --allow-remote-target).`,
    );
  }
}

export function asyncRequest(
  method: string,
  url: string,
  body?: unknown,
  params: Params = {},
): Promise<Response> {
  // One promise per request, resolved from the socket's callback: with AsyncLocalStorage on,
  // every promise a request makes costs a hook call.
  return new Promise((resolve, reject) => {
    const rt = runtime();
    if (rt.initPhase) throw new Error('http requests cannot be made in the init context');
    const vu = currentVu();
    const options = rt.options() as HttpOptions | undefined;
    const headers: Record<string, string> = {};
    // k6 sets options.userAgent on every request (Go sends none when it is empty), and with
    // noConnectionReuse Go's transport asks the server to close: the script's headers over both.
    const userAgent = options?.userAgent ?? DEFAULT_USER_AGENT;
    if (userAgent !== '') headers['User-Agent'] = userAgent;
    if (options?.noConnectionReuse === true) headers.Connection = 'close';
    if (params.headers) for (const name in params.headers) headers[name] = params.headers[name] as string;
    const timeoutMs = params.timeout === undefined ? 60_000 : parseDuration(params.timeout, 'params.timeout');
    const upper = method.toUpperCase();
    const target = parseTarget(url);
    if (target) refuseRemote(rt, upper, url, target.hostname);
    const ctx: RequestContext = {
      rt,
      vu,
      params,
      timeoutMs,
      resetCookies: options?.noCookiesReset !== true,
      responseType: params.responseType ?? (options?.discardResponseBodies === true ? 'none' : 'text'),
      throws: options?.throw === true,
      client: clientFor(rt, vu, options),
    };
    const failed = (e: ClientError) =>
      ctx.throws
        ? reject(goError(k6Error(e).message))
        : resolve(
            finish(ctx, { method: upper, url, headers, body: undefined }, headers, failedBeforeSending(e)),
          );
    if (!target) return failed(new ClientError('INVALID_URL', `invalid URL "${url}"`));
    let encoded: EncodedBody;
    try {
      encoded = encodeBody(body);
    } catch (err) {
      return failed(new ClientError('INVALID_BODY', (err as Error).message));
    }
    if (encoded.contentType !== undefined && headerName(headers, 'content-type') === undefined)
      headers['Content-Type'] = encoded.contentType;
    const first: Hop = { method: upper, url, headers, body: encoded.bytes };
    const redirects = params.redirects ?? options?.maxRedirects ?? MAX_REDIRECTS;
    const send = (hop: Hop, hopTarget: Target, left: number) => {
      const cookies = cookieHeader(vu, hop.url, ctx.resetCookies, params.cookies);
      const sent = cookies === '' ? hop.headers : withCookies(hop.headers, cookies);
      ctx.sentFirst ??= { method: hop.method, url: hop.url, headers: sent, body: hop.body };
      ctx.client.send(
        { method: hop.method, target: hopTarget, headers: sent, body: hop.body, timeoutMs },
        (res) => {
          try {
            const response = finish(ctx, hop, sent, res);
            if (res.error && ctx.throws) {
              reject(requestError(hop, response.error));
              return;
            }
            const next =
              left > 0 && !res.error ? nextHop(first, hop, res.status, response.headers.Location) : undefined;
            const nextTarget = next && parseTarget(next.url);
            if (!next || !nextTarget) {
              resolve(response);
              return;
            }
            refuseRemote(rt, next.method, next.url, nextTarget.hostname);
            send(next, nextTarget, left - 1);
          } catch (err) {
            reject(err);
          }
        },
      );
    };
    send(first, target, redirects);
  });
}

/** The request's headers with the jar's cookies after any the script set itself. */
function withCookies(headers: Record<string, string>, cookies: string): Record<string, string> {
  const out = { ...headers };
  const own = headerName(out, 'cookie');
  if (own === undefined) out.Cookie = cookies;
  else out[own] = `${out[own]}; ${cookies}`;
  return out;
}

/** A failed request as Go's url.Error words it: Get "http://...": the error. */
const failureDetail = (hop: Hop, error: string) =>
  `${hop.method.charAt(0)}${hop.method.slice(1).toLowerCase()} "${hop.url}": ${error}`;

/**
 * What a request that got no answer rejects with under k6's throw option. k6 rejects with Go's
 * url.Error itself, which a script sees as an object whose text is failureDetail's: so is this.
 */
function requestError(hop: Hop, error: string): Error {
  const e = goError(failureDetail(hop, error));
  e.toString = () => e.message;
  return e;
}

/** The Set-Cookie headers of a response, in their order. */
function setCookieHeaders(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2)
    if ((raw[i] as string).length === 10 && (raw[i] as string).toLowerCase() === 'set-cookie')
      out.push(raw[i + 1] as string);
  return out;
}

/** The Response and k6's ten samples of one request (a hop of a redirect is one), sent with `sent`. */
function finish(ctx: RequestContext, hop: Hop, sent: Record<string, string>, res: ClientResponse): Response {
  const { rt, vu, params } = ctx;
  let status = 0;
  let statusText = '';
  let resHeaders: Record<string, string> = {};
  let resBody: string | ArrayBuffer | null = null;
  let cookies: Record<string, ResponseCookie[]> = {};
  let error = '';
  let code = 0;
  const p = res.phases;
  const timings: Timings = {
    blocked: p.blocked,
    connecting: p.connecting,
    tls_handshaking: p.tlsHandshaking,
    sending: p.sending,
    waiting: p.waiting,
    receiving: p.receiving,
    duration: p.duration,
  };
  let errorTag = '';
  if (res.error) {
    const e = k6Error(res.error);
    error = e.detail ? `${e.message} (${e.detail})` : e.message;
    errorTag = e.message;
    code = e.code;
    // k6 warns of what it does not throw
    if (!ctx.throws) rt.requestFailed(e.message, failureDetail(hop, error));
  } else {
    status = res.status;
    // k6 (Go's Response.Status) reads "200 OK": the code and the server's reason phrase.
    statusText = res.statusText ? `${status} ${res.statusText}` : `${status}`;
    resHeaders = responseHeaders(res.rawHeaders);
    resBody = responseBody(res, ctx.responseType);
    // k6 gives an HTTP error status a code too: 1000 + the status (lib/netext/httpext/transport.go).
    if (status >= 400) code = 1000 + status;
    const setCookies = setCookieHeaders(res.rawHeaders);
    if (setCookies.length) {
      storeCookies(vu, hop.url, setCookies, ctx.resetCookies);
      cookies = responseCookies(setCookies);
    }
  }
  let ok = res.error === undefined;
  if (ok) {
    const judge = params.responseCallback ?? (expected === defaultExpected ? undefined : expectedResponse);
    // This runs in the socket's callback: the script's own callback gets its VU back (__VU, exec.vu).
    if (judge === undefined) ok = defaultExpected(status);
    else ok = vu ? rt.als.run(vu, judge, { status }) : judge({ status });
  }
  const m = samplesOf(rt);
  const tags = withVuTags(vu, rt.globalTags);
  tags.method = hop.method;
  tags.url = hop.url;
  tags.name = hop.url;
  if (params.tags) for (const k in params.tags) tags[k] = params.tags[k] as string;
  // k6 gives a named request's url tag the name too (it keeps the series few), a failed one the
  // error's words and no proto (lib/netext/httpext/transport.go).
  if (params.tags?.name !== undefined && params.tags.url === undefined) tags.url = params.tags.name;
  if (res.error) tags.error = errorTag;
  else tags.proto = 'HTTP/1.1';
  // data_sent/received are the iteration's, with its tags, when it ends (k6's dialer counts them).
  if (vu) {
    vu.traffic.sent += res.bytesSent;
    vu.traffic.received += res.bytesReceived;
  }
  tags.status = String(status);
  tags.expected_response = ok ? 'true' : 'false';
  if (code) tags.error_code = String(code);
  m.reqs(1, tags);
  m.duration(timings.duration, tags);
  m.blocked(timings.blocked, tags);
  m.connecting(timings.connecting, tags);
  m.tlsHandshaking(timings.tls_handshaking, tags);
  m.sending(timings.sending, tags);
  m.waiting(timings.waiting, tags);
  m.receiving(timings.receiving, tags);
  m.failed(ok ? 0 : 1, tags);
  const first = ctx.sentFirst ?? { method: hop.method, url: hop.url, headers: sent, body: hop.body };
  return new Response(status, resBody, resHeaders, timings, hop.url, error, code, first, statusText, cookies);
}

/**
 * What k6/http has and the runner does not: the synchronous calls (they would block every VU of
 * the thread), batch, cookie jars and the url tag. The script check refuses a script that calls
 * them before it runs; these stop the test at once when a call got past it (a computed name).
 */
const notImplemented =
  (name: string) =>
  (..._args: unknown[]): never =>
    runtime().refuse('k6/http', name);

export const get = notImplemented('get');
export const post = notImplemented('post');
export const put = notImplemented('put');
export const patch = notImplemented('patch');
export const del = notImplemented('del');
export const head = notImplemented('head');
export const options = notImplemented('options');
export const batch = notImplemented('batch');
export const request = notImplemented('request');
export const cookieJar = notImplemented('cookieJar');
export const CookieJar = notImplemented('CookieJar');
export const url = notImplemented('url');

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
  request,
  cookieJar,
  CookieJar,
  url,
};
