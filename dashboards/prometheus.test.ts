import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_PORTS } from '../mock-services/ports.ts';
import { ABOVE_P95 } from '../model/slo.ts';
import { SATURATION } from '../model/station.ts';
import { requireSystemBinary } from '../test/support/system-binary.ts';
import { COMPOSE_CONFIG_HEADER, LOOPBACK_CONFIG_HEADER } from './build.ts';
import {
  absoluteRuleFiles,
  composeTargets,
  loopbackTargets,
  PROMETHEUS_DIR,
  prometheusArgs,
  RULE_FILES,
  RULE_TESTS,
  renderPrometheusConfig,
} from './prometheus-config.ts';
import { runPromtool } from './promtool.ts';
import { loadRules } from './rules.ts';

const promtool = requireSystemBinary(['promtool'], 'prometheus');
const scratch = mkdtempSync(join(tmpdir(), 'gelombang-prometheus-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe.skipIf(!promtool)('promtool', () => {
  const tool = promtool as string;

  it.each(['prometheus.yml', 'prometheus.compose.yml'])('check config %s (with its rule files)', (file) => {
    const r = runPromtool(tool, ['check', 'config', file], PROMETHEUS_DIR);
    expect(r.output).toContain('SUCCESS');
    expect(r.ok, r.output).toBe(true);
    // the rule files were found and checked too, not silently skipped
    expect(r.output).toContain(`${RULE_FILES.length} rule files found`);
  });

  it('check rules: every recording and alerting rule parses', () => {
    const r = runPromtool(tool, ['check', 'rules', ...RULE_FILES], PROMETHEUS_DIR);
    expect(r.ok, r.output).toBe(true);
    expect(r.output).toContain(
      `SUCCESS: ${loadRules().filter((x) => x.kind === 'record').length} rules found`,
    );
  });

  it('test rules: the unit tests with series pass', () => {
    const r = runPromtool(tool, ['test', 'rules', ...RULE_TESTS], PROMETHEUS_DIR);
    expect(r.ok, r.output).toBe(true);
    expect(r.output).toContain('SUCCESS');
  });

  it('test rules fails when a rule misbehaves (the unit tests can catch a broken rule)', () => {
    // The saturation rule made to divide the other way round: the unit test must notice.
    const rules = readFileSync(join(PROMETHEUS_DIR, 'rules/gelombang.rules.yml'), 'utf8').replace(
      'dependency:station_in_flight:sum / (dependency:station_capacity:sum > 0)',
      'dependency:station_capacity:sum / (dependency:station_in_flight:sum > 0)',
    );
    writeFileSync(join(scratch, 'gelombang.rules.yml'), rules);
    const tests = readFileSync(join(PROMETHEUS_DIR, RULE_TESTS[0]), 'utf8')
      .replace('../rules/gelombang.rules.yml', join(scratch, 'gelombang.rules.yml'))
      .replace('../rules/gelombang.alerts.yml', join(PROMETHEUS_DIR, 'rules/gelombang.alerts.yml'));
    writeFileSync(join(scratch, 'broken.test.yml'), tests);
    const r = runPromtool(tool, ['test', 'rules', 'broken.test.yml'], scratch);
    expect(r.ok).toBe(false);
    expect(r.output).toContain('dependency:station_saturation:ratio');
  });

  it('a configuration rendered for ephemeral ports, outside the repo, is valid', () => {
    const file = join(scratch, 'prometheus.yml');
    writeFileSync(
      file,
      renderPrometheusConfig({
        targets: {
          registration: '127.0.0.1:40001',
          ministry: '127.0.0.1:40002',
          email: '127.0.0.1:40003',
          upload: '127.0.0.1:40004',
          runner: '127.0.0.1:40005',
        },
        ruleFiles: absoluteRuleFiles(),
        scrapeIntervalSeconds: 1,
      }),
    );
    const r = runPromtool(tool, ['check', 'config', file]);
    expect(r.ok, r.output).toBe(true);
  });
});

describe('the saturation alert', () => {
  it("is model/station.ts SATURATION: the report's, compare's and the dashboards' threshold and duration", () => {
    // The rule files are written by hand, not rendered: this is what keeps them on the model's figures.
    const alerts = parse(readFileSync(join(PROMETHEUS_DIR, 'rules/gelombang.alerts.yml'), 'utf8')) as {
      groups: Array<{
        rules: Array<{ alert?: string; expr: string; for?: string; annotations?: Record<string, string> }>;
      }>;
    };
    const saturated = alerts.groups.flatMap((g) => g.rules).find((r) => r.alert === 'DependencySaturated');
    expect(saturated?.expr.trim()).toBe(`dependency:station_saturation:ratio >= ${SATURATION.utilisation}`);
    expect(saturated?.for).toBe(`${SATURATION.sustainSeconds}s`);
    expect(saturated?.annotations?.description).toContain(`busy for ${SATURATION.sustainSeconds}s`);
    const pool = alerts.groups.flatMap((g) => g.rules).find((r) => r.alert === 'ServiceSmtpPoolSaturated');
    expect(pool?.expr.trim()).toMatch(new RegExp(` >= ${SATURATION.utilisation}$`));
    expect(pool?.for).toBe(`${SATURATION.sustainSeconds}s`);
    expect(pool?.annotations?.description).toContain(`busy for ${SATURATION.sustainSeconds}s`);
  });
});

describe('the latency objective alert', () => {
  it("is twice model/slo.ts ABOVE_P95, the share of a step's requests its p95 objective leaves above it", () => {
    const alerts = parse(readFileSync(join(PROMETHEUS_DIR, 'rules/gelombang.alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ alert?: string; expr: string; annotations?: Record<string, string> }> }>;
    };
    const missed = alerts.groups
      .flatMap((g) => g.rules)
      .find((r) => r.alert === 'StepLatencyObjectiveMissed');
    const limits = [...(missed?.expr ?? '').matchAll(/\) > ([\d.]+)/g)].map((m) => Number(m[1]));
    expect(limits).toEqual([2 * ABOVE_P95, 2 * ABOVE_P95]);
    expect(missed?.annotations?.description).toContain(`Over ${2 * ABOVE_P95 * 100}%`);
  });
});

describe('scrape configuration', () => {
  it('the committed configurations are the rendering of mock-services/ports.ts', () => {
    for (const [file, targets, header] of [
      ['prometheus.yml', loopbackTargets(), LOOPBACK_CONFIG_HEADER],
      ['prometheus.compose.yml', composeTargets(), COMPOSE_CONFIG_HEADER],
    ] as const) {
      const committed = readFileSync(join(PROMETHEUS_DIR, file), 'utf8');
      expect(committed, `${file} is stale: run npm run dashboards`).toBe(
        renderPrometheusConfig({ targets }, header),
      );
    }
  });

  it('scrapes the four services and the runner on their default ports', () => {
    const cfg = parse(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
    };
    const byJob = Object.fromEntries(
      cfg.scrape_configs.map((s) => [s.job_name, s.static_configs[0]?.targets[0]]),
    );
    expect(byJob).toEqual({
      registration: `127.0.0.1:${DEFAULT_PORTS.registration}`,
      ministry: `127.0.0.1:${DEFAULT_PORTS.ministry}`,
      email: `127.0.0.1:${DEFAULT_PORTS.emailHttp}`,
      upload: `127.0.0.1:${DEFAULT_PORTS.upload}`,
      runner: `127.0.0.1:${DEFAULT_PORTS.runnerMetrics}`,
    });
  });

  it('launches Prometheus with the remote-write receiver that k6 needs', () => {
    const args = prometheusArgs({ configFile: '/c.yml', dataDir: '/d' });
    expect(args).toContain('--web.enable-remote-write-receiver');
    expect(args).toContain(`--web.listen-address=127.0.0.1:${DEFAULT_PORTS.prometheus}`);
    expect(args).toContain('--config.file=/c.yml');
  });
});
