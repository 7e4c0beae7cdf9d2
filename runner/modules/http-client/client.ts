import { type Connection, Exchange } from './connection.ts';
import { ClientError } from './errors.ts';
import { type Phases, phases } from './phases.ts';
import { Pool } from './pool.ts';
import { requestHead } from './request-head.ts';
import type { Target } from './target.ts';

/**
 * A lean HTTP/1.1 client on node:net and node:tls for the runner: keep-alive pools per origin,
 * k6's phases measured directly, real bytes on the wire per request. A request never rejects:
 * a failure comes back as `error`, as k6 reports it.
 */

export interface ClientOptions {
  /** verify the server's certificate (default true) */
  rejectUnauthorized?: boolean;
  /** trusted CA certificates (PEM), in place of Node's */
  ca?: string | Buffer;
  /** a connect that takes longer fails with DIAL_TIMEOUT (default 10 s) */
  dialTimeoutMs?: number;
  /** idle keep-alive connections are closed after this (default 60 s) */
  idleTimeoutMs?: number;
}

export interface ClientRequest {
  method: string;
  target: Target;
  headers: Readonly<Record<string, string>>;
  body: Buffer | undefined;
  timeoutMs: number;
}

export interface ClientResponse {
  status: number;
  statusText: string;
  /** name, value, name, value, ... as received */
  rawHeaders: readonly string[];
  body: Buffer;
  /** bytes written to and read from the socket for this request (retry included), TLS excluded */
  bytesSent: number;
  bytesReceived: number;
  phases: Phases;
  error: ClientError | undefined;
}

const EMPTY = Buffer.alloc(0);

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/**
 * A kept-alive connection the server closed as the request went out: nothing came back and the
 * write or the read found the connection gone, as when the server's idle timer fires. Sent again,
 * once, on a new connection, as Go's transport (so k6) does: an idempotent request always; any
 * other only when its write failed, because a reset after the write may follow a request the
 * server read and acted on (a sign-up sent twice is a 409, not a success).
 */
const stale = (ex: Exchange, method: string) =>
  ex.reused &&
  ex.bytesReceived === 0 &&
  (ex.error?.code === 'EPIPE' ||
    (IDEMPOTENT.has(method) && (ex.error?.code === 'ECONNRESET' || ex.error?.code === 'SOCKET_CLOSED')));

function response(
  t0: number,
  ex: Exchange,
  opened: Connection | undefined,
  bytesSent: number,
  bytesReceived: number,
): ClientResponse {
  const failed = ex.error !== undefined;
  return {
    status: failed ? 0 : ex.status,
    statusText: failed ? '' : ex.statusText,
    rawHeaders: failed ? [] : ex.rawHeaders,
    body:
      failed || ex.chunks.length === 0
        ? EMPTY
        : ex.chunks.length === 1
          ? (ex.chunks[0] as Buffer)
          : Buffer.concat(ex.chunks),
    bytesSent,
    bytesReceived,
    phases: phases(t0, opened, ex),
    error: ex.error,
  };
}

/** The response of a request that failed before it could be sent (t0: when it started). */
export function failedBeforeSending(error: ClientError, t0 = performance.now()): ClientResponse {
  const ex = new Exchange('', undefined, false, 0, false, () => {});
  ex.error = error;
  ex.end = performance.now();
  return response(t0, ex, undefined, 0, 0);
}

/** Go's Request.wantsClose: a Connection header with the token `close`, in any case. */
function wantsClose(headers: Readonly<Record<string, string>>): boolean {
  for (const name in headers)
    if (name.length === 10 && name.toLowerCase() === 'connection')
      return String(headers[name])
        .split(',')
        .some((t) => t.trim().toLowerCase() === 'close');
  return false;
}

/** One request through its (at most two) exchanges: the bytes of both count. */
class Attempt {
  private bytesSent = 0;
  private bytesReceived = 0;
  private reused = false;

  constructor(
    private readonly t0: number,
    private readonly head: string,
    private readonly req: ClientRequest,
    private readonly pool: Pool,
    private readonly done: (res: ClientResponse) => void,
  ) {}

  start(conn: Connection, reused: boolean): void {
    this.reused = reused;
    const r = this.req;
    conn.start(
      new Exchange(
        this.head,
        r.body,
        r.method === 'HEAD',
        this.t0 + r.timeoutMs,
        reused,
        this.onDone,
        wantsClose(r.headers),
      ),
    );
  }

  private readonly onDone = (ex: Exchange, by: Connection): void => {
    this.bytesSent += ex.bytesSent;
    this.bytesReceived += ex.bytesReceived;
    if (ex.error !== undefined && stale(ex, this.req.method)) this.start(this.pool.open(), false);
    else this.done(response(this.t0, ex, this.reused ? undefined : by, this.bytesSent, this.bytesReceived));
  };
}

export class HttpClient {
  private readonly pools = new Map<string, Pool>();
  private readonly rejectUnauthorized: boolean;
  private readonly ca: string | Buffer | undefined;
  private readonly dialTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(o: ClientOptions = {}) {
    this.rejectUnauthorized = o.rejectUnauthorized ?? true;
    this.ca = o.ca;
    this.dialTimeoutMs = o.dialTimeoutMs ?? 10_000;
    this.idleTimeoutMs = o.idleTimeoutMs ?? 60_000;
  }

  private pool(t: Target): Pool {
    let p = this.pools.get(t.origin);
    if (p === undefined) {
      p = new Pool({
        secure: t.secure,
        host: t.connectHost,
        port: t.port,
        rejectUnauthorized: this.rejectUnauthorized,
        ca: this.ca,
        dialTimeoutMs: this.dialTimeoutMs,
        idleTimeoutMs: this.idleTimeoutMs,
      });
      this.pools.set(t.origin, p);
    }
    return p;
  }

  /** Sends a request; `done` gets the response or the failure. */
  send(req: ClientRequest, done: (res: ClientResponse) => void): void {
    const t0 = performance.now();
    let head: string;
    try {
      if (req.target.unsupportedProtocol !== undefined)
        throw new ClientError(
          'UNSUPPORTED_PROTOCOL',
          `unsupported protocol scheme "${req.target.unsupportedProtocol}"`,
        );
      head = requestHead(req.method, req.target, req.headers, req.body?.length);
    } catch (err) {
      if (!(err instanceof ClientError)) throw err;
      done(failedBeforeSending(err, t0));
      return;
    }
    const pool = this.pool(req.target);
    const idle = pool.take();
    new Attempt(t0, head, req, pool, done).start(idle ?? pool.open(), idle !== undefined);
  }

  /** send() as a Promise. */
  request(req: ClientRequest): Promise<ClientResponse> {
    return new Promise((resolve) => this.send(req, resolve));
  }

  /** Closes every idle connection. */
  close(): void {
    for (const p of this.pools.values()) p.close();
    this.pools.clear();
  }
}
