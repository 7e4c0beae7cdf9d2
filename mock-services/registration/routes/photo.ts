import type { IRouter } from 'express';
import { z } from 'zod';
import type { AccountRow } from '../db.ts';
import { ApiError, parseBody } from '../errors.ts';
import { imageType, readPhoto } from '../uploads.ts';
import { asyncRoute, type RouteContext, requireStage } from './context.ts';

const uploadUrlBody = z
  .object({ contentType: z.enum(['image/jpeg', 'image/png']), size: z.int().min(1) })
  .strict();

/**
 * Step 5: the KTP photo, either through the service (multipart) or straight to the object store
 * with a presigned URL and then confirmed, which keeps the bytes off the service.
 */
export function photoRoutes(router: IRouter, ctx: RouteContext): void {
  const { config, repo, metrics, uploads, reject } = ctx;
  const notYetUploaded = (a: Pick<AccountRow, 'photo_at'>) => {
    if (a.photo_at !== null)
      throw reject(
        'photo_uploaded',
        new ApiError(409, 'already_uploaded', 'the KTP photo was already uploaded'),
      );
  };

  router.put(
    '/api/v1/me/ktp-photo',
    asyncRoute(async (req, res) => {
      const a = ctx.account(req);
      requireStage(a.biodata_at !== null, 'biodata');
      notYetUploaded(a);
      let photo: Awaited<ReturnType<typeof readPhoto>>;
      try {
        photo = await readPhoto(req, config.PHOTO_MAX_BYTES);
      } catch (err) {
        if (err instanceof ApiError) throw reject('photo_uploaded', err);
        throw err;
      }
      const key = `${a.id}.${photo.type === 'jpeg' ? 'jpg' : 'png'}`;
      try {
        await uploads.put('ktp', key, photo.bytes, `image/${photo.type}`);
      } catch (err) {
        return ctx.dependencyFailure('photo_uploaded', err);
      }
      repo.savePhoto(a.id, key, photo.bytes.length);
      metrics.stageReached.inc({ stage: 'photo_uploaded' });
      res.status(201).json({ key, size: photo.bytes.length, stage: 'photo_uploaded' });
    }),
  );

  router.post('/api/v1/me/ktp-photo/upload-url', (req, res) => {
    const a = ctx.account(req);
    requireStage(a.biodata_at !== null, 'biodata');
    const body = parseBody(uploadUrlBody, req.body);
    if (body.size > config.PHOTO_MAX_BYTES) {
      throw reject(
        'photo_uploaded',
        new ApiError(413, 'photo_too_large', `the photo exceeds ${config.PHOTO_MAX_BYTES} bytes`, 'size'),
      );
    }
    const key = `${a.id}.${body.contentType === 'image/png' ? 'png' : 'jpg'}`;
    res.status(201).json({ method: 'PUT', ...uploads.presignedPutUrl('ktp', key, 900), key });
  });

  router.post(
    '/api/v1/me/ktp-photo/confirm',
    asyncRoute(async (req, res) => {
      const a = ctx.account(req);
      requireStage(a.biodata_at !== null, 'biodata');
      notYetUploaded(a);
      let found: { key: string; size: number } | undefined;
      try {
        // The registrant chose the content type when asking for the URL: either key may hold it.
        for (const key of [`${a.id}.jpg`, `${a.id}.png`]) {
          const obj = await uploads.head('ktp', key);
          if (!obj) continue;
          // The store took whatever bytes were PUT to the URL: check them as the direct upload does.
          if (!imageType(obj.head))
            throw reject(
              'photo_uploaded',
              new ApiError(415, 'not_an_image', 'the uploaded object is not a JPEG or PNG image', 'photo'),
            );
          if (obj.size > config.PHOTO_MAX_BYTES)
            throw reject(
              'photo_uploaded',
              new ApiError(413, 'photo_too_large', 'the uploaded photo is too large', 'photo'),
            );
          found = { key, size: obj.size };
          break;
        }
      } catch (err) {
        if (err instanceof ApiError) throw err;
        return ctx.dependencyFailure('photo_uploaded', err);
      }
      if (!found)
        throw reject(
          'photo_uploaded',
          new ApiError(409, 'photo_missing', 'no photo was uploaded to the presigned URL', 'photo'),
        );
      repo.savePhoto(a.id, found.key, found.size);
      metrics.stageReached.inc({ stage: 'photo_uploaded' });
      res.status(201).json({ ...found, stage: 'photo_uploaded' });
    }),
  );
}
