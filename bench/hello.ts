import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

/** The JSON hello-world of hello-server.mjs, in a process of its own, on a free loopback port. */
export async function helloServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, 'hello-server.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve) => {
    child.stdout?.on('data', (d: Buffer) => {
      const m = /listening (\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
  });
  return { url: `http://127.0.0.1:${port}/`, child };
}
