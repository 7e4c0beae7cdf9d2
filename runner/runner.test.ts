import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleForK6 } from './bundle.ts';
import { EXIT, runTest } from './index.ts';
import { type SummaryData, summaryExport } from './metrics/index.ts';
import {
  CALL_GROUPS,
  CALL_SAMPLES,
  callGroups,
  callSamples,
  callTagsScript,
} from './test-fixtures/call-tags.ts';
import { CHECKS_EXPECTED, checksScript } from './test-fixtures/checks.ts';
import { LIFECYCLE_FAILURES, lifecycleScript } from './test-fixtures/lifecycle-failures.ts';
import { taggedScript } from './test-fixtures/tags.ts';
import { quiet, script, scriptDir, useTarget } from './test-fixtures/target.ts';

/**
 * The runner against a local HTTP server: thresholds and exit codes, summary shapes, and the
 * bundles for real k6. Each executor's counts are tested beside it (executors/*.test.ts), the
 * outputs beside them (outputs/*.test.ts).
 */

const target = useTarget();

describe('thresholds and exit codes', () => {
  it('exits 99 when a threshold fails, and reports which', async () => {
    const r = await runTest({
      ...quiet,
      script: script(`
        import http from 'k6/http';
        export const options = { iterations: 5, thresholds: { 'http_req_failed{step:bad}': ['rate<0.5'], http_reqs: ['count>=5'] } };
        export default async function () {
          await http.asyncRequest('GET', __ENV.TARGET + '/status/503', null, { tags: { step: 'bad' } });
        }
      `),
      env: { TARGET: target.url },
    });
    expect(r.exitCode).toBe(EXIT.thresholdsFailed);
    expect(r.summary?.metrics['http_req_failed{step:bad}']?.thresholds).toEqual({
      'rate<0.5': { ok: false },
    });
    expect(r.summary?.metrics.http_reqs?.thresholds).toEqual({ 'count>=5': { ok: true } });
  });

  it('stops early on abortOnFail', async () => {
    const r = await runTest({
      ...quiet,
      script: script(`
        import http from 'k6/http';
        export const options = { vus: 1, duration: '20s', thresholds: { http_req_failed: [{ threshold: 'rate<0.1', abortOnFail: true }] } };
        export default async function () { await http.asyncRequest('GET', __ENV.TARGET + '/status/500'); }
      `),
      env: { TARGET: target.url },
    });
    expect(r.exitCode).toBe(EXIT.thresholdsFailed);
    expect(r.error).toMatch(/abortOnFail/);
    expect(r.summary?.state.testRunDurationMs).toBeLessThan(15_000);
  });

  it('stops an arrival-rate scenario on abortOnFail at once, not at its planned end', async () => {
    // The scheduler sleeps until the next arrival and then the planned end: both waits must wake.
    const r = await runTest({
      ...quiet,
      script: script(`
        import http from 'k6/http';
        export const options = {
          scenarios: { slow: { executor: 'constant-arrival-rate', rate: 1, timeUnit: '30s', duration: '60s', preAllocatedVUs: 2 } },
          thresholds: { http_req_failed: [{ threshold: 'rate<0.1', abortOnFail: true }] },
        };
        export default async function () { await http.asyncRequest('GET', __ENV.TARGET + '/status/500'); }
      `),
      env: { TARGET: target.url },
    });
    expect(r.exitCode).toBe(EXIT.thresholdsFailed);
    expect(r.summary?.state.testRunDurationMs).toBeLessThan(20_000);
  });

  it('exits 108 on test.abort() and 107 on an exception in the init context', async () => {
    const aborted = await runTest({
      ...quiet,
      script: script(`
        import exec from 'k6/execution';
        export const options = { vus: 1, duration: '20s' };
        export default async function () { exec.test.abort('enough'); }
      `),
    });
    expect(aborted.exitCode).toBe(EXIT.scriptAborted);
    expect(aborted.error).toMatch(/enough/);
    const broken = await runTest({
      ...quiet,
      script: script(`throw new Error('boom in init');\nexport default function () {}`),
    });
    expect(broken.exitCode).toBe(EXIT.scriptException);
    // where in the script, through the source map; not the engine's frames
    expect(broken.error).toMatch(/^the script failed in its init context: boom in init \(at \S+\.ts:1:7\)$/);
  });

  // The same script on real k6: test/real-k6.test.ts.
  it('makes checks as k6 does: a throw counts as failed and goes on up, an async check is refused', async () => {
    const r = await runTest({ ...quiet, workers: 1, script: checksScript(scriptDir) });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(r.summary?.metrics.checks?.values).toMatchObject(CHECKS_EXPECTED);
    expect(r.summary?.root_group.checks.map((c) => c.name)).toEqual([
      'before',
      'throws',
      'the error came out of check()',
      'an async check is refused',
      'a name with a group separator is refused',
    ]);
  });

  // The same script on real k6: test/real-k6.test.ts.
  it("records a call's bytes and duration on the VU's tags when it ends, setup and teardown in their groups", async () => {
    const out = join(scriptDir, 'call-tags.jsonl');
    const r = await runTest({
      ...quiet,
      workers: 1,
      script: callTagsScript(scriptDir),
      env: { TARGET: target.url },
      outJson: out,
    });
    expect(r.thresholds.filter((t) => !t.ok).map((t) => t.threshold.key)).toEqual([]);
    expect(r.summary?.metrics.checks?.values).toMatchObject({ passes: 5, fails: 0 });
    expect(r.exitCode).toBe(EXIT.ok);
    expect(callSamples(readFileSync(out, 'utf8'))).toEqual(CALL_SAMPLES);
    expect(callGroups(summaryExport(r.summary as SummaryData) as never)).toEqual(CALL_GROUPS);
  });

  // The same script on real k6: test/real-k6.test.ts.
  it.each([
    ['options.tags', [], {}],
    [
      '--tag in place of options.tags',
      [['testid', 'from-cli']],
      { EXPECT_TESTID: 'from-cli', EXPECT_TEAM: 'none' },
    ],
  ] as const)('tags samples as k6 does: %s, a named url, a failed request', async (_what, cli, env) => {
    const r = await runTest({
      ...quiet,
      workers: 1,
      script: taggedScript(scriptDir),
      env: { TARGET: target.url, ...env },
      tags: Object.fromEntries(cli),
    });
    expect(r.thresholds.filter((t) => !t.ok).map((t) => t.threshold.key)).toEqual([]);
    expect(r.exitCode).toBe(EXIT.ok);
  });

  // The same scripts on real k6: test/real-k6.test.ts.
  it.each(LIFECYCLE_FAILURES.map((c, i) => [...c, i] as const))(
    'exits as k6 v0.47 does on %s',
    async (_what, body, code, i) => {
      const r = await runTest({ ...quiet, workers: 1, script: lifecycleScript(scriptDir, i, body) });
      expect(r.exitCode).toBe(code);
      if (code === EXIT.uncaught)
        expect(r.error).toMatch(/^(setup|teardown)\(\) failed: Uncaught \(in promise\) no/);
      if (code === EXIT.scriptException) expect(r.error).toMatch(/^(setup|teardown)\(\) failed: no \(at /);
    },
  );

  it.each([
    [
      'an unknown executor',
      `export const options = { scenarios: { a: { executor: 'warp-speed' } } };`,
      /options\.scenarios\.a\.executor: unknown executor "warp-speed"/,
    ],
    [
      'a bad duration',
      `export const options = { vus: 1, duration: '5 parsecs' };`,
      /"5 parsecs" is not a duration/,
    ],
    ['an unknown option', `export const options = { vuz: 3 };`, /unknown option 'vuz'/],
    [
      "k6's option the runner does not implement",
      `export const options = { vus: 1, duration: '1s', rps: 10 };`,
      /options: k6's option 'rps' is not implemented by the embedded runner/,
    ],
    [
      'a trend stat k6 does not know',
      `export const options = { vus: 1, duration: '1s', summaryTrendStats: ['avg', 'p95'] };`,
      /options\.summaryTrendStats: invalid trend stat 'p95', unknown format/,
    ],
    [
      'a summaryTimeUnit not s, ms or us',
      `export const options = { vus: 1, duration: '1s', summaryTimeUnit: 'sec' };`,
      /options\.summaryTimeUnit: .*"s"\|"ms"\|"us"/,
    ],
    [
      'a missing exec function',
      `export const options = { scenarios: { a: { executor: 'shared-iterations', exec: 'nope' } } };`,
      /exports no function 'nope'/,
    ],
    [
      'a malformed threshold',
      `export const options = { thresholds: { http_req_duration: ['p95 < 500'] } };`,
      /failed parsing threshold expression "p95 < 500"/,
    ],
    [
      'count on a Trend',
      `export const options = { thresholds: { http_req_duration: ['count<100'] } };`,
      /unsupported aggregation method count on metric of type trend/,
    ],
    [
      'a threshold on an unknown metric',
      `export const options = { thresholds: { no_such_metric: ['count<1'] } };`,
      /no metric name "no_such_metric" found/,
    ],
    ['a script that does not compile', `export default function ( {`, /does not compile/],
  ])('refuses %s with exit code 104 before sending anything', async (_what, body, message) => {
    const before = target.hits;
    const file = script(
      `${body}\nexport default async function () { await (await import('k6/http')).default.asyncRequest('GET', __ENV.TARGET); }`,
    );
    const r = await runTest({ ...quiet, script: file, env: { TARGET: target.url } });
    expect(r.exitCode).toBe(EXIT.invalidConfig);
    expect(r.error).toMatch(message);
    expect(r.error).toContain(file.split('/').pop());
    expect(target.hits).toBe(before);
  });

  it('stops with exit 107 when an iteration or setup() ends with a sleep() it did not await (k6 blocks there)', async () => {
    const r = await runTest({
      ...quiet,
      workers: 1,
      script: script(`
        import { sleep } from 'k6';
        export const options = { iterations: 3 };
        export default function () { sleep(0.2); }
      `),
    });
    expect(r.exitCode).toBe(EXIT.scriptException);
    expect(r.error).toMatch(/sleep\(\.\.\.\) without await.*write await sleep\(seconds\)/);
    // and in setup(), which would have handed over its data before its wait
    const inSetup = await runTest({
      ...quiet,
      workers: 1,
      script: script(`
        import { sleep } from 'k6';
        export const options = { iterations: 1 };
        export function setup() { sleep(0.2); }
        export default async function () {}
      `),
    });
    expect(inSetup.exitCode).toBe(EXIT.scriptException);
    expect(inSetup.error).toMatch(/^setup\(\) failed: the script called sleep\(\.\.\.\) without await/);
    // awaited, inside Promise.all too, it is k6's sleep
    const ok = await runTest({
      ...quiet,
      workers: 1,
      script: script(`
        import { sleep } from 'k6';
        export const options = { iterations: 2 };
        export default async function () {
          await sleep(0.01);
          await Promise.all([sleep(0.01), sleep(0.02)]);
          // a sleep that loses a race (a timeout, say) was awaited: still pending at the end, and fine
          await Promise.race([sleep(0.01), sleep(5)]);
        }
      `),
    });
    expect(ok.exitCode).toBe(EXIT.ok);
    // one left behind by an iteration that failed is that iteration's, not the next one's
    const failed = await runTest({
      ...quiet,
      workers: 1,
      script: script(`
        import { sleep } from 'k6';
        export const options = { iterations: 2, vus: 1 };
        export default async function () { if (__ITER === 0) { sleep(5); throw new Error('first'); } }
      `),
    });
    expect(failed.exitCode).toBe(EXIT.ok);
    expect(failed.summary?.metrics.iterations?.values.count).toBe(2);
    expect(ok.summary?.metrics.iteration_duration?.values.min).toBeGreaterThanOrEqual(39);
  });

  // As k6 v0.47 tags them (a probe, 2026-12-07): the executor's tags, not the scenario's own.
  it("records dropped_iterations with the test's tags and the scenario's name, in --out json too", async () => {
    const out = join(scriptDir, 'dropped.jsonl');
    const r = await runTest({
      ...quiet,
      workers: 1,
      outJson: out,
      script: script(`
        import { sleep } from 'k6';
        export const options = {
          tags: { t: 'x' },
          scenarios: { s1: { executor: 'constant-arrival-rate', rate: 20, timeUnit: '1s', duration: '1s',
            preAllocatedVUs: 1, maxVUs: 1, tags: { st: 'y' } } },
        };
        export default async function () { await sleep(0.3); }
      `),
    });
    expect(r.exitCode).toBe(EXIT.ok);
    const dropped = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; metric: string; data: { tags: Record<string, string> } })
      .filter((p) => p.type === 'Point' && p.metric === 'dropped_iterations');
    // one free VU for 21 arrivals, each iteration 300 ms: most are dropped
    expect(dropped.length).toBeGreaterThan(10);
    expect(dropped.length).toBe(r.summary?.metrics.dropped_iterations?.values.count);
    for (const p of dropped) expect(p.data.tags).toEqual({ t: 'x', scenario: 's1' });
  });

  it('refuses a non-loopback target unless confirmed', async () => {
    const r = await runTest({
      ...quiet,
      script: script(`
        import http from 'k6/http';
        import { check } from 'k6';
        export const options = { iterations: 1 };
        export default async function () {
          let msg = '';
          try { await http.asyncRequest('GET', 'http://192.0.2.1/'); } catch (e) { msg = String(e.message); }
          check(msg, { 'remote refused': (m) => m.includes('not a loopback address') });
        }
      `),
    });
    expect(r.summary?.root_group.checks[0]).toMatchObject({ name: 'remote refused', passes: 1, fails: 0 });
  });
});

describe('summaries and outputs', () => {
  it('writes the legacy summary export, calls handleSummary with data, passes setup data, tags samples', async () => {
    const exportFile = join(scriptDir, 'export.json');
    const handled = join(scriptDir, 'handled.json');
    const r = await runTest({
      ...quiet,
      summaryExport: exportFile,
      script: script(`
        import http from 'k6/http';
        import { check } from 'k6';
        import { Trend } from 'k6/metrics';
        import { b64encode } from 'k6/encoding';
        const journey = new Trend('journey', true);
        export const options = { iterations: 4, vus: 2, thresholds: { 'http_req_duration{step:hello}': ['p(95)<5000'] } };
        export function setup() { return { token: 'abc' }; }
        export default async function (data) {
          const res = await http.asyncRequest('GET', __ENV.TARGET + '/hello', null, { tags: { step: 'hello' } });
          check(res, { 'got json': (x) => x.json().hello === 'world', 'setup data arrived': () => data.token === 'abc', 'encoding': () => b64encode('hi') === 'aGk=' });
          journey.add(res.timings.duration);
        }
        export function handleSummary(data) {
          return { '${handled}': JSON.stringify({ iterations: data.metrics.iterations.values.count, keys: Object.keys(data), checks: data.root_group.checks.length }) };
        }
      `),
      env: { TARGET: target.url },
    });
    expect(r.exitCode).toBe(EXIT.ok);
    const exported = JSON.parse(readFileSync(exportFile, 'utf8'));
    expect(exported.metrics.http_reqs).toMatchObject({ count: 4 });
    expect(Object.keys(exported.metrics.http_req_duration).sort()).toEqual([
      'avg',
      'max',
      'med',
      'min',
      'p(90)',
      'p(95)',
    ]);
    expect(exported.metrics.checks).toMatchObject({ passes: 12, fails: 0, value: 1 });
    expect(exported.metrics['http_req_duration{step:hello}'].thresholds).toEqual({ 'p(95)<5000': false });
    expect(exported.root_group.checks['got json']).toMatchObject({ path: '::got json', passes: 4, fails: 0 });
    expect(JSON.parse(readFileSync(handled, 'utf8'))).toEqual({
      iterations: 4,
      keys: ['root_group', 'options', 'state', 'metrics'],
      checks: 3,
    });
    expect(r.summary?.metrics.journey).toMatchObject({ type: 'trend', contains: 'time' });
    expect(r.summary?.metrics['http_req_duration{expected_response:true}']?.values.med).toBeGreaterThan(0);
  });
});

describe('bundles for real k6', () => {
  it('leaves only k6 imports, bundles npm dependencies, and refuses Node built-ins', async () => {
    const ok = await bundleForK6(
      script(`
        import http from 'k6/http';
        import { Counter } from 'k6/metrics';
        import { median } from 'simple-statistics';
        const c = new Counter('c');
        export default async function () { c.add(median([1, 2, 3])); await http.asyncRequest('GET', 'http://127.0.0.1:9/'); }
      `),
    );
    expect(ok.externalImports.sort()).toEqual(['k6/http', 'k6/metrics']);
    expect(ok.code).not.toMatch(/from ["']node:/);
    expect(ok.code).not.toMatch(/require\(["'](fs|path|crypto|http)["']\)/);
    expect(ok.code).toMatch(/sourceMappingURL=data:application\/json;base64/);
    await expect(
      bundleForK6(
        script(`import { readFileSync } from 'node:fs';\nexport default function () { readFileSync('x'); }`),
      ),
    ).rejects.toThrow(/node:fs' is a Node\.js built-in module/);
  });

  it("lowers what k6 v0.47's Babel cannot parse, and refuses what cannot be lowered", async () => {
    // Object spread, optional catch binding, ?? and ?. are syntax errors for k6 v0.47 (tried on a real one).
    const lowered = await bundleForK6(
      script(`
        const base = { a: 1 };
        export default async function () {
          const o = { ...base, b: base?.a ?? 2 };
          try { JSON.parse('x'); } catch { o.c = 3; }
          return o;
        }
      `),
    );
    const code = lowered.code.replace(/\/\/# sourceMappingURL=.*$/m, '');
    expect(code).not.toMatch(/\.\.\.base|\?\?|\?\.|catch \{/);
    expect(code).toMatch(/async function/); // ES2017 keeps async functions, which k6 v0.47 runs
    await expect(bundleForK6(script('export default function () { return 10n ** 2n; }'))).rejects.toThrow(
      /Big integer literals are not available in the configured target environment/,
    );
  });
});
