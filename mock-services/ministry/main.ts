import { z } from 'zod';
import { DEFAULT_SHARES } from '../../model/population.ts';
import { loadMockCapacity } from '../capacity.ts';
import { DEFAULT_PORTS, LOOPBACK } from '../ports.ts';
import { log, maskCrashes } from '../registration/mask.ts';
import { closeOnSignals, listen, readEnv } from '../serve.ts';
import { createMinistryApp } from './server.ts';

maskCrashes('ministry');

const env = readEnv(
  z.object({
    HOST: z.string().default(LOOPBACK),
    PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORTS.ministry),
    GELOMBANG_ADMIN_TOKEN: z.string().min(1).default('gelombang-admin'),
    POPULATION_SEED: z.coerce.number().int().min(0).default(2020),
    /** JSON, e.g. {"unknownNik":0.1}: shares of the population the registries reject (merged over the defaults) */
    POPULATION_SHARES: z
      .string()
      .default('{}')
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'expected JSON such as {"unknownNik":0.05}' });
          return z.NEVER;
        }
      })
      .pipe(
        z
          .object({
            unknownNik: z.number().min(0).max(1),
            nameMismatch: z.number().min(0).max(1),
            studying: z.number().min(0).max(1),
            dtksRecipient: z.number().min(0).max(1),
            under18: z.number().min(0).max(1),
            nonCitizen: z.number().min(0).max(1),
          })
          .partial()
          .strict(),
      ),
  }),
  'ministry',
);

const { app } = createMinistryApp({
  capacity: loadMockCapacity(),
  adminToken: env.GELOMBANG_ADMIN_TOKEN,
  seed: env.POPULATION_SEED,
  shares: { ...DEFAULT_SHARES, ...env.POPULATION_SHARES },
  log: (line) => log.info(`ministry ${line}`),
});
const { server, url } = await listen(app, env.PORT, env.HOST);
log.info(`ministry listening on ${url} (Dukcapil, Dapodik, DTKS; population seed ${env.POPULATION_SEED})`);
closeOnSignals(async () => {
  server.close();
});
