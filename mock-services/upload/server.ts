import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Express, Request, Response } from 'express';
import { Counter, Gauge } from 'prom-client';
import { type Capacity, capacitySchema } from '../../model/capacity.ts';
import { createMockApp } from '../admin.ts';
import { createStationMetrics } from '../station/metrics.ts';
import { StationRuntime, sendError, stationMiddleware } from '../station/station.ts';
import { SharedLink } from './bandwidth.ts';
import { verifyPresigned } from './presign.ts';

/**
 * An object store (PUT/GET/HEAD by bucket and key) with a size limit, one shared ingress link and
 * presigned URLs. Objects are written to a temp file and renamed, so a crash never leaves half an
 * object behind.
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

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
let tempCounter = 0;

export function createUploadApp(opts: UploadOptions): {
  app: Express;
  station: StationRuntime;
  link: SharedLink;
} {
  const metrics = createStationMetrics();
  let capacity: Pick<Capacity, 'upload'> = { upload: opts.capacity.upload };
  const station = new StationRuntime('upload', capacity.upload, metrics, opts.random);
  const link = new SharedLink(capacity.upload.bandwidthBytesPerSecond);
  mkdirSync(opts.dir, { recursive: true });

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

  /** Bearer access token or a valid presigned query; answers 400/403 itself and returns false. */
  const authorised = (req: Request, res: Response, method: 'PUT' | 'GET'): boolean => {
    const { bucket, key } = req.params as { bucket: string; key: string };
    if (!NAME.test(bucket))
      return fail(res, 400, 'invalid_field', 'bucket: expected 1-200 of A-Z a-z 0-9 . _ -', 'bucket');
    if (!NAME.test(key))
      return fail(res, 400, 'invalid_field', 'key: expected 1-200 of A-Z a-z 0-9 . _ -', 'key');
    if (req.get('authorization') === `Bearer ${opts.accessToken}`) return true;
    const q = req.query as Record<string, string | undefined>;
    if (q.signature === undefined && req.get('authorization') === undefined) {
      return fail(res, 401, 'unauthorized', 'needs Authorization: Bearer <access token> or a presigned URL');
    }
    const check = verifyPresigned(opts.signingSecret, method, req.path, q.expires, q.signature);
    if (!check.ok)
      return fail(
        res,
        403,
        `presign_${check.reason}`,
        `presigned URL refused: ${check.reason.replace('_', ' ')}`,
      );
    return true;
  };

  app.put('/buckets/:bucket/objects/:key', stationMiddleware(station), async (req, res) => {
    if (!authorised(req, res, 'PUT')) return req.resume();
    const max = capacity.upload.maxObjectBytes;
    const declared = Number(req.get('content-length') ?? Number.NaN);
    if (Number.isFinite(declared) && declared > max) {
      sendError(res, 413, 'too_large', `object of ${declared} bytes exceeds the limit of ${max} bytes`);
      req.destroy();
      return;
    }
    const { bucket, key } = req.params as { bucket: string; key: string };
    mkdirSync(join(opts.dir, bucket), { recursive: true });
    const final = objectFile(bucket, key);
    const temp = `${final}.${process.pid}.${++tempCounter}.part`;
    const out = createWriteStream(temp);
    let size = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > max) {
          out.destroy();
          rmSync(temp, { force: true });
          sendError(res, 413, 'too_large', `object exceeds the limit of ${max} bytes`);
          req.destroy();
          return;
        }
        await link.transmit(chunk.length);
        bytesReceived.inc(chunk.length);
        if (!out.write(chunk)) await once(out, 'drain');
        if (res.headersSent) break; // the station's deadline answered 504 meanwhile
      }
      out.end();
      await once(out, 'finish');
      if (res.headersSent) {
        rmSync(temp, { force: true });
        return;
      }
      renameSync(temp, final);
      await writeFile(
        `${final}.meta`,
        JSON.stringify({ contentType: req.get('content-type') ?? 'application/octet-stream', size }),
      );
      res.status(201).json({ bucket, key, size });
    } catch (err) {
      out.destroy();
      rmSync(temp, { force: true });
      if (!res.headersSent)
        sendError(res, 400, 'upload_aborted', `upload aborted: ${(err as Error).message}`);
    }
  });

  const readObject = async (req: Request, res: Response, withBody: boolean) => {
    if (!authorised(req, res, 'GET')) return;
    const { bucket, key } = req.params as { bucket: string; key: string };
    const file = objectFile(bucket, key);
    let meta: { contentType: string; size: number };
    try {
      meta = JSON.parse(await readFile(`${file}.meta`, 'utf8'));
      statSync(file);
    } catch {
      return sendError(res, 404, 'not_found', `no object ${bucket}/${key}`);
    }
    res.setHeader('content-type', meta.contentType);
    res.setHeader('content-length', String(meta.size));
    if (!withBody) return res.status(200).end();
    createReadStream(file).pipe(res);
  };
  app.get('/buckets/:bucket/objects/:key', (req, res) => readObject(req, res, true));
  app.head('/buckets/:bucket/objects/:key', (req, res) => readObject(req, res, false));

  finish();
  return { app, station, link };
}

function fail(res: Response, status: number, code: string, message: string, field?: string): false {
  sendError(res, status, code, message, field);
  return false;
}
