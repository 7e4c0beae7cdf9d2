import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { requireSystemBinary } from '../test/support/system-binary.ts';
import { writeDashboards } from './build.ts';
import {
  allDashboardQueries,
  allDashboards,
  conditionsOf,
  dashboardQueries,
  resolveGrafanaVariables,
} from './catalog.ts';
import { CONDITIONAL_METRICS, DATASOURCE, DEPENDENCIES, FUNNEL_STAGES } from './metrics.ts';
import { unparsableExpressions } from './promtool.ts';
import { loadRules } from './rules.ts';

const promtool = requireSystemBinary(['promtool'], 'prometheus');
const out = mkdtempSync(join(tmpdir(), 'gelombang-dashboards-test-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface DashboardJson {
  uid?: string;
  title?: string;
  panels?: Panel[];
  templating?: { list?: Array<{ name?: string; query?: unknown }> };
  annotations?: { list?: Array<{ name?: string; expr?: string }> };
}

/** What Grafana will read: the files the build writes, parsed back. */
const built: DashboardJson[] = writeDashboards(out).map(
  (f) => JSON.parse(readFileSync(f, 'utf8')) as DashboardJson,
);
const flatten = (ps: Panel[] = []): Panel[] => ps.flatMap((p) => [p, ...flatten(p.panels)]);

/**
 * Metric names the services and the runner expose (mock-services/station/metrics.ts,
 * mock-services/registration/*, mock-services/{email,upload}/server.ts, prom-client's defaults, and
 * k6's remote-write names). A panel naming anything else charts nothing.
 */
const EXPOSED = new Set([
  'gelombang_http_requests_total',
  'gelombang_http_request_duration_seconds_bucket',
  'gelombang_http_requests_in_flight',
  'gelombang_funnel_stage_reached_total',
  'gelombang_funnel_rejections_total',
  'gelombang_dependency_request_duration_seconds_bucket',
  'gelombang_dependency_request_duration_seconds_count',
  'gelombang_dependency_in_flight',
  'gelombang_wave_places',
  'gelombang_email_outbox_depth',
  'gelombang_email_connections',
  'gelombang_email_connections_busy',
  'gelombang_email_waiting',
  'gelombang_password_hash_duration_seconds_bucket',
  // The hardened design's; most only with their knob on (CONDITIONAL_METRICS says when).
  'gelombang_ministry_breaker_state',
  'gelombang_ministry_calls_shed_total',
  'gelombang_ministry_cache_total',
  'gelombang_waiting_room_queue_length',
  'gelombang_waiting_room_admissions_total',
  'gelombang_idempotency_keys_total',
  'gelombang_email_dead_letters_total',
  'gelombang_email_outbox_dead_letters',
  'email_duplicate_messages_total',
  'station_requests_total',
  'station_request_duration_seconds_bucket',
  'station_in_flight',
  'station_capacity',
  'station_queue_depth',
  'station_queue_capacity',
  'station_rejections_total',
  'station_config_changes_total',
  'upload_bandwidth_utilisation',
  'process_cpu_seconds_total',
  'process_resident_memory_bytes',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_heap_size_used_bytes',
  'k6_vus',
  'k6_vus_max',
  'k6_iterations_total',
  'k6_dropped_iterations_total',
  'k6_http_reqs_total',
  'k6_http_req_failed_rate',
  'k6_checks_rate',
  'k6_data_sent_total',
  'k6_data_received_total',
  'k6_http_req_duration_p95',
  'k6_http_req_duration_p99',
  'k6_iteration_duration_p95',
  'k6_iteration_duration_med',
  'k6_funnel_stage_total',
  'k6_funnel_arrivals_total',
  'k6_step_slow_requests_total',
]);

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
]);

/** Metric names an expression selects: identifiers that are not functions, keywords, labels or strings. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, '[]');
  const names: string[] = [];
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\()?)/g)) {
    if (m[1]) continue; // a function call
    const name = m[0];
    const before = stripped.slice(0, m.index);
    if (/[0-9.]$/.test(before)) continue; // unit of a number, e.g. 1e3
    if (!KEYWORDS.has(name.toLowerCase())) names.push(name);
  }
  return names;
}

describe('built dashboards', () => {
  it('builds the four dashboards with unique uids', () => {
    expect(built.map((d) => d.uid).sort()).toEqual([
      'gelombang-bottlenecks',
      'gelombang-funnel',
      'gelombang-load-generator',
      'gelombang-service',
    ]);
  });

  it.each(built.map((d) => [d.uid, d] as const))(
    '%s: every panel has a datasource and a PromQL target',
    (_, d) => {
      const panels = flatten(d.panels).filter((p) => p.type !== 'row');
      expect(panels.length).toBeGreaterThan(3);
      for (const p of panels) {
        expect(p.datasource, p.title).toEqual(DATASOURCE);
        expect(p.targets?.length, p.title).toBeGreaterThan(0);
        for (const t of p.targets ?? []) {
          expect(t.expr?.trim(), p.title).toBeTruthy();
          expect(t.datasource, p.title).toEqual(DATASOURCE);
        }
        const refIds = (p.targets ?? []).map((t) => t.refId);
        expect(new Set(refIds).size, `${p.title}: refIds ${refIds}`).toBe(refIds.length);
      }
    },
  );

  it.each(built.map((d) => [d.uid, d] as const))('%s: panel ids are unique, rows included', (_, d) => {
    const ids = flatten(d.panels).map((p) => p.id);
    expect(ids.every((id) => typeof id === 'number')).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each(built.map((d) => [d.uid, d] as const))(
    '%s: has the run and scenario variables and the fault annotation',
    (_, d) => {
      const vars = (d.templating?.list ?? []).map((v) => v.name);
      expect(vars).toEqual(expect.arrayContaining(['testid', 'scenario']));
      const fault = d.annotations?.list?.find((a) => a.name === 'Fault injections');
      expect(fault?.expr).toContain('station_config_changes_total');
    },
  );

  it('every load-generator query filters on the selected run and scenario', () => {
    const d = built.find((x) => x.uid === 'gelombang-load-generator');
    const exprs = flatten(d?.panels).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
    expect(exprs.length).toBeGreaterThan(5);
    for (const e of exprs) expect(e).toContain('testid=~"$testid"');
  });

  it('the Bottlenecks dashboard repeats one USE row per dependency and draws capacity on the same panel', () => {
    const d = built.find((x) => x.uid === 'gelombang-bottlenecks');
    const panels = flatten(d?.panels) as Array<
      Panel & { repeat?: string; fieldConfig?: { overrides?: unknown[] } }
    >;
    expect(panels.find((p) => p.type === 'row' && p.repeat === 'dependency')).toBeDefined();
    const use = panels.find((p) => p.title === '$dependency: utilisation vs capacity');
    expect(use?.targets?.map((t) => t.expr)).toEqual([
      'dependency:station_in_flight:sum{dependency=~"$dependency"}',
      'dependency:station_capacity:sum{dependency=~"$dependency"}',
    ]);
    expect(use?.fieldConfig?.overrides?.length).toBe(1);
  });
});

describe('allDashboardQueries', () => {
  const queries = allDashboardQueries();

  it('lists every target of every panel, every variable and annotation, and every rule', () => {
    const targets = built.flatMap((d) => flatten(d.panels).flatMap((p) => p.targets ?? []));
    const fromDashboards = queries.filter((q) => !q.dashboard.startsWith('rules:'));
    const variablesAndAnnotations = fromDashboards.filter((q) => /^(variable|annotation):/.test(q.panel));
    expect(fromDashboards.length - variablesAndAnnotations.length).toBe(targets.length);
    expect(variablesAndAnnotations.length).toBeGreaterThanOrEqual(4 * 4);
    expect(queries.filter((q) => q.dashboard.startsWith('rules:')).length).toBe(loadRules().length);
    expect(queries).toContainEqual({
      dashboard: 'gelombang-bottlenecks',
      panel: 'variable:dependency',
      expr: 'station_capacity',
    });
  });

  it('every metric a query selects is one the stack exposes or a recording rule records', () => {
    const recorded = new Set(
      loadRules()
        .filter((r) => r.kind === 'record')
        .map((r) => r.name),
    );
    const unknown = queries.flatMap((q) =>
      metricNames(resolveGrafanaVariables(q.expr))
        .filter((n) => !EXPOSED.has(n) && !recorded.has(n))
        .map((n) => `${q.dashboard} / ${q.panel}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it("the services' metric names are the ones their code registers", () => {
    const sources = [
      'station/metrics.ts',
      'registration/metrics.ts',
      'registration/main.ts',
      'registration/waiting-room.ts',
      'registration/mailer.ts',
      'upload/server.ts',
      'email/server.ts',
    ]
      .map((f) => readFileSync(join(import.meta.dirname, '../mock-services', f), 'utf8'))
      .join('\n');
    const missing = [...EXPOSED]
      .filter((n) => /^(gelombang|station|email|upload)_/.test(n))
      .map((n) => n.replace(/_(bucket|count)$/, ''))
      .filter((n) => !sources.includes(`'${n}'`));
    expect(missing).toEqual([]);
  });

  it('the metric-name check notices a misspelt metric', () => {
    expect(metricNames('sum by (dependency) (rate(station_request_total{outcome!="ok"}[1m])) > 0')).toEqual([
      'station_request_total',
    ]);
  });

  it.skipIf(!promtool)('every expression parses as PromQL once Grafana has substituted its variables', () => {
    const failures = unparsableExpressions(
      promtool as string,
      queries.map((q) => resolveGrafanaVariables(q.expr)),
    );
    expect(failures).toEqual([]);
  });

  it.skipIf(!promtool)('the parse check rejects a broken expression and names it', () => {
    const failures = unparsableExpressions(promtool as string, [
      'up',
      'sum(rate(up[$__rate_interval]))',
      'up{',
    ]);
    expect(failures.map((f) => f.expr)).toEqual(['sum(rate(up[$__rate_interval]))', 'up{']);
  });
});

describe('queries that return data only with a knob on', () => {
  const queries = allDashboardQueries();

  it('every conditional metric is one the stack exposes', () => {
    expect(Object.keys(CONDITIONAL_METRICS).filter((m) => !EXPOSED.has(m))).toEqual([]);
  });

  it('a query is conditional exactly when it names a conditional metric', () => {
    for (const q of queries) {
      const names = metricNames(resolveGrafanaVariables(q.expr));
      const conditional = names.some((n) => n in CONDITIONAL_METRICS);
      expect(q.onlyWhen !== undefined, `${q.dashboard} / ${q.panel}`).toBe(conditional);
    }
    expect(queries.filter((q) => q.onlyWhen).length).toBeGreaterThan(5);
  });

  it('names the knob that makes each hardened-design panel show data', () => {
    const of = (panel: string) =>
      queries.filter((q) => q.dashboard === 'gelombang-service' && q.panel === panel).map((q) => q.onlyWhen);
    expect(of('Ministry circuit breakers')).toEqual(['MINISTRY_BREAKER=on']);
    expect(of('Waiting room')).toEqual(['ADMISSION_RATE > 0', undefined]);
    expect(of('Email: dead-lettered and duplicate mails')).toEqual([undefined, undefined]);
    expect(queries.find((q) => q.panel === 'MinistryCircuitOpen')?.onlyWhen).toBe('MINISTRY_BREAKER=on');
  });

  it('matches whole metric names, not a prefix or a recorded series', () => {
    expect(conditionsOf('max(gelombang_ministry_breaker_state{job="registration"})')).toBe(
      'MINISTRY_BREAKER=on',
    );
    expect(conditionsOf('gelombang_ministry_breaker_state_seconds')).toBeUndefined();
    expect(conditionsOf('dependency:gelombang_ministry_breaker_state:max')).toBeUndefined();
    expect(conditionsOf('gelombang_email_dead_letters_total')).toBeUndefined();
  });
});

describe('resolveGrafanaVariables', () => {
  it('substitutes built-in and dashboard variables, braced or bare', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${name} syntax, not a JS template
    expect(resolveGrafanaVariables('rate(x{testid=~"$testid"}[$__rate_interval]) + y[${__range}]')).toBe(
      'rate(x{testid=~".*"}[1m]) + y[1h]',
    );
    expect(resolveGrafanaVariables('x{testid=~"$testid"}', { testid: 'run-7' })).toBe('x{testid=~"run-7"}');
  });

  it('refuses an unknown variable rather than sending it to Prometheus', () => {
    expect(() => resolveGrafanaVariables('x[$nope]')).toThrow(/\$nope/);
  });
});

describe('domain coverage', () => {
  it('the funnel conversion rules cover every pair of consecutive stages', () => {
    const text = readFileSync(join(import.meta.dirname, 'prometheus/rules/gelombang.rules.yml'), 'utf8');
    for (let i = 1; i < FUNNEL_STAGES.length; i++) {
      expect(text).toContain(`stage: ${FUNNEL_STAGES[i]}\n          from: ${FUNNEL_STAGES[i - 1]}`);
    }
  });

  it('queries are per dependency, never hard-coded to one of them', () => {
    const perDependency = allDashboards()
      .flatMap((b) => dashboardQueries(b.dashboard))
      .filter((q) => DEPENDENCIES.some((dep) => q.expr.includes(`dependency="${dep}"`)));
    expect(perDependency).toEqual([]);
  });
});
