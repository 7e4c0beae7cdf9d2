import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Step } from '../model/funnel.ts';
import { SLOS } from '../model/slo.ts';
import { readRunRecord, SMTP_POOL, seriesValues, slowRatioLabels } from '../reports/record.ts';
import type { Report } from '../reports/report-model.ts';
import { type RunningPrometheus, startPrometheus } from '../scripts/series/prometheus.ts';
import { CUMULATIVE_LATENCY_NOTE } from '../scripts/series/prometheus-series.ts';
import { gelombangAsync as gelombang, tinyRehearsal } from './support/gelombang-cli.ts';
import { requireSystemBinary } from './support/system-binary.ts';

/**
 * A real Prometheus in the run record's two paths: `rehearse --prometheus` (the services' series
 * from PromQL), and `record`, which turns a k6 run (its handleSummary JSON plus Prometheus) into a
 * run record. The k6 run here is the embedded runner's (same metric names as k6's remote-write
 * output, scraped instead of pushed); the imported totals must equal the rehearsal's exact ones.
 */

const prometheus = requireSystemBinary(['prometheus'], 'prometheus');
const results = mkdtempSync(join(tmpdir(), 'gelombang-prometheus-record-'));
const runDir = join(results, 'with-prometheus');
let served: RunningPrometheus | undefined;

const sum = (values: Array<number | null>, dt: number) =>
  values.reduce<number>((a, v) => a + (v ?? 0) * dt, 0);

describe.skipIf(!prometheus)('run records with a real Prometheus', () => {
  afterAll(async () => {
    await served?.stop();
  });

  it('rehearse --prometheus: starts Prometheus, keeps its TSDB in the run directory, takes the services’ series from it', async () => {
    const r = await gelombang(tinyRehearsal(results, 'with-prometheus', ['--prometheus']));
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/prometheus http:\/\/127\.0\.0\.1:\d+ \(scraping every 0\.25 s/);
    expect(existsSync(join(runDir, 'prometheus'))).toBe(true);

    const record = readRunRecord(runDir);
    expect(record.timeseries.sources).toEqual(['runner', 'prometheus']);
    const ts = record.timeseries;
    const deps = ts.series.filter((s) => s.name === 'dependency_utilisation');
    expect(deps.map((s) => s.labels.dependency).sort()).toEqual([
      'dapodik',
      'dtks',
      'dukcapil',
      'email',
      SMTP_POOL,
      'upload',
    ]);
    // Prometheus scraped from the first seconds on (its targets are waited for before the run;
    // without that wait its service discovery leaves the first ~5 s empty).
    const dukcapil = deps.find((s) => s.labels.dependency === 'dukcapil')?.values ?? [];
    expect(dukcapil.slice(0, 6).some((v) => v !== null)).toBe(true);
    expect(Math.max(...dukcapil.map((v) => v ?? 0))).toBeGreaterThan(0);
    const cpu = ts.series.filter((s) => s.name === 'process_cpu_cores');
    expect(cpu.map((s) => s.labels.process).sort()).toEqual([
      'email',
      'ministry',
      'registration',
      'runner',
      'upload',
    ]);
    expect(sum(cpu.find((s) => s.labels.process === 'registration')?.values ?? [], 1)).toBeGreaterThan(0);
    expect(ts.series.some((s) => s.name === 'event_loop_lag_ms' && s.labels.process === 'registration')).toBe(
      true,
    );
    // The mocks' service times from Prometheus: each bucket with its bounds, and the mean.
    const mails = ts.series.filter(
      (s) => s.name === 'dependency_service_buckets' && s.labels.dependency === 'email',
    );
    expect(
      sum(
        mails.flatMap((s) => s.values),
        1,
      ),
    ).toBeGreaterThan(0);
    for (const s of mails)
      expect(Number(s.labels.gt)).toBeLessThan(
        s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le),
      );
    expect(ts.series.some((s) => s.name === 'dependency_service_ms' && s.labels.dependency === 'email')).toBe(
      true,
    );
    // The service's hashes from Prometheus, by operation: some, and no more than the sign-ups that ran one.
    const hashes = sum(
      ts.series
        .filter((s) => s.name === 'password_hash_buckets' && s.labels.operation === 'hash')
        .flatMap((s) => s.values),
      ts.intervalSeconds,
    );
    const signUps = record.manifest.totals.steps.find((s) => s.step === 'create_account')?.requests ?? 0;
    expect(hashes).toBeGreaterThan(0);
    expect(hashes).toBeLessThanOrEqual(signUps + 0.01);
    // The runner's series stay the runner's own (exact): they add up to the totals.
    const arrivals = ts.series.find((s) => s.name === 'arrivals')?.values ?? [];
    expect(Math.abs(sum(arrivals, ts.intervalSeconds) - record.manifest.totals.arrivals)).toBeLessThanOrEqual(
      1,
    );
    const report = JSON.parse(readFileSync(join(runDir, 'report.json'), 'utf8')) as Report;
    expect(report.bottleneck.cpu?.processes.map((p) => p.process).sort()).toEqual([
      'email',
      'ministry',
      'registration',
      'runner',
      'upload',
    ]);
  }, 180_000);

  it('record: a k6 run (handleSummary JSON + Prometheus) becomes a run record with the same totals', async () => {
    const rehearsal = readRunRecord(runDir);
    // The rehearsal's Prometheus is gone; serve its TSDB again, as a user browsing it later would.
    served = await startPrometheus({
      binary: prometheus as string,
      dir: join(results, 'reopened'),
      dataDir: join(runDir, 'prometheus'),
    });
    const startS = rehearsal.timeseries.startedAtMs / 1000;
    const r = await gelombang([
      'record',
      '--k6-summary',
      join(runDir, 'summary.json'),
      '--prometheus',
      served.url,
      '--start',
      String(startS),
      '--interval',
      '0.5',
      '-e',
      'SCALE=0.0001',
      '-e',
      'COMPRESS=1200',
      '-e',
      'WINDOW_FROM=0',
      '-e',
      'WINDOW_TO=60',
      // The rehearsal's stack was scaled by its rate, as `stack --scale --compress` scales one.
      '--scaled',
      '--knob',
      'SCRYPT_N=1024',
      '--results',
      results,
      '--run-id',
      'imported',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^(HELD|BROKE): /m);
    const imported = readRunRecord(join(results, 'imported'));
    expect(imported.manifest.engine.name).toBe('k6');
    expect(imported.manifest.replay).toMatchObject({ scale: 0.0001, compress: 1200, windowMinutes: [0, 60] });
    // The stations the mocks enforced and what they stood for, as the rehearsal recorded them.
    expect(imported.manifest.similitude?.factor).toBeCloseTo(0.12, 12);
    expect(imported.manifest.similitude).toEqual(rehearsal.manifest.similitude);
    expect(imported.manifest.stack.capacity).toEqual(rehearsal.manifest.stack.capacity);

    // Exactly the rehearsal's totals: arrivals, drops, every funnel cell, every step's requests and failures.
    const a = rehearsal.manifest.totals;
    const b = imported.manifest.totals;
    expect(b.arrivals).toBe(a.arrivals);
    expect(b.droppedIterations).toBe(a.droppedIterations);
    const cells = (f: typeof a.funnel) =>
      f.map((x) => `${x.stage}/${x.outcome}/${x.reason ?? ''}=${x.count}`).sort();
    expect(cells(b.funnel)).toEqual(cells(a.funnel));
    const steps = (s: typeof a.steps) =>
      s.map((x) => `${x.step}: ${x.requests} requests, ${x.failed} failed`).sort();
    expect(steps(b.steps)).toEqual(steps(a.steps));
    // Percentiles of the steps with a submetric in the summary are the summary's (the rehearsal's
    // come from the same histograms, merged by tag).
    for (const s of b.steps) {
      const sub = imported.summary.metrics[`http_req_duration{step:${s.step}}`];
      if (sub) expect(s.p95Ms).toBe(sub.values['p(95)']);
    }

    // The series from Prometheus add up to the totals, and say how their latencies differ.
    const ts = imported.timeseries;
    expect(ts.sources).toEqual(['prometheus']);
    expect(ts.notes).toContain(CUMULATIVE_LATENCY_NOTE);
    const arrivals = ts.series.find((s) => s.name === 'arrivals')?.values ?? [];
    expect(Math.round(sum(arrivals, ts.intervalSeconds))).toBe(a.arrivals);
    const registered = ts.series.find(
      (s) =>
        s.name === 'stage_outcomes' && s.labels.stage === 'registered' && s.labels.outcome === 'continued',
    );
    expect(Math.round(sum(registered?.values ?? [], ts.intervalSeconds))).toBe(
      a.funnel.find((f) => f.stage === 'registered' && f.outcome === 'continued')?.count,
    );
    for (const step of a.steps) {
      const reqs = ts.series.find((s) => s.name === 'step_requests' && s.labels.step === step.step);
      expect(Math.round(sum(reqs?.values ?? [], ts.intervalSeconds)), step.step).toBe(step.requests);
    }
    // Each interval's share of slow requests, from the scenario's counter (k6 keeps no interval's
    // percentile): a share for every step that ran, adding up to the counter's total.
    let slow = 0;
    for (const step of a.steps) {
      if (!Object.hasOwn(SLOS, step.step)) continue;
      const labels = slowRatioLabels(step.step as Step);
      const shares = seriesValues(ts, 'step_slow_ratio', labels);
      expect(shares, step.step).toBeDefined();
      const reqs = seriesValues(ts, 'step_requests', { step: step.step }) ?? [];
      slow += (shares ?? []).reduce<number>(
        (n, v, i) => n + (v ?? 0) * (reqs[i] ?? 0) * ts.intervalSeconds,
        0,
      );
    }
    expect(Math.round(slow)).toBe(imported.summary.metrics.step_slow_requests?.values.count);
    expect(ts.series.filter((s) => s.name === 'dependency_utilisation').length).toBe(6);
    expect(existsSync(join(results, 'imported', 'report.html'))).toBe(true);
  }, 120_000);

  it('record without a summary (a distributed run): the same totals from Prometheus alone', async () => {
    const rehearsal = readRunRecord(runDir);
    const startS = rehearsal.timeseries.startedAtMs / 1000;
    const r = await gelombang([
      'record',
      '--prometheus',
      (served as RunningPrometheus).url,
      // When the test ran, as its operator knows it: not the record's endedAt, which comes after the
      // runner's endpoint went away (and Prometheus marked its series stale).
      '--start',
      String(startS),
      '--end',
      String(startS + rehearsal.summary.state.testRunDurationMs / 1000),
      '--interval',
      '0.5',
      '--results',
      results,
      '--run-id',
      'distributed',
    ]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const imported = readRunRecord(join(results, 'distributed'));
    const a = rehearsal.manifest.totals;
    const b = imported.manifest.totals;
    expect(b.arrivals).toBe(a.arrivals);
    const cells = (f: typeof a.funnel) =>
      f.map((x) => `${x.stage}/${x.outcome}/${x.reason ?? ''}=${x.count}`).sort();
    expect(cells(b.funnel)).toEqual(cells(a.funnel));
    expect(b.steps.map((x) => `${x.step}: ${x.requests}`).sort()).toEqual(
      a.steps.map((x) => `${x.step}: ${x.requests}`).sort(),
    );
    expect(imported.timeseries.notes?.join(' ')).toMatch(/No k6 summary was given/);
  }, 120_000);

  it('record: says so when Prometheus has no k6 series for the run', async () => {
    const url = served?.url ?? 'http://127.0.0.1:9';
    const r = await gelombang([
      'record',
      '--k6-summary',
      join(runDir, 'summary.json'),
      '--prometheus',
      url,
      '--end',
      '2001-01-01T00:00:00Z',
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`error: ${url}: no k6 metrics at 2001-01-01T00:00:00.000Z`);
    expect(r.stderr).toContain('-o experimental-prometheus-rw');
  }, 60_000);
});
