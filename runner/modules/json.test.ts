import { describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../index.ts';
import { useCookieRedirectServer } from '../test-fixtures/cookies-redirects.ts';
import { RESPONSE_JSON_CASES, responseJsonScript } from '../test-fixtures/response-json.ts';
import { quiet, script, scriptDir } from '../test-fixtures/target.ts';
import { goSyntaxError, parseJson, selectJson, UnsupportedSelector } from './json.ts';

const utf8 = (s: string) => Buffer.from(s, 'utf8');
const hex = (h: string) => Buffer.from(h, 'hex');

/**
 * What Go 1.19.8's encoding/json (the Go k6 v0.47 was built with here) answered for each input:
 * json.Unmarshal's SyntaxError, its Offset and words (2026-12-07, a Go program on this machine).
 * The port agreed on these and on 20,000 random edits of valid documents (the fuzz is not in
 * the suite: it needs Go).
 */
const GO_ANSWERS: Array<[Buffer, number, string]> = [
  [utf8('not json'), 2, "invalid character 'o' in literal null (expecting 'u')"],
  [utf8('{\n  "a": 1,\n  "b": tru\n}'), 23, "invalid character '\\n' in literal true (expecting 'e')"],
  [utf8(''), 0, 'unexpected end of JSON input'],
  [utf8('{"a":1} x'), 9, "invalid character 'x' after top-level value"],
  [utf8('tru'), 3, "invalid character ' ' in literal true (expecting 'e')"],
  [utf8('{'), 1, 'unexpected end of JSON input'],
  [utf8('['), 1, 'unexpected end of JSON input'],
  [utf8('[1,]'), 4, "invalid character ']' looking for beginning of value"],
  [utf8('[1 2]'), 4, "invalid character '2' after array element"],
  [utf8('{"a" 1}'), 6, "invalid character '1' after object key"],
  [utf8('{"a":1,}'), 8, "invalid character '}' looking for beginning of object key string"],
  [utf8('{1:2}'), 2, "invalid character '1' looking for beginning of object key string"],
  [utf8('"abc'), 4, 'unexpected end of JSON input'],
  [utf8('"a\\qb"'), 4, "invalid character 'q' in string escape code"],
  [utf8('"\\u12g4"'), 6, "invalid character 'g' in \\u hexadecimal character escape"],
  [utf8('"a\u0001b"'), 3, "invalid character '\\x01' in string literal"],
  [utf8('-'), 1, "invalid character ' ' in numeric literal"],
  [utf8('-a'), 2, "invalid character 'a' in numeric literal"],
  [utf8('01'), 2, "invalid character '1' after top-level value"],
  [utf8('1.'), 2, "invalid character ' ' after decimal point in numeric literal"],
  [utf8('1.e5'), 3, "invalid character 'e' after decimal point in numeric literal"],
  [utf8('1e'), 2, "invalid character ' ' in exponent of numeric literal"],
  [utf8('1e+'), 3, "invalid character ' ' in exponent of numeric literal"],
  [utf8('1.5e-x'), 6, "invalid character 'x' in exponent of numeric literal"],
  [utf8('nul'), 3, "invalid character ' ' in literal null (expecting 'l')"],
  [utf8('falsy'), 5, "invalid character 'y' in literal false (expecting 'e')"],
  [utf8('[true, fals]'), 12, "invalid character ']' in literal false (expecting 'e')"],
  [utf8('{"k":"v"}}'), 10, "invalid character '}' after top-level value"],
  [utf8("'single'"), 1, "invalid character '\\'' looking for beginning of value"],
  [utf8('\ufeff{}'), 1, "invalid character 'ï' looking for beginning of value"],
  [utf8('\u00e9'), 1, "invalid character 'Ã' looking for beginning of value"],
  [hex('5b22e9222c20785d'), 7, "invalid character 'x' looking for beginning of value"],
  [utf8('{"a":[1,2,{"b":null}],"c":tRue}'), 28, "invalid character 'R' in literal true (expecting 'r')"],
  [utf8('  \t\n'), 4, 'unexpected end of JSON input'],
  [utf8('123abc'), 4, "invalid character 'a' after top-level value"],
  [utf8('[1]]'), 4, "invalid character ']' after top-level value"],
  [utf8('\u007f'), 1, "invalid character '\\x7f' looking for beginning of value"],
  [hex('a0'), 1, "invalid character '\\u00a0' looking for beginning of value"],
  [hex('ad'), 1, "invalid character '\\u00ad' looking for beginning of value"],
  [hex('85'), 1, "invalid character '\\u0085' looking for beginning of value"],
  [utf8('"\\'), 2, "invalid character ' ' in string escape code"],
];

describe("Go's JSON scanner, ported", () => {
  it.each(
    GO_ANSWERS.map(
      ([input, offset, message]) =>
        [JSON.stringify(input.toString('latin1')), input, offset, message] as const,
    ),
  )('%s: the error and offset Go gives', (_name, input, offset, message) => {
    expect(goSyntaxError(input)).toEqual({ message, offset });
  });

  it('finds nothing wrong where JSON.parse finds nothing wrong', () => {
    for (const ok of ['{}', '[]', '0', '-0.5e+3', '"\\u00e9\\n"', ' {"a":[true,false,null]} ', '"é"'])
      expect(goSyntaxError(utf8(ok)), ok).toBeUndefined();
  });

  it("words a body that is not JSON as k6 does: line and character, then Go's error", () => {
    expect(() => parseJson('{\n  "a": 1,\n  "b": tru\n}')).toThrow(
      "cannot parse json due to an error at line 4, character 2 , error: invalid character '\\n' in literal true (expecting 'e')",
    );
    // k6 counts characters in runes up to the byte Go stopped after (the one past the culprit)
    expect(() => parseJson('["éé", x, 1]')).toThrow("line 1, character 9 , error: invalid character 'x'");
    try {
      parseJson('nope');
    } catch (err) {
      expect((err as Error).name).toBe('GoError');
    }
    expect.assertions(3);
  });
});

describe("gjson's selectors", () => {
  // gjson's own examples (SYNTAX.md), and where the runner stops
  const doc = JSON.stringify({
    name: { first: 'Tom', last: 'Anderson' },
    age: 37,
    children: ['Sara', 'Alex', 'Jack'],
    'fav.movie': 'Deer Hunter',
    friends: [
      { first: 'Dale', last: 'Murphy', age: 44, nets: ['ig', 'fb', 'tw'] },
      { first: 'Roger', last: 'Craig', age: 68, nets: ['fb', 'tw'] },
      { first: 'Jane', last: 'Murphy', age: 47, nets: ['ig', 'tw'] },
    ],
  });
  it.each([
    ['name.last', 'Anderson'],
    ['age', 37],
    ['children', ['Sara', 'Alex', 'Jack']],
    ['children.#', 3],
    ['children.1', 'Alex'],
    ['child*.2', 'Jack'],
    ['c?ildren.0', 'Sara'],
    ['fav\\.movie', 'Deer Hunter'],
    ['friends.#.first', ['Dale', 'Roger', 'Jane']],
    ['friends.1.last', 'Craig'],
    ['friends.#.nets.#', [3, 2, 2]],
    ['friends.#.nope', []],
    ['children.3', undefined],
    ['name.first.x', undefined],
    ['age.#', undefined],
  ] as const)('%s', (selector, expected) => {
    expect(selectJson(doc, selector)).toEqual(expected);
  });

  it.each([
    'friends.#(last=="Murphy").first',
    'children|@reverse',
    '@reverse',
    'children.@reverse',
    '[name.first,age]',
    '{name.first}',
    '!true',
    '..0',
  ])('refuses %s, which it does not evaluate', (selector) => {
    expect(() => selectJson(doc, selector)).toThrow(UnsupportedSelector);
  });
});

describe('Response.json() on the runner', () => {
  const server = useCookieRedirectServer();

  // The same script on real k6: test/real-k6.test.ts.
  it('answers every case as k6 v0.47 did', async () => {
    const r = await runTest({
      ...quiet,
      workers: 1,
      script: responseJsonScript(scriptDir),
      env: { TARGET: server.url },
    });
    expect(r.thresholds.filter((t) => !t.ok).map((t) => t.threshold.key)).toEqual([]);
    expect(r.summary?.metrics.json_cases?.values.count).toBe(RESPONSE_JSON_CASES);
    expect(r.exitCode).toBe(EXIT.ok);
  });

  it('stops the test at a selector it does not evaluate, naming it and the way to write it', async () => {
    const r = await runTest({
      ...quiet,
      workers: 1,
      script: script(`
        import http from 'k6/http';
        export const options = { iterations: 3 };
        export default async function () {
          const res = await http.asyncRequest('GET', __ENV.TARGET + '/echo');
          res.json('path|@reverse');
        }
      `),
      env: { TARGET: server.url },
    });
    expect(r.exitCode).toBe(EXIT.scriptException);
    expect(r.error).toContain('res.json("path|@reverse")');
    expect(r.error).toContain('read res.json() and pick in JavaScript');
  });
});
