import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAGES } from '../model/funnel.ts';
import { runTest } from '../runner/index.ts';
import {
  CALL_GROUPS,
  CALL_SAMPLES,
  callGroups,
  callSamples,
  callTagsScript,
} from '../runner/test-fixtures/call-tags.ts';
import { CHECKS_EXPECTED, checksScript } from '../runner/test-fixtures/checks.ts';
import { connectionCountingServer, perVuScript } from '../runner/test-fixtures/connections.ts';
import {
  COOKIE_REDIRECT_REQUESTS,
  cookieKeepScript,
  cookieRedirectScript,
  cookieRedirectServer,
} from '../runner/test-fixtures/cookies-redirects.ts';
import {
  CONNECTIONS_BY_REUSE,
  connectionReuseScript,
  httpOptionsScript,
  minIterationScript,
} from '../runner/test-fixtures/http-options.ts';
import { LIFECYCLE_FAILURES, lifecycleScript } from '../runner/test-fixtures/lifecycle-failures.ts';
import { noSetupThrowScript } from '../runner/test-fixtures/no-setup-throw.ts';
import { randomSeedScript } from '../runner/test-fixtures/random-seed.ts';
import { RESPONSE_JSON_CASES, responseJsonScript } from '../runner/test-fixtures/response-json.ts';
import { taggedScript } from '../runner/test-fixtures/tags.ts';
import { bundleScenarios } from '../scripts/commands/bundle.ts';
import { type RunningStack, startStack } from '../scripts/stack.ts';

/**
 * Every bundle in dist/k6 on a real k6 binary, beside the embedded runner on the same scenario and
 * the same stack: the bundles must parse on k6 v0.47's Babel and goja, end with the same exit code,
 * start the same registrants and account for every one of them at every funnel stage. CI has no
 * k6: these run where K6_BIN names one (../shared/tools/build-k6.sh builds k6 v0.47.0).
 */

const K6 = process.env.K6_BIN;
const haveK6 = Boolean(K6 && existsSync(K6));
if (!haveK6) {
  console.warn(
    'test/real-k6.test.ts skipped: set K6_BIN to a k6 v0.47+ binary (../shared/tools/build-k6.sh builds one)',
  );
}

let stack: RunningStack;
let bundles: Map<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'gelombang-real-k6-'));

beforeAll(async () => {
  if (!haveK6) return;
  stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: { registration: { SCRYPT_N: '1024', WORKERS: '2' } },
  });
  const built = await bundleScenarios([], join(dir, 'k6'));
  bundles = new Map(built.map((b) => [b.file.replace(/^.*\/scenarios\//, ''), b.out]));
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

interface EngineRun {
  exitCode: number;
  /** counter totals by metric */
  counts: Record<string, number>;
  /** funnel_stage count by stage and outcome */
  funnel: Map<string, number>;
  checks: { passes: number; fails: number };
  /** what the engine said of errors (k6's level=error lines), for the message of a failed expectation */
  errors: string;
}

const key = (stage: string, outcome: string) => `${stage}/${outcome}`;

/** k6's JSON output has one Point line per sample, with its tags: the per-tag counts k6 saw. */
function k6Run(script: string, env: Record<string, string>): EngineRun {
  const out = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  const summary = `${out}.summary.json`;
  const args = ['run', '-q', '--no-thresholds', '--out', `json=${out}`, '--summary-export', summary];
  for (const [k, v] of Object.entries(env)) args.push('-e', `${k}=${v}`);
  const r = spawnSync(K6 as string, [...args, script], { encoding: 'utf8', timeout: 180_000 });
  const funnel = new Map<string, number>();
  const counts: Record<string, number> = {};
  for (const line of readFileSync(out, 'utf8').split('\n')) {
    if (!line.includes('"Point"')) continue;
    const p = JSON.parse(line) as { metric: string; data: { value: number; tags: Record<string, string> } };
    counts[p.metric] = (counts[p.metric] ?? 0) + p.data.value;
    if (p.metric === 'funnel_stage') {
      const k = key(p.data.tags.stage ?? '', p.data.tags.outcome ?? '');
      funnel.set(k, (funnel.get(k) ?? 0) + p.data.value);
    }
  }
  const s = JSON.parse(readFileSync(summary, 'utf8')) as {
    metrics: Record<string, { passes?: number; fails?: number }>;
  };
  return {
    exitCode: r.status ?? -1,
    counts,
    funnel,
    checks: { passes: s.metrics.checks?.passes ?? 0, fails: s.metrics.checks?.fails ?? 0 },
    errors: r.stderr
      .split('\n')
      .filter((l) => l.includes('level=error'))
      .slice(-3)
      .join('\n'),
  };
}

async function runnerRun(scenario: string, env: Record<string, string>): Promise<EngineRun> {
  const r = await runTest({
    script: join('scenarios', scenario),
    env,
    quiet: true,
    progress: 'none',
    noThresholds: true,
    // per-tag series, as for Prometheus
    prometheus: { host: '127.0.0.1', port: 0 },
  });
  const funnel = new Map<string, number>();
  for (const g of r.metrics.counterBy('funnel_stage', ['stage', 'outcome']))
    funnel.set(key(g.tags.stage ?? '', g.tags.outcome ?? ''), g.value);
  const counts: Record<string, number> = {};
  for (const [name, m] of Object.entries(r.summary?.metrics ?? {})) {
    if (m.type === 'counter') counts[name] = m.values.count ?? 0;
  }
  const checks = r.summary?.metrics.checks?.values ?? {};
  return {
    exitCode: r.exitCode,
    counts,
    funnel,
    checks: { passes: checks.passes ?? 0, fails: checks.fails ?? 0 },
    errors: r.error ?? '',
  };
}

const stageTotal = (run: EngineRun, stage: string) =>
  [...run.funnel].filter(([k]) => k.startsWith(`${stage}/`)).reduce((a, [, n]) => a + n, 0);

/** Every registrant counted once per stage reached: a stage's outcomes add up to the continued of the one before. */
function expectEveryoneAccountedFor(run: EngineRun, engine: string): void {
  expect(stageTotal(run, 'registered'), `${engine}: registered = arrivals`).toBe(run.counts.funnel_arrivals);
  for (let i = 1; i < STAGES.length; i++) {
    const stage = STAGES[i] as string;
    expect(stageTotal(run, stage), `${engine}: ${stage}`).toBe(
      run.funnel.get(key(STAGES[i - 1] as string, 'continued')) ?? 0,
    );
  }
}

const env = () => ({
  BASE_URL: stack.urls.registration,
  EMAIL_URL: stack.urls.email,
  ADMIN_TOKEN: stack.adminToken,
});

/** Each bundle at a tiny scale; the replaying ones compress think times so later stages are reached. */
const CASES: Array<{
  scenario: string;
  env: () => Record<string, string>;
  funnel: boolean;
  exactArrivals: boolean;
}> = [
  { scenario: 'smoke.ts', env, funnel: false, exactArrivals: true },
  {
    scenario: 'registration-day.ts',
    env: () => ({
      ...env(),
      SCALE: '0.0005',
      COMPRESS: '6',
      WINDOW_FROM: '0',
      WINDOW_TO: '1',
      THINK_COMPRESS: '20000',
      GRACEFUL_STOP: '60s',
    }),
    funnel: true,
    exactArrivals: true,
  },
  {
    scenario: 'opening-spike.ts',
    env: () => ({ ...env(), SCALE: '0.0001', COMPRESS: '20', THINK_COMPRESS: '20000', GRACEFUL_STOP: '60s' }),
    funnel: true,
    exactArrivals: true,
  },
  {
    scenario: 'soak.ts',
    env: () => ({ ...env(), RATE: '2', DURATION: '6s', COMPRESS: '20000', GRACEFUL_STOP: '60s' }),
    funnel: true,
    // constant-arrival-rate: k6 starts R x D or R x D + 1 (its timer races the end), the runner R x D + 1
    exactArrivals: false,
  },
  {
    scenario: 'breakpoint.ts',
    env: () => ({
      ...env(),
      START_RATE: '1',
      STEP_RATE: '1',
      LEVELS: '2',
      LEVEL_SECONDS: '5',
      COMPRESS: '20000',
      GRACEFUL_STOP: '60s',
    }),
    funnel: true,
    // ramping-arrival-rate: k6's timer races the end of the last stage as constant-arrival-rate's
    // does (14 or 15 of 15 on k6 v0.47 in three runs on 2026-12-05, the runner 15 each time)
    exactArrivals: false,
  },
  {
    scenario: 'wave-opening.ts',
    env: () => ({ ...env(), REGISTRANTS: '12', QUOTA: '4', VUS: '12' }),
    funnel: false,
    exactArrivals: true,
  },
];

describe.skipIf(!haveK6)('the bundles on a real k6, beside the embedded runner', () => {
  let wave = 20;
  for (const c of CASES) {
    it(`${c.scenario}: same exit code, same registrants, everyone accounted for`, async () => {
      // wave-opening needs a wave of its own on each engine, or the second run finds it full, and
      // people of its own: its default picks them by the second, and the runner's run can start
      // within the second k6's did (then its setup meets k6's people: duplicate_nik).
      const envFor = () => {
        if (c.scenario !== 'wave-opening.ts') return c.env();
        wave++;
        return { ...c.env(), WAVE: String(wave), PERSON_OFFSET: String(wave * 10_000) };
      };
      const onK6 = k6Run(bundles.get(c.scenario) as string, envFor());
      const onRunner = await runnerRun(c.scenario, envFor());
      expect(onK6.exitCode, `exit code; k6 said: ${onK6.errors}; the runner: ${onRunner.errors}`).toBe(
        onRunner.exitCode,
      );
      expect(onK6.checks.fails, 'failed checks on k6').toBe(onRunner.checks.fails);
      expect(onK6.checks.passes, 'checks on k6').toBeGreaterThan(0);
      if (c.scenario === 'wave-opening.ts') {
        expect(onK6.counts.wave_join_accepted).toBe(4);
        expect(onRunner.counts.wave_join_accepted).toBe(4);
      }
      if (!c.funnel) return;
      const arrivals = onRunner.counts.funnel_arrivals ?? 0;
      expect(arrivals).toBeGreaterThan(0);
      if (c.exactArrivals) expect(onK6.counts.funnel_arrivals).toBe(arrivals);
      else expect(Math.abs((onK6.counts.funnel_arrivals ?? 0) - arrivals)).toBeLessThanOrEqual(1);
      expectEveryoneAccountedFor(onK6, 'k6');
      expectEveryoneAccountedFor(onRunner, 'runner');
      // Registrants who went past the first step on k6: the bundle ran the whole journey, not just the sign-up.
      expect(onK6.funnel.get(key('email_verified', 'continued')) ?? 0).toBeGreaterThan(0);
    }, 240_000);
  }
});

describe.skipIf(!haveK6)("a VU's connections on a real k6, beside the embedded runner", () => {
  it('each VU keeps its own: reused across its iterations, never handed to another VU', async () => {
    const counting = await connectionCountingServer();
    const script = perVuScript(dir);
    try {
      // k6 runs in a child the server must keep answering: not spawnSync.
      const k6 = spawn(K6 as string, ['run', '-q', '-e', `TARGET=${counting.url}`, script], {
        stdio: 'ignore',
      });
      const [code] = (await once(k6, 'exit')) as [number | null];
      expect(code, 'k6 exit code').toBe(0);
      expect(counting.connections(), 'connections k6 opened').toBe(2);
      const r = await runTest({
        script,
        env: { TARGET: counting.url },
        quiet: true,
        progress: 'none',
        workers: 1,
      });
      expect(r.error).toBeUndefined();
      expect(r.summary?.metrics.checks?.values).toMatchObject({ passes: 6, fails: 0 });
      expect(counting.connections() - 2, 'connections the runner opened').toBe(2);
    } finally {
      counting.server.close();
    }
  }, 60_000);
});

describe.skipIf(!haveK6)(
  "k6's options for requests and iterations on a real k6, beside the embedded runner",
  () => {
    // The runner's side: runner/modules/http-options.test.ts, the same scripts.
    it.each([[[] as string[]], [['-e', 'UA=wave-rehearsal/1']], [['-e', 'UA=']]])(
      'discardResponseBodies and userAgent (%j): every check holds',
      async (env) => {
        const { code, stderr } = await k6AgainstServer((url) => [
          'run',
          '-q',
          ...env,
          '-e',
          `TARGET=${url}`,
          httpOptionsScript(dir),
        ]);
        expect(code, stderr).toBe(0);
      },
      60_000,
    );

    it('noSetup, noTeardown and throw: every check and threshold holds', () => {
      const r = spawnSync(K6 as string, ['run', '-q', noSetupThrowScript(dir)], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(0);
    }, 60_000);

    it('minIterationDuration: two iterations a VU, recorded as they took', async () => {
      const { code, stderr } = await k6AgainstServer((url) => [
        'run',
        '-q',
        '-e',
        `TARGET=${url}`,
        minIterationScript(dir),
      ]);
      expect(code, stderr).toBe(0);
    }, 60_000);

    it.each(Object.entries(CONNECTIONS_BY_REUSE))(
      'connections with reuse of %s: %i',
      async (reuse, expected) => {
        const counting = await connectionCountingServer();
        try {
          const k6 = spawn(
            K6 as string,
            ['run', '-q', '-e', `TARGET=${counting.url}`, '-e', `REUSE=${reuse}`, connectionReuseScript(dir)],
            {
              stdio: 'ignore',
            },
          );
          const [code] = (await once(k6, 'exit')) as [number | null];
          expect(code).toBe(0);
          expect(counting.connections()).toBe(expected);
        } finally {
          counting.server.close();
        }
      },
      60_000,
    );
  },
);

describe.skipIf(!haveK6)('a setup, teardown or handleSummary that fails, on a real k6', () => {
  // The runner's side of each case: runner/runner.test.ts.
  it.each(LIFECYCLE_FAILURES.map((c, i) => [...c, i] as const))(
    'exits as the runner does on %s',
    (_what, body, code, i) => {
      const r = spawnSync(K6 as string, ['run', '-q', lifecycleScript(dir, i, body)], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(code);
    },
    60_000,
  );
});

describe.skipIf(!haveK6)('redirects and cookies on a real k6, beside the embedded runner', () => {
  // The runner's side: runner/modules/http-cookies-redirects.test.ts, the same scripts and counts.
  it.each([
    ['followed and kept per VU and iteration', cookieRedirectScript, 36, COOKIE_REDIRECT_REQUESTS],
    ['noCookiesReset and maxRedirects', cookieKeepScript, 6, 10],
  ] as const)(
    '%s: every check passes, as many requests',
    async (_what, write, checks, requests) => {
      const summary = join(dir, `${Math.random().toString(36).slice(2)}.summary.json`);
      const { code, stderr } = await k6AgainstServer((url) => [
        'run',
        '-q',
        '--summary-export',
        summary,
        '-e',
        `TARGET=${url}`,
        write(dir),
      ]);
      expect(code, stderr).toBe(0);
      const s = JSON.parse(readFileSync(summary, 'utf8')) as {
        metrics: Record<string, { passes?: number; fails?: number; count?: number }>;
      };
      expect(s.metrics.checks).toMatchObject({ passes: checks, fails: 0 });
      expect(s.metrics.http_reqs?.count).toBe(requests);
    },
    60_000,
  );
});

/**
 * k6 run with `args(url)` against a fresh server of the cookie-and-redirect fixture, in a child the
 * server (in this process) must keep answering: its exit code and stderr.
 */
async function k6AgainstServer(
  args: (url: string) => string[],
): Promise<{ code: number | null; stderr: string }> {
  const { server, url } = await cookieRedirectServer();
  try {
    const k6 = spawn(K6 as string, args(url), { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    k6.stderr.on('data', (d) => {
      stderr += d;
    });
    const [code] = (await once(k6, 'exit')) as [number | null];
    return { code, stderr };
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

describe.skipIf(!haveK6)('Response.json() on a real k6, beside the embedded runner', () => {
  // The runner's side: runner/modules/json.test.ts, the same script.
  it(`answers the ${RESPONSE_JSON_CASES} cases the fixture was written from`, async () => {
    const { code, stderr } = await k6AgainstServer((url) => [
      'run',
      '-q',
      '-e',
      `TARGET=${url}`,
      responseJsonScript(dir),
    ]);
    expect(code, stderr).toBe(0);
  }, 60_000);
});

describe.skipIf(!haveK6)('randomSeed on a real k6, beside the embedded runner', () => {
  // The runner's side: runner/modules/random-seed.test.ts, the same script.
  it("seeds the init context's draws, and a VU's once it calls it", () => {
    const summary = join(dir, 'random-seed.summary.json');
    const r = spawnSync(K6 as string, ['run', '-q', '--summary-export', summary, randomSeedScript(dir)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(summary, 'utf8')) as { metrics: { checks: object } };
    expect(s.metrics.checks).toMatchObject({ passes: 16, fails: 0 });
  }, 60_000);
});

describe.skipIf(!haveK6)('check() on a real k6, beside the embedded runner', () => {
  // The runner's side: runner/runner.test.ts, the same script and counts.
  it('a throw counts as failed and goes on up, an async check is refused', () => {
    const summary = join(dir, 'checks.summary.json');
    const r = spawnSync(K6 as string, ['run', '-q', '--summary-export', summary, checksScript(dir)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(summary, 'utf8')) as { metrics: { checks: object } };
    expect(s.metrics.checks).toMatchObject(CHECKS_EXPECTED);
  }, 60_000);
});

describe.skipIf(!haveK6)("a sample's tags on a real k6, beside the embedded runner", () => {
  // The runner's side: runner/runner.test.ts, the same script, thresholds and counts.
  it("a call's bytes and duration on the VU's tags when it ends, setup and teardown in their groups", async () => {
    const out = join(dir, 'call-tags.jsonl');
    const { code, stderr } = await k6AgainstServer((url) => [
      'run',
      '-q',
      '-e',
      `TARGET=${url}`,
      '--out',
      `json=${out}`,
      '--summary-export',
      `${out}.summary.json`,
      callTagsScript(dir),
    ]);
    expect(code, stderr).toBe(0);
    expect(callSamples(readFileSync(out, 'utf8'))).toEqual(CALL_SAMPLES);
    expect(callGroups(JSON.parse(readFileSync(`${out}.summary.json`, 'utf8')))).toEqual(CALL_GROUPS);
  }, 60_000);

  // The runner's side: runner/runner.test.ts, the same script and thresholds.
  it.each([
    ['options.tags', [] as string[], 'from-options', 'sre'],
    ['--tag in place of options.tags', ['--tag', 'testid=from-cli'], 'from-cli', 'none'],
  ])(
    '%s, a named url, a failed request: every threshold on a tagged submetric holds',
    async (_what, cli, testid, team) => {
      const { code, stderr } = await k6AgainstServer((url) => [
        'run',
        '-q',
        ...cli,
        '-e',
        `TARGET=${url}`,
        '-e',
        `EXPECT_TESTID=${testid}`,
        '-e',
        `EXPECT_TEAM=${team}`,
        taggedScript(dir),
      ]);
      expect(code, stderr).toBe(0);
    },
    60_000,
  );
});

describe('gelombang rehearse --engine k6', () => {
  const cli = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
    spawnSync(process.execPath, [join(import.meta.dirname, '..', 'bin/gelombang.js'), 'rehearse', ...args], {
      encoding: 'utf8',
      env,
      timeout: 240_000,
    });

  it('without a k6 says how to get one and that the embedded engine is the default, before starting anything', () => {
    const results = mkdtempSync(join(tmpdir(), 'gelombang-no-k6-'));
    const r = cli(['--engine', 'k6', '--results', results, '-q'], { ...process.env, PATH: '' });
    expect(r.status).toBe(104);
    expect(r.stderr).toMatch(/--engine k6: no 'k6' on PATH \(or give --k6 PATH\)/);
    expect(r.stderr).toMatch(/build-k6\.sh; the embedded runner is the default engine/);
    expect(r.stdout).not.toMatch(/starting the registration service/);
  });

  it.skipIf(!haveK6)(
    'runs the scenario on real k6 and records it through remote write, as gelombang record does',
    () => {
      const results = mkdtempSync(join(tmpdir(), 'gelombang-k6-rehearsal-'));
      const r = cli([
        ...[
          '--engine',
          'k6',
          '--k6',
          K6 as string,
          '--scale',
          '0.0005',
          '--window',
          '0-2',
          '--compress',
          '60',
        ],
        ...['-e', 'THINK_COMPRESS=20000', '--results', results, '--run-id', 'on-k6', '-q'],
      ]);
      // k6's own log lines may say level=error (a crossed threshold); gelombang's errors start the line.
      expect(r.stderr).not.toMatch(/^error:/m);
      expect(r.status).toBe(0);
      const run = JSON.parse(readFileSync(join(results, 'on-k6', 'run.json'), 'utf8'));
      expect(run.engine.name).toBe('k6');
      expect(run.stack.managed).toBe(true);
      // minutes 0-1 of the 2020 day at 0.05 %: 21,154 + 40,769 arrivals x 0.0005 = 30.96; k6 starts the
      // whole arrivals the stages' integral reaches
      expect(Math.abs(run.totals.arrivals - (21154 + 40769) * 0.0005)).toBeLessThan(1);
      const ts = JSON.parse(readFileSync(join(results, 'on-k6', 'timeseries.json'), 'utf8'));
      const names = new Set(ts.series.map((s: { name: string }) => s.name));
      for (const name of ['arrivals', 'step_requests', 'dependency_utilisation', 'step_slow_ratio'])
        expect(names).toContain(name);
      // The scenario's count of slow requests came through remote write, every step's (zeros too),
      // and each interval's shares add up to k6's own total.
      type Series = { name: string; labels: Record<string, string>; values: Array<number | null> };
      const series = ts.series as Series[];
      const summary = JSON.parse(readFileSync(join(results, 'on-k6', 'summary.json'), 'utf8'));
      let slow = 0;
      for (const step of run.totals.steps as Array<{ step: string }>) {
        if (step.step === 'read_mailbox') continue;
        const shares = series.find((s) => s.name === 'step_slow_ratio' && s.labels.step === step.step);
        expect(shares, step.step).toBeDefined();
        const reqs =
          series.find((s) => s.name === 'step_requests' && s.labels.step === step.step)?.values ?? [];
        slow += (shares?.values ?? []).reduce<number>(
          (n, v, i) => n + (v ?? 0) * (reqs[i] ?? 0) * ts.intervalSeconds,
          0,
        );
      }
      expect(Math.round(slow)).toBe(summary.metrics.step_slow_requests.values.count);
      expect(existsSync(join(results, 'on-k6', 'report.html'))).toBe(true);
    },
    240_000,
  );
});
