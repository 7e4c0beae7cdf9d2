import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { bottlenecksDashboard } from './bottlenecks.ts';
import { funnelDashboard } from './funnel.ts';
import { loadGeneratorDashboard } from './load-generator.ts';
import { CONDITIONAL_METRICS } from './metrics.ts';
import { loadRules } from './rules.ts';
import { serviceDashboard } from './service.ts';

/**
 * Every dashboard gelombang ships, and every PromQL expression they and the rule files evaluate:
 * the list a test hands to promtool (does it parse?) and that an integration test can run against
 * a Prometheus that scraped a live rehearsal (does it return data?).
 */

export interface BuiltDashboard {
  /** file name under dashboards/build/ */
  file: string;
  dashboard: Dashboard;
}

export function allDashboards(): BuiltDashboard[] {
  return [
    { file: 'funnel.json', dashboard: funnelDashboard() },
    { file: 'bottlenecks.json', dashboard: bottlenecksDashboard() },
    { file: 'load-generator.json', dashboard: loadGeneratorDashboard() },
    { file: 'service.json', dashboard: serviceDashboard() },
  ];
}

export interface DashboardQuery {
  /** a dashboard's uid, or `rules:<group>` for a rule */
  dashboard: string;
  /** a panel's title, a variable or annotation (`variable:testid`, `annotation:...`), or a rule's name */
  panel: string;
  /** PromQL, possibly with Grafana variables ($testid, $__rate_interval...): see resolveGrafanaVariables */
  expr: string;
  /**
   * Set when the query names a metric of CONDITIONAL_METRICS: what must be on, or have happened,
   * for it to return data. Absent: it returns data in any rehearsal, the 2020 defaults included.
   */
  onlyWhen?: string;
}

/** The conditions of the CONDITIONAL_METRICS an expression names, joined; undefined if none. */
export function conditionsOf(expr: string): string | undefined {
  const found = Object.entries(CONDITIONAL_METRICS)
    .filter(([metric]) => new RegExp(`(?<![\\w:])${metric}(?![\\w:])`).test(expr))
    .map(([, when]) => when);
  return found.length > 0 ? found.join('; ') : undefined;
}

function withConditions(q: DashboardQuery): DashboardQuery {
  const onlyWhen = conditionsOf(q.expr);
  return onlyWhen ? { ...q, onlyWhen } : q;
}

interface PanelJson {
  title?: string;
  type?: string;
  targets?: Array<{ expr?: unknown }>;
  panels?: PanelJson[];
}

function panelsOf(d: Dashboard): PanelJson[] {
  const out: PanelJson[] = [];
  const visit = (p: PanelJson) => {
    out.push(p);
    p.panels?.forEach(visit);
  };
  (d.panels as PanelJson[] | undefined)?.forEach(visit);
  return out;
}

export function dashboardQueries(d: Dashboard): DashboardQuery[] {
  const uid = d.uid ?? d.title ?? '';
  const out: DashboardQuery[] = [];
  for (const p of panelsOf(d)) {
    for (const t of p.targets ?? []) {
      if (typeof t.expr === 'string') out.push({ dashboard: uid, panel: p.title ?? '', expr: t.expr });
    }
  }
  for (const v of d.templating?.list ?? []) {
    const q = v.query;
    const text = typeof q === 'string' ? q : typeof q?.query === 'string' ? q.query : undefined;
    // label_values(expr, label) is Grafana's, not PromQL: the selector inside is what Prometheus sees.
    const m = text ? /^label_values\((.+),\s*\w+\)$/.exec(text) : null;
    if (m?.[1]) out.push({ dashboard: uid, panel: `variable:${v.name}`, expr: m[1] });
  }
  for (const a of d.annotations?.list ?? []) {
    if (a.expr) out.push({ dashboard: uid, panel: `annotation:${a.name}`, expr: a.expr });
  }
  return out.map(withConditions);
}

/** Every PromQL expression of every panel, variable and annotation, and of every recording and alerting rule. */
export function allDashboardQueries(): DashboardQuery[] {
  return [
    ...allDashboards().flatMap((b) => dashboardQueries(b.dashboard)),
    ...loadRules().map((r) => withConditions({ dashboard: `rules:${r.group}`, panel: r.name, expr: r.expr })),
  ];
}

/** Values for Grafana's built-in and gelombang's variables, as a query is sent over a one-hour range. */
export const DEFAULT_VARIABLE_VALUES: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '1h',
  testid: '.*',
  scenario: '.*',
  dependency: '.*',
  job: 'registration',
};

/**
 * Replaces $name and ${name} as Grafana would before sending a query to Prometheus, so that the
 * expression can be parsed by promtool or evaluated by the HTTP API. `$1` (a label_replace
 * back-reference in a rule) is not a variable and stays.
 */
export function resolveGrafanaVariables(expr: string, values: Record<string, string> = {}): string {
  const all = { ...DEFAULT_VARIABLE_VALUES, ...values };
  return expr.replace(
    /\$\{([A-Za-z_]\w*)\}|\$([A-Za-z_]\w*)/g,
    (_whole, braced: string | undefined, bare: string | undefined) => {
      const name = braced ?? bare ?? '';
      const v = all[name];
      if (v === undefined) throw new Error(`no value for Grafana variable $${name} in: ${expr}`);
      return v;
    },
  );
}
