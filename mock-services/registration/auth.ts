import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { SessionRow } from './db.ts';

/**
 * Password hashing with scrypt (memory-hard; async so the cost lands on the libuv pool and shows
 * in a rehearsal as CPU, not as a blocked event loop) and opaque bearer tokens stored as sha256.
 */

const R = 8;
const P = 1;
const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem must exceed 128 * N * r or scrypt refuses large costs.
    scrypt(password, salt, KEYLEN, { N: n, r: R, p: P, maxmem: 256 * n * R + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$salt$hash`, so that the cost can change without invalidating stored hashes. */
export async function hashPassword(password: string, n: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, n);
  return `scrypt$${n}$${R}$${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, , , salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !n || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scryptAsync(password, Buffer.from(salt, 'base64url'), Number(n));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Compares a presented secret (an admin token) with the expected one in constant time. */
export function sameSecret(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Why a session token does not stand for its account now, or undefined when it does. */
export function sessionProblem(
  s: SessionRow | undefined,
  now = Date.now(),
): 'unknown' | 'revoked' | 'expired' | undefined {
  if (!s) return 'unknown';
  if (s.revoked_at !== null) return 'revoked';
  if (s.expires_at < now) return 'expired';
  return undefined;
}
