import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EXIT, type ExitCode, RunError } from './errors.ts';
import type { MainToWorker, WorkerToMain } from './protocol.ts';

/** The main thread's side of a worker thread (runner/worker.ts): its messages as awaitable replies. */

const HERE = dirname(fileURLToPath(import.meta.url));

export interface WorkerHandle {
  worker: Worker;
  /** the worker's next message of that type; rejects when the worker reports an error instead */
  next: <T extends WorkerToMain['type']>(type: T) => Promise<Extract<WorkerToMain, { type: T }>>;
  post: (m: MainToWorker) => void;
}

/** Starts a worker thread; messages nobody awaits with next() go to `onMessage`. */
export function spawnWorker(onMessage: (m: WorkerToMain) => void): WorkerHandle {
  const worker = new Worker(join(HERE, 'worker-boot.mjs'));
  const waiters: Array<{ type: string; resolve: (m: WorkerToMain) => void; reject: (e: Error) => void }> = [];
  worker.on('message', (m: WorkerToMain) => {
    if (m.type === 'error') {
      const w = waiters.shift();
      if (w) w.reject(new RunError(m.exitCode as ExitCode, m.message));
      else onMessage(m);
      return;
    }
    const i = waiters.findIndex((w) => w.type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(m);
    else onMessage(m);
  });
  worker.on('error', (err) => {
    for (const w of waiters.splice(0))
      w.reject(new RunError(EXIT.genericEngine, `worker crashed: ${err.stack ?? err.message}`));
  });
  return {
    worker,
    post: (m) => worker.postMessage(m),
    next: (type) =>
      new Promise((res, rej) => {
        waiters.push({ type, resolve: res as (m: WorkerToMain) => void, reject: rej });
      }) as never,
  };
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string, code: ExitCode): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, rej) => {
      timer = setTimeout(() => rej(new RunError(code, `${what} did not finish within ${ms} ms`)), ms);
    }),
  ]);
}
