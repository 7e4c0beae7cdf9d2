import express, { type Express, type IRouter, type RequestHandler } from 'express';
import { ApiError, errorHandler, refusalCounter } from './errors.ts';
import { IdempotencyStore, idempotencyKeys } from './idempotency.ts';
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
import { WaitingRoom, waitingRoomGauge, waitingRoomGuard } from './waiting-room.ts';

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

  // The switches that guard routes open them as their first handlers (not as app.use middleware),
  // so that a request they answer themselves is still labelled with its route in the RED metrics.
  const idempotency =
    deps.config.IDEMPOTENCY === 'on'
      ? idempotencyKeys(new IdempotencyStore(deps.repo.db), deps.repo, deps.metrics)
      : undefined;
  let waitingRoom: RequestHandler | undefined;
  if (deps.config.ADMISSION_RATE > 0) {
    const room = new WaitingRoom(deps.repo.db, deps.config.ADMISSION_RATE);
    waitingRoomGauge(room, deps.metrics.registry);
    waitingRoom = waitingRoomGuard(room, deps.metrics);
  }
  const router = guardedRoutes(app, (method, path) => [
    // A log-in's answer carries a new session token, which is never stored; logging in twice is harmless.
    ...(idempotency && (method === 'post' || method === 'put') && path !== '/api/v1/sessions'
      ? [idempotency]
      : []),
    // After the key: a retried sign-up gets its stored answer, not a refusal of its used ticket.
    ...(waitingRoom && method === 'post' && path === '/api/v1/accounts' ? [waitingRoom] : []),
  ]);

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
    routes(router, ctx);
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

/** `router`, whose routes open with the handlers `before` gives for their method and path. */
function guardedRoutes(router: IRouter, before: (method: string, path: string) => RequestHandler[]): IRouter {
  return new Proxy(router, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !['get', 'post', 'put', 'patch', 'delete'].includes(prop)) return value;
      return (path: unknown, ...handlers: unknown[]) => {
        const first = typeof path === 'string' ? before(prop, path) : [];
        return (value as (...a: unknown[]) => unknown).call(target, path, ...first, ...handlers);
      };
    },
  });
}
