import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../runner/index.ts';
import { bundleScenarios } from '../scripts/commands/bundle.ts';
import { type RunningStack, startStack } from '../scripts/stack.ts';

/** The k6 scenarios on the embedded runner against the real stack, and their bundles for real k6. */

let stack: RunningStack;
beforeAll(async () => {
  stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: { registration: { SCRYPT_N: '1024', WORKERS: '2' } },
  });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const env = () => ({
  BASE_URL: stack.urls.registration,
  EMAIL_URL: stack.urls.email,
  ADMIN_TOKEN: stack.adminToken,
});
const counts = (r: Awaited<ReturnType<typeof runTest>>, metric: string) =>
  r.summary?.metrics[metric]?.values.count ?? 0;

describe('scenarios on the embedded runner', () => {
  it('smoke: one registrant through all steps, every check passes', async () => {
    const r = await runTest({
      script: 'scenarios/smoke.ts',
      env: env(),
      quiet: true,
      progress: 'none',
      workers: 1,
    });
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(EXIT.ok);
    const checks = r.summary?.root_group.checks ?? [];
    expect(checks.map((c) => c.name)).toContain('status is joined_wave');
    expect(checks.every((c) => c.passes === 1 && c.fails === 0)).toBe(true);
    expect(r.summary?.metrics['http_req_duration{expected_response:true}']?.values.max).toBeGreaterThan(0);
  }, 60_000);

  it('smoke: runs again on the same stack with two VUs, each registering a new person', async () => {
    for (let run = 0; run < 2; run++) {
      const r = await runTest({
        script: 'scenarios/smoke.ts',
        env: env(),
        vus: 2,
        quiet: true,
        progress: 'none',
        workers: 1,
      });
      expect(r.error).toBeUndefined();
      expect(r.exitCode).toBe(EXIT.ok);
      expect(r.summary?.root_group.checks.find((c) => c.name === 'status is joined_wave')).toMatchObject({
        passes: 2,
        fails: 0,
      });
    }
  }, 90_000);

  it('wave-opening: the quota is never oversold and every loser is told wave_full', async () => {
    const r = await runTest({
      script: 'scenarios/wave-opening.ts',
      env: { ...env(), REGISTRANTS: '24', QUOTA: '5', WAVE: '8', VUS: '24' },
      quiet: true,
      progress: 'none',
      workers: 2,
    });
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(EXIT.ok);
    expect(counts(r, 'wave_join_accepted')).toBe(5);
    expect(counts(r, 'wave_join_full')).toBe(19);
    expect(counts(r, 'wave_join_unclear')).toBe(0);
    expect(r.summary?.metrics.wave_join_unclear?.thresholds).toEqual({ 'count==0': { ok: true } });
    const waves = (await (await fetch(`${stack.urls.registration}/api/v1/waves`)).json()) as Array<{
      number: number;
      joined: number;
    }>;
    expect(waves.find((w) => w.number === 8)?.joined).toBe(5);
  }, 120_000);
});

describe('registration-day at a tiny scale', () => {
  it('replays the opening minutes and accounts for every registrant at every stage', async () => {
    const r = await runTest({
      script: 'scenarios/registration-day.ts',
      env: {
        ...env(),
        SCALE: '0.0003',
        COMPRESS: '600',
        WINDOW_FROM: '0',
        WINDOW_TO: '2',
        GRACEFUL_STOP: '90s',
      },
      quiet: true,
      progress: 'none',
      workers: 2,
      noThresholds: true,
      // keeps per-tag series (as for Prometheus), which this test reads
      prometheus: { host: '127.0.0.1', port: 0 },
    });
    expect(r.error).toBeUndefined();
    const scaled = Math.round((21154 + 40769) * 0.0003);
    const started = counts(r, 'iterations');
    expect(Math.abs(counts(r, 'funnel_arrivals') - scaled)).toBeLessThanOrEqual(1);
    expect(started).toBe(counts(r, 'funnel_arrivals'));
    const series = [...(r.store.metrics.get('funnel_stage')?.series.values() ?? [])];
    const sub = (stage: string, outcome?: string) =>
      series
        .filter((x) => x.tags.stage === stage && (outcome === undefined || x.tags.outcome === outcome))
        .reduce((a, x) => a + (x.sink.kind === 'counter' ? x.sink.count : 0), 0);
    // Every stage's outcomes add up to the registrants who continued from the stage before it.
    const stages = [
      'registered',
      'email_verified',
      'biodata_verified',
      'photo_uploaded',
      'assessment_done',
      'joined_wave',
    ];
    expect(sub('registered')).toBe(started);
    for (let i = 1; i < stages.length; i++)
      expect(sub(stages[i] as string)).toBe(sub(stages[i - 1] as string, 'continued'));
    expect(sub('registered', 'continued')).toBe(started);
  }, 150_000);
});

describe('bundles for real k6', () => {
  it('bundles every scenario into plain JavaScript importing only k6 modules, with the fixtures beside them', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gelombang-bundles-'));
    const results = await bundleScenarios([], out);
    expect(results.map((r) => r.file.split('/').pop()).sort()).toEqual(
      expect.arrayContaining(['smoke.ts', 'wave-opening.ts']),
    );
    for (const r of results) {
      for (const im of r.imports) expect(im).toMatch(/^k6(\/[a-z]+)?$/);
      const code = readFileSync(r.out, 'utf8');
      expect(code).not.toMatch(/\bfrom\s*["']node:/);
      expect(code).not.toMatch(/\brequire\(["'][a-z_]+["']\)/);
      expect(code).not.toMatch(/:\s*(string|number|boolean)\s*[,)=]/); // no TypeScript left
    }
    expect(readFileSync(join(out, 'fixtures', 'ktp-medium.jpg')).subarray(0, 3)).toEqual(
      Buffer.from([0xff, 0xd8, 0xff]),
    );
  }, 60_000);
});
