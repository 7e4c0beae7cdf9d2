import { request } from 'node:http';

/** An answer of any body: its status, headers, and the body parsed as JSON when it is JSON. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: { error?: { code?: string; message?: string; field?: string } } & Record<string, unknown>;
}

/**
 * One request exactly as given (any path, any bytes; fetch would normalise both), each on a
 * connection of its own unless `keepAlive`, so that a cluster spreads them over its processes.
 * Loopback only: `base` must be a 127.0.0.1 / ::1 URL.
 */
export function loopbackRequest(
  base: string,
  method: string,
  path: string,
  opts: {
    headers?: Record<string, string>;
    body?: string | Buffer;
    json?: unknown;
    from?: string;
    timeoutMs?: number;
  } = {},
): Promise<RawAnswer> {
  const url = new URL(base);
  if (!['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname))
    return Promise.reject(new Error(`not a loopback URL: ${base}`));
  const headers: Record<string, string> = { ...opts.headers };
  let body = opts.body;
  if (opts.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.json);
  }
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        method,
        path,
        headers,
        agent: false,
        localAddress: opts.from,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = {};
          try {
            json = text ? JSON.parse(text) : {};
          } catch {
            json = {};
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text,
            json: json as RawAnswer['json'],
          });
        });
      },
    );
    req.setTimeout(timeoutMs, () =>
      req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end(body);
  });
}
