import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { type AttemptGuard, attemptGuard } from '../attempts.ts';
import { sessionProblem, tokenHash } from '../auth.ts';
import { chain, jsonBody } from '../body.ts';
import type { Config } from '../config.ts';
import type { AccountRow, Repository, SessionRow } from '../db.ts';
import { DependencyError } from '../dependency-error.ts';
import { ApiError } from '../errors.ts';
import type { Mailer } from '../mailer.ts';
import type { ServiceMetrics } from '../metrics.ts';
import type { MinistryClient } from '../ministry-client.ts';
import type { RateLimiter } from '../rate-limit.ts';
import type { Stage } from '../stages.ts';
import type { UploadClient } from '../uploads.ts';

/** What the service is built from; main.ts wires the real ones. */
export interface AppDeps {
  config: Config;
  repo: Repository;
  metrics: ServiceMetrics;
  ministry: MinistryClient;
  mailer: Mailer;
  uploads: UploadClient;
  /** counters of failed attempts, shared by the processes (rate-limit.ts) */
  limiter: RateLimiter;
  /** base URL of the links in mails (known once the server listens) */
  publicUrl: () => string;
  /** serves /metrics (aggregated across cluster processes when there are several) */
  metricsText: () => Promise<{ contentType: string; body: string }>;
}

/** The dependencies plus the helpers every journey step shares. */
export interface RouteContext extends AppDeps {
  /** the limits on guessing passwords and verification tokens (attempts.ts) */
  attempts: AttemptGuard;
  /** Marks a refusal as one at a funnel stage (counted when answered) and hands it back to be thrown. */
  reject(stage: Stage, err: ApiError): ApiError;
  /**
   * The handlers that open a journey step's route: every refusal of the request from here on (its
   * body, an earlier step missing, the rules) counts in `gelombang_funnel_rejections_total` at
   * this stage. With `json`, the JSON body parser (body.ts) runs after the stage is known.
   */
  step(stage: Stage, opts?: { json?: boolean }): RequestHandler;
  /** A dependency's failure becomes a counted 503 naming it; anything else is rethrown as is. */
  dependencyFailure(stage: Stage, err: unknown): never;
  /** The account of the bearer token, or 401. */
  account(req: Request): AccountRow;
}

export function createContext(d: AppDeps): RouteContext {
  const { repo } = d;
  const reject = (stage: Stage, err: ApiError): ApiError => {
    err.stage ??= stage;
    return err;
  };
  return {
    ...d,
    attempts: attemptGuard(d.limiter, d.config),
    reject,
    step(stage, opts = {}) {
      const mark: RequestHandler = (_req, res, next) => {
        res.locals.stage = stage;
        next();
      };
      return opts.json ? chain(mark, jsonBody) : mark;
    },
    dependencyFailure(stage, err) {
      if (err instanceof DependencyError) {
        throw reject(
          stage,
          new ApiError(
            503,
            'dependency_unavailable',
            err.message,
            undefined,
            { dependency: err.dependency, outcome: err.outcome },
            err.retryAfterS ?? 1,
          ),
        );
      }
      throw err;
    },
    account(req) {
      const header = req.get('authorization') ?? '';
      if (!header.startsWith('Bearer '))
        throw new ApiError(401, 'unauthorized', 'expected Authorization: Bearer <session token>');
      const s = repo.session(tokenHash(header.slice(7)));
      const problem = sessionProblem(s);
      if (problem === 'unknown') throw new ApiError(401, 'unauthorized', 'unknown session token');
      if (problem === 'revoked')
        throw new ApiError(401, 'unauthorized', 'this session was ended (logged out): log in again');
      if (problem === 'expired') throw new ApiError(401, 'unauthorized', 'session expired: log in again');
      const a = repo.accountById((s as SessionRow).account_id);
      if (!a) throw new ApiError(401, 'unauthorized', 'account no longer exists');
      return a;
    },
  };
}

export const asyncRoute =
  (fn: (req: Request, res: Response) => Promise<void> | void) =>
  (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve(fn(req, res)).catch(next);
  };

/**
 * Steps are taken in order: a later step before its predecessor is a 409 naming the missing one
 * (counted at the stage of the step's route, see `step`).
 */
export function requireStage(ok: boolean, missing: string): void {
  if (!ok) throw new ApiError(409, 'stage_incomplete', `complete the ${missing} step first`, missing);
}
