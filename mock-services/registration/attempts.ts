import type { Request } from 'express';
import type { Config } from './config.ts';
import { ApiError } from './errors.ts';
import type { RateLimiter } from './rate-limit.ts';

/**
 * The limits on guessing: wrong passwords (log-in, and the resend of a verification mail, which
 * checks the password too) and unknown verification tokens, per email and per client address,
 * across every process (rate-limit.ts). Only failures count, so a registrant who logs in twice,
 * or a rehearsal's thousands of registrants behind one address, never meet them.
 *
 * Per email the limit is strict: each attempt takes a unit before the password is checked and
 * gives it back if the password was right, so of a burst of simultaneous guesses at most the
 * limit are checked. Per address a failure is counted once known: a burst may pass the address
 * limit by the requests in flight at once, which the per-email limit still bounds for each account.
 * A wrong verification token names no account, so only its address is limited; the tokens'
 * 256 random bits are what makes guessing one hopeless.
 */

const SCOPE = {
  passwordEmail: 'password:email',
  passwordAddress: 'password:address',
  tokenAddress: 'token:address',
} as const;

/** The peer's address (no proxy is trusted: X-Forwarded-For is whatever the client says). */
export function clientAddress(req: Request): string {
  const a = req.socket.remoteAddress ?? 'unknown';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

const waitSeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

function tooManyFromAddress(retryAfterMs: number): ApiError {
  const s = waitSeconds(retryAfterMs);
  return new ApiError(
    429,
    'too_many_attempts',
    `too many failed attempts from your address: try again in ${s} s`,
    undefined,
    undefined,
    s,
  );
}

export interface AttemptGuard {
  /**
   * Checks a password for `email` under the limits: 429 when the email or the address has used up
   * its failures, else the result of `verify` (a wrong one counted against both).
   */
  password(req: Request, email: string, verify: () => Promise<boolean>): Promise<boolean>;
  /** Before a verification token is looked up: 429 when the address has used up its failures. */
  beforeToken(req: Request): void;
  /** After an unknown verification token. */
  unknownToken(req: Request): void;
}

export function attemptGuard(limiter: RateLimiter, config: Config): AttemptGuard {
  const windowMs = config.RATE_LIMIT_WINDOW_S * 1000;
  const perEmail = config.LOGIN_MAX_FAILURES_PER_EMAIL;
  const perAddress = config.LOGIN_MAX_FAILURES_PER_ADDRESS;
  const tokensPerAddress = config.VERIFY_MAX_FAILURES_PER_ADDRESS;
  return {
    async password(req, email, verify) {
      const address = clientAddress(req);
      const fromAddress = limiter.check(SCOPE.passwordAddress, address, perAddress);
      if (!fromAddress.ok) throw tooManyFromAddress(fromAddress.retryAfterMs);
      const taken = limiter.take(SCOPE.passwordEmail, email.toLowerCase(), perEmail, windowMs);
      if (!taken.ok) {
        const s = waitSeconds(taken.retryAfterMs);
        throw new ApiError(
          429,
          'too_many_attempts',
          `too many failed log-ins for this email (${perEmail} in ${config.RATE_LIMIT_WINDOW_S} s): try again in ${s} s`,
          'email',
          undefined,
          s,
        );
      }
      let ok: boolean;
      try {
        ok = await verify();
      } catch (err) {
        // Not a guess: the check itself failed.
        limiter.giveBack(taken.reservation);
        throw err;
      }
      if (ok) limiter.giveBack(taken.reservation);
      else limiter.take(SCOPE.passwordAddress, address, perAddress, windowMs);
      return ok;
    },
    beforeToken(req) {
      const fromAddress = limiter.check(SCOPE.tokenAddress, clientAddress(req), tokensPerAddress);
      if (!fromAddress.ok) throw tooManyFromAddress(fromAddress.retryAfterMs);
    },
    unknownToken(req) {
      limiter.take(SCOPE.tokenAddress, clientAddress(req), tokensPerAddress, windowMs);
    },
  };
}
