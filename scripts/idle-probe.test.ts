import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probeIdleCpu } from './idle-probe.ts';

let server: Server | undefined;

/** A /metrics on loopback whose CPU counter is `body(secondsSinceStart)`. */
async function metrics(body: (s: number) => string): Promise<string> {
  const t0 = performance.now();
  server = createServer((_, res) => {
    res.setHeader('content-type', 'text/plain; version=0.0.4');
    res.end(body((performance.now() - t0) / 1000));
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

afterEach(async () => {
  await new Promise((r) => server?.close(r));
  server = undefined;
});

describe('the idle CPU probe', () => {
  it("reads the process's CPU over the wall time between its first and last reading", async () => {
    // A counter that grows by 0.07 s a second: a process using 0.07 cores, whenever it is read.
    const url = await metrics(
      (s) =>
        `# HELP process_cpu_seconds_total x\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ${0.5 + 0.07 * s}\nother_total 3\n`,
    );
    const p = await probeIdleCpu(url, { scrapeSeconds: 0.05, seconds: 1 });
    expect(p.seconds).toBeGreaterThanOrEqual(1);
    // The readings are taken by the server a little before the probe's clock reads them.
    expect(p.cores).toBeGreaterThan(0.06);
    expect(p.cores).toBeLessThan(0.08);
  });

  it('fails naming the URL when the service exposes no CPU counter', async () => {
    const url = await metrics(() => 'nodejs_heap_size_total_bytes 1\n');
    await expect(probeIdleCpu(url, { scrapeSeconds: 0.05, seconds: 0.1 })).rejects.toThrow(
      `${url}: no process_cpu_seconds_total`,
    );
  });
});
