import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Output } from './index.ts';

export interface PrometheusAddress {
  host: string;
  /** 0 picks a free port (see `url`) */
  port: number;
  /**
   * how long to keep serving the final values after the test, so that a scraper's last scrape
   * sees every count (k6's remote-write output flushes at the end for the same reason)
   */
  lingerMs?: number;
}

/**
 * k6's `-o prometheus` as a pull endpoint: GET /metrics answers `exposition()` (the runner's live
 * metrics with k6 remote-write names, runner/metrics/prometheus.ts) while the test runs.
 */
export class PrometheusOutput implements Output {
  readonly needs = { tagSeries: true };
  private server: Server | undefined;

  constructor(
    private readonly address: PrometheusAddress,
    private readonly exposition: () => string,
  ) {}

  /** where it serves, once started */
  get url(): string | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics` : undefined;
  }

  get description(): string {
    return `prometheus (${this.url ?? `${this.address.host}:${this.address.port}`})`;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(this.exposition());
    });
    server.listen(this.address.port, this.address.host);
    await once(server, 'listening');
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    if (this.address.lingerMs) await new Promise((r) => setTimeout(r, this.address.lingerMs));
    server.close();
  }
}
