import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Presigned upload URLs, as an S3 SDK makes them: the holder of the signing secret (the reference
 * service) signs method + path + expiry; the store checks the signature and the expiry without a
 * round trip. Shared by signer and verifier so both compute the same bytes.
 */

function stringToSign(method: string, path: string, expiresUnix: number): string {
  return `${method.toUpperCase()}\n${path}\n${expiresUnix}`;
}

export function objectPath(bucket: string, key: string): string {
  return `/buckets/${encodeURIComponent(bucket)}/objects/${encodeURIComponent(key)}`;
}

/** Returns the path+query of a URL valid for `method` on the object until `expiresUnix` (seconds). */
export function presignPath(
  secret: string,
  method: 'PUT' | 'GET',
  bucket: string,
  key: string,
  expiresUnix: number,
): string {
  const path = objectPath(bucket, key);
  const signature = createHmac('sha256', secret)
    .update(stringToSign(method, path, expiresUnix))
    .digest('hex');
  return `${path}?expires=${expiresUnix}&signature=${signature}`;
}

export type PresignCheck = { ok: true } | { ok: false; reason: 'expired' | 'bad_signature' | 'missing' };

export function verifyPresigned(
  secret: string,
  method: string,
  path: string,
  expires: string | undefined,
  signature: string | undefined,
  nowUnix: number = Math.floor(Date.now() / 1000),
): PresignCheck {
  if (!expires || !signature) return { ok: false, reason: 'missing' };
  const expiresUnix = Number(expires);
  if (!Number.isInteger(expiresUnix)) return { ok: false, reason: 'bad_signature' };
  const expected = createHmac('sha256', secret)
    .update(stringToSign(method, path, expiresUnix))
    .digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad_signature' };
  }
  if (expiresUnix < nowUnix) return { ok: false, reason: 'expired' };
  return { ok: true };
}
