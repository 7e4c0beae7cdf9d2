import type { IRouter } from 'express';
import type { AccountRow } from '../db.ts';
import type { Stage } from '../stages.ts';
import type { RouteContext } from './context.ts';

/** Each step requires the one before, so the furthest step with a timestamp is the stage reached. */
function stageOf(a: AccountRow, joined: boolean): Stage {
  if (joined) return 'joined_wave';
  if (a.assessment_at !== null) return 'assessment_done';
  if (a.photo_at !== null) return 'photo_uploaded';
  if (a.biodata_at !== null) return 'biodata_verified';
  if (a.email_verified_at !== null) return 'email_verified';
  return 'registered';
}

/** Step 8: one's own status. */
export function statusRoutes(router: IRouter, ctx: RouteContext): void {
  const { repo } = ctx;

  router.get('/api/v1/me/status', (req, res) => {
    const a = ctx.account(req);
    const m = repo.membership(a.id);
    res.json({
      stage: stageOf(a, m !== undefined),
      email: a.email,
      emailVerified: a.email_verified_at !== null,
      eligible: a.biodata_at !== null ? true : null,
      priority: a.priority,
      wave: m ? { number: m.wave_number, joinedAt: new Date(m.joined_at).toISOString() } : null,
    });
  });
}
