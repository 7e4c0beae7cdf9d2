import type { Config } from './config.ts';
import type { ServiceMetrics } from './metrics.ts';
import { MinistryClient, type MinistryClientOptions } from './ministry-client.ts';
import { UploadClient } from './uploads.ts';

/**
 * The service's clients of the ministries and the object store as its knobs configure them: one
 * reading of the knobs for main.ts and for the tests that build the app in-process, so that a
 * knob added here reaches both.
 */
export function ministryClientOf(
  cfg: Config,
  metrics: ServiceMetrics,
  /** tests only: a clock or random source of their own */
  overrides: Partial<MinistryClientOptions> = {},
): MinistryClient {
  return new MinistryClient({
    baseUrl: cfg.MINISTRY_URL,
    timeoutMs: cfg.MINISTRY_TIMEOUT_MS,
    retries: cfg.MINISTRY_RETRIES,
    metrics,
    bulkhead: { limit: cfg.MINISTRY_BULKHEAD, queue: cfg.MINISTRY_BULKHEAD_QUEUE },
    breaker: cfg.MINISTRY_BREAKER === 'on',
    cache: cfg.MINISTRY_CACHE === 'on',
    ...overrides,
  });
}

export function uploadClientOf(cfg: Config, metrics: ServiceMetrics): UploadClient {
  return new UploadClient({
    baseUrl: cfg.UPLOAD_URL,
    accessToken: cfg.UPLOAD_ACCESS_TOKEN,
    signingSecret: cfg.UPLOAD_SIGNING_SECRET,
    timeoutMs: cfg.UPLOAD_TIMEOUT_MS,
    metrics,
  });
}
