import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { z } from 'zod';
import { DEFAULT_PORTS } from '../mock-services/ports.ts';
import { DATASOURCE } from './metrics.ts';

/**
 * docker-compose.yml cannot run here (no Docker): these checks catch what would break it on a
 * machine that has Docker: a mounted file that does not exist, a port or URL that disagrees with
 * mock-services/ports.ts, an image that floats.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Mount sources that a documented build step produces rather than the repository holds. */
const BUILT = new Map([
  ['./dashboards/build', 'npm run dashboards'],
  ['./dist/k6', 'npx gelombang bundle'],
]);

const serviceSchema = z.object({
  image: z.string().min(1),
  command: z.array(z.string()).optional(),
  environment: z.record(z.string(), z.string()).optional(),
  volumes: z.array(z.string()).optional(),
  ports: z.array(z.string()).optional(),
  profiles: z.array(z.string()).optional(),
});
const composeSchema = z.object({
  services: z.record(z.string(), serviceSchema),
  volumes: z.record(z.string(), z.unknown()).optional(),
});

// `merge: true` resolves the `<<: *node-service` anchors as Compose does.
const compose = composeSchema.parse(
  parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }),
);
const services = compose.services;
const service = (name: string) => {
  const s = services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const env = (name: string) => service(name).environment ?? {};

describe('docker-compose.yml', () => {
  it('has the four services, Prometheus, Grafana, and k6 behind a profile', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['registration', 'ministry', 'email', 'upload', 'prometheus', 'grafana', 'k6']),
    );
    expect(service('k6').profiles).toEqual(['k6']);
    for (const name of ['registration', 'ministry', 'email', 'upload', 'prometheus', 'grafana']) {
      expect(service(name).profiles, name).toBeUndefined();
    }
  });

  it('pins every image to an exact version, never latest', () => {
    for (const [name, s] of Object.entries(services)) {
      const [repo, tag] = s.image.split('@')[0]?.split(':') ?? [];
      expect(repo, name).toBeTruthy();
      expect(tag, `${name}: ${s.image} has no tag`).toBeTruthy();
      expect(tag, name).not.toBe('latest');
      // an exact version: major.minor.patch (a floating "20" or "2" would move under us)
      expect(tag, `${name}: ${s.image}`).toMatch(/^v?\d+\.\d+\.\d+(-[a-z0-9.-]+)?$/);
      if (s.image.includes('@')) expect(s.image, name).toMatch(/@sha256:[0-9a-f]{64}$/);
    }
  });

  it('mounts only files that exist in the repository or that a documented build step produces', () => {
    const named = new Set(Object.keys(compose.volumes ?? {}));
    const readme = readFileSync(join(ROOT, 'dashboards/README.md'), 'utf8');
    for (const [name, s] of Object.entries(services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0] ?? '';
        if (named.has(source)) continue;
        expect(source, `${name}: ${v} is neither a named volume nor a relative path`).toMatch(/^\.\.?(\/|$)/);
        const step = BUILT.get(source);
        if (step) {
          expect(readme, `${source} must be documented`).toContain(step);
          continue;
        }
        expect(existsSync(join(ROOT, source)), `${name}: ${source} does not exist`).toBe(true);
      }
    }
  });

  it('runs each mock with node --import tsx and its main.ts, listening on 0.0.0.0', () => {
    for (const name of ['registration', 'ministry', 'email', 'upload']) {
      const s = service(name);
      expect(s.command, name).toEqual(['node', '--import', 'tsx', `mock-services/${name}/main.ts`]);
      expect(existsSync(join(ROOT, `mock-services/${name}/main.ts`)), name).toBe(true);
      expect(env(name).HOST, name).toBe('0.0.0.0');
      expect(s.image, name).toMatch(/^node:20\./);
    }
  });

  it('listens and publishes on the ports of mock-services/ports.ts, on loopback only', () => {
    const expected: Record<string, Record<string, number>> = {
      registration: { PORT: DEFAULT_PORTS.registration },
      ministry: { PORT: DEFAULT_PORTS.ministry },
      email: { HTTP_PORT: DEFAULT_PORTS.emailHttp, SMTP_PORT: DEFAULT_PORTS.emailSmtp },
      upload: { PORT: DEFAULT_PORTS.upload },
    };
    for (const [name, vars] of Object.entries(expected)) {
      const published = (service(name).ports ?? []).map((p) => p.split(':'));
      for (const [variable, port] of Object.entries(vars)) {
        expect(env(name)[variable], `${name} ${variable}`).toBe(String(port));
        expect(published, `${name} publishes ${port}`).toContainEqual([
          '127.0.0.1',
          String(port),
          String(port),
        ]);
      }
    }
    expect(service('prometheus').ports).toEqual([
      `127.0.0.1:${DEFAULT_PORTS.prometheus}:${DEFAULT_PORTS.prometheus}`,
    ]);
    for (const s of Object.values(services))
      for (const p of s.ports ?? []) expect(p).toMatch(/^127\.0\.0\.1:/);
  });

  it("points the registration service and k6 at the services' names and default ports", () => {
    const r = env('registration');
    expect(r.MINISTRY_URL).toBe(`http://ministry:${DEFAULT_PORTS.ministry}`);
    expect(r.UPLOAD_URL).toBe(`http://upload:${DEFAULT_PORTS.upload}`);
    expect(r.SMTP_URL).toBe(`smtp://email:${DEFAULT_PORTS.emailSmtp}`);
    expect(r.EMAIL_URL).toBe(`http://email:${DEFAULT_PORTS.emailHttp}`);
    const k6 = env('k6');
    expect(k6.BASE_URL).toBe(`http://registration:${DEFAULT_PORTS.registration}`);
    expect(k6.EMAIL_URL).toBe(`http://email:${DEFAULT_PORTS.emailHttp}`);
    expect(k6.K6_PROMETHEUS_RW_SERVER_URL).toBe(`http://prometheus:${DEFAULT_PORTS.prometheus}/api/v1/write`);
    expect(env('grafana').GELOMBANG_PROMETHEUS_URL).toBe(`http://prometheus:${DEFAULT_PORTS.prometheus}`);
  });

  it('runs a bundled scenario on k6 with the remote-write output and a testid tag', () => {
    const cmd = service('k6').command ?? [];
    expect(cmd[0]).toBe('run');
    expect(cmd.join(' ')).toContain('-o experimental-prometheus-rw');
    expect(cmd.join(' ')).toMatch(/--tag testid=/);
    expect(cmd.at(-1)).toMatch(/^\/scripts\/.+\.js$/);
    expect(service('k6').volumes).toContain('./dist/k6:/scripts:ro');
    // the trend stats the Load generator dashboard charts
    for (const stat of ['p(99)', 'p(95)', 'med'])
      expect(env('k6').K6_PROMETHEUS_RW_TREND_STATS).toContain(stat);
  });

  it('starts Prometheus with the compose scrape config, the rules, and the remote-write receiver', () => {
    const p = service('prometheus');
    expect(p.command).toContain('--web.enable-remote-write-receiver');
    expect(p.volumes).toContain(
      './dashboards/prometheus/prometheus.compose.yml:/etc/prometheus/prometheus.yml:ro',
    );
    expect(p.volumes).toContain('./dashboards/prometheus/rules:/etc/prometheus/rules:ro');
  });
});

describe('Grafana provisioning', () => {
  const provisioning = join(ROOT, 'dashboards/grafana/provisioning');
  const datasources = z
    .object({ datasources: z.array(z.object({ uid: z.string(), type: z.string(), url: z.string() })) })
    .parse(parse(readFileSync(join(provisioning, 'datasources/prometheus.yml'), 'utf8')));
  const providers = z
    .object({
      providers: z.array(z.object({ type: z.literal('file'), options: z.object({ path: z.string() }) })),
    })
    .parse(parse(readFileSync(join(provisioning, 'dashboards/gelombang.yml'), 'utf8')));

  it('provides the datasource uid the dashboards name', () => {
    expect(datasources.datasources).toContainEqual(
      expect.objectContaining({ uid: DATASOURCE.uid, type: 'prometheus' }),
    );
  });

  it('sets in docker-compose every variable the provisioning files expand, and mounts the build where they point', () => {
    const text = ['datasources/prometheus.yml', 'dashboards/gelombang.yml']
      .map((f) => readFileSync(join(provisioning, f), 'utf8'))
      .join('\n')
      .split('\n')
      .filter((line) => !line.trimStart().startsWith('#'))
      .join('\n');
    const variables = [...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1] as string);
    expect(variables.length).toBeGreaterThan(0);
    for (const v of variables) expect(env('grafana')[v], v).toBeTruthy();
    const path = providers.providers[0]?.options.path.replace(
      /\$\{(\w+)\}/,
      (_, v: string) => env('grafana')[v] ?? '',
    );
    expect(service('grafana').volumes).toContain(`./dashboards/build:${path}:ro`);
    expect(service('grafana').volumes).toContain(
      './dashboards/grafana/provisioning:/etc/grafana/provisioning:ro',
    );
  });
});
