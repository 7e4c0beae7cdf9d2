import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from 'node:net';
import busboy from 'busboy';
import { afterEach, describe, expect, it } from 'vitest';
import { selfSignedCert } from '../../test-fixtures/self-signed.ts';
import { encodeBody } from './body.ts';
import { type ClientResponse, HttpClient } from './client.ts';
import { k6Error } from './errors.ts';
import { parseTarget } from './target.ts';

/**
 * The runner's HTTP/1.1 client against real servers on 127.0.0.1: framing, keep-alive and its
 * failures, k6's phases and error codes, bodies, bytes on the wire, https. No assertion on speed.
 */

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

async function listen<S extends Server | HttpServer>(
  server: S,
): Promise<{ server: S; url: string; connections: () => number }> {
  let connections = 0;
  server.on('connection', () => connections++);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  closers.push(() => {
    if ('closeAllConnections' in server) server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, connections: () => connections };
}

interface RawRequest {
  socket: Socket;
  /** the request's index on its connection, from 0 */
  index: number;
  head: string;
  body: Buffer;
}

/** A server speaking raw HTTP/1.1: `reply` writes whatever bytes it wants for each request. */
function rawServer(reply: (r: RawRequest) => void): Server {
  return createNetServer((socket) => {
    let buf = Buffer.alloc(0);
    let index = 0;
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const body = buf.subarray(end + 4, end + 4 + length);
        buf = buf.subarray(end + 4 + length);
        reply({ socket, index: index++, head, body });
      }
    });
    socket.on('error', () => {});
  });
}

const client = (o?: ConstructorParameters<typeof HttpClient>[0]) => {
  const c = new HttpClient(o);
  closers.push(() => c.close());
  return c;
};

function get(
  c: HttpClient,
  url: string,
  o: { method?: string; body?: Buffer; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ClientResponse> {
  const target = parseTarget(url);
  if (!target) throw new Error(`bad url ${url}`);
  return c.request({
    method: o.method ?? 'GET',
    target,
    headers: o.headers ?? {},
    body: o.body,
    timeoutMs: o.timeoutMs ?? 30_000,
  });
}

const header = (res: ClientResponse, name: string) => {
  const i = res.rawHeaders.findIndex((h, j) => j % 2 === 0 && h.toLowerCase() === name);
  return i < 0 ? undefined : res.rawHeaders[i + 1];
};

function expectPhasesConsistent(res: ClientResponse): void {
  const p = res.phases;
  for (const v of Object.values(p)) expect(v).toBeGreaterThanOrEqual(0);
  expect(p.duration).toBeCloseTo(p.sending + p.waiting + p.receiving, 9);
}

describe('framing and keep-alive', () => {
  it('Content-Length: phases add up, connecting only on the first request of the connection', async () => {
    const { url, connections } = await listen(
      createHttpServer((_req, res) => res.writeHead(200, { 'Content-Length': 5 }).end('hello')),
    );
    const c = client();
    const first = await get(c, `${url}/a`);
    const second = await get(c, `${url}/b`);
    const third = await get(c, `${url}/c`);
    for (const res of [first, second, third]) {
      expect(res.error).toBeUndefined();
      expect(res.status).toBe(200);
      expect(res.body.toString()).toBe('hello');
      expect(header(res, 'content-length')).toBe('5');
      expectPhasesConsistent(res);
    }
    expect(first.phases.connecting).toBeGreaterThan(0);
    expect(second.phases.connecting).toBe(0);
    expect(third.phases.connecting).toBe(0);
    expect(first.phases.tlsHandshaking).toBe(0);
    expect(connections()).toBe(1);
  });

  it('chunked with trailers, then the next request on the same connection', async () => {
    const { url, connections } = await listen(
      rawServer(({ socket }) =>
        socket.write(
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n' +
            '5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Checksum: 42\r\n\r\n',
        ),
      ),
    );
    const c = client();
    for (let i = 0; i < 2; i++) {
      const res = await get(c, url);
      expect(res.error).toBeUndefined();
      expect(res.body.toString()).toBe('hello, world');
      expect(header(res, 'x-checksum')).toBeUndefined();
    }
    expect(connections()).toBe(1);
  });

  it('HEAD and 204 have no body and keep the connection', async () => {
    const { url, connections } = await listen(
      createHttpServer((req, res) => {
        if (req.url === '/empty') res.writeHead(204).end();
        else
          res
            .writeHead(200, { 'Content-Length': 100, 'Content-Type': 'text/plain' })
            .end(req.method === 'HEAD' ? undefined : 'x'.repeat(100));
      }),
    );
    const c = client();
    const head = await get(c, url, { method: 'HEAD' });
    expect([head.error, head.status, head.body.length, header(head, 'content-length')]).toEqual([
      undefined,
      200,
      0,
      '100',
    ]);
    const empty = await get(c, `${url}/empty`);
    expect([empty.error, empty.status, empty.body.length]).toEqual([undefined, 204, 0]);
    const full = await get(c, url);
    expect(full.body.toString()).toBe('x'.repeat(100));
    expect(connections()).toBe(1);
  });

  it('skips 100 Continue', async () => {
    const { url } = await listen(
      rawServer(({ socket }) =>
        socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 7\r\n\r\ncreated'),
      ),
    );
    const res = await get(client(), url, { method: 'POST', body: Buffer.from('{}') });
    expect([res.error, res.status, res.statusText, res.body.toString()]).toEqual([
      undefined,
      201,
      'Created',
      'created',
    ]);
  });

  it('Connection: close makes the next request open a new connection', async () => {
    const { url, connections } = await listen(
      createHttpServer((_req, res) =>
        res.writeHead(200, { Connection: 'close', 'Content-Length': 2 }).end('ok'),
      ),
    );
    const c = client();
    const first = await get(c, url);
    const second = await get(c, url);
    expect([first.body.toString(), second.body.toString()]).toEqual(['ok', 'ok']);
    expect(second.phases.connecting).toBeGreaterThan(0);
    expect(connections()).toBe(2);
  });

  it('closes a connection left idle for idleTimeoutMs', async () => {
    const server = createHttpServer((_req, res) => res.writeHead(200, { 'Content-Length': 2 }).end('ok'));
    server.keepAliveTimeout = 60_000;
    const { url } = await listen(server);
    const closed = new Promise<number>((resolve) =>
      server.on('connection', (s: Socket) => s.on('close', () => resolve(performance.now()))),
    );
    const res = await get(client({ idleTimeoutMs: 200 }), url);
    const idleSince = performance.now();
    expect(res.status).toBe(200);
    expect((await closed) - idleSince).toBeGreaterThanOrEqual(150);
  });

  it('reads a body delimited by the close', async () => {
    const { url } = await listen(
      rawServer(({ socket }) => socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it')),
    );
    const res = await get(client(), url);
    expect([res.error, res.body.toString()]).toEqual([undefined, 'all of it']);
  });
});

describe('a kept-alive connection the server closed', () => {
  it('closed while idle: the next request opens a new one', async () => {
    const server = createHttpServer((_req, res) => res.writeHead(200, { 'Content-Length': 2 }).end('ok'));
    server.keepAliveTimeout = 100;
    const { url, connections } = await listen(server);
    const closed = new Promise<void>((resolve) =>
      server.on('connection', (s: Socket) => s.on('close', () => resolve())),
    );
    const c = client();
    expect((await get(c, url)).status).toBe(200);
    await closed;
    const next = await get(c, url);
    expect([next.error, next.status]).toEqual([undefined, 200]);
    expect(next.phases.connecting).toBeGreaterThan(0);
    expect(connections()).toBe(2);
  });

  /** A server that answers the first request of a connection and drops the connection on the second. */
  async function dropsSecondRequest(how: 'FIN' | 'RST') {
    let requests = 0;
    const { url, connections } = await listen(
      rawServer(({ socket, index }) => {
        requests++;
        // The second request of a connection finds it gone, as when the server's idle timer fires.
        if (index === 1) {
          if (how === 'RST') socket.resetAndDestroy();
          else socket.destroy();
          return;
        }
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      }),
    );
    return { url, connections, requests: () => requests };
  }

  for (const how of ['FIN', 'RST'] as const) {
    it(`closed (${how}) as an idempotent request went out: sent again once on a new connection`, async () => {
      const { url, connections, requests } = await dropsSecondRequest(how);
      const c = client();
      expect((await get(c, url)).status).toBe(200);
      const retried = await get(c, url, { method: 'PUT', body: Buffer.from('idempotent') });
      expect([retried.error, retried.status, retried.body.toString()]).toEqual([undefined, 200, 'ok']);
      expect(retried.phases.connecting).toBeGreaterThan(0);
      expect(connections()).toBe(2);
      expect(requests()).toBe(3);
    });

    it(`closed (${how}) after a POST was read: not sent again (the server may have acted on it)`, async () => {
      const { url, connections, requests } = await dropsSecondRequest(how);
      const c = client();
      expect((await get(c, url)).status).toBe(200);
      const res = await get(c, url, { method: 'POST', body: Buffer.from('a sign-up') });
      expect(res.status).toBe(0);
      expect(k6Error(res.error!).code).toBe(1220);
      expect([connections(), requests()]).toEqual([1, 2]);
    });
  }

  it('a new connection that fails is not retried', async () => {
    let requests = 0;
    const { url, connections } = await listen(
      rawServer(({ socket }) => {
        requests++;
        socket.destroy();
      }),
    );
    const res = await get(client(), url);
    expect(res.status).toBe(0);
    expect(res.error?.code).toBe('SOCKET_CLOSED');
    expect(k6Error(res.error!).code).toBe(1220);
    expect([connections(), requests]).toEqual([1, 1]);
  });
});

describe("failures as k6's error codes", () => {
  it('a server that never answers: 1050 after the timeout, and the connection is closed', async () => {
    let serverSocket: Socket | undefined;
    const { url } = await listen(
      rawServer(({ socket }) => {
        serverSocket = socket;
      }),
    );
    const t = performance.now();
    const res = await get(client(), url, { timeoutMs: 200 });
    const took = performance.now() - t;
    expect(res.error?.code).toBe('REQUEST_TIMEOUT');
    expect(k6Error(res.error!)).toEqual({ code: 1050, message: 'request timeout' });
    expect(took).toBeGreaterThanOrEqual(150);
    expect(took).toBeLessThan(20_000);
    expectPhasesConsistent(res);
    expect(res.phases.waiting).toBeGreaterThanOrEqual(100);
    if (!serverSocket) throw new Error('the request never reached the server');
    if (!serverSocket.closed) await once(serverSocket, 'close');
  });

  it('connection refused: 1212', async () => {
    const { url, server } = await listen(createNetServer());
    await new Promise((resolve) => server.close(resolve));
    const res = await get(client(), url);
    expect(res.error?.code).toBe('ECONNREFUSED');
    expect(k6Error(res.error!).code).toBe(1212);
    expectPhasesConsistent(res);
  });
});

describe('bodies and bytes', () => {
  it('multipart with a file, as busboy reads it', async () => {
    const parts: Array<Record<string, string>> = [];
    const { url } = await listen(
      createHttpServer((req, res) => {
        const bb = busboy({ headers: req.headers });
        bb.on('field', (name, value, info) => parts.push({ name, value, type: info.mimeType }));
        bb.on('file', (name, stream, info) => {
          const chunks: Buffer[] = [];
          stream.on('data', (d: Buffer) => chunks.push(d));
          stream.on('end', () =>
            parts.push({
              name,
              filename: info.filename ?? '(none)',
              type: info.mimeType,
              bytes: Buffer.concat(chunks).toString('hex'),
            }),
          );
        });
        bb.on('close', () => res.end('ok'));
        req.pipe(bb);
      }),
    );
    const photo = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x0d, 0x0a, 0x2d, 0x2d, 0, 1, 2]);
    const encoded = encodeBody({
      nik: '3174012345678901',
      'full "name"': 'Sari Dewi',
      photo: {
        data: new Uint8Array(photo).buffer,
        filename: 'ktp.jpg',
        content_type: 'image/jpeg',
        __k6File: true,
      },
    });
    const res = await get(client(), `${url}/upload`, {
      method: 'POST',
      body: encoded.bytes,
      headers: { 'Content-Type': encoded.contentType as string },
    });
    expect(res.body.toString()).toBe('ok');
    expect(parts).toEqual([
      { name: 'nik', value: '3174012345678901', type: 'text/plain' },
      { name: 'full %22name%22', value: 'Sari Dewi', type: 'text/plain' },
      { name: 'photo', filename: 'ktp.jpg', type: 'image/jpeg', bytes: photo.toString('hex') },
    ]);
  });

  it('a binary body goes and comes back unchanged', async () => {
    const { url } = await listen(
      createHttpServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (d: Buffer) => chunks.push(d));
        req.on('end', () =>
          res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(Buffer.concat(chunks)),
        );
      }),
    );
    const bytes = Buffer.alloc(300_000);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 256;
    const res = await get(client(), url, { method: 'PUT', body: bytes });
    expect(res.error).toBeUndefined();
    expect(res.body.equals(bytes)).toBe(true);
    expectPhasesConsistent(res);
  });

  it('counts the bytes on the wire, both ways', async () => {
    const seen = { in: 0, out: 0 };
    const response =
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}';
    const server = createNetServer((socket) => {
      socket.on('data', (d: Buffer) => {
        seen.in += d.length;
        if (d.includes('\r\n\r\n')) {
          socket.write(response);
          seen.out += Buffer.byteLength(response);
        }
      });
    });
    const { url } = await listen(server);
    const c = client();
    let sent = 0;
    let received = 0;
    for (const body of [undefined, Buffer.from('{"nik":"3174"}')]) {
      const res = await get(c, url, { method: body ? 'POST' : 'GET', body, headers: { 'X-Trace': 'é' } });
      expect(res.error).toBeUndefined();
      sent += res.bytesSent;
      received += res.bytesReceived;
    }
    expect(sent).toBe(seen.in);
    expect(received).toBe(seen.out);
  });
});

describe('https', () => {
  it('measures the TLS handshake of a new connection, none on a reused one; verifies the certificate', async () => {
    const { key, cert } = selfSignedCert();
    const { url } = await listen(createHttpsServer({ key, cert }, (_req, res) => res.end('secure')));
    const secureUrl = url.replace('http:', 'https:');
    const c = client({ ca: cert });
    const first = await get(c, secureUrl);
    const second = await get(c, secureUrl);
    expect([first.error, first.body.toString(), second.body.toString()]).toEqual([
      undefined,
      'secure',
      'secure',
    ]);
    expect(first.phases.connecting).toBeGreaterThan(0);
    expect(first.phases.tlsHandshaking).toBeGreaterThan(0);
    expect([second.phases.connecting, second.phases.tlsHandshaking]).toEqual([0, 0]);
    expectPhasesConsistent(first);

    const untrusted = await get(client(), secureUrl);
    expect(untrusted.error?.code).toBe('TLS_UNKNOWN_AUTHORITY');
    expect(k6Error(untrusted.error!).code).toBe(1310);
    const insecure = await get(client({ rejectUnauthorized: false }), secureUrl);
    expect(insecure.body.toString()).toBe('secure');
  });
});
