import { describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../index.ts';
import { connectionCountingServer } from '../test-fixtures/connections.ts';
import { useCookieRedirectServer } from '../test-fixtures/cookies-redirects.ts';
import {
  CONNECTIONS_BY_REUSE,
  connectionReuseScript,
  httpOptionsScript,
  minIterationScript,
} from '../test-fixtures/http-options.ts';
import { noSetupThrowScript } from '../test-fixtures/no-setup-throw.ts';
import { quiet, script, scriptDir } from '../test-fixtures/target.ts';

/**
 * k6's test options that change what is sent and kept, on the runner. The same scripts run on
 * real k6 in test/real-k6.test.ts; the checks and thresholds in them are what must hold.
 */

const server = useCookieRedirectServer();

const failed = (r: Awaited<ReturnType<typeof runTest>>) =>
  r.thresholds.filter((t) => !t.ok).map((t) => t.threshold.key);

describe("k6's options for requests and iterations", () => {
  it.each([
    ['unset', {}],
    ['set', { UA: 'wave-rehearsal/1' }],
    ["'' (no User-Agent)", { UA: '' }],
  ])('discardResponseBodies, and userAgent %s', async (_what, env) => {
    const r = await runTest({
      ...quiet,
      workers: 1,
      script: httpOptionsScript(scriptDir),
      env: { TARGET: server.url, ...env },
    });
    expect(failed(r)).toEqual([]);
    expect(r.summary?.metrics.checks?.values).toMatchObject({ passes: 5, fails: 0 });
    expect(r.exitCode).toBe(EXIT.ok);
  });

  it.each(Object.entries(CONNECTIONS_BY_REUSE))(
    'connections with reuse of %s: %i',
    async (reuse, expected) => {
      const counting = await connectionCountingServer();
      try {
        const r = await runTest({
          ...quiet,
          workers: 1,
          script: connectionReuseScript(scriptDir),
          env: { TARGET: counting.url, REUSE: reuse },
        });
        expect(r.exitCode).toBe(EXIT.ok);
        expect(r.summary?.metrics.http_reqs?.values.count).toBe(12);
        expect(counting.connections()).toBe(expected);
      } finally {
        counting.server.close();
      }
    },
  );

  it('minIterationDuration: a VU waits out the rest of each iteration, recorded as it took', async () => {
    const r = await runTest({ ...quiet, script: minIterationScript(scriptDir), env: { TARGET: server.url } });
    expect(failed(r)).toEqual([]);
    expect(r.summary?.metrics.iterations?.values.count).toBe(4);
    // the second iterations' waits end at 2 s, past the 1.5 s duration, as k6's do
    expect(r.summary?.state.testRunDurationMs).toBeGreaterThanOrEqual(1900);
    expect(r.exitCode).toBe(EXIT.ok);
  });

  it('noSetup and noTeardown skip them; throw makes a request that got no answer reject', async () => {
    const r = await runTest({ ...quiet, workers: 1, script: noSetupThrowScript(scriptDir) });
    expect(failed(r)).toEqual([]);
    expect(r.summary?.metrics.checks?.values).toMatchObject({ passes: 3, fails: 0 });
    // k6 lists no setup group when setup() did not run
    expect(r.summary?.root_group.groups).toEqual([]);
    expect(r.exitCode).toBe(EXIT.ok);
  });

  it('refuses a minIterationDuration that is not a duration, naming it, before any request', async () => {
    const r = await runTest({
      ...quiet,
      script: script(`
        import http from 'k6/http';
        export const options = { iterations: 1, minIterationDuration: '5 parsecs' };
        export default async function () { await http.asyncRequest('GET', __ENV.TARGET + '/echo'); }
      `),
      env: { TARGET: server.url },
    });
    expect(r.exitCode).toBe(EXIT.invalidConfig);
    expect(r.error).toContain('options.minIterationDuration');
    expect(r.summary).toBeUndefined();
  });
});
