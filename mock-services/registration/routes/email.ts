import type { IRouter } from 'express';
import { z } from 'zod';
import { tokenHash } from '../auth.ts';
import { ApiError, parseBody } from '../errors.ts';
import type { RouteContext } from './context.ts';

const tokenBody = z.object({ token: z.string().min(1).max(200) }).strict();

/** Step 2: the token of the link in the verification mail. */
export function emailRoutes(router: IRouter, ctx: RouteContext): void {
  const { repo, metrics, reject } = ctx;

  router.post('/api/v1/email-verifications', (req, res) => {
    const body = parseBody(tokenBody, req.body);
    const r = repo.useEmailToken(tokenHash(body.token), Date.now());
    if (r.result === 'invalid')
      throw reject(
        'email_verified',
        new ApiError(400, 'invalid_token', 'unknown verification token', 'token'),
      );
    if (r.result === 'used')
      throw reject(
        'email_verified',
        new ApiError(409, 'token_used', 'this verification link was already used', 'token'),
      );
    if (r.result === 'expired')
      throw reject(
        'email_verified',
        new ApiError(410, 'token_expired', 'this verification link has expired', 'token'),
      );
    metrics.stageReached.inc({ stage: 'email_verified' });
    res.json({ email: r.email, verified: true });
  });
}
