import type { IRouter, Request } from 'express';
import { z } from 'zod';
import { hashPassword, newToken, tokenHash, verifyPassword } from '../auth.ts';
import { jsonBody, secretText } from '../body.ts';
import { ApiError, parseBody } from '../errors.ts';
import { verificationMail } from '../mailer.ts';
import { asyncRoute, type RouteContext } from './context.ts';

export const accountBody = z
  .object({
    email: z.email().max(254),
    password: secretText().min(8, 'expected at least 8 characters').max(128),
  })
  .strict();

const decoys = new Map<number, Promise<string>>();

/** A stored hash that no password matches, one per process and scrypt cost, made when first needed. */
function decoyHash(n: number): Promise<string> {
  let d = decoys.get(n);
  if (!d) {
    d = hashPassword(newToken(), n);
    decoys.set(n, d);
  }
  return d;
}

/**
 * The account whose email and password the body gives, under the failed-attempt limits (attempts.ts),
 * hashing even for an unknown email (against a decoy, at the cost new accounts are hashed at) so
 * that the answer's time does not tell which accounts exist.
 */
export async function checkedAccount(ctx: RouteContext, req: Request) {
  const body = parseBody(accountBody, req.body);
  const a = ctx.repo.accountByEmail(body.email);
  const ok = await ctx.attempts.password(req, body.email, async () => {
    const stored = a?.password_hash ?? (await decoyHash(ctx.config.SCRYPT_N));
    const end = ctx.metrics.scryptDuration.startTimer({ operation: 'verify' });
    const right = await verifyPassword(body.password, stored);
    end();
    return right && a !== undefined;
  });
  if (!a || !ok) throw new ApiError(401, 'bad_credentials', 'wrong email or password');
  return a;
}

/** Steps 1 and 3: create an account (which sends the verification mail), log in and log out. */
export function accountRoutes(router: IRouter, ctx: RouteContext): void {
  const { config, repo, metrics, reject } = ctx;

  router.post(
    '/api/v1/accounts',
    ctx.step('registered', { json: true }),
    asyncRoute(async (req, res) => {
      const body = parseBody(accountBody, req.body);
      if (repo.accountByEmail(body.email))
        throw reject(
          'registered',
          new ApiError(409, 'duplicate_email', 'an account with this email exists', 'email'),
        );
      const end = metrics.scryptDuration.startTimer({ operation: 'hash' });
      const hash = await hashPassword(body.password, config.SCRYPT_N);
      end();
      const token = newToken();
      const mail = verificationMail(ctx.publicUrl(), token);
      const outbox = config.EMAIL_DELIVERY === 'outbox';
      if (!outbox) {
        // Inline delivery: no mail, no account. The mail goes first and the row is written only once
        // SMTP accepted it, so a crash or a failure in between can never leave an account whose
        // registrant was told nothing (at worst a mail whose link is refused as invalid_token).
        try {
          await ctx.mailer.send(body.email, mail);
        } catch (err) {
          ctx.dependencyFailure('registered', err);
        }
      }
      let id: number;
      try {
        id = repo.createAccount(
          body.email,
          hash,
          tokenHash(token),
          Date.now() + config.EMAIL_TOKEN_TTL_S * 1000,
          outbox ? mail : undefined,
        );
      } catch (err) {
        // The check above can race another request for the same email; the UNIQUE index settles it.
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw reject(
            'registered',
            new ApiError(409, 'duplicate_email', 'an account with this email exists', 'email'),
          );
        }
        throw err;
      }
      metrics.stageReached.inc({ stage: 'registered' });
      res
        .status(201)
        .json({ accountId: id, email: body.email, emailVerification: outbox ? 'queued' : 'sent' });
    }),
  );

  router.post(
    '/api/v1/sessions',
    jsonBody,
    asyncRoute(async (req, res) => {
      const a = await checkedAccount(ctx, req);
      if (a.email_verified_at === null)
        throw new ApiError(403, 'email_not_verified', 'verify your email first', 'email');
      const token = newToken();
      const expiresAt = Date.now() + config.SESSION_TTL_S * 1000;
      repo.createSession(tokenHash(token), a.id, expiresAt);
      res.status(201).json({ token, expiresAt: new Date(expiresAt).toISOString() });
    }),
  );

  // Logout: the bearer token stops working at once, in every process (the session row says so).
  router.delete('/api/v1/sessions/current', (req, res) => {
    ctx.account(req);
    const header = req.get('authorization') ?? '';
    if (!repo.revokeSession(tokenHash(header.slice(7)), Date.now()))
      throw new ApiError(401, 'unauthorized', 'this session was ended (logged out): log in again');
    res.status(204).end();
  });
}
