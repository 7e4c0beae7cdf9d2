import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { defaultWorkers, runTest } from '../runner/index.ts';
import { benchEnv } from './env.ts';
import { helloServer } from './hello.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * The embedded runner: (1) its request rate against autocannon's, same server, same run;
 * (2) arrival-rate accuracy at 500, 2,000 and 5,000 iterations/s; (3) resident memory after
 * N and after 4N requests (trends in HDR histograms must keep it flat).
 */

const SECONDS = benchEnv('BENCH_RUNNER_SECONDS', 'positive', 10);
// Default N = 500k (2M requests in all, about 2 minutes at ~20k req/s); the goal is
// BENCH_RUNNER_REQUESTS=2500000 (10M in all).
const MEMORY_REQUESTS = benchEnv('BENCH_RUNNER_REQUESTS', 'count', 500_000);
const dir = mkdtempSync(join(tmpdir(), 'gelombang-bench-'));

function script(name: string, body: string): string {
  const file = join(dir, `${name}.ts`);
  writeFileSync(file, body);
  return file;
}

const count = (n: number) => (n >= 1e6 ? `${+(n / 1e6).toFixed(2)}M` : `${+(n / 1e3).toFixed(1)}k`);

const quiet = { quiet: true, progress: 'none' as const };

const bench: Bench = {
  name: 'runner',
  async run() {
    const rows: BenchRow[] = [];
    const server = await helloServer();
    try {
      // (1) request rate, 50 VUs vs 50 connections
      const cannon = await autocannon({ url: server.url, connections: 50, duration: SECONDS });
      const closed = await runTest({
        ...quiet,
        script: script(
          'closed',
          `
          import http from 'k6/http';
          export const options = { vus: 50, duration: '${SECONDS}s' };
          export default async function () { await http.asyncRequest('GET', __ENV.TARGET); }
        `,
        ),
        env: { TARGET: server.url },
      });
      const rate = closed.summary?.metrics.http_reqs?.values.rate ?? 0;
      rows.push({
        bench: 'runner',
        metric: 'requests/s, 50 VUs, async default function',
        value: rate,
        unit: 'req/s',
        reference: cannon.requests.average,
        ratio: rate / cannon.requests.average,
        note: `${defaultWorkers()} worker thread(s) (the default); reference: autocannon, 50 connections, ${SECONDS} s, same server; goal >= 0.7`,
      });
      // The same with one more worker thread: on a machine whose cores the target shares, more
      // threads switch more; this row is why the default leaves a core to the main thread.
      const more = defaultWorkers() + 1;
      const oneThread = await runTest({
        ...quiet,
        workers: more,
        script: script(
          'closed1',
          `
          import http from 'k6/http';
          export const options = { vus: 50, duration: '${SECONDS}s' };
          export default async function () { await http.asyncRequest('GET', __ENV.TARGET); }
        `,
        ),
        env: { TARGET: server.url },
      });
      const rate1 = oneThread.summary?.metrics.http_reqs?.values.rate ?? 0;
      rows.push({
        bench: 'runner',
        metric: `requests/s, 50 VUs, --workers ${more}`,
        value: rate1,
        unit: 'req/s',
        reference: cannon.requests.average,
        ratio: rate1 / cannon.requests.average,
        note: 'as above, one worker thread more than the default',
      });

      // The scenarios' slow count (scenarios/lib/journey.ts) adds a tagged counter sample after
      // every request: its cost, against the same tagged request without it, back to back.
      const tagged = async (counted: boolean) => {
        const r = await runTest({
          ...quiet,
          script: script(
            counted ? 'counted' : 'tagged',
            `
            import http from 'k6/http';
            import { Counter } from 'k6/metrics';
            export const options = { vus: 50, duration: '${SECONDS}s' };
            const slow = new Counter('step_slow_requests');
            export default async function () {
              const res = await http.asyncRequest('GET', __ENV.TARGET, null, { tags: { step: 'create_account' } });
              ${counted ? "slow.add(res.timings.duration > 1500 ? 1 : 0, { step: 'create_account', above_ms: '1500' });" : ''}
            }
          `,
          ),
          env: { TARGET: server.url },
        });
        return r.summary?.metrics.http_reqs?.values.rate ?? 0;
      };
      // In the order without, with, with, without: a drift of the machine over the four runs
      // falls on both sides alike (one pair on this host differed by 17 %, the counted faster).
      const order = [false, true, true, false];
      const rates: number[] = [];
      for (const counted of order) rates.push(await tagged(counted));
      const mean = (counted: boolean) => {
        const side = rates.filter((_, i) => order[i] === counted);
        return side.reduce((a, r) => a + r, 0) / side.length;
      };
      rows.push({
        bench: 'runner',
        metric: 'requests/s, 50 VUs, a tagged counter added per request',
        value: mean(true),
        unit: 'req/s',
        reference: mean(false),
        ratio: mean(true) / mean(false),
        note: `the journey's slow count (step_slow_requests{step, above_ms}) after each request; reference: the same tagged request without it; means of two runs each, in the order without, with, with, without: ${rates.map(Math.round).join(', ')}`,
      });

      // (2) arrival-rate accuracy
      for (const target of [500, 2000, 5000]) {
        const r = await runTest({
          ...quiet,
          script: script(
            `rate${target}`,
            `
            import http from 'k6/http';
            export const options = { scenarios: { s: { executor: 'constant-arrival-rate', rate: ${target}, timeUnit: '1s', duration: '${SECONDS}s', preAllocatedVUs: ${Math.ceil(target / 20)}, maxVUs: ${target} } } };
            export default async function () { await http.asyncRequest('GET', __ENV.TARGET); }
          `,
          ),
          env: { TARGET: server.url },
        });
        const started = r.summary?.metrics.iterations?.values.count ?? 0;
        const dropped = r.summary?.metrics.dropped_iterations?.values.count ?? 0;
        const planned = target * SECONDS + 1;
        rows.push({
          bench: 'runner',
          metric: `arrival rate ${target}/s: iterations completed vs planned`,
          value: started / SECONDS,
          unit: 'it/s',
          reference: planned / SECONDS,
          ratio: started / planned,
          note: `${started} of ${planned} planned, ${dropped} dropped (reported), ${planned - started - dropped} cut at the end`,
        });
      }

      // (3) memory: RSS after N and after 4N requests
      const marks: Array<{ reqs: number; rss: number }> = [];
      const wanted = [MEMORY_REQUESTS, 4 * MEMORY_REQUESTS];
      await runTest({
        ...quiet,
        script: script(
          'memory',
          `
          import http from 'k6/http';
          export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 50, iterations: ${4 * MEMORY_REQUESTS}, maxDuration: '60m' } } };
          export default async function () { await http.asyncRequest('GET', __ENV.TARGET, null, { tags: { step: 'hello' } }); }
        `,
        ),
        env: { TARGET: server.url },
        outputs: [
          {
            description: 'RSS marks',
            onSample: (metrics) => {
              const count = metrics.counter('http_reqs');
              while (wanted.length && count >= (wanted[0] as number)) {
                marks.push({ reqs: wanted.shift() as number, rss: process.memoryUsage().rss });
              }
            },
          },
        ],
      });
      const [a, b] = marks;
      if (a && b) {
        rows.push({
          bench: 'runner',
          metric: `RSS after ${count(b.reqs)} requests`,
          value: b.rss / 2 ** 20,
          unit: 'MiB',
          reference: a.rss / 2 ** 20,
          ratio: b.rss / a.rss,
          note: `reference: RSS after ${count(a.reqs)} (whole process: main + worker threads); goal: flat within 10 %`,
        });
      }
    } finally {
      server.child.kill();
    }
    return rows;
  },
};

export default bench;
