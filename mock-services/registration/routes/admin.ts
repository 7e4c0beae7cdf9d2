import type { IRouter, RequestHandler } from 'express';
import { z } from 'zod';
import { sameSecret } from '../auth.ts';
import { jsonBody } from '../body.ts';
import { ApiError, parseBody } from '../errors.ts';
import type { RouteContext } from './context.ts';
import { parseWaveNumber } from './wave.ts';

export const waveBody = z
  .object({
    number: z.int().min(1),
    quota: z.int().min(0),
    status: z.enum(['open', 'closed']).default('open'),
    opensAt: z.iso.datetime().optional(),
    closesAt: z.iso.datetime().optional(),
  })
  .strict()
  .refine((w) => !w.opensAt || !w.closesAt || Date.parse(w.closesAt) > Date.parse(w.opensAt), {
    message: 'expected closesAt after opensAt: a wave cannot close before it opens',
    path: ['closesAt'],
  });
export const wavePatch = z
  .object({ status: z.enum(['open', 'closed']).optional(), quota: z.int().min(0).optional() })
  .strict();

/** The operator's side: creating waves and changing their status or quota, with the admin token. */
export function adminRoutes(router: IRouter, ctx: RouteContext): void {
  const { config, repo } = ctx;

  // The token first: without it nothing of the request is read, its body included.
  const admin: RequestHandler = (req, _res, next) => {
    const header = req.get('authorization') ?? '';
    if (!header.startsWith('Bearer '))
      throw new ApiError(401, 'unauthorized', 'expected Authorization: Bearer <admin token>');
    if (!sameSecret(header.slice(7), config.GELOMBANG_ADMIN_TOKEN))
      throw new ApiError(403, 'forbidden', 'wrong admin token');
    next();
  };

  router.post('/admin/waves', admin, jsonBody, (req, res) => {
    const body = parseBody(waveBody, req.body);
    // One conditional INSERT: of two simultaneous creations (two processes) exactly one succeeds.
    const created = repo.createWave({
      number: body.number,
      quota: body.quota,
      status: body.status,
      opensAt: body.opensAt ? Date.parse(body.opensAt) : undefined,
      closesAt: body.closesAt ? Date.parse(body.closesAt) : undefined,
    });
    if (!created) throw new ApiError(409, 'duplicate_wave', `wave ${body.number} exists`, 'number');
    res.status(201).json(repo.wave(body.number));
  });

  router.patch('/admin/waves/:waveNumber', admin, jsonBody, (req, res) => {
    const n = parseWaveNumber(req.params.waveNumber);
    const body = parseBody(wavePatch, req.body);
    const r = repo.updateWave(n, body);
    if (r === 'not_found') throw new ApiError(404, 'wave_not_found', `there is no wave ${n}`, 'waveNumber');
    if (r === 'quota_below_joined')
      throw new ApiError(
        409,
        'quota_below_joined',
        'the quota cannot go below the places already taken',
        'quota',
      );
    res.json(r);
  });
}
