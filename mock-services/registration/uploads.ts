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
import { type ServiceMetrics, timeDependency } from './metrics.ts';

/** What the KTP photo is, by its first bytes: the declared Content-Type is not trusted. */
export function imageType(head: Uint8Array): 'jpeg' | 'png' | undefined {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (head.length >= 8 && png.every((b, i) => head[i] === b)) return 'png';
  return undefined;
}

/**
 * Reads the multipart body: exactly one file field `photo`, nothing else, at most `maxBytes`.
 * Stops reading as soon as the limit is passed, so a huge upload costs nothing more.
 */
export function readPhoto(req: Request, maxBytes: number): Promise<{ bytes: Buffer; type: 'jpeg' | 'png' }> {
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
  return new Promise((resolve, reject) => {
    let settled = false;
    const done = (err: ApiError | null, value?: { bytes: Buffer; type: 'jpeg' | 'png' }) => {
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
      bb = busboy({ headers: req.headers, limits: { files: 1, fields: 0, fileSize: maxBytes } });
    } catch (err) {
      return done(
        new ApiError(400, 'invalid_field', `malformed multipart body: ${(err as Error).message}`, 'photo'),
      );
    }
    let photo: { bytes: Buffer; type: 'jpeg' | 'png' } | undefined;
    bb.on('file', (name, stream) => {
      if (name !== 'photo') {
        stream.resume();
        return done(
          new ApiError(400, 'invalid_field', `unexpected file field '${name}', expected 'photo'`, name),
        );
      }
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () =>
        done(new ApiError(413, 'photo_too_large', `the photo exceeds ${maxBytes} bytes`, 'photo')),
      );
      stream.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const type = imageType(bytes.subarray(0, 8));
        if (!type)
          return done(new ApiError(415, 'not_an_image', 'the photo is not a JPEG or PNG image', 'photo'));
        photo = { bytes, type };
      });
    });
    bb.on('field', (name) => done(new ApiError(400, 'invalid_field', `unexpected field '${name}'`, name)));
    bb.on('filesLimit', () => done(new ApiError(400, 'invalid_field', 'exactly one file expected', 'photo')));
    bb.on('fieldsLimit', () =>
      done(new ApiError(400, 'invalid_field', 'no fields expected besides the file field photo', 'photo')),
    );
    bb.on('error', (err: Error) =>
      done(new ApiError(400, 'invalid_field', `malformed multipart body: ${err.message}`, 'photo')),
    );
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

  /** First bytes and size of a stored object (for the presigned flow's confirmation). */
  async head(bucket: string, key: string): Promise<{ size: number; head: Uint8Array } | undefined> {
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
        const bytes = new Uint8Array(await res.arrayBuffer());
        return { size: bytes.length, head: bytes.subarray(0, 8) };
      },
      outcomeOf,
    );
  }

  presignedPutUrl(bucket: string, key: string, ttlS: number): { url: string; expiresAt: string } {
    const expires = Math.floor(Date.now() / 1000) + ttlS;
    return {
      url: new URL(presignPath(this.o.signingSecret, 'PUT', bucket, key, expires), this.o.baseUrl).href,
      expiresAt: new Date(expires * 1000).toISOString(),
    };
  }
}
