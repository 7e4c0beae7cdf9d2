/**
 * Where a URL sends a request: the origin to connect to and the request-target to ask for.
 * Parsed once per distinct URL (scripts hit the same few URLs millions of times).
 */

export interface Target {
  readonly secure: boolean;
  /** as the URL spells it (`[::1]` for IPv6), for the loopback check */
  readonly hostname: string;
  /** for net.connect: IPv6 without brackets */
  readonly connectHost: string;
  readonly port: number;
  /** the Host header: host[:port] as in the URL */
  readonly host: string;
  /** path and query */
  readonly path: string;
  /** one connection pool per origin */
  readonly origin: string;
  /** set for a protocol the client does not speak (ftp:, ws:, ...) */
  readonly unsupportedProtocol?: string;
}

const cache = new Map<string, Target | null>();
const CACHE_LIMIT = 1000;

/** undefined for a string that is not a URL. */
export function parseTarget(url: string): Target | undefined {
  const hit = cache.get(url);
  if (hit !== undefined) return hit ?? undefined;
  let target: Target | null = null;
  try {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    target = {
      secure,
      hostname: u.hostname,
      connectHost: u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname,
      port: u.port ? Number(u.port) : secure ? 443 : 80,
      host: u.host,
      path: `${u.pathname}${u.search}`,
      origin: u.origin,
      ...(secure || u.protocol === 'http:' ? {} : { unsupportedProtocol: u.protocol.slice(0, -1) }),
    };
  } catch {
    target = null;
  }
  // Bounded: a script that builds a new URL per request must not grow the cache without end.
  if (cache.size < CACHE_LIMIT) cache.set(url, target);
  return target ?? undefined;
}
