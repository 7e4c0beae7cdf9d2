import express, { type Express } from 'express';
import { ApiError, errorHandler } from './errors.ts';
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
 */
export function createApp(deps: AppDeps): Express {
  const ctx = createContext(deps);
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (deps.config.METRICS === 'on') app.use(redMiddleware(deps.metrics));
  app.use(express.json({ limit: '32kb' }));

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
  app.use(errorHandler);
  return app;
}
