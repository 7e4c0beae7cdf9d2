import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleForRunner } from './bundle.ts';
import { EXIT, RunError, runTest } from './index.ts';
import { quiet, script, useTarget } from './test-fixtures/target.ts';

/**
 * A script that calls what the runner does not implement never runs green: refused before its
 * first request, each call named with where it is and what to write instead; a call the check
 * cannot see stops the test at its first use.
 */

const target = useTarget();

/** The refusal of a script, or undefined when it bundles. */
async function refusal(body: string): Promise<RunError | undefined> {
  try {
    await bundleForRunner(script(body));
    return undefined;
  } catch (err) {
    if (err instanceof RunError) return err;
    throw err;
  }
}

describe('the calls the embedded runner does not implement', () => {
  it("refuses k6's everyday script before any request reaches the server, exit 107", async () => {
    const before = target.hits;
    const file = script(`
      import { group, check, sleep } from 'k6';
      import http from 'k6/http';
      export const options = { vus: 2, duration: '2s' };
      export default function () {
        group('home', () => {
          const r = http.get(__ENV.TARGET);
          check(r, { 'status is 200': (x) => x.status === 200 });
        });
        sleep(1);
      }
    `);
    const r = await runTest({ ...quiet, script: file, env: { TARGET: target.url } });
    expect(r.exitCode).toBe(EXIT.scriptException);
    expect(r.error).toContain(`${file.split('/').pop()}:6:9: group(...) → no equivalent`);
    expect(r.error).toContain(":7:21: http.get(...) → await http.asyncRequest('GET', url, null, params)");
    expect(r.summary).toBeUndefined();
    expect(target.hits).toBe(before);
  });

  it.each([
    ["import http from 'k6/http'; export default () => { http.post(u, 'x'); }", 'http.post(...) →'],
    ["import http from 'k6/http'; export default () => { http.put(u); }", 'http.put(...) →'],
    ["import http from 'k6/http'; export default () => { http.patch(u); }", 'http.patch(...) →'],
    ["import http from 'k6/http'; export default () => { http.del(u); }", "asyncRequest('DELETE'"],
    ["import http from 'k6/http'; export default () => { http.head(u); }", "asyncRequest('HEAD'"],
    ["import http from 'k6/http'; export default () => { http.options(u); }", "asyncRequest('OPTIONS'"],
    ["import http from 'k6/http'; export default () => { http.request('GET', u); }", 'http.request(...) →'],
    ["import http from 'k6/http'; export default () => { http.batch([u]); }", 'Promise.all'],
    ["import http from 'k6/http'; export default () => { http.cookieJar(); }", 'no cookie jar'],
    ["import http from 'k6/http'; export default () => { new http.CookieJar(); }", 'http.CookieJar(...)'],
    ["import * as h from 'k6/http'; export default () => { h.get(u); }", 'http.get(...)'],
    ["import { get as fetchIt } from 'k6/http'; export default () => { fetchIt(u); }", 'http.get(...)'],
    ["import http from 'k6/http'; export default () => { http?.['batch']([]); }", 'http.batch(...)'],
    ["import http from 'k6/http'; const { get } = http; export default () => get(u);", 'http.get(...)'],
    ["import k6 from 'k6'; export default () => { k6.group('g', () => {}); }", 'group(...)'],
    [
      "import http from 'k6/http'; export default async () => { (await http.asyncRequest('GET', u)).html(); }",
      'res.html(...) → no HTML parsing',
    ],
  ])('%s', async (body, named) => {
    const err = await refusal(`const u = 'http://127.0.0.1:9';\n${body}`);
    expect(err?.exitCode).toBe(EXIT.scriptException);
    expect(err?.message).toContain(named);
    expect(err?.message).toMatch(/\.ts:2:\d+: /);
  });

  it('does not mistake strings, comments, object keys, other objects or async calls for them', async () => {
    const err = await refusal(`
      import http from 'k6/http';
      import { check } from 'k6';
      const notes = { get: 1, group: 'x', html: () => 'h' };
      const api = { get: (u) => u };
      // http.get(u) would block
      export default async function () {
        const text = "http.get(url) and group('g')" + \`\${'http.batch([])'}\`;
        const r = await http.asyncRequest('GET', 'http://127.0.0.1:9/', null, { tags: { group: 'home' } });
        check(r, { ok: (x) => x.status === 200 && /http.get\\(/.test(text) });
        api.get(notes.group);
        return notes.html;
      }
    `);
    expect(err).toBeUndefined();
  });

  it("the project's scenarios and fixtures use none of them", async () => {
    const dir = join(import.meta.dirname, '..', 'scenarios');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(3);
    for (const f of [
      ...files.map((x) => join(dir, x)),
      join(import.meta.dirname, 'test-fixtures', 'hello.ts'),
    ])
      await expect(bundleForRunner(f), f).resolves.toBeDefined();
  }, 60_000);

  it('a call hidden from the check stops the test at its first use, exit 107, naming it', async () => {
    const before = target.hits;
    const r = await runTest({
      ...quiet,
      script: script(`
        import http from 'k6/http';
        export const options = { vus: 2, duration: '20s' };
        const name = ['g', 'et'].join('');
        export default async function () {
          await http.asyncRequest('GET', __ENV.TARGET);
          http[name](__ENV.TARGET);
        }
      `),
      env: { TARGET: target.url },
    });
    expect(r.exitCode).toBe(EXIT.scriptException);
    expect(r.error).toBe(
      "the script called what the embedded runner does not implement: http.get(...) → await http.asyncRequest('GET', url, null, params)",
    );
    // stopped at once, not at the planned end; at most the requests already on their way got out
    expect(r.summary?.state.testRunDurationMs).toBeLessThan(10_000);
    expect(target.hits - before).toBeLessThan(10);
  });

  it('a hidden call in the init context or setup() fails it with the same message, no stack', async () => {
    for (const where of [
      'const jar = http[k]();',
      'export function setup() { http[k](); }',
      'export async function setup() { http[k](); }',
    ]) {
      const r = await runTest({
        ...quiet,
        script: script(`
          import http from 'k6/http';
          const k = 'cookie' + 'Jar';
          ${where}
          export default async function () {}
        `),
      });
      expect(r.exitCode, where).toBe(EXIT.scriptException);
      expect(r.error).toMatch(/http\.cookieJar\(\.\.\.\) → no cookie jar object/);
      expect(r.error).not.toMatch(/\n\s+at /);
    }
  });
});
