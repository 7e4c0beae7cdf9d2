import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { runTest } from '../index.ts';

/**
 * What the runner's end-to-end tests share: a local HTTP server to load (`/slow` answers after
 * 400 ms, `/status/N` with N, anything else with a small JSON body), scripts written to a
 * temporary folder, and the options that keep a run quiet on two worker threads.
 */

export interface Target {
  /** http://127.0.0.1:port, once the server listens */
  url: string;
  /** requests it has answered so far */
  hits: number;
}

/** A server for the tests of the calling file: started before them, closed after. */
export function useTarget(): Target {
  const target: Target = { url: '', hits: 0 };
  const server = createServer((req, res) => {
    target.hits++;
    if (req.url?.startsWith('/slow')) {
      setTimeout(() => res.end('slow'), 400);
      return;
    }
    if (req.url?.startsWith('/status/')) {
      res.writeHead(Number(req.url.slice(8))).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
  });
  beforeAll(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    target.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  return target;
}

export const scriptDir = mkdtempSync(join(tmpdir(), 'gelombang-runner-test-'));
let n = 0;

/** Writes a k6 script to a file of its own and returns its path. */
export function script(body: string): string {
  const file = join(scriptDir, `s${++n}.ts`);
  writeFileSync(file, body);
  return file;
}

export const quiet = { quiet: true, progress: 'none' as const, workers: 2 };

export const values = (r: Awaited<ReturnType<typeof runTest>>, metric: string) =>
  r.summary?.metrics[metric]?.values ?? {};
