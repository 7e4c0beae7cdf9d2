import type { IRouter } from 'express';
import { z } from 'zod';
import { ApiError } from '../errors.ts';
import { type RouteContext, requireStage } from './context.ts';

const waveNumber = z.coerce.number().int().min(1);

/** The `:waveNumber` of a path, or 400. */
export function parseWaveNumber(raw: unknown): number {
  const n = waveNumber.safeParse(raw);
  if (!n.success) throw new ApiError(400, 'invalid_field', 'expected a wave number >= 1', 'waveNumber');
  return n.data;
}

/** Step 7: join a wave (one place of its quota), and the list of waves with their places. */
export function waveRoutes(router: IRouter, ctx: RouteContext): void {
  const { repo, metrics, reject } = ctx;

  router.post('/api/v1/waves/:waveNumber/join', ctx.step('joined_wave'), (req, res) => {
    const a = ctx.account(req);
    const n = parseWaveNumber(req.params.waveNumber);
    requireStage(a.assessment_at !== null, 'assessment');
    const now = Date.now();
    const r = repo.joinWave(a.id, n, now);
    const refusals: Record<Exclude<typeof r, 'joined'>, ApiError> = {
      wave_not_found: new ApiError(404, 'wave_not_found', `there is no wave ${n}`, 'waveNumber'),
      wave_closed: new ApiError(409, 'wave_closed', `wave ${n} is not open for joining`, 'waveNumber'),
      wave_full: new ApiError(
        409,
        'wave_full',
        `wave ${n} is full; you will be considered for the next wave`,
        'waveNumber',
      ),
      already_joined: new ApiError(409, 'already_joined', 'you have already joined a wave'),
    };
    if (r !== 'joined') throw reject('joined_wave', refusals[r]);
    metrics.stageReached.inc({ stage: 'joined_wave' });
    res.status(201).json({ wave: n, joinedAt: new Date(now).toISOString(), stage: 'joined_wave' });
  });

  router.get('/api/v1/waves', (_req, res) => {
    res.json(
      repo.waves().map((w) => ({
        number: w.number,
        quota: w.quota,
        joined: w.joined,
        remaining: Math.max(0, w.quota - w.joined),
        status: w.status,
        opensAt: w.opens_at ? new Date(w.opens_at).toISOString() : null,
        closesAt: w.closes_at ? new Date(w.closes_at).toISOString() : null,
      })),
    );
  });
}
