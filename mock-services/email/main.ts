import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { loadMockCapacity } from '../capacity.ts';
import { DEFAULT_PORTS, LOOPBACK } from '../ports.ts';
import { log, maskCrashes } from '../registration/mask.ts';
import { closeOnSignals, listen, readEnv } from '../serve.ts';
import { createEmailService } from './server.ts';

maskCrashes('email');

const env = readEnv(
  z.object({
    HOST: z.string().default(LOOPBACK),
    HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORTS.emailHttp),
    SMTP_PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORTS.emailSmtp),
    GELOMBANG_ADMIN_TOKEN: z.string().min(1).default('gelombang-admin'),
    MAILBOX_MAX_MESSAGES: z.coerce.number().int().min(1).default(200_000),
  }),
  'email',
);

const { app, smtp } = createEmailService({
  capacity: loadMockCapacity(),
  adminToken: env.GELOMBANG_ADMIN_TOKEN,
  maxMessages: env.MAILBOX_MAX_MESSAGES,
  log: (line) => log.info(`email ${line}`),
});
smtp.listen(env.SMTP_PORT, env.HOST);
await once(smtp.server, 'listening');
const { server, url } = await listen(app, env.HTTP_PORT, env.HOST);
const smtpPort = (smtp.server.address() as AddressInfo).port;
log.info(`email listening on ${url} (SMTP on smtp://${env.HOST}:${smtpPort})`);
closeOnSignals(async () => {
  server.close();
  await new Promise<void>((r) => smtp.close(() => r()));
});
