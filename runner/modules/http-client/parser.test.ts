import { describe, expect, it } from 'vitest';
import { type ResponseHead, ResponseParser } from './parser.ts';

/** The response parser alone, fed whole and cut at every byte. */

interface Parsed {
  heads: ResponseHead[];
  bodies: string[];
  errors: string[];
}

function parse(chunks: readonly Buffer[], opts: { headRequest?: boolean; close?: boolean } = {}): Parsed {
  const out: Parsed = { heads: [], bodies: [], errors: [] };
  let body: Buffer[] = [];
  const p = new ResponseParser({
    onHead: (h) => out.heads.push(h),
    onBody: (c) => body.push(Buffer.from(c)),
    onComplete: () => {
      out.bodies.push(Buffer.concat(body).toString('latin1'));
      body = [];
    },
  });
  p.headRequest = opts.headRequest ?? false;
  for (const c of chunks) {
    const err = p.execute(c);
    if (err) out.errors.push(err.message);
  }
  if (opts.close) {
    const err = p.finish();
    if (err) out.errors.push(err.message);
  }
  return out;
}

/** The same bytes whole, and split in two at every position: framing must not depend on reads. */
function everySplit(text: string, opts?: { headRequest?: boolean; close?: boolean }): Parsed[] {
  const all = Buffer.from(text, 'latin1');
  const results = [parse([all], opts)];
  for (let i = 1; i < all.length; i++) results.push(parse([all.subarray(0, i), all.subarray(i)], opts));
  return results;
}

describe('response framing', () => {
  it('Content-Length, then the next response on the same connection', () => {
    const text =
      'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello' +
      'HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\nno';
    for (const r of everySplit(text)) {
      expect(r.errors).toEqual([]);
      expect(r.heads.map((h) => [h.status, h.statusText, h.keepAlive])).toEqual([
        [200, 'OK', true],
        [404, 'Not Found', true],
      ]);
      expect(r.heads[0]?.rawHeaders).toEqual(['Content-Type', 'text/plain', 'Content-Length', '5']);
      expect(r.bodies).toEqual(['hello', 'no']);
    }
  });

  it('chunked with extensions and trailers', () => {
    const text =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n' +
      '4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Sum: 42\r\n\r\n' +
      'HTTP/1.1 204 No Content\r\n\r\n';
    for (const r of everySplit(text)) {
      expect(r.errors).toEqual([]);
      expect(r.bodies).toEqual(['Wikipedia in\r\n\r\nchunks.', '']);
      expect(r.heads.map((h) => h.status)).toEqual([200, 204]);
      // the trailer field is not a header
      expect(r.heads[0]?.rawHeaders).toEqual(['Transfer-Encoding', 'chunked', 'Trailer', 'X-Sum']);
    }
  });

  it('skips 100 Continue and 103 Early Hints', () => {
    const text =
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n' +
      'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok';
    for (const r of everySplit(text)) {
      expect(r.errors).toEqual([]);
      expect(r.heads.map((h) => h.status)).toEqual([201]);
      expect(r.bodies).toEqual(['ok']);
    }
  });

  it('no body for HEAD, 204 and 304, whatever the headers announce', () => {
    const head =
      'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n';
    for (const r of everySplit(head, { headRequest: true })) {
      expect(r.errors).toEqual([]);
      expect(r.bodies).toEqual(['', '']);
      expect(r.heads.every((h) => h.keepAlive)).toBe(true);
    }
    const notModified = 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n';
    for (const r of everySplit(notModified)) expect(r.bodies).toEqual(['', '']);
  });

  it('a body without a length runs to the close, and the connection is not kept', () => {
    for (const r of everySplit('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end', {
      close: true,
    })) {
      expect(r.errors).toEqual([]);
      expect(r.bodies).toEqual(['until the end']);
      expect(r.heads[0]?.keepAlive).toBe(false);
    }
  });

  it('Connection: close and HTTP/1.0 are not kept alive; HTTP/1.0 keep-alive is', () => {
    const r = parse([
      Buffer.from(
        'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n' +
          'HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n' +
          'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n',
      ),
    ]);
    expect(r.heads.map((h) => h.keepAlive)).toEqual([false, false, true]);
  });

  it('reports what is not HTTP, and a response cut short by the close', () => {
    expect(parse([Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')]).errors[0]).toMatch(/status line/);
    expect(parse([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n')]).errors[0]).toMatch(
      /Content-Length/,
    );
    expect(
      parse([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc')], { close: true }).errors,
    ).toEqual(['the connection closed in the middle of a response']);
    expect(
      parse([Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n')]).errors[0],
    ).toMatch(/chunk size/);
  });
});
