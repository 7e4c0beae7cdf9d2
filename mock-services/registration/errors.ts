import type { NextFunction, Request, Response } from 'express';
import type { z } from 'zod';

/** Every refusal the API gives: an HTTP status and a machine-readable code, field and message. */
export class ApiError extends Error {
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
  const field = issue.path.join('.');
  const missing = issue.code === 'invalid_type' && issue.message.includes('received undefined');
  return new ApiError(
    400,
    'invalid_field',
    missing ? `${field} is required` : issue.message,
    field || undefined,
  );
}

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw fromZod(parsed.error);
  return parsed.data;
}

export function errorHandler(err: unknown, _req: Request, res: Response, _next: NextFunction): void {
  if (res.headersSent) return;
  const e = err as { type?: string; status?: number; message?: string };
  let api: ApiError;
  if (err instanceof ApiError) api = err;
  else if (e?.type === 'entity.parse.failed')
    api = new ApiError(400, 'malformed_json', `request body is not valid JSON: ${e.message}`);
  else if (e?.type === 'entity.too.large')
    api = new ApiError(413, 'body_too_large', 'request body too large');
  else if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported')
    api = new ApiError(415, 'unsupported_encoding', e.message ?? 'unsupported encoding');
  else {
    console.error('registration: unexpected error', err);
    api = new ApiError(500, 'internal_error', 'internal error');
  }
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
