import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/**
 * Redirects and cookies as k6 handles them, for runner/modules/http-cookies-redirects.test.ts and
 * test/real-k6.test.ts: one server, one script, run on both engines. The server echoes what it
 * received (`/echo`), logs in with a 303 and a cookie (`/login`), redirects with 302 and 307, chains
 * `/chain/N` through N redirects and logs out by expiring the cookie; `/raw` answers with the body
 * it was sent.
 */
export async function cookieRedirectServer(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const redirect = (status: number, location: string, cookies: string[] = []) =>
        res.writeHead(status, { location, 'set-cookie': cookies }).end();
      // the request's body back as the response's, for Response.json (test-fixtures/response-json.ts)
      if (path === '/raw') return res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      if (path === '/login') return redirect(303, '/echo', ['sid=s1; Path=/', 'scoped=1; Path=/only']);
      if (path === '/logout') return redirect(302, '/echo', ['sid=; Path=/; Max-Age=0']);
      if (path === '/r302') return redirect(302, '/echo');
      if (path === '/r307') return redirect(307, '/echo');
      // TEST-NET-1 (RFC 5737): never routed; the runner must refuse before trying.
      if (path === '/away') return redirect(302, 'http://192.0.2.1/elsewhere');
      const chain = /^\/chain\/(\d+)$/.exec(path);
      if (chain && Number(chain[1]) > 0) return redirect(302, `/chain/${Number(chain[1]) - 1}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          path,
          method: req.method,
          body,
          cookie: req.headers.cookie ?? '',
          referer: req.headers.referer ?? '',
          authorization: req.headers.authorization ?? '',
          userAgent: req.headers['user-agent'] ?? '',
        }),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** The server for the tests of the calling file: started before them, closed after; its url once up. */
export function useCookieRedirectServer(): { url: string } {
  const running = { url: '' };
  let server: Server | undefined;
  beforeAll(async () => {
    ({ server, url: running.url } = await cookieRedirectServer());
  });
  afterAll(() => {
    server?.closeAllConnections();
    server?.close();
  });
  return running;
}

/**
 * Two iterations of one VU, each logging in and out; every expectation a check (the tests want
 * none failed on either engine), and the requests k6 counts in http_reqs, each redirect one: 24
 * an iteration (1 + 1 + 2 + 1 + 1 + 1 + 2 + 1 + 11 + 2, and one refused).
 */
export const COOKIE_REDIRECT_REQUESTS = 48;

export function cookieRedirectScript(dir: string): string {
  const file = join(dir, 'cookies-redirects.js');
  writeFileSync(
    file,
    `import { check } from 'k6';
import http from 'k6/http';
export const options = { scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 2 } } };
const B = __ENV.TARGET;
export default async function () {
  const fresh = (await http.asyncRequest('GET', B + '/echo')).json();
  const own = await http.asyncRequest('GET', B + '/echo', null, {
    headers: { Cookie: 'own=1' },
    cookies: { extra: '2' },
  });
  const login = await http.asyncRequest('POST', B + '/login', 'user=budi', {
    headers: { Authorization: 'Bearer t' },
  });
  const home = login.json();
  const scoped = (await http.asyncRequest('GET', B + '/only/page')).json();
  const added = (await http.asyncRequest('GET', B + '/echo', null, { cookies: { extra: '2' } })).json();
  const replaced = (
    await http.asyncRequest('GET', B + '/echo', null, { cookies: { sid: { value: 'mine', replace: true } } })
  ).json();
  const put = (await http.asyncRequest('PUT', B + '/r307', 'payload')).json();
  const held = await http.asyncRequest('GET', B + '/r302', null, { redirects: 0 });
  const chain = await http.asyncRequest('GET', B + '/chain/12');
  const out = (await http.asyncRequest('GET', B + '/logout')).json();
  const refused = await http.asyncRequest('GET', 'http://127.0.0.1:1/closed');
  check(null, {
    'an iteration starts without cookies': () => fresh.cookie === '',
    "a script's Cookie header, then params.cookies, named in the request": () =>
      own.request.headers.Cookie[0] === 'own=1; extra=2' &&
      own.request.cookies.own[0].value === '1' &&
      own.request.cookies.extra[0].value === '2',
    'a 303 after a POST is a GET without the body': () => home.method === 'GET' && home.body === '',
    'the redirect ends where it led': () => login.status === 200 && login.url === B + '/echo',
    'the cookie set on the way is sent': () => home.cookie === 'sid=s1',
    'Authorization goes along to the same host': () => home.authorization === 'Bearer t',
    'the URL redirected from is the Referer': () => home.referer === B + '/login',
    "the final response's cookies are its own": () => Object.keys(login.cookies).length === 0,
    'a cookie goes only under its path': () => scoped.cookie === 'scoped=1; sid=s1',
    "a request's own cookies go before the jar's": () => added.cookie === 'extra=2; sid=s1',
    "replace: true sends one in place of the jar's": () => replaced.cookie === 'sid=mine',
    'a 307 repeats the method and the body': () => put.method === 'PUT' && put.body === 'payload',
    'redirects: 0 returns the redirect': () => held.status === 302 && held.url === B + '/r302',
    'a redirect held keeps its Location': () => held.headers.Location === '/echo',
    'ten redirects at most, then the last one': () => chain.status === 302 && chain.url === B + '/chain/2',
    'Max-Age=0 deletes the cookie': () => out.cookie === '',
    "the response's request is the first, its headers' values in arrays": () =>
      login.request.method === 'POST' &&
      login.request.url === B + '/login' &&
      login.request.headers.Authorization[0] === 'Bearer t' &&
      login.request.body === 'user=budi',
    'a request without an answer has no protocol': () => refused.proto === '' && login.proto === 'HTTP/1.1',
  });
}
`,
  );
  return file;
}

/**
 * The options' side: noCookiesReset keeps a VU's cookies into its next iteration, maxRedirects
 * lowers the default ten; 6 checks, 10 requests (5 an iteration).
 */
export function cookieKeepScript(dir: string): string {
  const file = join(dir, 'cookies-kept.js');
  writeFileSync(
    file,
    `import { check } from 'k6';
import http from 'k6/http';
import exec from 'k6/execution';
export const options = {
  noCookiesReset: true,
  maxRedirects: 1,
  scenarios: { s: { executor: 'per-vu-iterations', vus: 1, iterations: 2 } },
};
const B = __ENV.TARGET;
export default async function () {
  const seen = (await http.asyncRequest('GET', B + '/echo')).json().cookie;
  const login = await http.asyncRequest('POST', B + '/login', 'x');
  const chain = await http.asyncRequest('GET', B + '/chain/3');
  check(null, {
    'the second iteration still has the cookie': () =>
      seen === (exec.vu.iterationInInstance === 0 ? '' : 'sid=s1'),
    'one redirect is followed': () => login.status === 200,
    'then the second is returned': () => chain.status === 302 && chain.url === B + '/chain/2',
  });
}
`,
  );
  return file;
}
