import { z } from 'zod';
import { loadCapacity } from '../capacity.ts';
import { DEFAULT_PORTS, LOOPBACK } from '../ports.ts';
import { closeOnSignals, listen, readEnv } from '../serve.ts';
import { createMinistryApp } from './server.ts';

const env = readEnv(
  z.object({
    HOST: z.string().default(LOOPBACK),
    PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORTS.ministry),
    GELOMBANG_ADMIN_TOKEN: z.string().min(1).default('gelombang-admin'),
    POPULATION_SEED: z.coerce.number().int().min(0).default(2020),
  }),
  'ministry',
);

const { app } = createMinistryApp({
  capacity: loadCapacity(),
  adminToken: env.GELOMBANG_ADMIN_TOKEN,
  seed: env.POPULATION_SEED,
  log: (line) => console.log(`ministry ${line}`),
});
const { server, url } = await listen(app, env.PORT, env.HOST);
console.log(`ministry listening on ${url} (Dukcapil, Dapodik, DTKS; population seed ${env.POPULATION_SEED})`);
closeOnSignals(async () => {
  server.close();
});
