import express, { type Express } from 'express';
import { ApiError, errorHandler, refusalCounter } from './errors.ts';
import { redMiddleware } from './metrics.ts';
import { accountRoutes } from './routes/account.ts';
import { adminRoutes } from './routes/admin.ts';
import { assessmentRoutes } from './routes/assessment.ts';
import { biodataRoutes } from './routes/biodata.ts';
import { type AppDeps, createContext } from './routes/context.ts';
import { emailRoutes } from './routes/email.ts';
import { opsRoutes } from './routes/ops.ts';
import { photoRoutes } from './routes/photo.ts';
import { statusRoutes } from './routes/status.ts';
import { waveRoutes } from './routes/wave.ts';

/**
 * The service as an express app: the middleware, one module of routes per step of the journey, and
 * the error handler. The routes go on the app itself, not on mounted sub-routers: a sub-router
 * would answer OPTIONS on its own instead of letting the 404 below refuse it, and the RED
 * middleware's route label would depend on where it is mounted.
 *
 * Each route that takes JSON parses it itself (body.ts, after `ctx.step` has named its funnel
 * stage), so a refused body counts as a refusal at that stage like any other. Every refusal of a
 * step is counted once, here, on its way to the error handler.
 */
export function createApp(deps: AppDeps): Express {
  const ctx = createContext(deps);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (deps.config.METRICS === 'on') app.use(redMiddleware(deps.metrics));

  for (const routes of [
    opsRoutes,
    accountRoutes,
    emailRoutes,
    biodataRoutes,
    photoRoutes,
    assessmentRoutes,
    waveRoutes,
    statusRoutes,
    adminRoutes,
  ]) {
    routes(app, ctx);
  }

  app.use((_req, _res) => {
    throw new ApiError(404, 'not_found', 'no such endpoint');
  });
  app.use(
    refusalCounter((api, _req, res) => {
      const stage = api.stage ?? (res.locals.stage as string | undefined);
      // A missing session is not the journey's answer, and a 500 is a failure, not a refusal.
      if (stage && api.code !== 'unauthorized' && api.status !== 500)
        deps.metrics.rejections.inc({ stage, code: api.code });
    }),
  );
  app.use(errorHandler);
  return app;
}
