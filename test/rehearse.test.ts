import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCapacityFile } from '../mock-services/capacity.ts';
import { rateFactor, scaleCapacityFile, similarScryptN } from '../model/similitude.ts';
import { SLOS } from '../model/slo.ts';
import { readRunRecord, SMTP_POOL, seriesValues } from '../reports/record.ts';
import type { Report } from '../reports/report-model.ts';
import { DEFAULT_REHEARSAL_CAPACITY } from '../scripts/rehearsal-similitude.ts';
import { DEFAULT_CALIBRATION_FILE, journeyCpuMs, loadCalibration } from '../simulator/calibration.ts';
import { simulateDay } from '../simulator/day.ts';
import { dayOfRecord } from '../simulator/measured-run.ts';
import { gelombang, gelombangAsync, tinyRehearsal } from './support/gelombang-cli.ts';

/** `gelombang rehearse`, `report` and `compare` as a user runs them: processes, files, exit codes. */

const cli = ['bin/gelombang.js'];
const results = mkdtempSync(join(tmpdir(), 'gelombang-rehearse-'));

const tiny = (runId: string, extra: string[] = []) => tinyRehearsal(results, runId, extra);

describe('gelombang rehearse end to end', () => {
  it('starts the stack, replays the first hour at a tiny scale, writes the run record and the report, stops the stack', async () => {
    const samples = join(results, 'baseline-samples.jsonl');
    const r = await gelombangAsync(tiny('baseline', ['-o', `json=${samples}`]));
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^(HELD|BROKE): /m);
    expect(r.stdout).toMatch(/^bottleneck: /m);
    expect(r.stdout).toContain(`report: ${join(results, 'baseline', 'report.html')}`);

    const record = readRunRecord(join(results, 'baseline'));
    expect(record.manifest.scenario.name).toBe('registration-day');
    expect(record.manifest.stack.managed).toBe(true);
    expect(record.manifest.stack.knobs).toMatchObject({
      SERVICE_PROFILE: '2020',
      EMAIL_DELIVERY: 'inline',
      SCRYPT_N: '1024',
    });
    expect(record.manifest.replay).toMatchObject({ scale: 0.0001, compress: 1200, windowMinutes: [0, 60] });
    // The default capacity file, at full size, scaled by the run's share of the day's rate: what
    // the mocks were given and the record keeps.
    const factor = rateFactor({ scale: 0.0001, compress: 1200 });
    const scaled = scaleCapacityFile(loadCapacityFile(DEFAULT_REHEARSAL_CAPACITY), factor);
    expect(record.manifest.stack.capacity).toEqual(JSON.parse(JSON.stringify(scaled.capacity)));
    expect(record.manifest.similitude).toMatchObject({
      factor,
      scaled: true,
      capacityFile: DEFAULT_REHEARSAL_CAPACITY,
      stations: scaled.stations.map(({ capacityRatio: _, ...row }) => row),
    });
    // SCRYPT_N given: run as given, and what this machine's cores stood for at it
    expect(record.manifest.similitude?.cpu).toMatchObject({ scryptN: 1024, fullSizeScryptN: 1024 });
    // Everyone who arrived is in the funnel, once at the first stage.
    const arrivals = record.manifest.totals.arrivals;
    const first = record.manifest.totals.funnel.filter((f) => f.stage === 'registered');
    expect(arrivals).toBeGreaterThan(10);
    expect(first.reduce((a, f) => a + f.count, 0)).toBe(arrivals);
    expect(record.summary.metrics.http_reqs?.values.count).toBeGreaterThan(arrivals);
    // The time series: the runner's and the mocks' (every dependency of the capacity file).
    expect(record.timeseries.sources).toEqual(['runner', 'services']);
    // Each step's requests slower than its objective, counted per interval: what a p95 is judged by.
    const signUpsSlow = seriesValues(record.timeseries, 'step_slow_ratio', {
      step: 'create_account',
      above_ms: String(SLOS.create_account.p95Ms),
    });
    expect(signUpsSlow?.some((v) => v !== null)).toBe(true);
    const deps = record.timeseries.series
      .filter((s) => s.name === 'dependency_utilisation')
      .map((s) => s.labels.dependency);
    // The stations, and the service's own SMTP connections beside them.
    expect(deps.sort()).toEqual(['dapodik', 'dtks', 'dukcapil', 'email', SMTP_POOL, 'upload']);
    // Each process's CPU: the four services scraped, the runner measured in-process.
    const cpu = record.timeseries.series.filter((s) => s.name === 'process_cpu_cores');
    expect(cpu.map((s) => s.labels.process).sort()).toEqual([
      'email',
      'ministry',
      'registration',
      'runner',
      'upload',
    ]);
    const registrationCpu = cpu.find((s) => s.labels.process === 'registration')?.values ?? [];
    // it hashed every sign-up's password: some CPU, and never more than the machine has
    expect(registrationCpu.reduce<number>((a, v) => a + (v ?? 0), 0)).toBeGreaterThan(0);
    expect(record.manifest.machine?.cores).toBeGreaterThan(0);
    // The database's disk was probed before the load: what a commit holds the write lock, each mode.
    expect(record.manifest.machine?.commitMs?.FULL).toBeGreaterThan(0);
    expect(record.manifest.machine?.commitMs?.NORMAL).toBeGreaterThan(0);
    // And the CPU, by the service's own hash at the run's cost (SCRYPT_N=1024 here).
    expect(record.manifest.machine?.hashMs).toEqual({ n: 1024, ms: expect.any(Number) });
    expect(record.manifest.machine?.hashMs?.ms).toBeGreaterThan(0);
    // And the service idle, its /metrics read: some CPU (a Node process with timers), not a core's worth.
    expect(record.manifest.machine?.serviceIdleCores).toBeGreaterThan(0);
    expect(record.manifest.machine?.serviceIdleCores).toBeLessThan(0.5);
    expect(Math.max(...registrationCpu.map((v) => v ?? 0))).toBeLessThanOrEqual(
      (record.manifest.machine?.cores ?? 0) + 0.5,
    );
    // The mocks' service times, by bucket: every sign-up's mail was served once by the email mock.
    const mails = record.timeseries.series
      .filter((s) => s.name === 'dependency_service_buckets' && s.labels.dependency === 'email')
      .reduce((a, s) => a + s.values.reduce<number>((b, v) => b + (v ?? 0), 0), 0);
    const signUps = record.manifest.totals.steps.find((s) => s.step === 'create_account')?.requests ?? 0;
    expect(mails * record.timeseries.intervalSeconds).toBeGreaterThan(0);
    expect(mails * record.timeseries.intervalSeconds).toBeLessThanOrEqual(signUps);
    const sampledArrivals = record.timeseries.series.find((s) => s.name === 'arrivals')?.values ?? [];
    const summed = sampledArrivals.reduce<number>(
      (a, v) => a + (v ?? 0) * record.timeseries.intervalSeconds,
      0,
    );
    expect(Math.abs(summed - arrivals)).toBeLessThanOrEqual(1);

    // The run's key is recorded, and a simulation of the run draws each registrant's choices from
    // the run's streams: as many leave at the first stage after sign-up as the run measured.
    expect(record.manifest.scenario.env.RUN_KEY).toMatch(/^\d+$/);
    const simulated = simulateDay(dayOfRecord(record, loadCalibration())).rec.funnel();
    const count = (
      f: Array<{ stage: string; outcome: string; count: number }>,
      stage: string,
      outcome: string,
    ) => f.filter((x) => x.stage === stage && x.outcome === outcome).reduce((a, x) => a + x.count, 0);
    expect(count(simulated, 'registered', 'continued')).toBe(
      first.find((f) => f.outcome === 'continued')?.count,
    );
    expect(count(simulated, 'email_verified', 'left_by_choice')).toBe(
      count(record.manifest.totals.funnel, 'email_verified', 'left_by_choice'),
    );

    // -o json=FILE: every request's latency, tagged with its step, as k6 writes them.
    const durations = readFileSync(samples, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"metric":"http_req_duration"') && l.includes('"type":"Point"'))
      .map((l) => JSON.parse(l) as { data: { value: number; tags: Record<string, string> } });
    expect(durations.length).toBe(record.summary.metrics.http_reqs?.values.count);
    const signUpSamples = durations.filter((d) => d.data.tags.step === 'create_account');
    expect(signUpSamples.length).toBe(signUps);
    expect(signUpSamples.every((d) => d.data.value > 0)).toBe(true);

    const report = JSON.parse(readFileSync(join(results, 'baseline', 'report.json'), 'utf8')) as Report;
    expect(report.funnel[0]?.reached).toBe(first.find((f) => f.outcome === 'continued')?.count ?? 0);
    expect(report.funnel[0]?.count2020).toBe(1_432_133);
    expect(readFileSync(join(results, 'baseline', 'report.md'), 'utf8')).toContain(
      report.verdict.headline.slice(0, 20),
    );
  }, 150_000);

  it("without SCRYPT_N given, hashes at the cost that keeps this machine's cores as busy as the full-size service's", async () => {
    const args = tiny('similar-hash');
    args.splice(args.indexOf('--knob'), 2);
    const r = await gelombangAsync(args);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const { manifest } = readRunRecord(join(results, 'similar-hash'));
    const cpu = manifest.similitude?.cpu;
    const calibration = loadCalibration(DEFAULT_CALIBRATION_FILE);
    const fullSizeCores = loadCapacityFile(DEFAULT_REHEARSAL_CAPACITY).service?.cores;
    expect(cpu?.fullSizeCores).toBe(fullSizeCores);
    expect(cpu?.cores).toBe(manifest.machine?.cores);
    expect(cpu?.fullSizeScryptN).toBe(16384);
    const chosen = similarScryptN({
      cores: manifest.machine?.cores ?? 0,
      factor: rateFactor({ scale: 0.0001, compress: 1200 }),
      fullSizeScryptN: 16384,
      fullSizeCores: fullSizeCores ?? 0,
      journeyCpuMs: (n) => journeyCpuMs(calibration, n),
    });
    expect(cpu?.scryptN).toBe(chosen);
    // the service ran with it, and the record's knobs say so
    expect(manifest.stack.knobs.SCRYPT_N).toBe(String(chosen));
    const md = readFileSync(join(results, 'similar-hash', 'report.md'), 'utf8');
    expect(md).toContain('## Similitude');
    expect(md).toMatch(/This machine’s \d+ cores?, hashing at /);
  }, 150_000);

  it('--knob SCRYPT_N=16384 wins over the similitude', async () => {
    const args = tiny('pinned-hash');
    args[args.indexOf('SCRYPT_N=1024')] = 'SCRYPT_N=16384';
    const r = await gelombangAsync(args);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const { manifest } = readRunRecord(join(results, 'pinned-hash'));
    expect(manifest.stack.knobs.SCRYPT_N).toBe('16384');
    expect(manifest.similitude?.cpu).toMatchObject({ scryptN: 16384, fullSizeScryptN: 16384 });
  }, 150_000);

  it('report: regenerates the report of a run directory, and names the file of a broken record', () => {
    const ok = gelombang(['report', join(results, 'baseline')]);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(join(results, 'baseline', 'report.html'));
    const broken = mkdtempSync(join(tmpdir(), 'gelombang-not-a-run-'));
    writeFileSync(join(broken, 'run.json'), '{"format":"something else"}');
    const bad = gelombang(['report', broken]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(`${join(broken, 'run.json')}: not a gelombang run record v1`);
  }, 60_000);

  it('compare: a run against itself is no regression, with exit code 0 and the files written', () => {
    const r = gelombang(['compare', join(results, 'baseline'), join(results, 'baseline'), '--out', results]);
    expect(r.status).toBe(0);
    expect(readFileSync(join(results, 'comparison.json'), 'utf8')).toContain('"overall"');
  }, 60_000);

  it('on Ctrl-C stops the stack it started and exits 130', async () => {
    const child = spawn(process.execPath, [...cli, ...tiny('interrupted'), '--window', '0-1260']);
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    // Interrupt once the load is running (the stack is up and the runner started).
    for (let i = 0; i < 600 && !stdout.includes('running registration-day'); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(stdout).toContain('running registration-day');
    const registration = /registration (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
    expect(registration).toBeDefined();
    expect((await fetch(`${registration}/healthz`)).ok).toBe(true);
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stdout).toContain('interrupted: stopping the stack');
    // The service it started no longer answers: nothing was left running.
    await expect(fetch(`${registration}/healthz`)).rejects.toThrow();
  }, 120_000);

  it('record: refuses a missing summary, a bad time and a Prometheus without the run, naming what', () => {
    const missing = gelombang([
      'record',
      '--k6-summary',
      'no-such.json',
      '--prometheus',
      'http://127.0.0.1:9',
    ]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain("--k6-summary: no such file 'no-such.json'");
    const badTime = gelombang([
      'record',
      '--k6-summary',
      join(results, 'baseline', 'summary.json'),
      '--prometheus',
      'http://127.0.0.1:9',
      '--start',
      'yesterday',
    ]);
    expect(badTime.status).toBe(2);
    expect(badTime.stderr).toContain(
      "--start: expected an ISO 8601 time with a zone (2026-11-23T10:00:00Z) or seconds since the epoch, got 'yesterday'",
    );
    const notSummary = join(mkdtempSync(join(tmpdir(), 'gelombang-k6-')), 'summary.json');
    writeFileSync(notSummary, '{"metrics": 3}');
    const bad = gelombang(['record', '--k6-summary', notSummary, '--prometheus', 'http://127.0.0.1:9']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain(
      `${notSummary}: neither k6's handleSummary data nor its --summary-export (metrics:`,
    );
    const down = gelombang([
      'record',
      '--k6-summary',
      join(results, 'baseline', 'summary.json'),
      '--prometheus',
      'http://127.0.0.1:9',
    ]);
    expect(down.status).toBe(2);
    expect(down.stderr).toContain('--prometheus: Prometheus at http://127.0.0.1:9 did not answer');
  }, 60_000);

  it('refuses a remote target without confirmation, after showing the planned load, before sending any', () => {
    const r = gelombang(['rehearse', '--target', 'http://203.0.113.7:3000', '--scale', '0.001']);
    expect(r.status).toBe(104);
    expect(r.stderr).toMatch(
      /planned load on http:\/\/203\.0\.113\.7:3000: up to [\d.]+ new registrants per second/,
    );
    expect(r.stderr).toContain('Re-run with --allow-remote-target to confirm');
  });

  it('--prometheus without a prometheus on PATH: refused before anything starts, naming the package', () => {
    const r = spawnSync(process.execPath, ['bin/gelombang.js', 'rehearse', '--prometheus', '-q'], {
      encoding: 'utf8',
      // a PATH with nothing on it: node itself is started by its full path
      env: { ...process.env, PATH: mkdtempSync(join(tmpdir(), 'gelombang-empty-path-')) },
      timeout: 60_000,
    });
    expect(r.status).toBe(104);
    expect(r.stderr).toContain(
      "error: --prometheus: no 'prometheus' on PATH; install the Debian package 'prometheus' (apt-get install prometheus)",
    );
    expect(r.stdout).not.toContain('starting the registration service');
  });

  it('refuses a capacity file that is not one, naming the field, before starting anything', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gelombang-bad-capacity-'));
    const bad = join(dir, 'capacity.json');
    writeFileSync(bad, '{"dukcapil":{}}');
    try {
      const r = gelombang(['rehearse', '--capacity', bad, '-q']);
      expect(r.status).toBe(104);
      expect(r.stderr).toContain(
        `error: --capacity: ${bad}: dukcapil.concurrency: Invalid input: expected number`,
      );
      expect(r.stdout).not.toContain('starting the registration service');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [['--scale', '0'], "--scale: expected a number > 0 and <= 1, got '0'"],
    [['--compress', 'fast'], "--compress: expected a number >= 1 and <= 1000000, got 'fast'"],
    [
      ['--window', '120-60'],
      "--window: expected FROM-TO in profile minutes with FROM < TO, e.g. 0-120, got '120-60'",
    ],
    [['--scenario', 'nope'], "argument 'nope' is invalid. Allowed choices are registration-day"],
    [['--capacity', 'no-such.json'], "--capacity: no such file 'no-such.json'"],
    [['--knob', 'SCRYPT_N'], "--knob: expected KEY=VALUE, got 'SCRYPT_N'"],
    [
      ['--scale', '0.01', '--compress', '300'],
      "--scale x --compress (0.01 x 300) = 3: more than the day's own arrival rate",
    ],
    [
      ['--scenario', 'smoke', '--absolute-capacity'],
      "--absolute-capacity: the smoke scenario's capacities are not scaled",
    ],
    [
      ['--target', 'http://127.0.0.1:9', '--absolute-capacity'],
      '--absolute-capacity: the service behind --target is not started here',
    ],
  ])('refuses %j with a precise message', (flags, message) => {
    const r = gelombang(['rehearse', ...flags]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain(message);
  });
});
