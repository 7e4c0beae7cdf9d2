import busboy from 'busboy';
import type { Request } from 'express';
import { objectPath, presignPath } from '../upload/presign.ts';
import {
  classifyStatus,
  DependencyError,
  isTimeout,
  outcomeOf,
  parseRetryAfter,
} from './dependency-error.ts';
import { ApiError } from './errors.ts';
import { checkImage, type ImageType } from './images.ts';
import { type ServiceMetrics, timeDependency } from './metrics.ts';

/** The refusal of a photo that is not a whole JPEG or PNG (images.ts says what is wrong with it). */
export function imageRefusal(bytes: Uint8Array, what: string): ApiError | { type: ImageType } {
  const check = checkImage(bytes);
  if (check.ok) return { type: check.type };
  if (!check.type) return new ApiError(415, 'not_an_image', `${what} is not a JPEG or PNG image`, 'photo');
  return new ApiError(400, 'invalid_image', `${what} is not a whole image: ${check.problem}`, 'photo');
}

/**
 * Reads the multipart body: exactly one file field `photo`, nothing else, at most `maxBytes`, and
 * a whole JPEG or PNG. Stops reading as soon as the limit is passed, so a huge upload costs
 * nothing more. Every way the body can break (cut short, malformed, the client gone) is a 400:
 * no stream is left without an error listener, so no request can bring the process down.
 */
export function readPhoto(req: Request, maxBytes: number): Promise<{ bytes: Buffer; type: ImageType }> {
  const contentType = req.headers['content-type'] ?? '';
  if (!contentType.startsWith('multipart/form-data')) {
    return Promise.reject(
      new ApiError(
        415,
        'invalid_content_type',
        'expected multipart/form-data with a file field "photo"',
        'photo',
      ),
    );
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') {
    // The multipart parser reads the bytes as sent: a body declared compressed would be taken as is.
    return Promise.reject(
      new ApiError(
        415,
        'unsupported_encoding',
        `Content-Encoding '${encoding}' is not supported for the photo: send the multipart body as is (identity)`,
        'content-encoding',
      ),
    );
  }
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: ApiError | null, value?: { bytes: Buffer; type: ImageType }) => {
      if (settled) return;
      settled = true;
      if (err) {
        req.unpipe();
        req.resume();
        reject(err);
      } else if (value) resolve(value);
    };
    let bb: busboy.Busboy;
    try {
      // One text field is let through to be refused by its name; its value is cut at 1 KiB.
      bb = busboy({
        headers: req.headers,
        limits: { files: 1, fields: 1, fieldSize: 1024, fileSize: maxBytes },
      });
    } catch (err) {
      return done(
        new ApiError(400, 'invalid_field', `malformed multipart body: ${(err as Error).message}`, 'photo'),
      );
    }
    const malformed = (err: Error) =>
      done(
        new ApiError(
          400,
          'invalid_field',
          `malformed multipart body: ${err.message}; expected multipart/form-data with one file field photo, ended by its closing boundary`,
          'photo',
        ),
      );
    let photo: { bytes: Buffer; type: ImageType } | undefined;
    let truncated = false;
    bb.on('file', (name, stream) => {
      // busboy destroys an unfinished file stream with the body's error ("Unexpected end of form"):
      // without this listener that error is uncaught and ends the process.
      stream.on('error', malformed);
      if (name !== 'photo') {
        stream.resume();
        return done(
          new ApiError(400, 'invalid_field', `unexpected file field '${name}', expected 'photo'`, name),
        );
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => {
        truncated = true;
        done(new ApiError(413, 'photo_too_large', `the photo exceeds ${maxBytes} bytes`, 'photo'));
      });
      stream.on('end', () => {
        if (truncated) return;
        const bytes = Buffer.concat(chunks);
        const image = imageRefusal(bytes, 'the photo');
        if (image instanceof ApiError) return done(image);
        photo = { bytes, type: image.type };
      });
    });
    bb.on('field', (name) => done(new ApiError(400, 'invalid_field', `unexpected field '${name}'`, name)));
    bb.on('filesLimit', () => done(new ApiError(400, 'invalid_field', 'exactly one file expected', 'photo')));
    bb.on('fieldsLimit', () =>
      done(new ApiError(400, 'invalid_field', 'no fields expected besides the file field photo', 'photo')),
    );
    bb.on('error', malformed);
    req.on('error', malformed);
    bb.on('close', () => {
      if (photo) done(null, photo);
      else done(new ApiError(400, 'invalid_field', 'photo is required (a file field named photo)', 'photo'));
    });
    req.pipe(bb);
  });
}

/** The service's client of the object store. */
export class UploadClient {
  constructor(
    private readonly o: {
      baseUrl: string;
      accessToken: string;
      signingSecret: string;
      timeoutMs: number;
      metrics: ServiceMetrics;
    },
  ) {}

  async put(bucket: string, key: string, bytes: Buffer, contentType: string): Promise<void> {
    await timeDependency(
      this.o.metrics,
      'upload',
      async () => {
        let res: Response;
        try {
          res = await fetch(new URL(objectPath(bucket, key), this.o.baseUrl), {
            method: 'PUT',
            headers: { authorization: `Bearer ${this.o.accessToken}`, 'content-type': contentType },
            body: bytes,
            signal: AbortSignal.timeout(this.o.timeoutMs),
          });
        } catch (err) {
          if (isTimeout(err))
            throw new DependencyError(
              'upload',
              'timeout',
              `upload store did not answer within ${this.o.timeoutMs} ms`,
            );
          throw new DependencyError('upload', 'error', `upload store unreachable: ${(err as Error).message}`);
        }
        await res.body?.cancel();
        if (res.status !== 201) {
          throw new DependencyError(
            'upload',
            classifyStatus(res.status),
            `upload store answered HTTP ${res.status}`,
            parseRetryAfter(res.headers.get('retry-after')),
            res.status,
          );
        }
      },
      outcomeOf,
    );
  }

  /** A stored object, bytes and Content-Type (for the presigned flow's confirmation). */
  async get(bucket: string, key: string): Promise<{ bytes: Buffer; contentType: string } | undefined> {
    return timeDependency(
      this.o.metrics,
      'upload',
      async () => {
        let res: Response;
        try {
          res = await fetch(new URL(objectPath(bucket, key), this.o.baseUrl), {
            headers: { authorization: `Bearer ${this.o.accessToken}` },
            signal: AbortSignal.timeout(this.o.timeoutMs),
          });
        } catch (err) {
          if (isTimeout(err)) throw new DependencyError('upload', 'timeout', 'upload store timed out');
          throw new DependencyError('upload', 'error', `upload store unreachable: ${(err as Error).message}`);
        }
        if (res.status === 404) {
          await res.body?.cancel();
          return undefined;
        }
        if (!res.ok) {
          await res.body?.cancel();
          throw new DependencyError(
            'upload',
            classifyStatus(res.status),
            `upload store answered HTTP ${res.status}`,
            parseRetryAfter(res.headers.get('retry-after')),
            res.status,
          );
        }
        const bytes = Buffer.from(await res.arrayBuffer());
        return { bytes, contentType: res.headers.get('content-type') ?? 'application/octet-stream' };
      },
      outcomeOf,
    );
  }

  /** Removes an object nobody will refer to (the loser of two simultaneous uploads); best effort. */
  async delete(bucket: string, key: string): Promise<void> {
    try {
      const res = await fetch(new URL(objectPath(bucket, key), this.o.baseUrl), {
        method: 'DELETE',
        headers: { authorization: `Bearer ${this.o.accessToken}` },
        signal: AbortSignal.timeout(this.o.timeoutMs),
      });
      await res.body?.cancel();
    } catch {
      // An orphan object costs disk, never correctness: the account row names the photo.
    }
  }

  /** A URL that uploads at most `maxBytes` of `contentType` to the key, until `ttlS` passes. */
  presignedPutUrl(
    bucket: string,
    key: string,
    ttlS: number,
    conditions: { contentType: string; maxBytes: number },
  ): { url: string; expiresAt: string } {
    const expires = Math.floor(Date.now() / 1000) + ttlS;
    return {
      url: new URL(presignPath(this.o.signingSecret, 'PUT', bucket, key, expires, conditions), this.o.baseUrl)
        .href,
      expiresAt: new Date(expires * 1000).toISOString(),
    };
  }
}
