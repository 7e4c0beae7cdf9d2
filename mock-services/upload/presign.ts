import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Presigned upload URLs, as an S3 SDK makes them: the holder of the signing secret (the reference
 * service) signs method + path + expiry, and optionally what the upload must be (its Content-Type,
 * as S3 signs headers, and its largest size, as an S3 POST policy's content-length-range); the
 * store checks the signature, the expiry and those conditions without a round trip. Shared by
 * signer and verifier so both compute the same bytes.
 */

/** What a presigned PUT must be: the store refuses another Content-Type or more bytes. */
export interface PresignConditions {
  contentType?: string;
  maxBytes?: number;
}

function stringToSign(method: string, path: string, expiresUnix: number, c: PresignConditions): string {
  const lines = [method.toUpperCase(), path, String(expiresUnix)];
  if (c.contentType !== undefined) lines.push(`content-type:${c.contentType.toLowerCase()}`);
  if (c.maxBytes !== undefined) lines.push(`max-bytes:${c.maxBytes}`);
  return lines.join('\n');
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
  conditions: PresignConditions = {},
): string {
  const path = objectPath(bucket, key);
  const signature = createHmac('sha256', secret)
    .update(stringToSign(method, path, expiresUnix, conditions))
    .digest('hex');
  const query = new URLSearchParams({ expires: String(expiresUnix) });
  if (conditions.contentType !== undefined) query.set('content-type', conditions.contentType.toLowerCase());
  if (conditions.maxBytes !== undefined) query.set('max-bytes', String(conditions.maxBytes));
  query.set('signature', signature);
  return `${path}?${query}`;
}

export type PresignCheck =
  | { ok: true; conditions: PresignConditions }
  | { ok: false; reason: 'expired' | 'bad_signature' | 'missing' };

/** The query of a presigned URL, as the store receives it. */
export interface PresignQuery {
  expires?: string;
  signature?: string;
  'content-type'?: string;
  'max-bytes'?: string;
}

export function verifyPresigned(
  secret: string,
  method: string,
  path: string,
  query: PresignQuery,
  nowUnix: number = Math.floor(Date.now() / 1000),
): PresignCheck {
  const { expires, signature } = query;
  if (typeof expires !== 'string' || typeof signature !== 'string') return { ok: false, reason: 'missing' };
  const expiresUnix = Number(expires);
  if (!Number.isInteger(expiresUnix)) return { ok: false, reason: 'bad_signature' };
  const conditions: PresignConditions = {};
  if (query['content-type'] !== undefined) {
    if (typeof query['content-type'] !== 'string') return { ok: false, reason: 'bad_signature' };
    conditions.contentType = query['content-type'];
  }
  const maxBytes = query['max-bytes'];
  if (maxBytes !== undefined) {
    if (typeof maxBytes !== 'string' || !/^\d{1,15}$/.test(maxBytes))
      return { ok: false, reason: 'bad_signature' };
    conditions.maxBytes = Number(maxBytes);
  }
  const expected = createHmac('sha256', secret)
    .update(stringToSign(method, path, expiresUnix, conditions))
    .digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: 'bad_signature' };
  }
  if (expiresUnix < nowUnix) return { ok: false, reason: 'expired' };
  return { ok: true, conditions };
}
