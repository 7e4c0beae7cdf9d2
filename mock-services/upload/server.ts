import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Express, Request, Response } from 'express';
import { Counter, Gauge } from 'prom-client';
import { type Capacity, capacitySchema } from '../../model/capacity.ts';
import { createMockApp } from '../admin.ts';
import { createStationMetrics } from '../station/metrics.ts';
import { StationRuntime, sendError, stationMiddleware } from '../station/station.ts';
import { SharedLink } from './bandwidth.ts';
import { type PresignConditions, type PresignQuery, verifyPresigned } from './presign.ts';

/**
 * An object store (PUT/GET/HEAD/DELETE by bucket and key) with a size limit, one shared ingress
 * link and presigned URLs (which may fix the Content-Type and largest size of what they upload). Objects
 * are written to a temp file and renamed, so a crash never leaves half an object behind.
 */

export interface UploadOptions {
  capacity: Pick<Capacity, 'upload'>;
  dir: string;
  adminToken: string;
  accessToken: string;
  signingSecret: string;
  log?: (line: string) => void;
  random?: () => number;
}

/**
 * Bucket and key names: dot-separated words of A-Z a-z 0-9 _ -, so no name is empty, hidden,
 * relative ('..') or a path ('/'), and none can reach the store's own files (`.tmp/`).
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$/;
const NAME_MAX = { bucket: 63, key: 200 } as const;
const NAME_RULE = 'dot-separated words of A-Z a-z 0-9 _ - (no leading, trailing or double dot)';
/** type/subtype with optional parameters, as RFC 9110 spells a media type */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;[ -~]*)?$/;
let tempCounter = 0;

interface ObjectMeta {
  contentType: string;
  size: number;
}

/**
 * One file per object: its bytes, then its metadata (JSON), then the metadata's length (4 bytes).
 * Bytes and metadata are written to one temp file and renamed into place together, so a reader
 * never sees one without the other, and no key can name, and overwrite, another object's metadata.
 */
async function openObject(file: string): Promise<{ meta: ObjectMeta; handle: FileHandle } | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size: total } = await handle.stat();
    if (total < 4) throw new Error('too short');
    const tail = Buffer.alloc(4);
    await handle.read(tail, 0, 4, total - 4);
    const metaLength = tail.readUInt32BE(0);
    if (metaLength > 4096 || metaLength > total - 4) throw new Error('bad metadata length');
    const json = Buffer.alloc(metaLength);
    await handle.read(json, 0, metaLength, total - 4 - metaLength);
    const meta = JSON.parse(json.toString('utf8')) as ObjectMeta;
    if (meta.size !== total - 4 - metaLength || typeof meta.contentType !== 'string')
      throw new Error('metadata does not match');
    return { meta, handle };
  } catch {
    // A file of an earlier layout, or damaged: not an object of this store.
    await handle.close();
    return undefined;
  }
}

function metaTrailer(meta: ObjectMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length, 0);
  return Buffer.concat([json, length]);
}

export function createUploadApp(opts: UploadOptions): {
  app: Express;
  station: StationRuntime;
  link: SharedLink;
} {
  const metrics = createStationMetrics();
  let capacity: Pick<Capacity, 'upload'> = { upload: opts.capacity.upload };
  const station = new StationRuntime('upload', capacity.upload, metrics, opts.random);
  const link = new SharedLink(capacity.upload.bandwidthBytesPerSecond);
  const tempDir = join(opts.dir, '.tmp');
  mkdirSync(tempDir, { recursive: true });

  const bytesReceived = new Counter({
    name: 'upload_bytes_received_total',
    help: 'Bytes of object bodies received',
    registers: [metrics.registry],
  });
  new Gauge({
    name: 'upload_bandwidth_utilisation',
    help: 'Share of the shared ingress link booked over the next second (0-1)',
    registers: [metrics.registry],
    collect() {
      this.set(link.utilisation());
    },
  });
  new Gauge({
    name: 'upload_bandwidth_bytes_per_second',
    help: 'Capacity of the shared ingress link',
    registers: [metrics.registry],
    collect() {
      this.set(capacity.upload.bandwidthBytesPerSecond);
    },
  });

  const { app, finish } = createMockApp(metrics.registry, {
    token: opts.adminToken,
    schema: capacitySchema.pick({ upload: true }),
    get: () => capacity,
    apply: (next) => {
      capacity = next;
      station.reconfigure(next.upload);
      link.setRate(next.upload.bandwidthBytesPerSecond);
    },
    log: opts.log,
  });

  const objectFile = (bucket: string, key: string) => join(opts.dir, bucket, key);

  const validName = (res: Response, what: 'bucket' | 'key', name: string): boolean => {
    if (name.length <= NAME_MAX[what] && NAME.test(name)) return true;
    return fail(
      res,
      400,
      'invalid_field',
      `${what}: expected 1-${NAME_MAX[what]} characters, ${NAME_RULE}`,
      what,
    );
  };

  /**
   * Bearer access token or a valid presigned query; answers 400/401/403 itself and returns
   * undefined. A presigned URL carries the conditions it was signed with.
   */
  const authorise = (
    req: Request,
    res: Response,
    method: 'PUT' | 'GET' | 'DELETE',
  ): PresignConditions | undefined => {
    const { bucket, key } = req.params as { bucket: string; key: string };
    if (!validName(res, 'bucket', bucket) || !validName(res, 'key', key)) return undefined;
    if (req.get('authorization') === `Bearer ${opts.accessToken}`) return {};
    const q = req.query as PresignQuery;
    if (q.signature === undefined && req.get('authorization') === undefined) {
      fail(res, 401, 'unauthorized', 'needs Authorization: Bearer <access token> or a presigned URL');
      return undefined;
    }
    if (method === 'DELETE') {
      fail(res, 403, 'forbidden', 'deleting needs the access token, not a presigned URL');
      return undefined;
    }
    const check = verifyPresigned(opts.signingSecret, method, req.path, q);
    if (!check.ok) {
      fail(res, 403, `presign_${check.reason}`, `presigned URL refused: ${check.reason.replace('_', ' ')}`);
      return undefined;
    }
    return check.conditions;
  };

  app.put('/buckets/:bucket/objects/:key', stationMiddleware(station), async (req, res) => {
    const conditions = authorise(req, res, 'PUT');
    if (!conditions) return req.resume();
    const refuse = (status: number, code: string, message: string, field?: string) => {
      sendError(res, status, code, message, field);
      req.destroy();
    };
    const contentType = (req.get('content-type') ?? 'application/octet-stream').trim();
    if (contentType.length > 200 || !MEDIA_TYPE.test(contentType))
      return refuse(
        400,
        'invalid_field',
        'content-type: expected a media type such as image/jpeg',
        'content-type',
      );
    const mediaType = (contentType.split(';')[0] ?? '').trim().toLowerCase();
    if (conditions.contentType !== undefined && mediaType !== conditions.contentType)
      return refuse(
        415,
        'content_type_mismatch',
        `content-type: this URL was signed for ${conditions.contentType}, not ${mediaType}`,
        'content-type',
      );
    const limit = capacity.upload.maxObjectBytes;
    const signed = conditions.maxBytes;
    const max = signed !== undefined ? Math.min(signed, limit) : limit;
    const tooLarge = (size: number | undefined) => {
      const object = `object${size === undefined ? '' : ` of ${size} bytes`}`;
      return signed !== undefined && signed <= limit
        ? `${object} is larger than the ${signed} bytes this URL was signed for`
        : `${object} exceeds the limit of ${limit} bytes`;
    };
    const declared = Number(req.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > max)
      return refuse(413, 'too_large', tooLarge(declared), 'size');
    const { bucket, key } = req.params as { bucket: string; key: string };
    const final = objectFile(bucket, key);
    mkdirSync(join(opts.dir, bucket), { recursive: true });
    const temp = join(tempDir, `${process.pid}.${++tempCounter}.part`);
    const out = createWriteStream(temp);
    let size = 0;
    const discard = () => {
      out.destroy();
      rmSync(temp, { force: true });
    };
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > max) {
          discard();
          return refuse(413, 'too_large', tooLarge(undefined), 'size');
        }
        await link.transmit(chunk.length);
        bytesReceived.inc(chunk.length);
        if (!out.write(chunk)) await once(out, 'drain');
        if (res.headersSent) break; // the station's deadline answered 504 meanwhile
      }
      if (res.headersSent) return discard();
      out.end(metaTrailer({ contentType, size }));
      await once(out, 'finish');
      if (res.headersSent) return discard();
      renameSync(temp, final);
      res.status(201).json({ bucket, key, size });
    } catch (err) {
      discard();
      if (!res.headersSent)
        sendError(res, 400, 'upload_aborted', `upload aborted: ${(err as Error).message}`);
    }
  });

  const readObject = async (req: Request, res: Response, withBody: boolean) => {
    if (!authorise(req, res, 'GET')) return;
    const { bucket, key } = req.params as { bucket: string; key: string };
    const found = await openObject(objectFile(bucket, key));
    if (!found) return sendError(res, 404, 'not_found', `no object ${bucket}/${key}`);
    const { meta, handle } = found;
    res.setHeader('content-type', meta.contentType);
    res.setHeader('content-length', String(meta.size));
    if (!withBody || meta.size === 0) {
      await handle.close();
      return res.status(200).end();
    }
    // The handle opened before any replacement: the bytes streamed are those the metadata describes.
    handle.createReadStream({ start: 0, end: meta.size - 1 }).pipe(res);
  };
  app.get('/buckets/:bucket/objects/:key', (req, res) => readObject(req, res, true));
  app.head('/buckets/:bucket/objects/:key', (req, res) => readObject(req, res, false));
  app.delete('/buckets/:bucket/objects/:key', (req, res) => {
    if (!authorise(req, res, 'DELETE')) return;
    const { bucket, key } = req.params as { bucket: string; key: string };
    const file = objectFile(bucket, key);
    if (!existsSync(file)) return sendError(res, 404, 'not_found', `no object ${bucket}/${key}`);
    rmSync(file, { force: true });
    res.status(204).end();
  });

  finish();
  return { app, station, link };
}

function fail(res: Response, status: number, code: string, message: string, field?: string): false {
  sendError(res, status, code, message, field);
  return false;
}
