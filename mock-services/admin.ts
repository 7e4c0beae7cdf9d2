import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express, type Request, type Response, Router } from 'express';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import { type Capacity, describeIssues } from '../model/capacity.ts';
import { deepMerge } from './capacity.ts';
import { log } from './registration/mask.ts';
import { describeBoundIssues, mockBoundIssues } from './station/bounds.ts';
import { sendError } from './station/station.ts';

/**
 * GET/PATCH /admin/config: read and change a mock's stations while it runs (fault injection during
 * a rehearsal). Guarded by the admin token; every change is validated whole before it applies:
 * against the capacity schema, then against what a mock can honour (station/bounds.ts).
 */
export function adminRouter<K extends keyof Capacity>(opts: {
  token: string;
  /** the slice of the capacity file this mock owns */
  schema: z.ZodType<Pick<Capacity, K>>;
  get: () => Pick<Capacity, K>;
  apply: (next: Pick<Capacity, K>) => void;
  log?: (line: string) => void;
}): Router {
  const router = Router();
  // The token first: without it nothing of the request is read, its body included.
  router.use(
    '/admin',
    (req: Request, res: Response, next) => {
      const header = req.get('authorization') ?? '';
      if (!header.startsWith('Bearer ')) {
        return sendError(
          res,
          401,
          'unauthorized',
          'admin endpoints need Authorization: Bearer <admin token>',
        );
      }
      if (!sameSecret(header.slice(7), opts.token))
        return sendError(res, 403, 'forbidden', 'wrong admin token');
      next();
    },
    express.json({ limit: '64kb' }),
  );
  router.get('/admin/config', (_req, res) => {
    res.json(opts.get());
  });
  router.patch('/admin/config', (req, res) => {
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
      return sendError(res, 400, 'invalid_field', 'expected a JSON object with the stations to change');
    }
    const merged = deepMerge(opts.get(), req.body);
    const parsed = opts.schema.safeParse(merged);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return sendError(
        res,
        400,
        'invalid_field',
        describeIssues(parsed.error),
        issue?.path.join('.') || undefined,
      );
    }
    const issues = mockBoundIssues(parsed.data);
    if (issues.length > 0)
      return sendError(res, 400, 'invalid_field', describeBoundIssues(issues), issues[0]?.path);
    opts.apply(parsed.data);
    opts.log?.(`admin: configuration changed: ${JSON.stringify(req.body)}`);
    res.json(parsed.data);
  });
  return router;
}

/** Constant-time comparison of a presented token with the expected one. */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/**
 * express.json() and URL decoding failures as our error shape, not express's HTML page: each a
 * 4xx naming what was wrong with the request.
 */
export function jsonErrorHandler(
  err: unknown,
  req: Request,
  res: Response,
  next: (e?: unknown) => void,
): void {
  const e = err as { type?: string; status?: number; message?: string; name?: string };
  const encoding = req.get('content-encoding') ?? 'identity';
  if (e?.type === 'entity.parse.failed') {
    sendError(res, 400, 'malformed_json', `request body is not valid JSON: ${e.message}`, 'body');
  } else if (e?.type === 'entity.too.large') {
    sendError(res, 413, 'too_large', 'request body too large', 'body');
  } else if (e?.type === 'encoding.unsupported') {
    sendError(
      res,
      415,
      'unsupported_encoding',
      `Content-Encoding '${encoding}' is not supported: expected gzip, deflate, br or identity`,
      'content-encoding',
    );
  } else if (e?.type === 'charset.unsupported') {
    sendError(res, 415, 'unsupported_charset', `${e.message}: JSON bodies are UTF-8`, 'content-type');
  } else if (e?.name === 'URIError') {
    sendError(
      res,
      400,
      'malformed_path',
      `the URL path does not decode: ${e.message}; expected UTF-8 percent-encoding (%XX)`,
      'path',
    );
  } else if (e?.status === 400 && !e.type && encoding.toLowerCase() !== 'identity') {
    sendError(
      res,
      400,
      'malformed_body',
      `the request body does not decode as Content-Encoding '${encoding}': ${e.message}`,
      'content-encoding',
    );
  } else if (e?.status && e.status < 500) {
    sendError(res, e.status, 'bad_request', e.message ?? 'bad request');
  } else {
    next(err);
  }
}

/**
 * The part every mock shares: /healthz, /metrics of its registry, and the admin endpoint over its
 * slice of the capacity file. The mock adds its own routes, then calls `finish`.
 */
export function createMockApp<K extends keyof Capacity>(
  registry: Registry,
  admin: Parameters<typeof adminRouter<K>>[0],
): { app: Express; finish: () => void } {
  const app = express();
  app.disable('x-powered-by');
  // The pid tells a watcher (a test, an operator) which process answered, as the service's does.
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', pid: process.pid });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.use(adminRouter(admin));
  return {
    app,
    finish: () => {
      app.use((_req: Request, res: Response) => sendError(res, 404, 'not_found', 'no such endpoint'));
      app.use(jsonErrorHandler);
      // What is left is our fault: logged (masked) and answered as JSON, not express's HTML page.
      app.use((err: unknown, _req: Request, res: Response, _next: (e?: unknown) => void) => {
        log.error('unexpected error', err);
        if (!res.headersSent) sendError(res, 500, 'internal_error', 'internal error');
      });
    },
  };
}
