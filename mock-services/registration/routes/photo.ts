import { randomBytes } from 'node:crypto';
import type { IRouter } from 'express';
import { z } from 'zod';
import type { AccountRow } from '../db.ts';
import { ApiError, parseBody } from '../errors.ts';
import { imageRefusal, readPhoto } from '../uploads.ts';
import { asyncRoute, type RouteContext, requireStage } from './context.ts';

export const uploadUrlBody = z
  .object({ contentType: z.enum(['image/jpeg', 'image/png']), size: z.int().min(1) })
  .strict();

/** How long a presigned upload URL stays valid. */
const UPLOAD_URL_TTL_S = 900;

/**
 * Each upload goes to a key of its own: of two simultaneous uploads for one account, the one the
 * database records is exactly the object stored under its key, never the other's bytes.
 */
const objectKey = (accountId: number, type: 'jpeg' | 'png') =>
  `${accountId}-${randomBytes(8).toString('hex')}.${type === 'jpeg' ? 'jpg' : 'png'}`;

/**
 * Step 5: the KTP photo, either through the service (multipart) or straight to the object store
 * with a presigned URL and then confirmed, which keeps the bytes off the service. Either way the
 * photo is recorded by one conditional UPDATE (db.ts savePhoto): of simultaneous uploads or
 * confirmations for one account exactly one wins, and the others are told so.
 */
export function photoRoutes(router: IRouter, ctx: RouteContext): void {
  const { config, repo, metrics, uploads, reject } = ctx;
  const alreadyUploaded = () =>
    reject('photo_uploaded', new ApiError(409, 'already_uploaded', 'the KTP photo was already uploaded'));
  const notYetUploaded = (a: Pick<AccountRow, 'photo_at'>) => {
    if (a.photo_at !== null) throw alreadyUploaded();
  };

  router.put(
    '/api/v1/me/ktp-photo',
    ctx.step('photo_uploaded'),
    asyncRoute(async (req, res) => {
      const a = ctx.account(req);
      requireStage(a.biodata_at !== null, 'biodata');
      notYetUploaded(a);
      const photo = await readPhoto(req, config.PHOTO_MAX_BYTES);
      const key = objectKey(a.id, photo.type);
      try {
        await uploads.put('ktp', key, photo.bytes, `image/${photo.type}`);
      } catch (err) {
        return ctx.dependencyFailure('photo_uploaded', err);
      }
      if (!repo.savePhoto(a.id, key, photo.bytes.length)) {
        void uploads.delete('ktp', key);
        throw alreadyUploaded();
      }
      metrics.stageReached.inc({ stage: 'photo_uploaded' });
      res.status(201).json({ key, size: photo.bytes.length, stage: 'photo_uploaded' });
    }),
  );

  router.post('/api/v1/me/ktp-photo/upload-url', ctx.step('photo_uploaded', { json: true }), (req, res) => {
    const a = ctx.account(req);
    requireStage(a.biodata_at !== null, 'biodata');
    notYetUploaded(a);
    const body = parseBody(uploadUrlBody, req.body);
    if (body.size > config.PHOTO_MAX_BYTES) {
      throw reject(
        'photo_uploaded',
        new ApiError(413, 'photo_too_large', `the photo exceeds ${config.PHOTO_MAX_BYTES} bytes`, 'size'),
      );
    }
    const key = objectKey(a.id, body.contentType === 'image/png' ? 'png' : 'jpeg');
    // The store refuses another Content-Type or more bytes on this URL; the confirmation checks
    // the object again, whole, against the declaration (a smaller one included).
    const presigned = uploads.presignedPutUrl('ktp', key, UPLOAD_URL_TTL_S, {
      contentType: body.contentType,
      maxBytes: body.size,
    });
    repo.setPendingPhoto(a.id, {
      object_key: key,
      content_type: body.contentType,
      size: body.size,
      expires_at: Date.parse(presigned.expiresAt),
    });
    res.status(201).json({
      method: 'PUT',
      ...presigned,
      key,
      headers: { 'content-type': body.contentType },
      size: body.size,
    });
  });

  router.post(
    '/api/v1/me/ktp-photo/confirm',
    ctx.step('photo_uploaded'),
    asyncRoute(async (req, res) => {
      const a = ctx.account(req);
      requireStage(a.biodata_at !== null, 'biodata');
      notYetUploaded(a);
      const pending = repo.pendingPhoto(a.id);
      if (!pending)
        throw reject(
          'photo_uploaded',
          new ApiError(
            409,
            'photo_missing',
            'no upload was declared: ask POST /api/v1/me/ktp-photo/upload-url for a URL first',
            'photo',
          ),
        );
      let stored: Awaited<ReturnType<typeof uploads.get>>;
      try {
        stored = await uploads.get('ktp', pending.object_key);
      } catch (err) {
        return ctx.dependencyFailure('photo_uploaded', err);
      }
      if (!stored)
        throw reject(
          'photo_uploaded',
          new ApiError(409, 'photo_missing', 'no photo was uploaded to the presigned URL', 'photo'),
        );
      // The store took whatever the URL allowed; check it against the declaration as the direct upload is checked.
      const contentType = (stored.contentType.split(';')[0] ?? '').trim().toLowerCase();
      if (contentType !== pending.content_type)
        throw reject(
          'photo_uploaded',
          new ApiError(
            415,
            'invalid_content_type',
            `the uploaded object is ${contentType}, not the ${pending.content_type} declared`,
            'contentType',
          ),
        );
      if (stored.bytes.length > config.PHOTO_MAX_BYTES)
        throw reject(
          'photo_uploaded',
          new ApiError(
            413,
            'photo_too_large',
            `the uploaded photo exceeds ${config.PHOTO_MAX_BYTES} bytes`,
            'size',
          ),
        );
      const image = imageRefusal(stored.bytes, 'the uploaded object');
      if (image instanceof ApiError) throw reject('photo_uploaded', image);
      if (`image/${image.type}` !== pending.content_type)
        throw reject(
          'photo_uploaded',
          new ApiError(
            415,
            'invalid_content_type',
            `the uploaded object is a ${image.type.toUpperCase()} image, not the ${pending.content_type} declared`,
            'contentType',
          ),
        );
      if (stored.bytes.length !== pending.size)
        throw reject(
          'photo_uploaded',
          new ApiError(
            400,
            'size_mismatch',
            `the uploaded object has ${stored.bytes.length} bytes, not the ${pending.size} declared`,
            'size',
          ),
        );
      if (!repo.savePhoto(a.id, pending.object_key, pending.size)) throw alreadyUploaded();
      metrics.stageReached.inc({ stage: 'photo_uploaded' });
      res.status(201).json({ key: pending.object_key, size: pending.size, stage: 'photo_uploaded' });
    }),
  );
}
