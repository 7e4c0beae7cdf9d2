import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OUTCOMES, STAGES } from '../model/funnel.ts';
import { EXIT, runTest } from '../runner/index.ts';
import { bundleScenarios } from '../scripts/commands/bundle.ts';
import { unlimitedStack } from './support/unlimited-stack.ts';

/** The k6 scenarios on the embedded runner against the real stack, and their bundles for real k6. */

const stackOf = unlimitedStack();

const env = () => ({
  BASE_URL: stackOf().urls.registration,
  EMAIL_URL: stackOf().urls.email,
  ADMIN_TOKEN: stackOf().adminToken,
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
    const waves = (await (await fetch(`${stackOf().urls.registration}/api/v1/waves`)).json()) as Array<{
      number: number;
      joined: number;
    }>;
    expect(waves.find((w) => w.number === 8)?.joined).toBe(5);
  }, 120_000);

  it('wave-opening: a setup that cannot bring a registrant through says which step and why', async () => {
    // A port with nothing listening: every sign-up fails to connect, after the patient retries.
    const r = await runTest({
      script: 'scenarios/wave-opening.ts',
      env: { BASE_URL: 'http://127.0.0.1:1', EMAIL_URL: 'http://127.0.0.1:1', REGISTRANTS: '1', QUOTA: '1' },
      quiet: true,
      progress: 'none',
    });
    // An async setup's failure, as on k6 v0.47 (the same bundle there: exit 255, the same words).
    expect(r.exitCode).toBe(EXIT.uncaught);
    expect(r.error).toContain(
      'setup: a registrant could not finish the journey (create_account failed (connection) after 5 attempt(s))',
    );
  }, 60_000);
});

/** funnel_stage counts by stage (and outcome), from the per-tag series the runner keeps. */
function funnelOf(r: Awaited<ReturnType<typeof runTest>>) {
  const series = r.metrics.counterBy('funnel_stage', ['stage', 'outcome']);
  const count = (stage: string, outcome?: string) =>
    series
      .filter((x) => x.tags.stage === stage && (outcome === undefined || x.tags.outcome === outcome))
      .reduce((a, x) => a + x.value, 0);
  return { series, count };
}

/**
 * Every registrant ends in exactly one outcome per stage reached: a stage's outcomes add up to
 * those who continued from the stage before, and every arrival is counted at the first stage.
 */
function expectFunnelAccountsForEveryone(r: Awaited<ReturnType<typeof runTest>>): void {
  const { series, count } = funnelOf(r);
  const arrivals = counts(r, 'funnel_arrivals');
  expect(arrivals).toBeGreaterThan(0);
  expect(counts(r, 'iterations')).toBe(arrivals);
  expect(count('registered')).toBe(arrivals);
  for (let i = 1; i < STAGES.length; i++) {
    expect(count(STAGES[i] as string), STAGES[i]).toBe(count(STAGES[i - 1] as string, 'continued'));
  }
  for (const x of series) expect(OUTCOMES).toContain(x.tags.outcome);
}

// Keeps per-tag series (as for Prometheus), which these tests read.
const withSeries = { prometheus: { host: '127.0.0.1', port: 0 } } as const;

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
      ...withSeries,
    });
    expect(r.error).toBeUndefined();
    const scaled = Math.round((21154 + 40769) * 0.0003);
    expect(Math.abs(counts(r, 'funnel_arrivals') - scaled)).toBeLessThanOrEqual(1);
    expectFunnelAccountsForEveryone(r);
    const { count } = funnelOf(r);
    // A 2-minute window compressed to 12 s: the calibrated delays (a median of 46 minutes to open
    // the mail) leave many still on their way when it closes, as at hour 21 in 2020.
    const inProgress = STAGES.slice(1).reduce((a, s) => a + count(s, 'in_progress'), 0);
    expect(inProgress).toBeGreaterThan(0);
    expect(count('registered', 'continued')).toBe(counts(r, 'funnel_arrivals'));
  }, 150_000);
});

describe('opening-spike, soak and breakpoint at a tiny scale', () => {
  it('opening-spike: replays the peak minutes per second and accounts for everyone', async () => {
    const r = await runTest({
      script: 'scenarios/opening-spike.ts',
      env: { ...env(), SCALE: '0.0001', COMPRESS: '50', THINK_COMPRESS: '1200', GRACEFUL_STOP: '60s' },
      quiet: true,
      progress: 'none',
      workers: 2,
      noThresholds: true,
      ...withSeries,
    });
    expect(r.error).toBeUndefined();
    const minutes = readFileSync('scenarios/profiles/registration-day-2020.csv', 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => Number(l.split(',')[1]));
    const peak = minutes.indexOf(Math.max(...minutes));
    const spike = minutes.slice(Math.max(0, peak - 2), peak + 3).reduce((a, b) => a + b, 0);
    expect(Math.abs(counts(r, 'funnel_arrivals') - spike * 0.0001)).toBeLessThanOrEqual(1);
    expectFunnelAccountsForEveryone(r);
  }, 150_000);

  it('soak: a steady rate for its duration, everyone accounted for', async () => {
    const r = await runTest({
      script: 'scenarios/soak.ts',
      env: { ...env(), RATE: '2', DURATION: '8s', COMPRESS: '6000', GRACEFUL_STOP: '60s' },
      quiet: true,
      progress: 'none',
      workers: 1,
      ...withSeries,
    });
    expect(r.error).toBeUndefined();
    // k6 starts rate x duration iterations, plus one at the very end.
    expect(counts(r, 'funnel_arrivals')).toBeGreaterThanOrEqual(16);
    expect(counts(r, 'funnel_arrivals')).toBeLessThanOrEqual(17);
    expectFunnelAccountsForEveryone(r);
  }, 120_000);

  it('soak: a DURATION that is not a duration stops before any load, naming the variable', async () => {
    const r = await runTest({
      script: 'scenarios/soak.ts',
      env: { ...env(), DURATION: '5 parsecs' },
      quiet: true,
      progress: 'none',
      workers: 1,
    });
    expect(r.exitCode).not.toBe(EXIT.ok);
    expect(r.error).toContain(
      "environment variable DURATION: expected a k6 duration > 0 such as 10m or 1h30m, got '5 parsecs'",
    );
  }, 60_000);

  it('breakpoint: every level held on an unlimited stack, the top one is the sustained rate', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'gelombang-breakpoint-')), 'breakpoint.json');
    let printed = '';
    const r = await runTest({
      script: 'scenarios/breakpoint.ts',
      env: {
        ...env(),
        START_RATE: '1',
        STEP_RATE: '1',
        LEVELS: '3',
        LEVEL_SECONDS: '6',
        COMPRESS: '20000',
        BREAKPOINT_OUT: out,
      },
      progress: 'none',
      workers: 1,
      stdout: (t) => {
        printed += t;
      },
    });
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(EXIT.ok);
    const result = JSON.parse(readFileSync(out, 'utf8')) as {
      sustainedPerSecond: number | null;
      levels: Array<{ requests: number; broken: string[] }>;
    };
    expect(result.levels.map((l) => l.broken)).toEqual([[], [], []]);
    expect(result.levels.every((l) => l.requests > 0)).toBe(true);
    expect(result.sustainedPerSecond).toBe(3);
    expect(printed).toContain('highest sustained arrival rate: 3 registrants/s');
  }, 120_000);

  it('breakpoint: a Dukcapil slower than the biodata SLO breaks the first level and stops the test', async () => {
    const url = `${stackOf().urls.ministry}/admin/config`;
    const auth = { 'content-type': 'application/json', authorization: `Bearer ${stackOf().adminToken}` };
    const slow = { dukcapil: { serviceTime: { distribution: 'constant', ms: 3500 } } };
    const fast = { dukcapil: { serviceTime: { distribution: 'constant', ms: 0 } } };
    expect((await fetch(url, { method: 'PATCH', headers: auth, body: JSON.stringify(slow) })).status).toBe(
      200,
    );
    try {
      const out = join(mkdtempSync(join(tmpdir(), 'gelombang-breakpoint-')), 'breakpoint.json');
      const r = await runTest({
        script: 'scenarios/breakpoint.ts',
        env: {
          ...env(),
          START_RATE: '2',
          STEP_RATE: '1',
          LEVELS: '20',
          LEVEL_SECONDS: '8',
          ABORT_DELAY: '6s',
          COMPRESS: '20000',
          BREAKPOINT_OUT: out,
        },
        progress: 'none',
        workers: 1,
        stdout: () => {},
      });
      expect(r.exitCode).toBe(EXIT.thresholdsFailed);
      const result = JSON.parse(readFileSync(out, 'utf8')) as {
        sustainedPerSecond: number | null;
        brokeAtPerSecond: number | null;
        levels: Array<{ completed: boolean; broken: string[] }>;
      };
      expect(result.sustainedPerSecond).toBeNull();
      expect(result.brokeAtPerSecond).toBe(2);
      expect(result.levels[0]?.broken).toContain(
        'http_req_duration{step:submit_biodata,level:0} p(95)<=3000',
      );
      // Stopped by abortOnFail long before the 20 levels' 160 s.
      expect(result.levels.filter((l) => l.completed).length).toBeLessThan(10);
    } finally {
      await fetch(url, { method: 'PATCH', headers: auth, body: JSON.stringify(fast) });
    }
  }, 150_000);
});

describe('bundles for real k6', () => {
  it('bundles every scenario into plain JavaScript importing only k6 modules, with the fixtures beside them', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gelombang-bundles-'));
    const results = await bundleScenarios([], out);
    expect(results.map((r) => r.file.split('/').pop()).sort()).toEqual([
      'breakpoint.ts',
      'opening-spike.ts',
      'registration-day.ts',
      'smoke.ts',
      'soak.ts',
      'wave-opening.ts',
    ]);
    for (const r of results) {
      for (const im of r.imports) expect(im).toMatch(/^k6(\/[a-z]+)?$/);
      const code = readFileSync(r.out, 'utf8');
      expect(code).not.toMatch(/\bfrom\s*["']node:/);
      expect(code).not.toMatch(/\brequire\(["'][a-z_]+["']\)/);
      expect(code).not.toMatch(/:\s*(string|number|boolean)\s*[,)=]/); // no TypeScript left
    }
    expect(readFileSync(join(out, 'profiles', 'registration-day-2020.csv'), 'utf8')).toMatch(
      /^minute,arrivals\n/,
    );
    expect(readFileSync(join(out, 'fixtures', 'ktp-medium.jpg')).subarray(0, 3)).toEqual(
      Buffer.from([0xff, 0xd8, 0xff]),
    );
  }, 60_000);
});
