/**
 * Default loopback ports of the stack. One table, read by the services, the stack orchestration,
 * the Prometheus scrape config and docker-compose, so that they can never disagree.
 */
export const DEFAULT_PORTS = {
  registration: 3000,
  ministry: 3101,
  emailHttp: 3102,
  emailSmtp: 2525,
  upload: 3103,
  /** the embedded runner's live Prometheus endpoint */
  runnerMetrics: 6566,
  prometheus: 9090,
} as const;

export const LOOPBACK = '127.0.0.1';
