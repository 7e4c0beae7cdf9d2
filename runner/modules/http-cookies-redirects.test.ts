import { describe, expect, it } from 'vitest';
import { runTest } from '../index.ts';
import {
  COOKIE_REDIRECT_REQUESTS,
  cookieKeepScript,
  cookieRedirectScript,
  cookieRedirectServer,
  useCookieRedirectServer,
} from '../test-fixtures/cookies-redirects.ts';
import { quiet, script, scriptDir } from '../test-fixtures/target.ts';

/**
 * Redirects and cookies end to end on the runner. The same script runs on real k6 in
 * test/real-k6.test.ts, with the same checks and the same count of requests.
 */

const server = useCookieRedirectServer();

describe('redirects and cookies, as k6 follows and keeps them', () => {
  it('follows up to ten redirects, keeps each VU its own cookies, empties them each iteration', async () => {
    const r = await runTest({
      ...quiet,
      script: cookieRedirectScript(scriptDir),
      env: { TARGET: server.url },
    });
    expect(r.error).toBeUndefined();
    expect(r.summary?.metrics.checks?.values).toMatchObject({ passes: 36, fails: 0 });
    expect(r.summary?.metrics.http_reqs?.values.count).toBe(COOKIE_REDIRECT_REQUESTS);
  });

  it('keeps the cookies across iterations with noCookiesReset, and honours maxRedirects', async () => {
    const r = await runTest({ ...quiet, script: cookieKeepScript(scriptDir), env: { TARGET: server.url } });
    expect(r.error).toBeUndefined();
    expect(r.summary?.metrics.checks?.values).toMatchObject({ passes: 6, fails: 0 });
    expect(r.summary?.metrics.http_reqs?.values.count).toBe(10);
  });

  it('refuses to follow a redirect away from loopback, as it refuses to send there', async () => {
    const remote = await cookieRedirectServer();
    try {
      const r = await runTest({
        ...quiet,
        script: script(`
          import { check } from 'k6';
          import http from 'k6/http';
          export const options = { iterations: 1 };
          export default async function () {
            let refused = '';
            try {
              await http.asyncRequest('GET', __ENV.TARGET + '/away');
            } catch (err) {
              refused = String(err);
            }
            check(null, { 'refused': () => refused.includes('192.0.2.1 is not a loopback address') });
          }
        `),
        env: { TARGET: `${remote.url}` },
      });
      expect(r.summary?.metrics.checks?.values).toMatchObject({ passes: 1, fails: 0 });
    } finally {
      remote.server.closeAllConnections();
      remote.server.close();
    }
  });
});
