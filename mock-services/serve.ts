import { once } from 'node:events';
import type { Server } from 'node:http';
import type { Express } from 'express';
import type { z } from 'zod';
import { describeIssues } from '../model/capacity.ts';
import { log } from './registration/mask.ts';

/** Listening, printing the address, and stopping cleanly on SIGTERM/SIGINT: the same for every mock. */
export async function listen(
  app: Express,
  port: number,
  host: string,
): Promise<{ server: Server; url: string }> {
  const server = app.listen(port, host);
  await once(server, 'listening');
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  // Keep-alive longer than clients' idle timeouts so that pooled connections are not cut mid-request.
  server.keepAliveTimeout = 65_000;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}` };
}

export function closeOnSignals(close: () => Promise<void>): void {
  const stop = () => {
    void close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** Parses process.env with a schema; on failure prints which variable and what was expected, then exits 2. */
export function readEnv<T extends z.ZodType>(schema: T, service: string): z.infer<T> {
  const parsed = schema.safeParse(process.env);
  if (!parsed.success) {
    log.error(`${service}: invalid environment: ${describeIssues(parsed.error)}`);
    process.exit(2);
  }
  return parsed.data;
}
