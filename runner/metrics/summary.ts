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

export interface SummaryData {
  root_group: { name: ''; path: ''; id: string; groups: []; checks: SummaryCheck[] };
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
  const checks = [...store.checks.entries()].map(([name, [passes, fails]]) => ({
    name,
    path: `::${name}`,
    id: md5(`::${name}`),
    passes,
    fails,
  }));
  return {
    root_group: { name: '', path: '', id: md5(''), groups: [], checks },
    options: { summaryTrendStats: stats, summaryTimeUnit: '', noColor: o.noColor ?? false },
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
  return {
    root_group: {
      name: data.root_group.name,
      path: data.root_group.path,
      id: data.root_group.id,
      groups: {},
      checks: Object.fromEntries(data.root_group.checks.map((c) => [c.name, c])),
    },
    metrics,
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

function fmt(m: SummaryMetric, v: number): string {
  if (m.contains === 'time') return humanTime(v);
  if (m.contains === 'data') return humanBytes(v);
  return fixedNoTrailingZeros(v, 6);
}

/** The end-of-test summary as k6's text summary lays it out. */
export function textSummary(
  data: SummaryData,
  opts: { indent?: string; enableColors?: boolean } = {},
): string {
  const indent = opts.indent ?? ' ';
  const color = (code: number, s: string) => (opts.enableColors ? `\u001b[${code}m${s}\u001b[0m` : s);
  const lines: string[] = [];
  for (const c of data.root_group.checks) {
    const mark = c.fails === 0 ? color(32, '✓') : color(31, '✗');
    lines.push(`${indent}  ${mark} ${c.name}`);
    if (c.fails > 0)
      lines.push(
        `${indent}   ${color(31, `↳  ${Math.round((c.passes / (c.passes + c.fails)) * 100)}% — ✓ ${c.passes} / ✗ ${c.fails}`)}`,
      );
  }
  if (lines.length) lines.push('');
  const names = Object.keys(data.metrics);
  const label = (name: string) =>
    name.includes('{') ? `  { ${name.slice(name.indexOf('{') + 1, -1)} }` : name;
  const width = Math.max(...names.map((n) => label(n).length)) + 3;
  for (const name of names) {
    const m = data.metrics[name] as SummaryMetric;
    const failed = m.thresholds ? Object.values(m.thresholds).some((t) => !t.ok) : false;
    const mark = m.thresholds ? (failed ? color(31, '✗') : color(32, '✓')) : ' ';
    const l = label(name);
    let value: string;
    const v = m.values;
    switch (m.type) {
      case 'counter':
        value = `${fmt(m, v.count ?? 0).padEnd(8)} ${fmt(m, v.rate ?? 0)}/s`;
        break;
      case 'gauge':
        value = `${fmt(m, v.value ?? 0).padEnd(8)} min=${fmt(m, v.min ?? 0).padEnd(7)} max=${fmt(m, v.max ?? 0)}`;
        break;
      case 'rate':
        value = `${((v.rate ?? 0) * 100).toFixed(2)}% ${v.passes ?? 0} out of ${(v.passes ?? 0) + (v.fails ?? 0)}`;
        break;
      case 'trend':
        // k6 prints a trend's count as the number it is, whatever the trend holds (summary.js).
        value = Object.entries(v)
          .map(([k, x]) => `${k}=${k === 'count' ? String(x) : fmt(m, x)}`.padEnd(14))
          .join(' ')
          .trimEnd();
        break;
    }
    lines.push(`${indent}${mark} ${l}${'.'.repeat(Math.max(1, width - l.length))}: ${value}`);
  }
  return lines.join('\n');
}
