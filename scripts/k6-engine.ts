import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { bundleScenarios } from './commands/bundle.ts';
import { findOnPath } from './series/prometheus.ts';

/**
 * A rehearsal on a real k6 binary instead of the embedded runner: the scenario bundled as
 * `gelombang bundle` makes it, run with its samples pushed to the rehearsal's Prometheus by k6's
 * remote-write output (tagged with the run's testid) and its summary exported, so that the run is
 * recorded as `gelombang record` records any k6 run.
 */

/** Where to get a k6 when none is found: said by every command that needs one. */
export const K6_HOWTO =
  'install k6 v0.47 or later (grafana.com/docs/k6/latest/set-up/install-k6/), or build v0.47.0 from source with ../shared/tools/build-k6.sh; the embedded runner is the default engine and needs no k6';

/** The k6 on PATH, or undefined. */
export function findK6(path = process.env.PATH ?? ''): string | undefined {
  return findOnPath('k6', path);
}

/** `k6 version`'s first word after "k6", or why it is not a k6. */
export function k6Version(binary: string): { version: string } | { problem: string } {
  const r = spawnSync(binary, ['version'], { encoding: 'utf8', timeout: 10_000 });
  const m = /^k6 (v\d+\.\d+\.\d+\S*)/.exec(r.stdout ?? '');
  if (r.error || !m)
    return {
      problem: `'${binary} version' did not answer as k6 does (${r.error?.message ?? r.stdout.trim()})`,
    };
  const [major, minor] = (m[1] as string).slice(1).split('.').map(Number) as [number, number];
  if (major === 0 && minor < 47)
    return { problem: `${binary} is k6 ${m[1]}; the bundles need v0.47 or later` };
  return { version: m[1] as string };
}

export interface K6Run {
  k6: string;
  scenarioFile: string;
  /** where the bundle and k6's summary go */
  runDir: string;
  env: Record<string, string>;
  /** the Prometheus that receives remote write */
  prometheusUrl: string;
  testId: string;
  /** seconds: how often k6 pushes (its default is 5 s, coarser than the record's intervals) */
  pushIntervalSeconds: number;
  quiet: boolean;
  /** also every sample as JSON lines (k6's -o json=FILE) */
  outJson?: string;
}

export interface K6Result {
  exitCode: number;
  summaryFile: string;
  /** when k6 exited, seconds since the epoch */
  endS: number;
}

export async function runOnK6(o: K6Run): Promise<K6Result> {
  const [bundled] = await bundleScenarios([o.scenarioFile], join(o.runDir, 'k6'));
  const summaryFile = join(o.runDir, 'k6-summary.json');
  const args = [
    'run',
    '--summary-export',
    summaryFile,
    '-o',
    'experimental-prometheus-rw',
    '--tag',
    `testid=${o.testId}`,
  ];
  if (o.outJson) args.push('-o', `json=${o.outJson}`);
  if (o.quiet) args.push('-q');
  for (const [k, v] of Object.entries(o.env)) args.push('-e', `${k}=${v}`);
  args.push((bundled as { out: string }).out);
  const child = spawn(o.k6, args, {
    stdio: ['ignore', o.quiet ? 'ignore' : 'inherit', 'inherit'],
    env: {
      ...process.env,
      K6_PROMETHEUS_RW_SERVER_URL: `${o.prometheusUrl}/api/v1/write`,
      // The percentiles the run record keeps per step; k6 sends avg/min/max/p90/p95 by default.
      K6_PROMETHEUS_RW_TREND_STATS: 'med,p(90),p(95),p(99),max',
      K6_PROMETHEUS_RW_PUSH_INTERVAL: `${Math.max(1, Math.round(o.pushIntervalSeconds))}s`,
    },
  });
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
  return { exitCode, summaryFile, endS: Date.now() / 1000 };
}
