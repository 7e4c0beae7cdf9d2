import { isUtf8 } from 'node:buffer';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { ApiError } from './errors.ts';

/**
 * JSON request bodies and the text they carry. The body parser alone would store what it was given:
 * bytes that are not UTF-8 become U+FFFD, a `\ud800` escape becomes a lone surrogate, and NUL or
 * other control characters go into names and addresses. Each is refused here, naming the field.
 */

const LONE_SURROGATE = /\p{Cs}/u;
const CONTROL = /\p{Cc}/u;
/** control characters other than tab and line breaks, which a multi-line text may hold */
const CONTROL_BUT_LINE_BREAKS = /(?![\t\n\r])\p{Cc}/u;
const REPLACEMENT = Buffer.from('\uFFFD', 'utf8');

type Path = Array<string | number>;

interface Visit {
  value: unknown;
  key?: string | number;
  parent?: Visit;
}

function pathOf(v: Visit, last?: string): Path {
  const path: Path = last === undefined ? [] : [last];
  for (let at: Visit | undefined = v; at?.key !== undefined; at = at.parent) path.push(at.key);
  return path.reverse();
}

/**
 * The path of the first string (or object key) that matches, walking without recursion and
 * without copying paths: a 32 KiB body can nest thousands of levels deep.
 */
function findString(value: unknown, matches: (s: string) => boolean): Path | undefined {
  const stack: Visit[] = [{ value }];
  while (stack.length) {
    const visit = stack.pop() as Visit;
    const v = visit.value;
    if (typeof v === 'string') {
      if (matches(v)) return pathOf(visit);
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], key: i, parent: visit });
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v);
      for (const [k] of entries) if (matches(k)) return pathOf(visit, k);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, child] = entries[i] as [string, unknown];
        stack.push({ value: child, key: k, parent: visit });
      }
    }
  }
  return undefined;
}

/** Offset of the first byte that does not start a valid UTF-8 sequence, or -1. */
function firstInvalidUtf8(b: Buffer): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i] as number;
    const len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (len === 0 || i + len > b.length || !isUtf8(b.subarray(i, i + len))) return i;
    i += len;
  }
  return -1;
}

/** Refuses a body that is not UTF-8, naming the field that holds the bad bytes when it can tell. */
function verifyUtf8(_req: Request, _res: Response, buf: Buffer, charset: string): void {
  if (charset.toLowerCase() !== 'utf-8')
    throw new ApiError(
      415,
      'unsupported_charset',
      `JSON bodies are UTF-8 (RFC 8259), not ${charset}: send Content-Type: application/json; charset=utf-8`,
      'content-type',
    );
  if (isUtf8(buf)) return;
  const offset = firstInvalidUtf8(buf);
  let field: string | undefined;
  // Decoded leniently, the bad bytes become U+FFFD: the string holding one is the culprit, unless
  // the body also carries a genuine U+FFFD and the two cannot be told apart.
  if (!buf.includes(REPLACEMENT)) {
    try {
      field = findString(JSON.parse(buf.toString('utf8')), (s) => s.includes('\uFFFD'))?.join('.');
    } catch {
      // not JSON either: the offset says where the first problem is
    }
  }
  const byte = (buf[offset] ?? 0).toString(16).padStart(2, '0');
  throw new ApiError(
    400,
    'invalid_encoding',
    `${field ? `${field}: ` : ''}the request body is not valid UTF-8 (byte 0x${byte} at offset ${offset}); expected UTF-8 text`,
    field || 'body',
  );
}

/** Refuses a string (or key) that is not well-formed Unicode: a `\ud800` escape left unpaired. */
function wellFormed(req: Request, _res: Response, next: NextFunction): void {
  const path = req.body === undefined ? undefined : findString(req.body, (s) => LONE_SURROGATE.test(s));
  if (!path) {
    next();
    return;
  }
  const field = path.join('.') || 'body';
  next(
    new ApiError(
      400,
      'invalid_field',
      `${field}: contains a lone UTF-16 surrogate (an unpaired \\uD800-\\uDFFF escape); expected well-formed Unicode text`,
      field,
    ),
  );
}

/** Middleware run one after the other as one (express's typings lose the handler's types after an array). */
export function chain(...handlers: RequestHandler[]): RequestHandler {
  return (req, res, next) => {
    let i = 0;
    const step = (err?: unknown): void => {
      const handler = handlers[i++];
      if (err !== undefined || !handler) next(err);
      else handler(req, res, step);
    };
    step();
  };
}

/** The largest JSON body any route takes. */
export const JSON_BODY_LIMIT_BYTES = 32 * 1024;

/** The JSON body parser of every route that takes one. */
export const jsonBody: RequestHandler = chain(
  express.json({ limit: JSON_BODY_LIMIT_BYTES, verify: verifyUtf8 }),
  wellFormed,
);

/** A one-line text (a name, a place, an address line): no control characters, NUL included. */
export const lineText = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !CONTROL.test(s), 'expected text without control characters (tab, newline, NUL ...)');

/** A free text that may span lines: tab and line breaks are allowed, other control characters not. */
export const multilineText = () =>
  z.string().refine((s) => !CONTROL_BUT_LINE_BREAKS.test(s), 'expected text without control characters');

/** A secret typed by a person (a password): any character but control characters. */
export const secretText = () =>
  z.string().refine((s) => !CONTROL.test(s), 'expected no control characters (NUL, newline ...)');
