import type { NextFunction, Request, Response } from 'express';
import type { z } from 'zod';
import { log } from './mask.ts';

/** Every refusal the API gives: an HTTP status and a machine-readable code, field and message. */
export class ApiError extends Error {
  /** the funnel stage whose step was refused, when known where the error was made */
  stage?: string;

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly details?: Record<string, unknown>,
    readonly retryAfterS?: number,
  ) {
    super(message);
  }
}

/** The first problem zod found, as an `invalid_field` error naming the dotted path. */
function fromZod(error: z.ZodError): ApiError {
  const issue = error.issues[0];
  if (!issue) return new ApiError(400, 'invalid_field', 'invalid request body');
  if (issue.code === 'unrecognized_keys') {
    const prefix = issue.path.length ? `${issue.path.join('.')}.` : '';
    const key = issue.keys[0] ?? '';
    return new ApiError(400, 'invalid_field', `unexpected field '${key}'`, `${prefix}${key}`);
  }
  // A problem of the body as a whole (an array, a number where an object was expected) names `body`.
  const field = issue.path.join('.') || 'body';
  const missing = issue.code === 'invalid_type' && issue.message.includes('received undefined');
  return new ApiError(
    400,
    'invalid_field',
    missing ? `${field} is required` : `${field}: ${issue.message}`,
    field,
  );
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  // No body parser ran: no body at all, or one that was not declared as JSON.
  if (body === undefined)
    throw new ApiError(
      400,
      'invalid_field',
      'expected a JSON object as the request body, sent with Content-Type: application/json',
      'body',
    );
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw fromZod(parsed.error);
  return parsed.data;
}

interface ExpressError {
  type?: string;
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
  name?: string;
}

/**
 * What express and its body parser throw, as our refusals: every problem of the request itself
 * (its body, its encoding, its path) is a 4xx naming what was wrong and what was expected. Only
 * what is left is a 500.
 */
export function toApiError(err: unknown, req: Request): ApiError {
  if (err instanceof ApiError) return err;
  const e = (err ?? {}) as ExpressError;
  const status = e.status ?? e.statusCode;
  const encoding = req.get('content-encoding') ?? 'identity';
  switch (e.type) {
    case 'entity.parse.failed':
      return new ApiError(400, 'malformed_json', `request body is not valid JSON: ${e.message}`, 'body');
    case 'entity.too.large':
      return new ApiError(413, 'body_too_large', 'request body too large (at most 32 KiB of JSON)', 'body');
    case 'encoding.unsupported':
      return new ApiError(
        415,
        'unsupported_encoding',
        `Content-Encoding '${encoding}' is not supported: expected gzip, deflate, br or identity`,
        'content-encoding',
      );
    case 'charset.unsupported':
      return new ApiError(
        415,
        'unsupported_charset',
        `${e.message ?? 'unsupported charset'}: JSON bodies are UTF-8 (charset=utf-8)`,
        'content-type',
      );
    case 'request.aborted':
      return new ApiError(400, 'request_aborted', 'the client closed the request before its body ended');
    case 'request.size.invalid':
      return new ApiError(
        400,
        'malformed_body',
        'the request body is not as long as its Content-Length says',
        'content-length',
      );
  }
  if (e.name === 'URIError' || err instanceof URIError) {
    return new ApiError(
      400,
      'malformed_path',
      `the URL path does not decode: ${e.message ?? ''}; expected UTF-8 percent-encoding (%XX)`,
      'path',
    );
  }
  if (status === 400 && encoding.toLowerCase() !== 'identity') {
    // The body parser's decompression failed: the body is not what its Content-Encoding says.
    return new ApiError(
      400,
      'malformed_body',
      `the request body does not decode as Content-Encoding '${encoding}': ${e.message ?? 'corrupt data'}`,
      'content-encoding',
    );
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new ApiError(status, 'bad_request', e.expose && e.message ? e.message : 'bad request');
  }
  log.error('registration: unexpected error', err);
  return new ApiError(500, 'internal_error', 'internal error');
}

/** Counts a refusal (the caller decides which) before the error handler answers it. */
export function refusalCounter(count: (api: ApiError, req: Request, res: Response) => void) {
  return (err: unknown, req: Request, res: Response, next: NextFunction): void => {
    const api = toApiError(err, req);
    count(api, req, res);
    next(api);
  };
}

export function errorHandler(err: unknown, req: Request, res: Response, _next: NextFunction): void {
  if (res.headersSent) return;
  const api = toApiError(err, req);
  if (api.retryAfterS !== undefined) res.setHeader('Retry-After', String(api.retryAfterS));
  res.status(api.status).json({
    error: {
      code: api.code,
      message: api.message,
      ...(api.field ? { field: api.field } : {}),
      ...(api.details
        ? {
            details: api.details,
            ...('dependency' in api.details ? { dependency: api.details.dependency } : {}),
          }
        : {}),
    },
  });
}
