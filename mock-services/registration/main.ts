import cluster from 'node:cluster';
import { once } from 'node:events';
import type { Server } from 'node:http';
import { AggregatorRegistry, Gauge } from 'prom-client';
import { createApp } from './app.ts';
import { JSON_BODY_LIMIT_BYTES } from './body.ts';
import { ministryClientOf, uploadClientOf } from './clients.ts';
import { type Config, parseConfig } from './config.ts';
import { openDb, Repository } from './db.ts';
import { Mailer, startOutboxSender } from './mailer.ts';
import { log, maskCrashes } from './mask.ts';
import { createServiceMetrics } from './metrics.ts';
import { limitsPathFor, RateLimiter } from './rate-limit.ts';

/**
 * The reference registration service: WORKERS processes behind one port (node:cluster), sharing
 * one SQLite file. /metrics on any process answers for all of them: a worker asks the primary,
 * which collects every worker's registry with prom-client's AggregatorRegistry.
 */

const METRICS_REQUEST = 'gelombang:metrics-request';
const METRICS_RESPONSE = 'gelombang:metrics-response';

maskCrashes('registration');

let config: Config;
try {
  config = parseConfig(process.env);
} catch (err) {
  log.error((err as Error).message);
  process.exit(2);
}

if (cluster.isPrimary && config.WORKERS > 1) {
  await runPrimary(config);
} else {
  await runWorker(config);
}

function limitsPath(cfg: Config): string {
  return cfg.RATE_LIMIT_DB_PATH ?? limitsPathFor(cfg.DB_PATH);
}

async function runPrimary(cfg: Config): Promise<void> {
  // Create the schema once before forking, so workers never race on CREATE TABLE.
  const repo = new Repository(openDb(cfg.DB_PATH, cfg.DB_SYNCHRONOUS));
  repo.ensureFirstWave(cfg.WAVE_QUOTA);
  repo.releaseOutboxClaims();
  repo.db.close();
  new RateLimiter(limitsPath(cfg)).close();
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  cluster.on('message', (worker, msg: { type?: string; id?: number }) => {
    if (msg?.type !== METRICS_REQUEST) return;
    aggregator.clusterMetrics().then(
      (body) =>
        worker.send({ type: METRICS_RESPONSE, id: msg.id, body, contentType: aggregator.contentType }),
      (err: Error) => worker.send({ type: METRICS_RESPONSE, id: msg.id, error: err.message }),
    );
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    log.error(`registration: worker ${worker.process.pid} died (${signal ?? code}); starting another`);
    cluster.fork();
  });
  // The workers write through the primary, not on its stdio directly: once the primary is gone,
  // what it said last stays last, not buried under its orphaned workers' complaints.
  cluster.setupPrimary({ silent: true });
  cluster.on('fork', (worker) => {
    worker.process.stdout?.pipe(process.stdout, { end: false });
    worker.process.stderr?.pipe(process.stderr, { end: false });
  });
  for (let i = 0; i < cfg.WORKERS; i++) cluster.fork();
  let listening = 0;
  cluster.on('listening', (_worker, address) => {
    if (++listening === cfg.WORKERS) {
      log.info(`registration listening on http://${cfg.HOST}:${address.port} (${cfg.WORKERS} processes)`);
    }
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    setTimeout(() => process.exit(0), 5000).unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function runWorker(cfg: Config): Promise<void> {
  // An orphaned worker would keep serving the port after its primary was killed: follow it down.
  if (cluster.isWorker) process.once('disconnect', () => process.exit(1));
  const db = openDb(cfg.DB_PATH, cfg.DB_SYNCHRONOUS);
  const repo = new Repository(db);
  // Only where the whole service starts: a worker the primary replaces has live siblings.
  if (!cluster.isWorker) {
    repo.ensureFirstWave(cfg.WAVE_QUOTA);
    repo.releaseOutboxClaims();
  }
  const limiter = new RateLimiter(limitsPath(cfg));
  const metrics = createServiceMetrics();
  if (cluster.isWorker) {
    // Constructing one installs prom-client's listener that answers the primary's collection requests.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([metrics.registry]);
  }
  new Gauge({
    name: 'gelombang_wave_places',
    help: 'Places of each wave: its quota and how many are taken',
    labelNames: ['wave', 'state'],
    registers: [metrics.registry],
    // Every process reads the same database: take one value, never the sum.
    aggregator: 'max',
    collect() {
      for (const w of repo.waves()) {
        this.set({ wave: String(w.number), state: 'quota' }, w.quota);
        this.set({ wave: String(w.number), state: 'joined' }, w.joined);
      }
    },
  });
  new Gauge({
    name: 'gelombang_email_outbox_depth',
    help: 'Verification mails accepted but not yet handed to SMTP (outbox mode)',
    registers: [metrics.registry],
    aggregator: 'max',
    collect() {
      this.set(repo.outboxDepth());
    },
  });

  const mailer = new Mailer(cfg.SMTP_URL, cfg.EMAIL_TIMEOUT_MS, metrics, cfg.EMAIL_CONNECTIONS);
  const outbox =
    cfg.EMAIL_DELIVERY === 'outbox'
      ? startOutboxSender(repo, mailer, {
          ratePerSecond: cfg.EMAIL_SEND_RATE,
          maxAttempts: cfg.EMAIL_MAX_ATTEMPTS,
        })
      : undefined;

  const pending = new Map<number, (v: { contentType: string; body: string } | Error) => void>();
  let nextId = 0;
  if (cluster.isWorker) {
    process.on(
      'message',
      (msg: { type?: string; id: number; body?: string; contentType?: string; error?: string }) => {
        if (msg?.type !== METRICS_RESPONSE) return;
        const resolve = pending.get(msg.id);
        pending.delete(msg.id);
        resolve?.(
          msg.error
            ? new Error(msg.error)
            : { contentType: msg.contentType ?? 'text/plain', body: msg.body ?? '' },
        );
      },
    );
  }
  const metricsText = async () => {
    if (!cluster.isWorker)
      return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
    const id = ++nextId;
    const answer = await new Promise<{ contentType: string; body: string } | Error>((resolve) => {
      pending.set(id, resolve);
      process.send?.({ type: METRICS_REQUEST, id });
    });
    if (answer instanceof Error) throw answer;
    return answer;
  };

  let publicUrl = cfg.PUBLIC_URL ?? `http://${cfg.HOST}:${cfg.PORT}`;
  const app = createApp({
    config: cfg,
    publicUrl: () => publicUrl,
    repo,
    limiter,
    metrics,
    mailer,
    metricsText,
    ministry: ministryClientOf(cfg, metrics),
    uploads: uploadClientOf(cfg, metrics),
  });
  const server = app.listen(cfg.PORT, cfg.HOST);
  refuseOversizeBeforeContinue(server, cfg.PHOTO_MAX_BYTES);
  await once(server, 'listening');
  server.keepAliveTimeout = 65_000;
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.PORT;
  publicUrl = cfg.PUBLIC_URL ?? `http://${cfg.HOST}:${port}`;
  if (!cluster.isWorker) log.info(`registration listening on http://${cfg.HOST}:${port}`);

  const stop = async () => {
    server.close();
    await outbox?.stop();
    mailer.close();
    limiter.close();
    db.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

/**
 * A client that announces its body with `Expect: 100-continue` (curl does, past 1 MB) is told
 * 413 at once when the body is larger than any route takes, instead of "continue" and then
 * uploading it only to have it read and thrown away.
 */
function refuseOversizeBeforeContinue(server: Server, photoMaxBytes: number): void {
  // the photo plus its multipart framing
  const largest = (contentType: string) =>
    contentType.startsWith('multipart/') ? photoMaxBytes + 64 * 1024 : JSON_BODY_LIMIT_BYTES;
  server.on('checkContinue', (req, res) => {
    const length = Number(req.headers['content-length']);
    const limit = largest(String(req.headers['content-type'] ?? '').toLowerCase());
    if (Number.isFinite(length) && length > limit) {
      const body = JSON.stringify({
        error: {
          code: 'body_too_large',
          message: `request body of ${length} bytes is too large (at most ${limit} bytes)`,
          field: 'body',
        },
      });
      res.writeHead(413, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      res.end(body);
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
}
