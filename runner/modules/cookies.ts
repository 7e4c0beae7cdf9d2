import { Cookie, CookieJar } from 'tough-cookie';
import type { VuState } from '../runtime.ts';

/**
 * k6's cookies for `asyncRequest`: each VU has a jar of its own that takes every Set-Cookie of its
 * responses (redirects' included) and sends the matching cookies on its later requests, emptied
 * at the start of each iteration unless the test's options say `noCookiesReset` (k6's runFn makes
 * a new jar per iteration). RFC 6265's matching (domain, path, Secure, expiry) is tough-cookie's.
 * A VU that never received a cookie has no jar: the requests of a script without cookies pay a
 * map lookup.
 */

interface VuJar {
  /** the VU's iteration the jar belongs to */
  iteration: number;
  jar: CookieJar;
}

const jars = new WeakMap<VuState, VuJar>();

/**
 * Go's net/http/cookiejar as k6 makes it (cookiejar.New(nil)): a Secure cookie is kept whoever set
 * it and sent over https only, loopback included; no public-suffix list.
 */
const GO_JAR = {
  allowSecureOnLocal: false,
  enforceSecureOriginOnStorage: false,
  rejectPublicSuffixes: false,
};

function current(vu: VuState, reset: boolean): VuJar | undefined {
  const held = jars.get(vu);
  if (held && reset && held.iteration !== vu.iterationInInstance) {
    jars.delete(vu);
    return undefined;
  }
  return held;
}

/** A request's `cookies` param: a value, or one that replaces the jar's cookie of that name. */
export type CookieParams = Record<string, string | number | { value: string | number; replace?: boolean }>;

/**
 * The Cookie header of a request: the params' own cookies, then the VU's jar's for `url` but those
 * the params replace, in k6's order (checked on k6 v0.47); '' when there are none.
 */
export function cookieHeader(
  vu: VuState | undefined,
  url: string,
  reset: boolean,
  params: CookieParams | undefined,
): string {
  const held = vu ? current(vu, reset) : undefined;
  if (!params) return held ? held.jar.getCookieStringSync(url) : '';
  const replaced = new Set<string>();
  const own: string[] = [];
  for (const [name, v] of Object.entries(params)) {
    const value = typeof v === 'object' ? v.value : v;
    if (typeof v === 'object' && v.replace === true) replaced.add(name);
    own.push(`${name}=${value}`);
  }
  const fromJar = held
    ? held.jar
        .getCookiesSync(url)
        .filter((c) => !replaced.has(c.key))
        .map((c) => c.cookieString())
    : [];
  return [...own, ...fromJar].join('; ');
}

/** Keeps a response's Set-Cookie headers in the VU's jar, as the browser-like jar of k6 does. */
export function storeCookies(
  vu: VuState | undefined,
  url: string,
  setCookies: readonly string[],
  reset: boolean,
): void {
  if (!vu || setCookies.length === 0) return;
  let held = current(vu, reset);
  if (!held) {
    held = { iteration: vu.iterationInInstance, jar: new CookieJar(undefined, GO_JAR) };
    jars.set(vu, held);
  }
  // A cookie the jar refuses (another domain's, a malformed one) is dropped, as a browser drops it.
  for (const c of setCookies) held.jar.setCookieSync(c, url, { ignoreError: true });
}

/** One cookie of `Response.cookies`, as k6 (Go's http.Cookie) gives it. */
export interface ResponseCookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  http_only: boolean;
  secure: boolean;
  /** Go's MaxAge: 0 when absent, -1 for Max-Age=0 or less */
  max_age: number;
  /** ms since the epoch; without Expires, what k6 reports for Go's zero time */
  expires: number;
}

/** Go's zero time.Time in k6's `UnixNano() / 1e6`: the value k6 v0.47 gives a cookie without Expires. */
const NO_EXPIRES = -6795364578871;

/** `Response.cookies`: the response's own Set-Cookie headers by name, in their order. */
export function responseCookies(setCookies: readonly string[]): Record<string, ResponseCookie[]> {
  const out: Record<string, ResponseCookie[]> = {};
  for (const header of setCookies) {
    const c = Cookie.parse(header);
    if (!c) continue;
    const maxAge = typeof c.maxAge === 'number' ? (c.maxAge > 0 ? c.maxAge : -1) : 0;
    const cookie: ResponseCookie = {
      name: c.key,
      value: c.value,
      domain: c.domain ?? '',
      path: c.path ?? '',
      http_only: c.httpOnly,
      secure: c.secure,
      max_age: maxAge,
      expires: c.expires instanceof Date ? c.expires.getTime() : NO_EXPIRES,
    };
    const same = out[cookie.name];
    if (same) same.push(cookie);
    else out[cookie.name] = [cookie];
  }
  return out;
}
