import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import {
  absoluteRuleFiles,
  prometheusArgs,
  renderPrometheusConfig,
  type ScrapeTargets,
} from '../../dashboards/prometheus-config.ts';

/**
 * A Prometheus server found on the machine (Debian's `prometheus` package), started for one
 * rehearsal with its TSDB inside the run directory (browse it later with
 * `prometheus --storage.tsdb.path=results/<run-id>/prometheus`), and a small client for its HTTP
 * API. Prometheus is an option of `rehearse`, never a requirement.
 */

export const PROMETHEUS_PACKAGE = 'prometheus';

/** An executable named `name` in a directory of PATH, or undefined. */
export function findOnPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The prometheus binary on PATH, or undefined. */
export function findPrometheus(path = process.env.PATH ?? ''): string | undefined {
  return findOnPath('prometheus', path);
}

/** A free loopback port, for a server whose address must be known before it starts. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((r) => server.close(r));
  return port;
}

export interface RunningPrometheus {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface PrometheusStart {
  binary: string;
  /** where prometheus.yml and the TSDB (prometheus/) go */
  dir: string;
  /** an existing TSDB to serve instead of dir/prometheus (a past run's) */
  dataDir?: string;
  /** scrape jobs; none: serve an existing TSDB only */
  targets?: Partial<ScrapeTargets>;
  scrapeIntervalSeconds?: number;
  /** how long to wait for /-/ready */
  readyTimeoutMs?: number;
}

export async function startPrometheus(o: PrometheusStart): Promise<RunningPrometheus> {
  mkdirSync(o.dir, { recursive: true });
  const configFile = join(o.dir, 'prometheus.yml');
  const dataDir = o.dataDir ?? join(o.dir, 'prometheus');
  writeFileSync(
    configFile,
    o.targets
      ? renderPrometheusConfig({
          targets: o.targets,
          ruleFiles: absoluteRuleFiles(),
          scrapeIntervalSeconds: o.scrapeIntervalSeconds ?? 1,
        })
      : 'global: {}\n',
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    o.binary,
    prometheusArgs({ configFile, dataDir, listen: `127.0.0.1:${port}` }),
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + String(d)).slice(-4000);
  });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    // Prometheus flushes its head block on SIGTERM; give it time before the hard stop.
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (o.readyTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) {
      if (o.targets) await firstScrapes(url, Object.keys(o.targets).length, deadline);
      return { url, dataDir, stop };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  await stop();
  throw new Error(
    `Prometheus (${o.binary}) did not become ready on ${url}: ${stderr.trim().split('\n').pop() ?? ''}`,
  );
}

/**
 * Prometheus hands new targets to its scrapers up to 5 s after it is ready (service discovery
 * batches its updates): wait until every target has been scraped once, so the run's first
 * seconds are not missing from the record.
 */
async function firstScrapes(url: string, targets: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const body = (await fetch(`${url}/api/v1/targets?state=active`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.json())
      .catch(() => ({}))) as { data?: { activeTargets?: Array<{ lastScrape?: string }> } };
    const active = body.data?.activeTargets ?? [];
    const scraped = active.filter((t) => t.lastScrape && !t.lastScrape.startsWith('0001-')).length;
    if (active.length >= targets && scraped >= targets) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface PromSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** Prometheus's HTTP API: range and instant queries, errors with the query named. */
export class PrometheusApi {
  constructor(readonly url: string) {}

  private async get(path: string, params: Record<string, string>): Promise<unknown> {
    const u = new URL(`${this.url}${path}`);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    let res: Response;
    try {
      res = await fetch(u, { signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new Error(`Prometheus at ${this.url} did not answer (${(err as Error).message})`);
    }
    const body = (await res.json().catch(() => ({}))) as {
      status?: string;
      error?: string;
      data?: { result?: unknown };
    };
    if (body.status !== 'success')
      throw new Error(`Prometheus refused ${params.query}: ${body.error ?? `HTTP ${res.status}`}`);
    return body.data?.result ?? [];
  }

  /** Points at start, start + step, ..., end (seconds since the epoch). */
  async range(query: string, start: number, end: number, step: number): Promise<PromSeries[]> {
    return (await this.get('/api/v1/query_range', {
      query,
      start: String(start),
      end: String(end),
      step: String(step),
    })) as PromSeries[];
  }

  async instant(
    query: string,
    time: number,
  ): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    return (await this.get('/api/v1/query', { query, time: String(time) })) as Array<{
      metric: Record<string, string>;
      value: [number, string];
    }>;
  }
}
