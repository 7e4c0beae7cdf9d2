import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Response.json() as k6 v0.47 answers it, for runner/modules/json.test.ts and test/real-k6.test.ts:
 * every expectation a check, written from what k6 v0.47 returned and threw for the same bodies
 * (2026-12-07): gjson selectors, undefined for a selector on a body that is not JSON, and k6's
 * message and position for a body that is not JSON. Each case adds 1 to `json_cases`, so a case
 * that was skipped fails the count. TARGET is test-fixtures/cookies-redirects.ts's server: `/raw`
 * answers with the body it was sent. Plain JavaScript as k6 v0.47's compiler takes it (no `??`).
 */
export const RESPONSE_JSON_CASES = 27;

export function responseJsonScript(dir: string): string {
  const file = join(dir, 'response-json.js');
  writeFileSync(
    file,
    `import { check } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
const cases = new Counter('json_cases');
export const options = {
  iterations: 1,
  thresholds: { checks: ['rate==1'], json_cases: ['count==${RESPONSE_JSON_CASES}'] },
};
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
function is(name, f, expected) {
  let got;
  try {
    const v = f();
    got = v === undefined ? 'undefined' : JSON.stringify(v);
  } catch (e) {
    got = 'throws ' + e.name + ': ' + e.message;
  }
  cases.add(1);
  check(got, { [name + ' is ' + expected]: (g) => g === expected });
}
async function body(text) {
  return http.asyncRequest('POST', __ENV.TARGET + '/raw', text);
}
export default async function () {
  const good = await body(JSON.stringify({ a: { b: 1, 'c.d': 2 }, items: [{ id: 'x' }, { id: 'y' }], n: null, s: 'str' }));
  is('good()', () => good.json().items[1].id, '"y"');
  is('good(a.b)', () => good.json('a.b'), '1');
  is('good(a)', () => good.json('a'), '{"b":1,"c.d":2}');
  is('good(a.c\\\\.d)', () => good.json('a.c\\\\.d'), '2');
  is('good(items.1.id)', () => good.json('items.1.id'), '"y"');
  is('good(items.#)', () => good.json('items.#'), '2');
  is('good(items.#.id)', () => good.json('items.#.id'), '["x","y"]');
  is('good(missing)', () => good.json('missing'), 'undefined');
  is('good(n)', () => good.json('n'), 'null');
  is('good(s)', () => good.json('s'), '"str"');
  is('good(items.5)', () => good.json('items.5'), 'undefined');
  is('good(a.*)', () => good.json('a.*'), '1');
  is('good(it?ms.#)', () => good.json('it?ms.#'), '2');
  is('good("")', () => good.json(''), 'undefined');
  // k6 parses once: the object a script changed is the one it gets again
  good.json().mark = 1;
  is('good() kept', () => good.json().mark, '1');
  const arr = await body('[1,2,3]');
  is('arr(0)', () => arr.json('0'), '1');
  is('arr(#)', () => arr.json('#'), '3');
  const bad = {
    '/bad1': ['not json', "line 1, character 3 , error: invalid character 'o' in literal null (expecting 'u')"],
    '/bad2': ['{\\n  "a": 1,\\n  "b": tru\\n}', "line 4, character 2 , error: invalid character '\\\\n' in literal true (expecting 'e')"],
    '/empty': ['', 'line 1, character 0 , error: unexpected end of JSON input'],
    '/trail': ['{"a":1} x', "line 1, character 9 , error: invalid character 'x' after top-level value"],
  };
  for (const name of Object.keys(bad)) {
    const r = await body(bad[name][0]);
    is(name + '()', () => r.json(), 'throws GoError: cannot parse json due to an error at ' + bad[name][1]);
    is(name + '(a)', () => r.json('a'), 'undefined');
  }
  const nullBody = "throws GoError: the body is null so we can't transform it to JSON - this likely was because of a request error getting the response";
  const none = await http.asyncRequest('GET', __ENV.TARGET + '/echo', null, { responseType: 'none' });
  is('none()', () => none.json(), nullBody);
  is('none(a)', () => none.json('a'), nullBody);
}
`,
  );
  return file;
}
