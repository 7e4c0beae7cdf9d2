import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ClientError, fromSocketError } from './errors.ts';
import { type ResponseEvents, type ResponseHead, ResponseParser } from './parser.ts';

/**
 * One keep-alive connection (net or tls), one request at a time (no pipelining). It records k6's
 * phase marks as they happen (connect, TLS handshake, request written, first response byte, end)
 * and counts the bytes each request writes and reads. Timeouts use one lazy timer per connection:
 * armed for the earliest deadline that matters, re-armed when it fires early, so that a request
 * costs no timer of its own.
 */

export interface ConnectOptions {
  secure: boolean;
  host: string;
  port: number;
  rejectUnauthorized: boolean;
  ca: string | Buffer | undefined;
  dialTimeoutMs: number;
  idleTimeoutMs: number;
}

/** Where a connection goes back to between requests (its pool). */
export interface ConnectionHome {
  release(c: Connection): void;
  forget(c: Connection): void;
}

/** One request's trip over a connection. Marks are performance.now() ms; 0 = not reached. */
export class Exchange {
  sendStart = 0;
  sent = 0;
  firstByte = 0;
  end = 0;
  bytesSent = 0;
  bytesReceived = 0;
  status = 0;
  statusText = '';
  rawHeaders: string[] = [];
  keepAlive = false;
  readonly chunks: Buffer[] = [];
  error: ClientError | undefined = undefined;

  constructor(
    readonly head: string,
    readonly body: Buffer | undefined,
    readonly isHead: boolean,
    /** performance.now() ms after which the request fails with a timeout */
    readonly deadline: number,
    /** the connection served requests before this one */
    readonly reused: boolean,
    readonly done: (ex: Exchange, by: Connection) => void,
    /** the request said `Connection: close`: the connection ends with it, whatever the server says */
    readonly closeAfter = false,
  ) {}
}

export class Connection implements ResponseEvents {
  readonly socket: Socket;
  readonly secure: boolean;
  /** when the TCP connect started: after the DNS lookup, if there was one */
  connectStart: number;
  connected = 0;
  secured = 0;
  private ready = false;
  private ex: Exchange | undefined = undefined;
  private readonly parser = new ResponseParser(this);
  private lastError: ClientError | undefined = undefined;
  private timer: NodeJS.Timeout | undefined = undefined;
  private timerAt = 0;
  private idleSince = 0;
  private readonly dialDeadline: number;
  private readonly idleTimeoutMs: number;

  constructor(
    o: ConnectOptions,
    private readonly home: ConnectionHome,
  ) {
    this.secure = o.secure;
    this.connectStart = performance.now();
    this.dialDeadline = this.connectStart + o.dialTimeoutMs;
    this.idleTimeoutMs = o.idleTimeoutMs;
    const s = o.secure
      ? tlsConnect({
          host: o.host,
          port: o.port,
          // SNI takes names only (RFC 6066); Node warns when given an address.
          servername: isIP(o.host) ? undefined : o.host,
          rejectUnauthorized: o.rejectUnauthorized,
          ca: o.ca,
          ALPNProtocols: ['http/1.1'],
        })
      : netConnect({ host: o.host, port: o.port });
    this.socket = s;
    s.setNoDelay(true);
    s.on('lookup', this.onLookup);
    s.on('connect', this.onConnect);
    if (o.secure) s.on('secureConnect', this.onSecureConnect);
    s.on('data', this.onData);
    s.on('end', this.onEnd);
    s.on('error', this.onError);
    s.on('close', this.onClose);
  }

  /** false once the socket is closed or closing: an idle connection the server hung up on. */
  get usable(): boolean {
    return !this.socket.destroyed && this.socket.readyState === 'open';
  }

  start(ex: Exchange): void {
    this.ex = ex;
    this.parser.headRequest = ex.isHead;
    this.schedule(this.ready ? ex.deadline : Math.min(ex.deadline, this.dialDeadline));
    if (this.ready) this.write(ex);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private write(ex: Exchange): void {
    const s = this.socket;
    ex.sendStart = performance.now();
    if (ex.body === undefined || ex.body.length === 0) s.write(ex.head, this.onWritten);
    else {
      s.cork();
      s.write(ex.head);
      s.write(ex.body, this.onWritten);
      s.uncork();
    }
    ex.bytesSent += Buffer.byteLength(ex.head) + (ex.body?.length ?? 0);
    // Plain sockets usually take the whole request at once; otherwise (TLS, large bodies) the callback says when.
    if (s.writableLength === 0) ex.sent = performance.now();
  }

  private readonly onWritten = (err?: Error | null): void => {
    const ex = this.ex;
    if (ex !== undefined && ex.sent === 0 && !err) ex.sent = performance.now();
  };

  private schedule(at: number): void {
    // A timer due earlier will re-arm itself for this deadline when it fires.
    if (this.timer !== undefined) {
      if (this.timerAt <= at) return;
      clearTimeout(this.timer);
    }
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, at - performance.now())).unref();
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    // Node's timers count whole milliseconds of the loop's clock: allow one early.
    const now = performance.now() + 1;
    const ex = this.ex;
    if (ex !== undefined) {
      if (!this.ready && now >= this.dialDeadline)
        this.fail(ex, new ClientError('DIAL_TIMEOUT', 'connect timed out'));
      else if (now >= ex.deadline) this.fail(ex, new ClientError('REQUEST_TIMEOUT', 'request timed out'));
      else this.schedule(this.ready ? ex.deadline : Math.min(ex.deadline, this.dialDeadline));
    } else if (now >= this.idleSince + this.idleTimeoutMs) this.socket.destroy();
    else this.schedule(this.idleSince + this.idleTimeoutMs);
  };

  private fail(ex: Exchange, err: ClientError): void {
    this.socket.destroy();
    if (this.ex !== ex) return;
    this.ex = undefined;
    ex.error = err;
    ex.end = performance.now();
    ex.done(ex, this);
  }

  private readonly onLookup = (): void => {
    this.connectStart = performance.now();
  };

  private readonly onConnect = (): void => {
    this.connected = performance.now();
    if (!this.secure) this.onReady();
  };

  private readonly onSecureConnect = (): void => {
    this.secured = performance.now();
    this.onReady();
  };

  private onReady(): void {
    this.ready = true;
    if (this.ex !== undefined) this.write(this.ex);
  }

  private readonly onData = (chunk: Buffer): void => {
    const ex = this.ex;
    if (ex === undefined) {
      // Bytes no request asked for: the connection is out of step and cannot be trusted.
      this.socket.destroy();
      return;
    }
    if (ex.firstByte === 0) {
      ex.firstByte = performance.now();
      if (ex.sent === 0) ex.sent = ex.firstByte;
    }
    ex.bytesReceived += chunk.length;
    const err = this.parser.execute(chunk);
    if (err !== undefined)
      this.fail(ex, new ClientError('PARSE_ERROR', `malformed HTTP response: ${err.message}`));
  };

  onHead(head: ResponseHead): void {
    const ex = this.ex;
    if (ex === undefined) {
      this.socket.destroy();
      return;
    }
    ex.status = head.status;
    ex.statusText = head.statusText;
    ex.rawHeaders = head.rawHeaders;
    ex.keepAlive = head.keepAlive && !ex.closeAfter;
  }

  onBody(chunk: Buffer): void {
    this.ex?.chunks.push(chunk);
  }

  onComplete(): void {
    const ex = this.ex;
    if (ex === undefined) return;
    this.ex = undefined;
    ex.end = performance.now();
    if (ex.keepAlive && this.usable) {
      this.idleSince = ex.end;
      this.schedule(ex.end + this.idleTimeoutMs);
      this.home.release(this);
    } else this.socket.destroy();
    ex.done(ex, this);
  }

  private readonly onEnd = (): void => {
    const ex = this.ex;
    if (ex === undefined) return;
    // The server's close ends a body that has no length; anywhere else it cuts the response short.
    if (this.parser.finish() !== undefined)
      this.fail(ex, new ClientError('SOCKET_CLOSED', 'the server closed the connection mid-response'));
  };

  private readonly onError = (err: Error): void => {
    this.lastError = fromSocketError(err);
  };

  private readonly onClose = (): void => {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.home.forget(this);
    const ex = this.ex;
    if (ex !== undefined)
      this.fail(ex, this.lastError ?? new ClientError('SOCKET_CLOSED', 'other side closed'));
  };
}
