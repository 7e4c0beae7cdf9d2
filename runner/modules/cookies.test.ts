import { describe, expect, it } from 'vitest';
import type { VuState } from '../runtime.ts';
import { cookieHeader, responseCookies, storeCookies } from './cookies.ts';

const vu = (): VuState => ({
  idInTest: 1,
  idInInstance: 1,
  iterationInInstance: 0,
  iterationInScenario: 0,
  iterationInTest: 0,
  scenario: 's',
  executor: 'per-vu-iterations',
  scenarioStartTime: 0,
  env: {},
  tags: {},
  traffic: { sent: 0, received: 0 },
});

describe("a VU's cookies", () => {
  it('are its own, sent where they match, and emptied when its next iteration starts', () => {
    const a = vu();
    const b = vu();
    storeCookies(a, 'http://127.0.0.1:9/login', ['sid=1; Path=/', 'deep=2; Path=/only'], true);
    expect(cookieHeader(a, 'http://127.0.0.1:9/home', true, undefined)).toBe('sid=1');
    expect(cookieHeader(a, 'http://127.0.0.1:9/only/x', true, undefined)).toBe('deep=2; sid=1');
    expect(cookieHeader(b, 'http://127.0.0.1:9/home', true, undefined)).toBe('');
    a.iterationInInstance++;
    expect(cookieHeader(a, 'http://127.0.0.1:9/home', true, undefined)).toBe('');
  });

  it("go out after a request's own cookies; one with replace: true goes in place of the jar's", () => {
    const a = vu();
    storeCookies(a, 'http://127.0.0.1:9/', ['sid=1', 'lang=id'], true);
    const url = 'http://127.0.0.1:9/';
    expect(cookieHeader(a, url, true, { extra: 2 })).toBe('extra=2; sid=1; lang=id');
    expect(cookieHeader(a, url, true, { sid: { value: 'mine', replace: true } })).toBe('sid=mine; lang=id');
    expect(cookieHeader(a, url, true, { sid: { value: 'both' } })).toBe('sid=both; sid=1; lang=id');
    expect(cookieHeader(undefined, url, true, { only: 'x' })).toBe('only=x');
  });

  it('are kept into the next iteration without the reset (noCookiesReset)', () => {
    const a = vu();
    storeCookies(a, 'http://127.0.0.1:9/', ['sid=1'], false);
    a.iterationInInstance++;
    expect(cookieHeader(a, 'http://127.0.0.1:9/', false, undefined)).toBe('sid=1');
  });

  it('leave out what a browser leaves out: a Secure cookie over http, an expired one, another domain', () => {
    const a = vu();
    storeCookies(
      a,
      'http://127.0.0.1:9/',
      ['s=1; Secure', 'gone=1; Max-Age=0', 'other=1; Domain=example.com', 'kept=1'],
      true,
    );
    expect(cookieHeader(a, 'http://127.0.0.1:9/', true, undefined)).toBe('kept=1');
  });
});

describe('Response.cookies', () => {
  it("is the response's Set-Cookie headers by name, as k6 gives Go's http.Cookie", () => {
    const c = responseCookies([
      'sid=abc; Path=/; HttpOnly',
      'pref=x; Domain=app.test; Max-Age=60; Secure',
      'sid=def; Expires=Wed, 09 Jun 2027 10:18:14 GMT',
      'old=1; Max-Age=0',
      'not a cookie',
    ]);
    expect(c.sid).toEqual([
      {
        name: 'sid',
        value: 'abc',
        domain: '',
        path: '/',
        http_only: true,
        secure: false,
        max_age: 0,
        expires: -6795364578871,
      },
      {
        name: 'sid',
        value: 'def',
        domain: '',
        path: '',
        http_only: false,
        secure: false,
        max_age: 0,
        expires: Date.UTC(2027, 5, 9, 10, 18, 14),
      },
    ]);
    expect(c.pref?.[0]).toMatchObject({ domain: 'app.test', max_age: 60, secure: true });
    expect(c.old?.[0]?.max_age).toBe(-1);
    expect(Object.keys(c).sort()).toEqual(['old', 'pref', 'sid']);
  });
});
