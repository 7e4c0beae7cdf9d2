/** `k6/encoding`: base64 in k6's four variants. */
type Variant = 'std' | 'rawstd' | 'url' | 'rawurl';

function toBuffer(input: string | ArrayBuffer): Buffer {
  return typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(new Uint8Array(input));
}

export function b64encode(input: string | ArrayBuffer, encoding: Variant = 'std'): string {
  const b = toBuffer(input);
  const url = encoding === 'url' || encoding === 'rawurl';
  let s = b.toString(url ? 'base64url' : 'base64');
  if (encoding === 'url') while (s.length % 4) s += '=';
  if (encoding === 'rawstd') s = s.replace(/=+$/, '');
  return s;
}

export function b64decode(input: string, encoding: Variant = 'std', format?: 's'): string | ArrayBuffer {
  const url = encoding === 'url' || encoding === 'rawurl';
  const b = Buffer.from(input, url ? 'base64url' : 'base64');
  if (format === 's') return b.toString('utf8');
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

export default { b64encode, b64decode };
