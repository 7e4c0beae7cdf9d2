/**
 * Following a redirect as Go's http.Client does, so as k6 does (net/http client.go,
 * redirectBehavior and makeHeadersCopier): 301, 302 and 303 turn any method but HEAD into a GET
 * without its body, 307 and 308 send the same method and body again; every header of the first
 * request goes along, but Authorization and explicit cookies only to its host or a subdomain of
 * it; the URL redirected from is the Referer, unless that would tell an http page about an https
 * one.
 */

export interface Hop {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

const CREDENTIALS = new Set(['authorization', 'www-authenticate', 'cookie', 'cookie2']);

function isDomainOrSubdomain(sub: string, parent: string): boolean {
  return sub === parent || (sub.endsWith(parent) && sub[sub.length - parent.length - 1] === '.');
}

/**
 * The request a redirect asks for, or undefined when `status` is not one that Go follows or the
 * response has no usable Location (Go then returns the response as it is).
 */
export function nextHop(
  first: Hop,
  previous: Hop,
  status: number,
  location: string | undefined,
): Hop | undefined {
  if (location === undefined || location === '') return undefined;
  const keepBody = status === 307 || status === 308;
  if (!keepBody && status !== 301 && status !== 302 && status !== 303) return undefined;
  let to: URL;
  try {
    to = new URL(location, previous.url);
  } catch {
    return undefined;
  }
  const from = new URL(previous.url);
  const firstHost = new URL(first.url).hostname;
  const headers: Record<string, string> = {};
  const setsReferer = !(from.protocol === 'https:' && to.protocol === 'http:');
  for (const [name, value] of Object.entries(first.headers)) {
    const lower = name.toLowerCase();
    if (CREDENTIALS.has(lower) && !isDomainOrSubdomain(to.hostname, firstHost)) continue;
    if (lower === 'referer' && setsReferer) continue;
    headers[name] = value;
  }
  if (setsReferer) {
    from.username = '';
    from.password = '';
    from.hash = '';
    headers.Referer = from.href;
  }
  const method = keepBody || previous.method === 'HEAD' ? previous.method : 'GET';
  return { method, url: to.href, headers, body: keepBody ? previous.body : undefined };
}
