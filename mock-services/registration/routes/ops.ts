import type { IRouter } from 'express';
import { asyncRoute, type RouteContext } from './context.ts';

/** What the orchestration and Prometheus ask: liveness, readiness (the database answers), metrics. */
export function opsRoutes(router: IRouter, ctx: RouteContext): void {
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', pid: process.pid });
  });
  router.get('/readyz', (_req, res) => {
    try {
      ctx.repo.db.prepare('SELECT 1').get();
      res.json({ status: 'ready' });
    } catch (err) {
      res.status(503).json({ error: { code: 'not_ready', message: `database: ${(err as Error).message}` } });
    }
  });
  router.get(
    '/metrics',
    asyncRoute(async (_req, res) => {
      const m = await ctx.metricsText();
      res.type(m.contentType).send(m.body);
    }),
  );
}
