import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allDashboardQueries, resolveGrafanaVariables } from '../dashboards/catalog.ts';
import {
  absoluteRuleFiles,
  prometheusArgs,
  renderPrometheusConfig,
} from '../dashboards/prometheus-config.ts';
import { runTest } from '../runner/index.ts';
import { type RunningStack, startStack } from '../scripts/stack.ts';
import { requireSystemBinary } from './support/system-binary.ts';

/**
 * The proof of the dashboards: a real Prometheus scrapes the four services and the embedded runner
 * during a short registration-day rehearsal that is made to break (a Dukcapil with 1 server, a fault
 * injected two thirds of the way, too few VUs for the opening surge, a fifth of the registrants minors
 * whom the age rule refuses whatever Dukcapil does); then every panel query and every
 * recording rule must parse and return data over the run. A panel that shows nothing is a bug.
 * `npm test` runs this file on its own, after the others: the rehearsal needs the 2 cores to itself.
 */

const prometheus = requireSystemBinary(['prometheus'], 'prometheus');
const dir = mkdtempSync(join(tmpdir(), 'gelombang-observability-'));
let stack: RunningStack;
let prom: ChildProcess;
let promUrl = '';
const window = { start: 0, end: 0 };

describe.skipIf(!prometheus)('dashboards and rules against a real Prometheus after a rehearsal', () => {
  beforeAll(async () => {
    const capacity = JSON.parse(readFileSync('mock-services/capacity.default.json', 'utf8'));
    // One slow Dukcapil server with a short timeout: it saturates, queues and times out.
    capacity.dukcapil = {
      ...capacity.dukcapil,
      concurrency: 1,
      queue: 4,
      timeoutMs: 800,
      serviceTime: { distribution: 'lognormal', medianMs: 300, p99Ms: 2000 },
    };
    writeFileSync(join(dir, 'capacity.json'), JSON.stringify(capacity));
    stack = await startStack({
      ports: 'auto',
      capacityFile: join(dir, 'capacity.json'),
      env: { registration: { SCRYPT_N: '1024' } },
    });
    const host = (u: string) => new URL(u).host;
    const runnerPort = 20_000 + (process.pid % 10_000);
    const promPort = 30_000 + (process.pid % 10_000);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      renderPrometheusConfig({
        targets: {
          registration: host(stack.urls.registration),
          ministry: host(stack.urls.ministry),
          email: host(stack.urls.email),
          upload: host(stack.urls.upload),
          runner: `127.0.0.1:${runnerPort}`,
        },
        ruleFiles: absoluteRuleFiles(),
        scrapeIntervalSeconds: 1,
      }),
    );
    promUrl = `http://127.0.0.1:${promPort}`;
    prom = spawn(
      prometheus as string,
      prometheusArgs({
        configFile: join(dir, 'prometheus.yml'),
        dataDir: join(dir, 'data'),
        listen: `127.0.0.1:${promPort}`,
      }),
      {
        stdio: 'ignore',
      },
    );
    for (let i = 0; i < 100; i++) {
      const ready = await fetch(`${promUrl}/-/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    window.start = Date.now() / 1000;
    const fault = setTimeout(() => {
      void fetch(`${stack.urls.ministry}/admin/config`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ dukcapil: { errorRate: 0.8, errorStatus: 503 } }),
      });
    }, 20_000);
    const r = await runTest({
      script: 'scenarios/registration-day.ts',
      env: {
        BASE_URL: stack.urls.registration,
        EMAIL_URL: stack.urls.email,
        SCALE: '0.0004',
        COMPRESS: '60',
        // the calibrated think times (hours) compressed enough for registrants to reach every stage
        THINK_COMPRESS: '3000',
        WINDOW_FROM: '0',
        WINDOW_TO: '30',
        JOURNEY_SECONDS: '1',
        GRACEFUL_STOP: '30s',
        INELIGIBLE_SHARE: '0.2',
        MINOR_SHARE: '0.2',
      },
      quiet: true,
      progress: 'none',
      prometheus: { host: '127.0.0.1', port: runnerPort },
      tags: { testid: 'observability-proof' },
      noThresholds: true,
    });
    clearTimeout(fault);
    expect(r.error).toBeUndefined();
    window.end = Date.now() / 1000 + 2;
    await new Promise((res) => setTimeout(res, 2500));
  }, 300_000);

  afterAll(async () => {
    prom?.kill();
    await stack?.stop();
  });

  const queries = allDashboardQueries().filter((q) => q.dashboard !== 'rules:gelombang-alerts');

  it('evaluates every panel query and recording rule to data', async () => {
    const empty: string[] = [];
    for (const q of queries) {
      const u = new URL(`${promUrl}/api/v1/query_range`);
      u.searchParams.set('query', resolveGrafanaVariables(q.expr));
      u.searchParams.set('start', String(window.start));
      u.searchParams.set('end', String(window.end));
      u.searchParams.set('step', '2');
      const body = (await (await fetch(u)).json()) as {
        status: string;
        error?: string;
        data?: { result: unknown[] };
      };
      if (body.status !== 'success') empty.push(`${q.dashboard} / ${q.panel}: ${body.error}`);
      // The rehearsal runs the 2020 design: the hardened parts' metrics (dashboards/metrics.ts
      // CONDITIONAL_METRICS) have no series, so their queries must evaluate but may be empty.
      else if (!body.data?.result.length && !q.onlyWhen) empty.push(`${q.dashboard} / ${q.panel}: no data`);
    }
    expect(queries.length).toBeGreaterThan(80);
    expect(empty).toEqual([]);
  });

  it('evaluates every alerting rule without error, and raises the saturation alert', async () => {
    const alerts = allDashboardQueries().filter((q) => q.dashboard === 'rules:gelombang-alerts');
    for (const a of alerts) {
      const u = new URL(`${promUrl}/api/v1/query_range`);
      u.searchParams.set('query', a.expr);
      u.searchParams.set('start', String(window.start));
      u.searchParams.set('end', String(window.end));
      u.searchParams.set('step', '2');
      const body = (await (await fetch(u)).json()) as { status: string };
      expect(body.status, a.panel).toBe('success');
    }
    const u = new URL(`${promUrl}/api/v1/query_range`);
    u.searchParams.set('query', alerts.find((a) => a.panel === 'DependencySaturated')?.expr ?? 'absent');
    u.searchParams.set('start', String(window.start));
    u.searchParams.set('end', String(window.end));
    u.searchParams.set('step', '2');
    const body = (await (await fetch(u)).json()) as {
      data: { result: Array<{ metric: { dependency?: string } }> };
    };
    expect(body.data.result.map((s) => s.metric.dependency)).toContain('dukcapil');
  });
});
