import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allDashboards } from './catalog.ts';
import {
  composeTargets,
  loopbackTargets,
  PROMETHEUS_DIR,
  renderPrometheusConfig,
} from './prometheus-config.ts';

/**
 * `npm run dashboards`: writes every dashboard as Grafana JSON under dashboards/build/ (provisioned
 * by dashboards/grafana/provisioning/dashboards/gelombang.yml), and re-renders the two committed
 * Prometheus configurations from mock-services/ports.ts.
 */

const HERE = dirname(fileURLToPath(import.meta.url));
export const BUILD_DIR = join(HERE, 'build');

const RENDERED =
  '# Rendered by `npm run dashboards` from dashboards/prometheus-config.ts; a test checks that they agree.\n';
export const LOOPBACK_CONFIG_HEADER = `# Scrape configuration of a rehearsal on loopback: \`npm run stack\` and \`gelombang run --out prometheus\`.
# The remote-write receiver (for real k6's -o experimental-prometheus-rw) is a command-line flag:
#   prometheus --config.file=dashboards/prometheus/prometheus.yml --web.enable-remote-write-receiver
${RENDERED}`;
export const COMPOSE_CONFIG_HEADER = `# Scrape configuration inside docker-compose.yml: services by name, the embedded runner on the host.
${RENDERED}`;

export function writeDashboards(dir: string = BUILD_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  return allDashboards().map(({ file, dashboard }) => {
    const path = join(dir, file);
    writeFileSync(path, `${JSON.stringify(dashboard, null, 2)}\n`);
    return path;
  });
}

export function writePrometheusConfigs(dir: string = PROMETHEUS_DIR): string[] {
  const files: Array<[string, string]> = [
    ['prometheus.yml', renderPrometheusConfig({ targets: loopbackTargets() }, LOOPBACK_CONFIG_HEADER)],
    ['prometheus.compose.yml', renderPrometheusConfig({ targets: composeTargets() }, COMPOSE_CONFIG_HEADER)],
  ];
  return files.map(([name, text]) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const written = [...writeDashboards(), ...writePrometheusConfigs()];
  for (const f of written) console.log(`wrote ${relative(process.cwd(), f)}`);
}
