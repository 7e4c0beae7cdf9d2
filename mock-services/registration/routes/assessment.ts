import type { IRouter } from 'express';
import { z } from 'zod';
import { score } from '../assessment.ts';
import { multilineText } from '../body.ts';
import { ApiError, parseBody } from '../errors.ts';
import { type RouteContext, requireStage } from './context.ts';

export const assessmentBody = z
  .object({
    motivation: multilineText().trim().min(50, 'expected at least 50 characters').max(2000),
    answers: z.array(z.int().min(0).max(3)).length(20, 'expected exactly 20 answers'),
  })
  .strict();

/** Step 6: the motivation and basic-skills test, taken once. */
export function assessmentRoutes(router: IRouter, ctx: RouteContext): void {
  const { repo, metrics, reject } = ctx;

  router.post('/api/v1/me/assessment', ctx.step('assessment_done', { json: true }), (req, res) => {
    const a = ctx.account(req);
    requireStage(a.photo_at !== null, 'photo');
    const body = parseBody(assessmentBody, req.body);
    const result = score(body.answers);
    if (!repo.saveAssessment(a.id, result.score, result.passed)) {
      throw reject(
        'assessment_done',
        new ApiError(409, 'already_assessed', 'the test was already submitted'),
      );
    }
    metrics.stageReached.inc({ stage: 'assessment_done' });
    res.json({ ...result, stage: 'assessment_done' });
  });
}
