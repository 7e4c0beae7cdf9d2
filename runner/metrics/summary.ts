import { createHash } from 'node:crypto';
import { isEmpty, sinkValues } from './sinks.ts';
import type { Store } from './store.ts';
import type { ThresholdResult } from './thresholds.ts';

/**
 * The end-of-test data in k6's shapes: handleSummary's `data`, the legacy `--summary-export`
 * JSON, and the text summary printed when the script has no handleSummary.
 */

export const DEFAULT_TREND_STATS = ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)'] as const;

export interface SummaryMetric {
  type: 'counter' | 'gauge' | 'rate' | 'trend';
  contains: 'default' | 'time' | 'data';
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

export interface SummaryCheck {
  name: string;
  path: string;
  id: string;
  passes: number;
  fails: number;
}

export interface SummaryGroup {
  name: string;
  path: string;
  id: string;
  groups: SummaryGroup[];
  checks: SummaryCheck[];
}

export interface SummaryData {
  root_group: SummaryGroup;
  options: { summaryTrendStats: string[]; summaryTimeUnit: string; noColor: boolean };
  state: { isStdOutTTY: boolean; isStdErrTTY: boolean; testRunDurationMs: number };
  metrics: Record<string, SummaryMetric>;
}

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export function buildSummaryData(
  store: Store,
  o: {
    thresholds: readonly ThresholdResult[];
    testRunDurationMs: number;
    summaryTrendStats?: readonly string[];
    /** k6's summaryTimeUnit: every time in the text summary in s, ms or us ('' or unset: k6's choice each) */
    summaryTimeUnit?: string;
    /** the groups k6 makes under the root: setup and teardown, when the script has them */
    groups?: readonly string[];
    isStdOutTTY?: boolean;
    isStdErrTTY?: boolean;
    noColor?: boolean;
  },
): SummaryData {
  const stats = [...(o.summaryTrendStats ?? DEFAULT_TREND_STATS)];
  const metrics: Record<string, SummaryMetric> = {};
  const withThresholds = (key: string, m: SummaryMetric) => {
    const mine = o.thresholds.filter((t) => t.threshold.key === key);
    if (mine.length) m.thresholds = Object.fromEntries(mine.map((t) => [t.threshold.source, { ok: t.ok }]));
    return m;
  };
  // k6 lists a metric once it has samples (or thresholds), and its submetrics under their selector.
  for (const m of [...store.metrics.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const hasThresholds = o.thresholds.some((t) => t.threshold.key === m.name);
    // A counter added only zeros has samples: k6 lists it at count 0 (CounterSink.IsEmpty).
    if (!isEmpty(m.sink) || hasThresholds) {
      metrics[m.name] = withThresholds(m.name, {
        type: m.type,
        contains: m.contains,
        values: sinkValues(m.sink, o.testRunDurationMs, stats),
      });
    }
    for (const sub of m.subs) {
      // As the metric itself: listed once it has samples or thresholds (k6 shows no
      // http_req_duration{expected_response:true} of a test without requests).
      if (isEmpty(sub.sink) && !o.thresholds.some((t) => t.threshold.key === sub.selector.key)) continue;
      metrics[sub.selector.key] = withThresholds(sub.selector.key, {
        type: m.type,
        contains: m.contains,
        values: sinkValues(sub.sink, o.testRunDurationMs, stats),
      });
    }
  }
  const group = (name: string, path: string): SummaryGroup => ({
    name,
    path,
    id: md5(path),
    groups: [],
    checks: [],
  });
  const root = group('', '');
  root.groups = (o.groups ?? []).map((name) => group(name, `::${name}`));
  for (const [path, [passes, fails]] of store.checks) {
    // A check's name cannot hold '::' (check() refuses it): the last one ends its group's path.
    const cut = path.lastIndexOf('::');
    const into = root.groups.find((g) => g.path === path.slice(0, cut)) ?? root;
    into.checks.push({ name: path.slice(cut + 2), path, id: md5(path), passes, fails });
  }
  return {
    root_group: root,
    options: {
      summaryTrendStats: stats,
      summaryTimeUnit: o.summaryTimeUnit ?? '',
      noColor: o.noColor ?? false,
    },
    state: {
      isStdOutTTY: o.isStdOutTTY ?? false,
      isStdErrTTY: o.isStdErrTTY ?? false,
      testRunDurationMs: o.testRunDurationMs,
    },
    metrics,
  };
}

/** k6's legacy `--summary-export` format (what its summary-wrapper.js calls oldJSONSummary). */
export function summaryExport(data: SummaryData): Record<string, unknown> {
  const metrics: Record<string, Record<string, unknown>> = {};
  for (const [name, m] of Object.entries(data.metrics)) {
    const flat: Record<string, unknown> = { ...m.values };
    if (m.thresholds && Object.keys(m.thresholds).length) {
      // The legacy shape records whether each threshold FAILED.
      flat.thresholds = Object.fromEntries(Object.entries(m.thresholds).map(([k, v]) => [k, !v.ok]));
    }
    if (m.type === 'rate' && 'rate' in flat) {
      flat.value = flat.rate;
      delete flat.rate;
    }
    metrics[name] = flat;
  }
  return { root_group: legacyGroup(data.root_group), metrics };
}

/** The legacy export keys a group's groups and checks by name. */
function legacyGroup(g: SummaryGroup): Record<string, unknown> {
  return {
    name: g.name,
    path: g.path,
    id: g.id,
    groups: Object.fromEntries(g.groups.map((sub) => [sub.name, legacyGroup(sub)])),
    checks: Object.fromEntries(g.checks.map((c) => [c.name, c])),
  };
}

// The formats below are k6's summary.js (v0.47 and today's alike): trailing zeros dropped,
// durations truncated rather than rounded, so a summary reads as k6's does.
function fixedNoTrailingZeros(v: number, digits: number): string {
  return String(Number.parseFloat(v.toFixed(digits)));
}

function fixedTruncated(v: number, digits: number): string {
  const mult = 10 ** digits;
  return fixedNoTrailingZeros(Math.trunc(mult * v) / mult, digits);
}

function humanBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  if (n < 10) return `${n} B`;
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const v = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[e]}`;
}

function humanTime(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 0.001) return `${Math.trunc(ms * 1_000_000)}ns`;
  if (ms < 1) return `${fixedTruncated(ms * 1000, 2)}µs`;
  if (ms < 1000) return `${fixedTruncated(ms, 2)}ms`;
  const seconds = `${fixedTruncated((ms % 60_000) / 1000, ms > 60_000 ? 0 : 2)}s`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes < 1) return seconds;
  const hours = Math.trunc(minutes / 60);
  return `${hours < 1 ? '' : `${hours}h`}${minutes % 60}m${seconds}`;
}

/** k6's summary.js unitMap: a time in one unit, two decimals */
const TIME_UNITS: Record<string, { unit: string; coef: number }> = {
  s: { unit: 's', coef: 0.001 },
  ms: { unit: 'ms', coef: 1 },
  us: { unit: 'µs', coef: 1000 },
};

function fmtIn(m: SummaryMetric, v: number, timeUnit: string): string {
  // a rate as a share, truncated rather than rounded
  if (m.type === 'rate') return `${(Math.trunc(v * 10_000) / 100).toFixed(2)}%`;
  const fixed = TIME_UNITS[timeUnit];
  if (m.contains === 'time' && fixed) return `${(v * fixed.coef).toFixed(2)}${fixed.unit}`;
  if (m.contains === 'time') return humanTime(v);
  if (m.contains === 'data') return humanBytes(v);
  return fixedNoTrailingZeros(v, 6);
}

const GREEN = 32;
const RED = 31;
const CYAN = 36;
const FAINT = 2;

/**
 * The end-of-test summary laid out as k6 v0.47's text summary: the checks by group (setup's and
 * teardown's under their own heading), then one line a metric, its submetrics under it, the
 * values in columns as wide as their widest.
 */
export function textSummary(
  data: SummaryData,
  opts: { indent?: string; enableColors?: boolean } = {},
): string {
  const indent = opts.indent ?? ' ';
  const paint = (text: string, ...codes: number[]) =>
    opts.enableColors ? `\u001b[${codes.join(';')}m${text}\u001b[0m` : text;
  const width = (text: string) => [...text].length;
  const lines: string[] = [];

  const group = (at: string, g: SummaryGroup) => {
    if (g.name !== '') {
      lines.push(`${at}█ ${g.name}\n`);
      at = `${at}  `;
    }
    for (const c of g.checks) {
      if (c.fails === 0) lines.push(paint(`${at}✓ ${c.name}`, GREEN));
      else {
        const share = Math.floor((100 * c.passes) / (c.passes + c.fails));
        lines.push(paint(`${at}✗ ${c.name}\n${at} ↳  ${share}% — ✓ ${c.passes} / ✗ ${c.fails}`, RED));
      }
    }
    if (g.checks.length > 0) lines.push('');
    for (const sub of g.groups) group(at, sub);
  };
  group(`${indent}    `, data.root_group);

  // Submetrics stay under their metric: by the metric's name, then by the selector.
  const names = Object.keys(data.metrics).sort((a, b) => {
    const pa = a.split('{', 1)[0] as string;
    const pb = b.split('{', 1)[0] as string;
    return pa.localeCompare(pb) || a.slice(pa.length).localeCompare(b.slice(pb.length));
  });
  const sub = (name: string) => (name.includes('{') ? '  ' : '');
  const label = (name: string) =>
    name.includes('{') ? `{ ${name.slice(name.indexOf('{') + 1, -1)} }` : name;
  const nameWidth = Math.max(0, ...names.map((n) => width(sub(n) + label(n))));

  // Each metric's columns: a trend's stats, or a value and its extras; each column as wide as its widest.
  const stats = data.options.summaryTrendStats;
  const unit = data.options.summaryTimeUnit;
  const fmt = (m: SummaryMetric, v: number) => fmtIn(m, v, unit);
  const columns = new Map<string, string[]>();
  const trendWidths: number[] = stats.map(() => 0);
  let valueWidth = 0;
  const extraWidths = [0, 0];
  for (const name of names) {
    const m = data.metrics[name] as SummaryMetric;
    const v = m.values;
    let cols: string[];
    if (m.type === 'trend') {
      cols = stats.map((k) => (k === 'count' ? String(v[k] ?? 0) : fmt(m, v[k] ?? 0)));
      cols.forEach((c, i) => {
        trendWidths[i] = Math.max(trendWidths[i] as number, width(c));
      });
    } else {
      cols =
        m.type === 'counter'
          ? [fmt(m, v.count ?? 0), `${fmt(m, v.rate ?? 0)}/s`]
          : m.type === 'gauge'
            ? [fmt(m, v.value ?? 0), `min=${fmt(m, v.min ?? 0)}`, `max=${fmt(m, v.max ?? 0)}`]
            : [fmt(m, v.rate ?? 0), `✓ ${v.passes ?? 0}`, `✗ ${v.fails ?? 0}`];
      valueWidth = Math.max(valueWidth, width(cols[0] as string));
      cols.slice(1).forEach((c, i) => {
        extraWidths[i] = Math.max(extraWidths[i] as number, width(c));
      });
    }
    columns.set(name, cols);
  }
  const spaces = (n: number) => ' '.repeat(Math.max(0, n));

  for (const name of names) {
    const m = data.metrics[name] as SummaryMetric;
    const cols = columns.get(name) as string[];
    let values: string;
    if (m.type === 'trend') {
      values = cols
        .map((c, i) => `${stats[i]}=${paint(c, CYAN)}${spaces((trendWidths[i] as number) - width(c))}`)
        .join(' ');
    } else {
      const [first, ...extras] = cols as [string, ...string[]];
      values = paint(first, CYAN) + spaces(valueWidth - width(first));
      if (extras.length === 1) values += ` ${paint(extras[0] as string, CYAN, FAINT)}`;
      else if (extras.length > 1)
        values += ` ${extras.map((e, i) => paint(e, CYAN, FAINT) + spaces((extraWidths[i] as number) - width(e))).join(' ')}`;
    }
    let mark = ' ';
    if (m.thresholds) {
      const failed = Object.values(m.thresholds).some((t) => !t.ok);
      mark = paint(failed ? '✗' : '✓', failed ? RED : GREEN);
    }
    const l = label(name);
    const dots = paint(`${'.'.repeat(nameWidth - width(l) - width(sub(name)) + 3)}:`, FAINT);
    lines.push(`${indent}  ${sub(name)}${mark} ${l}${dots} ${values}`);
  }
  return lines.join('\n');
}
