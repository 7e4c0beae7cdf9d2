import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../mock-services/registration/app.ts';
import { ministryClientOf, uploadClientOf } from '../../mock-services/registration/clients.ts';
import { parseConfig } from '../../mock-services/registration/config.ts';
import { openDb, Repository } from '../../mock-services/registration/db.ts';
import { Mailer } from '../../mock-services/registration/mailer.ts';
import { createServiceMetrics } from '../../mock-services/registration/metrics.ts';
import type { MinistryClientOptions } from '../../mock-services/registration/ministry-client.ts';
import { limitsPathFor, RateLimiter } from '../../mock-services/registration/rate-limit.ts';
import { serve } from './listen.ts';

/**
 * The reference service's app in this process on a loopback port, wired as main.ts wires one
 * process (its own SQLite file in a temp dir), for tests that reach into its database or clock.
 */
export async function startInProcessService(o: {
  /** the environment, as the service reads it; DB_PATH defaults to a fresh temp dir */
  env: Record<string, string>;
  /** wave 1's quota */
  quota: number;
  /** the ministry client's clock or random source */
  ministry?: Partial<MinistryClientOptions>;
}) {
  const dir = mkdtempSync(join(tmpdir(), 'gelombang-in-process-'));
  const config = parseConfig({ DB_PATH: join(dir, 'registration.db'), ...o.env });
  const repo = new Repository(openDb(config.DB_PATH));
  repo.ensureFirstWave(o.quota);
  const limiter = new RateLimiter(limitsPathFor(config.DB_PATH));
  const metrics = createServiceMetrics();
  const mailer = new Mailer(config.SMTP_URL, config.EMAIL_TIMEOUT_MS, metrics, config.EMAIL_CONNECTIONS);
  const app = createApp({
    config,
    repo,
    limiter,
    metrics,
    mailer,
    publicUrl: () => 'http://127.0.0.1',
    metricsText: async () => ({
      contentType: metrics.registry.contentType,
      body: await metrics.registry.metrics(),
    }),
    ministry: ministryClientOf(config, metrics, o.ministry),
    uploads: uploadClientOf(config, metrics),
  });
  const service = await serve(app);
  return {
    url: service.url,
    repo,
    async close() {
      await service.close();
      mailer.close();
      limiter.close();
      repo.db.close();
    },
  };
}
