import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { DEFAULT_PORTS, LOOPBACK } from '../mock-services/ports.ts';
import type { Job } from './metrics.ts';

/**
 * The Prometheus scrape configuration, rendered from one function so that the committed files
 * (prometheus/prometheus.yml on loopback, prometheus/prometheus.compose.yml inside docker-compose)
 * and a test's configuration on ephemeral ports are the same shape. A test compares the committed
 * files with this rendering, so a port changed in mock-services/ports.ts cannot go unnoticed.
 */

export const PROMETHEUS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'prometheus');
export const RULE_FILES = ['rules/gelombang.rules.yml', 'rules/gelombang.alerts.yml'] as const;
export const RULE_TESTS = ['tests/gelombang.test.yml'] as const;

/** host:port of every scrape job */
export type ScrapeTargets = Record<Job, string>;

export function loopbackTargets(): ScrapeTargets {
  const at = (port: number) => `${LOOPBACK}:${port}`;
  return {
    registration: at(DEFAULT_PORTS.registration),
    ministry: at(DEFAULT_PORTS.ministry),
    email: at(DEFAULT_PORTS.emailHttp),
    upload: at(DEFAULT_PORTS.upload),
    runner: at(DEFAULT_PORTS.runnerMetrics),
  };
}

/**
 * Inside docker-compose every service is reached by its name on its default port; the embedded
 * runner, if any, runs on the host.
 */
export function composeTargets(): ScrapeTargets {
  return {
    registration: `registration:${DEFAULT_PORTS.registration}`,
    ministry: `ministry:${DEFAULT_PORTS.ministry}`,
    email: `email:${DEFAULT_PORTS.emailHttp}`,
    upload: `upload:${DEFAULT_PORTS.upload}`,
    runner: `host.docker.internal:${DEFAULT_PORTS.runnerMetrics}`,
  };
}

export interface PrometheusConfigOptions {
  /** a rehearsal against a --target scrapes only what it has */
  targets: ScrapeTargets | Partial<ScrapeTargets>;
  /** rule files, absolute or relative to the config file's directory */
  ruleFiles?: readonly string[];
  /** seconds; 5 s so that a minute-long surge has a dozen points */
  scrapeIntervalSeconds?: number;
}

export function prometheusConfig(o: PrometheusConfigOptions): Record<string, unknown> {
  const seconds = o.scrapeIntervalSeconds ?? 5;
  // Prometheus durations have no fractions: a quarter second is 250ms.
  const interval = Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
  return {
    global: { scrape_interval: interval, evaluation_interval: interval },
    rule_files: [...(o.ruleFiles ?? RULE_FILES)],
    scrape_configs: (Object.entries(o.targets) as Array<[Job, string]>).map(([job, target]) => ({
      job_name: job,
      // The runner's series carry the load generator's own tags (testid, scenario, step...): keep
      // them as they are, as the remote-write path does.
      ...(job === 'runner' ? { honor_labels: true } : {}),
      static_configs: [{ targets: [target] }],
    })),
  };
}

export function renderPrometheusConfig(o: PrometheusConfigOptions, header = ''): string {
  return `${header}${stringify(prometheusConfig(o))}`;
}

/** Absolute paths of the rule files, for a config written outside dashboards/prometheus/. */
export function absoluteRuleFiles(): string[] {
  return RULE_FILES.map((f) => join(PROMETHEUS_DIR, f));
}

export interface PrometheusLaunch {
  configFile: string;
  dataDir: string;
  /** listen address, e.g. 127.0.0.1:9090 */
  listen?: string;
}

/**
 * Command-line arguments of a Prometheus 2.42+ server for a rehearsal. The remote-write receiver
 * cannot be enabled from the config file: it is this flag, which real k6's
 * `-o experimental-prometheus-rw` output needs (it pushes to /api/v1/write).
 */
export function prometheusArgs(o: PrometheusLaunch): string[] {
  return [
    `--config.file=${o.configFile}`,
    `--storage.tsdb.path=${o.dataDir}`,
    `--web.listen-address=${o.listen ?? `${LOOPBACK}:${DEFAULT_PORTS.prometheus}`}`,
    '--web.enable-remote-write-receiver',
    // lets a test or an operator reload rules without a restart
    '--web.enable-lifecycle',
  ];
}
