import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { loadMockCapacity } from '../capacity.ts';
import { DEFAULT_PORTS, LOOPBACK } from '../ports.ts';
import { log, maskCrashes } from '../registration/mask.ts';
import { closeOnSignals, listen, readEnv } from '../serve.ts';
import { createUploadApp } from './server.ts';

maskCrashes('upload');

const env = readEnv(
  z.object({
    HOST: z.string().default(LOOPBACK),
    PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORTS.upload),
    UPLOAD_DIR: z.string().min(1).default(join(tmpdir(), 'gelombang-objects')),
    GELOMBANG_ADMIN_TOKEN: z.string().min(1).default('gelombang-admin'),
    UPLOAD_ACCESS_TOKEN: z.string().min(1).default('gelombang-upload'),
    UPLOAD_SIGNING_SECRET: z.string().min(8).default('gelombang-signing'),
  }),
  'upload',
);

const { app } = createUploadApp({
  capacity: loadMockCapacity(),
  dir: env.UPLOAD_DIR,
  adminToken: env.GELOMBANG_ADMIN_TOKEN,
  accessToken: env.UPLOAD_ACCESS_TOKEN,
  signingSecret: env.UPLOAD_SIGNING_SECRET,
  log: (line) => log.info(`upload ${line}`),
});
const { server, url } = await listen(app, env.PORT, env.HOST);
log.info(`upload listening on ${url} (objects in ${env.UPLOAD_DIR})`);
closeOnSignals(async () => {
  server.close();
});
