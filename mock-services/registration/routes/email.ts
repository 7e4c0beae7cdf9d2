import type { IRouter } from 'express';
import { z } from 'zod';
import { newToken, tokenHash } from '../auth.ts';
import { ApiError, parseBody } from '../errors.ts';
import { verificationMail } from '../mailer.ts';
import { checkedAccount } from './account.ts';
import { asyncRoute, type RouteContext } from './context.ts';

export const tokenBody = z.object({ token: z.string().min(1).max(200) }).strict();

/**
 * Step 2: the token of the link in the verification mail; and, for a link that expired or a mail
 * that never came, a fresh mail whose link replaces every earlier one.
 */
export function emailRoutes(router: IRouter, ctx: RouteContext): void {
  const { config, repo, metrics, reject } = ctx;

  router.post('/api/v1/email-verifications', ctx.step('email_verified', { json: true }), (req, res) => {
    const body = parseBody(tokenBody, req.body);
    ctx.attempts.beforeToken(req);
    const r = repo.useEmailToken(tokenHash(body.token), Date.now());
    if (r.result === 'invalid') {
      ctx.attempts.unknownToken(req);
      throw reject(
        'email_verified',
        new ApiError(400, 'invalid_token', 'unknown verification token', 'token'),
      );
    }
    if (r.result === 'used')
      throw reject(
        'email_verified',
        new ApiError(409, 'token_used', 'this verification link was already used', 'token'),
      );
    if (r.result === 'replaced')
      throw reject(
        'email_verified',
        new ApiError(
          410,
          'token_replaced',
          'this verification link was replaced by a newer one: use the link in the latest mail',
          'token',
        ),
      );
    if (r.result === 'expired')
      throw reject(
        'email_verified',
        new ApiError(
          410,
          'token_expired',
          'this verification link has expired: ask for a new one (POST /api/v1/email-verifications/resend)',
          'token',
        ),
      );
    metrics.stageReached.inc({ stage: 'email_verified' });
    res.json({ email: r.email, verified: true });
  });

  /**
   * A new verification mail, with the account's email and password (the registrant cannot log in
   * before verifying). At most one per EMAIL_RESEND_INTERVAL_S per account, across processes.
   */
  router.post(
    '/api/v1/email-verifications/resend',
    ctx.step('email_verified', { json: true }),
    asyncRoute(async (req, res) => {
      // The password is checked here too: under the same limits as at log-in, or this would be the way round them.
      const a = await checkedAccount(ctx, req);
      if (a.email_verified_at !== null)
        throw new ApiError(409, 'already_verified', 'this email is already verified: log in', 'email');
      const now = Date.now();
      const slot = repo.claimResend(a.id, now, config.EMAIL_RESEND_INTERVAL_S * 1000);
      if (!slot.claimed) {
        const waitS = Math.max(1, Math.ceil(slot.retryAfterMs / 1000));
        throw new ApiError(
          429,
          'resend_too_soon',
          `a verification mail was sent less than ${config.EMAIL_RESEND_INTERVAL_S} s ago: try again in ${waitS} s`,
          'email',
          undefined,
          waitS,
        );
      }
      const token = newToken();
      const mail = verificationMail(ctx.publicUrl(), token);
      const outbox = config.EMAIL_DELIVERY === 'outbox';
      if (!outbox) {
        // As at account creation: the mail first, the token only once SMTP took it.
        try {
          await ctx.mailer.send(a.email, mail);
        } catch (err) {
          repo.releaseResend(a.id, now, slot.previous);
          ctx.dependencyFailure('email_verified', err);
        }
      }
      repo.replaceEmailToken(
        a.id,
        tokenHash(token),
        Date.now() + config.EMAIL_TOKEN_TTL_S * 1000,
        outbox ? { to: a.email, ...mail } : undefined,
      );
      res.status(202).json({ email: a.email, emailVerification: outbox ? 'queued' : 'sent' });
    }),
  );
}
