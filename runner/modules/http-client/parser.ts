/**
 * HTTP/1.1 response framing (RFC 9112 section 6): Content-Length, chunked with trailers, bodies
 * delimited by the close, no body for HEAD, 204 and 304; interim 1xx responses (100 Continue,
 * 103 Early Hints) are skipped. Hand-written because http-parser-js (autocannon's) took 2.2 µs
 * per small response here, about a sixth of all the runner may spend on a request at its goal
 * rate; this takes 0.8 µs: the head is found with one native indexOf and decoded once.
 */

export interface ResponseHead {
  status: number;
  statusText: string;
  /** name, value, name, value, ... as received */
  rawHeaders: string[];
  /** false when the server closes the connection or the response is delimited by the close */
  keepAlive: boolean;
}

export interface ResponseEvents {
  /** a final response's head */
  onHead(head: ResponseHead): void;
  onBody(chunk: Buffer): void;
  onComplete(): void;
}

enum State {
  Head,
  Sized,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

const MAX_HEAD = 80 * 1024;
const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');
const DIGITS = /^\d+$/;
const CHUNK_SIZE = /^([0-9a-fA-F]{1,15})[ \t]*(?:;.*)?$/;

class ParseError extends Error {}

const isSpace = (c: number) => c === 0x20 || c === 0x09;

/** name equals `lower` whatever its case (header names are ASCII letters, digits and dashes). */
function sameLower(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = name.charCodeAt(i);
    const l = lower.charCodeAt(i);
    if (c !== l && !(l >= 0x61 && l <= 0x7a && (c | 0x20) === l)) return false;
  }
  return true;
}

export class ResponseParser {
  /** the request in flight is HEAD: its response has no body whatever its headers say */
  headRequest = false;
  private state = State.Head;
  /** bytes of an unfinished head or line, kept until the rest arrives */
  private pending: Buffer | undefined = undefined;
  /** body bytes left (Sized) or bytes of the current chunk left (ChunkData) */
  private remaining = 0;

  constructor(private readonly events: ResponseEvents) {}

  /** Feeds bytes read from the socket; an Error when they are not an HTTP/1.x response. */
  execute(chunk: Buffer): Error | undefined {
    let buf = chunk;
    if (this.pending !== undefined) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    try {
      let at = 0;
      while (at < buf.length) at = this.step(buf, at);
      return undefined;
    } catch (err) {
      if (err instanceof ParseError) return err;
      throw err;
    }
  }

  /** The server closed its side: ends a body delimited by the close; an Error when it cut one short. */
  finish(): Error | undefined {
    if (this.state === State.UntilClose) {
      this.state = State.Head;
      this.events.onComplete();
      return undefined;
    }
    if (this.state === State.Head && this.pending === undefined) return undefined;
    return new ParseError('the connection closed in the middle of a response');
  }

  /** Consumes what it can from buf at `at`; returns where it stopped. */
  private step(buf: Buffer, at: number): number {
    switch (this.state) {
      case State.Head: {
        const end = buf.indexOf(CRLFCRLF, at);
        if (end < 0) return this.keep(buf, at);
        if (end - at > MAX_HEAD) throw new ParseError('response head larger than 80 KiB');
        this.head(buf.toString('latin1', at, end));
        return end + 4;
      }
      case State.Sized: {
        const n = Math.min(this.remaining, buf.length - at);
        this.events.onBody(buf.subarray(at, at + n));
        this.remaining -= n;
        if (this.remaining === 0) this.complete();
        return at + n;
      }
      case State.ChunkSize: {
        const end = buf.indexOf(CRLF, at);
        if (end < 0) return this.keep(buf, at);
        const m = CHUNK_SIZE.exec(buf.toString('latin1', at, end));
        if (m === null) throw new ParseError('malformed chunk size');
        this.remaining = Number.parseInt(m[1] as string, 16);
        this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
        return end + 2;
      }
      case State.ChunkData: {
        const n = Math.min(this.remaining, buf.length - at);
        this.events.onBody(buf.subarray(at, at + n));
        this.remaining -= n;
        if (this.remaining === 0) this.state = State.ChunkEnd;
        return at + n;
      }
      case State.ChunkEnd: {
        if (buf.length - at < 2) return this.keep(buf, at);
        if (buf[at] !== 0x0d || buf[at + 1] !== 0x0a) throw new ParseError('missing CRLF after a chunk');
        this.state = State.ChunkSize;
        return at + 2;
      }
      case State.Trailers: {
        // Trailer fields are read and dropped: Go keeps them apart from the headers, k6 never shows them.
        const end = buf.indexOf(CRLF, at);
        if (end < 0) return this.keep(buf, at);
        if (end === at) this.complete();
        return end + 2;
      }
      case State.UntilClose:
        this.events.onBody(at === 0 ? buf : buf.subarray(at));
        return buf.length;
    }
  }

  /** Keeps an unfinished head or line for the next read. */
  private keep(buf: Buffer, at: number): number {
    if (buf.length - at > MAX_HEAD) throw new ParseError('response head or line larger than 80 KiB');
    this.pending = Buffer.from(buf.subarray(at));
    return buf.length;
  }

  private complete(): void {
    this.state = State.Head;
    this.events.onComplete();
  }

  private head(text: string): void {
    // The status line: "HTTP/1.x SSS reason"
    let eol = text.indexOf('\r\n');
    if (eol < 0) eol = text.length;
    if (
      eol < 12 ||
      !text.startsWith('HTTP/1.') ||
      text.charCodeAt(8) !== 0x20 ||
      (eol > 12 && text.charCodeAt(12) !== 0x20)
    )
      throw new ParseError(
        `not an HTTP/1.x status line: ${JSON.stringify(text.slice(0, Math.min(eol, 60)))}`,
      );
    const minor = text.charCodeAt(7) - 0x30;
    const status = Number(text.slice(9, 12));
    if (!(minor === 0 || minor === 1) || !Number.isInteger(status) || status < 100)
      throw new ParseError(
        `not an HTTP/1.x status line: ${JSON.stringify(text.slice(0, Math.min(eol, 60)))}`,
      );
    const statusText = eol > 13 ? text.slice(13, eol) : '';
    const rawHeaders: string[] = [];
    let length = -1;
    let chunked = false;
    let encoded = false;
    let close = minor === 0;
    for (let from = eol + 2; from < text.length; ) {
      let to = text.indexOf('\r\n', from);
      if (to < 0) to = text.length;
      const first = text.charCodeAt(from);
      if (isSpace(first)) {
        // obsolete line folding: a continuation of the previous value
        if (rawHeaders.length === 0) throw new ParseError('header continuation without a header');
        rawHeaders[rawHeaders.length - 1] += ` ${text.slice(from, to).trim()}`;
        from = to + 2;
        continue;
      }
      const colon = text.indexOf(':', from);
      if (colon <= from || colon > to)
        throw new ParseError(
          `malformed header line: ${JSON.stringify(text.slice(from, Math.min(to, from + 60)))}`,
        );
      const name = text.slice(from, colon);
      let start = colon + 1;
      let end = to;
      while (start < end && isSpace(text.charCodeAt(start))) start++;
      while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
      const value = text.slice(start, end);
      from = to + 2;
      rawHeaders.push(name, value);
      // Only three headers frame the response; the length and first letter rule out the rest cheaply.
      const initial = name.charCodeAt(0) | 0x20;
      switch (name.length) {
        case 10:
          if (initial === 0x63 && sameLower(name, 'connection')) {
            const v = value.toLowerCase();
            if (v.includes('close')) close = true;
            else if (v.includes('keep-alive')) close = false;
          }
          break;
        case 14:
          if (initial === 0x63 && sameLower(name, 'content-length')) {
            if (!DIGITS.test(value)) throw new ParseError(`invalid Content-Length: ${value}`);
            const n = Number(value);
            if (length >= 0 && n !== length) throw new ParseError('conflicting Content-Length headers');
            length = n;
          }
          break;
        case 17:
          if (initial === 0x74 && sameLower(name, 'transfer-encoding')) {
            encoded = true;
            chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
          }
          break;
      }
    }
    if (status < 200 && status !== 101) return; // interim: the final response follows
    const bodiless = this.headRequest || status === 204 || status === 304 || status === 101;
    // RFC 9112 6.3: chunked wins over Content-Length; another coding, or no length, runs to the close.
    const untilClose = !bodiless && !chunked && (encoded || length < 0);
    this.events.onHead({
      status,
      statusText,
      rawHeaders,
      keepAlive: !close && !untilClose && status !== 101,
    });
    if (bodiless || (!chunked && length === 0)) this.complete();
    else if (chunked) this.state = State.ChunkSize;
    else if (untilClose) this.state = State.UntilClose;
    else {
      this.remaining = length;
      this.state = State.Sized;
    }
  }
}
