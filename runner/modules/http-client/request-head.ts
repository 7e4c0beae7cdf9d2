import { ClientError } from './errors.ts';
import type { Target } from './target.ts';

/**
 * An HTTP/1.1 request head. Content-Length is the client's (a script's own could contradict the
 * body); Host is the URL's unless the script sets one (k6 lets it); every header is checked first
 * so that none can split the head (no CR, LF or NUL).
 */

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const UNSAFE_VALUE = /[\r\n\0]/;
/** methods whose empty body Go still announces (Content-Length: 0), as k6 sends them */
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

const isNamed = (name: string, lower: string) => name.length === lower.length && name.toLowerCase() === lower;

export function requestHead(
  method: string,
  target: Target,
  headers: Readonly<Record<string, string>>,
  bodyLength: number | undefined,
): string {
  if (!TOKEN.test(method)) throw new ClientError('INVALID_HEADER', `invalid method "${method}"`);
  let head = '';
  let hasHost = false;
  for (const name in headers) {
    if (isNamed(name, 'content-length')) continue;
    if (isNamed(name, 'host')) hasHost = true;
    const value = String(headers[name]);
    if (!TOKEN.test(name)) throw new ClientError('INVALID_HEADER', `invalid header name "${name}"`);
    if (UNSAFE_VALUE.test(value))
      throw new ClientError('INVALID_HEADER', `invalid value for header "${name}": CR, LF or NUL`);
    head += `${name}: ${value}\r\n`;
  }
  if (bodyLength !== undefined) head += `Content-Length: ${bodyLength}\r\n`;
  else if (BODY_METHODS.has(method)) head += 'Content-Length: 0\r\n';
  const start = `${method} ${target.path} HTTP/1.1\r\n`;
  return hasHost ? `${start}${head}\r\n` : `${start}Host: ${target.host}\r\n${head}\r\n`;
}
