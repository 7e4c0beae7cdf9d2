import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { bundleScenarios } from '../scripts/commands/bundle.ts';
import { freePort } from '../scripts/series/prometheus.ts';
import { benchEnv } from './env.ts';
import { helloServer } from './hello.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * Real k6 beside the embedded runner, on the same scripts and the same loopback server, in one
 * run: (1) request rate against autocannon's; (2) resident memory at 5,000 VUs; (3) memory per VU
 * of registration-day, from the slope between two VU counts. Memory is the peak RSS that
 * `/usr/bin/time -v` reports for the whole process (k6, or `gelombang run` with its worker
 * threads). Needs K6_BIN (a k6 v0.47+ binary: ../shared/tools/build-k6.sh builds one).
 */

const ROOT = join(import.meta.dirname, '..');
const SECONDS = benchEnv('BENCH_K6_SECONDS', 'positive', 10);
const dir = mkdtempSync(join(tmpdir(), 'gelombang-bench-k6-'));

interface Measured {
  exitCode: number;
  maxRssKiB: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time -v and reads its peak resident set size. */
function timed(command: string, args: string[]): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-v', command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      if (!rss) return reject(new Error(`no RSS from /usr/bin/time for ${command}: ${stderr.slice(-500)}`));
      resolve({ exitCode: code ?? -1, maxRssKiB: Number(rss[1]), stdout });
    });
  });
}

const k6Run = (k6: string, script: string, args: string[]) =>
  timed(k6, ['run', '-q', '--no-thresholds', ...args, script]);
const runnerRun = (script: string, args: string[]) =>
  timed(process.execPath, [
    join(ROOT, 'bin/gelombang.js'),
    'run',
    '-q',
    '--progress',
    'none',
    '--no-thresholds',
    ...args,
    script,
  ]);

function rateFrom(summaryFile: string): number {
  const s = JSON.parse(readFileSync(summaryFile, 'utf8')) as { metrics: Record<string, { rate?: number }> };
  return s.metrics.http_reqs?.rate ?? 0;
}

const bench: Bench = {
  name: 'k6',
  async run() {
    const k6 = process.env.K6_BIN;
    if (!k6 || !existsSync(k6)) {
      console.error(
        'k6 bench skipped: set K6_BIN to a k6 v0.47+ binary (../shared/tools/build-k6.sh builds one)',
      );
      return [];
    }
    if (!existsSync('/usr/bin/time'))
      throw new Error('the k6 bench needs /usr/bin/time (Debian package time)');
    const rows: BenchRow[] = [];
    const server = await helloServer();
    try {
      // (1) request rate: one plain k6 script that both engines run as it is.
      const closed = join(dir, 'closed.js');
      writeFileSync(
        closed,
        `import http from 'k6/http';
export const options = { vus: 50, duration: '${SECONDS}s' };
export default async function () { await http.asyncRequest('GET', __ENV.TARGET); }
`,
      );
      const cannon = await autocannon({ url: server.url, connections: 50, duration: SECONDS });
      const env = ['-e', `TARGET=${server.url}`];
      const k6Summary = join(dir, 'k6-closed.json');
      await k6Run(k6, closed, [...env, '--summary-export', k6Summary]);
      const runnerSummary = join(dir, 'runner-closed.json');
      await runnerRun(closed, [...env, '--summary-export', runnerSummary]);
      for (const [engine, file] of [
        ['real k6 v0.47', k6Summary],
        ['embedded runner', runnerSummary],
      ] as const) {
        const rate = rateFrom(file);
        rows.push({
          bench: 'k6',
          metric: `requests/s, 50 VUs, async default function: ${engine}`,
          value: rate,
          unit: 'req/s',
          reference: cannon.requests.average,
          ratio: rate / cannon.requests.average,
          note: `reference: autocannon, 50 connections, ${SECONDS} s, same server, same run`,
        });
      }

      // (2) 5,000 VUs, each a request a second: what a VU costs when there are many.
      const many = join(dir, 'many.js');
      writeFileSync(
        many,
        `import http from 'k6/http';
import { sleep } from 'k6';
export const options = { vus: 5000, duration: '${SECONDS}s' };
export default async function () { await http.asyncRequest('GET', __ENV.TARGET); await sleep(1); }
`,
      );
      const k6Many = await k6Run(k6, many, env);
      const runnerMany = await runnerRun(many, env);
      rows.push({
        bench: 'k6',
        metric: 'peak RSS at 5,000 VUs (a request and sleep(1) each): real k6',
        value: k6Many.maxRssKiB / 1024,
        unit: 'MiB',
        reference: runnerMany.maxRssKiB / 1024,
        ratio: k6Many.maxRssKiB / runnerMany.maxRssKiB,
        note: `reference: the embedded runner on the same script (exit codes ${k6Many.exitCode}, ${runnerMany.exitCode})`,
      });

      // (3) registration-day's VUs: every preallocated VU runs the init context. A closed port
      // ends each journey at its first request, so the run measures the VUs, not the journeys.
      const [bundled] = await bundleScenarios([join(ROOT, 'scenarios/registration-day.ts')], join(dir, 'k6'));
      const bundle = (bundled as { out: string }).out;
      // A free port is one nothing listens on: every connection is refused at once.
      const port = await freePort();
      const perVu = async (run: (scale: number) => Promise<Measured>) => {
        // Minute 0 of the 2020 day has 21,154 arrivals; a journey as long as the run holds one VU each.
        const [lo, hi] = [0.002, 0.02].map((s) => ({ scale: s, vus: Math.ceil(21154 * s) }));
        const a = await run(lo!.scale);
        const b = await run(hi!.scale);
        return {
          kib: (b.maxRssKiB - a.maxRssKiB) / (hi!.vus - lo!.vus),
          note: `${lo!.vus} and ${hi!.vus} VUs: ${(a.maxRssKiB / 1024).toFixed(0)} and ${(b.maxRssKiB / 1024).toFixed(0)} MiB`,
        };
      };
      const scenarioEnv = (scale: number) => [
        ...['-e', `BASE_URL=http://127.0.0.1:${port}`, '-e', `EMAIL_URL=http://127.0.0.1:${port}`],
        ...['-e', `SCALE=${scale}`, '-e', 'COMPRESS=600', '-e', 'WINDOW_FROM=0', '-e', 'WINDOW_TO=1'],
        ...['-e', 'JOURNEY_SECONDS=1000', '-e', 'GRACEFUL_STOP=1s'],
      ];
      const k6Vu = await perVu((scale) => k6Run(k6, bundle, scenarioEnv(scale)));
      const runnerVu = await perVu((scale) =>
        runnerRun(join(ROOT, 'scenarios/registration-day.ts'), scenarioEnv(scale)),
      );
      rows.push({
        bench: 'k6',
        metric: 'registration-day: memory per VU, real k6',
        value: k6Vu.kib / 1024,
        unit: 'MiB/VU',
        reference: 3,
        ratio: k6Vu.kib / 1024 / 3,
        note: `slope between ${k6Vu.note}; reference: the goal of 3 MiB per VU`,
      });
      rows.push({
        bench: 'k6',
        metric: 'registration-day: memory per VU, embedded runner',
        value: runnerVu.kib / 1024,
        unit: 'MiB/VU',
        reference: k6Vu.kib / 1024,
        ratio: runnerVu.kib / k6Vu.kib,
        note: `slope between ${runnerVu.note}; reference: real k6 above (the runner's VUs share one runtime per thread)`,
      });
    } finally {
      server.child.kill();
    }
    return rows;
  },
};

export default bench;
