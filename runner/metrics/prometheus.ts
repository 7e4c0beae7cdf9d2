import type { Sink } from './sinks.ts';
import { trendStat } from './sinks.ts';
import type { Store } from './store.ts';

/**
 * The runner's live metrics in the Prometheus text format, named as k6's experimental Prometheus
 * remote-write output names them, so the same dashboards serve both engines: counters
 * `k6_<name>_total`, gauges `k6_<name>`, rates `k6_<name>_rate`, trends one gauge per stat
 * `k6_<name>_<stat>` (p(99) -> p99, p(99.9) -> p999; time trends in seconds, as that output
 * converts them). Two deliberate differences from k6 (internal/output/prometheusrw): its default
 * K6_PROMETHEUS_RW_TREND_STATS is only p(99), ours is the usual dashboard set; and it divides
 * every stat of a time trend by 1000, `count` included, which we do not (a count is no duration).
 */

export const DEFAULT_PROMETHEUS_TREND_STATS = [
  'p(99)',
  'p(95)',
  'p(90)',
  'avg',
  'min',
  'max',
  'med',
  'count',
];

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const labelName = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, '_').replace(/^([0-9])/, '_$1');

function labels(tags: Record<string, string>, extra: Record<string, string>): string {
  const all = { ...tags, ...extra };
  // k6's remote write drops tags with an empty value (Prometheus treats them as absent anyway).
  const keys = Object.keys(all)
    .filter((k) => all[k] !== '')
    .sort();
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${labelName(k)}="${escapeLabel(all[k] as string)}"`).join(',')}}`;
}

export function statSuffix(stat: string): string {
  return stat.startsWith('p(') ? `p${stat.slice(2, -1).replace(/\./g, '')}` : stat;
}

export function prometheusText(
  store: Store,
  o: { prefix?: string; trendStats?: readonly string[]; extraLabels?: Record<string, string> } = {},
): string {
  const prefix = o.prefix ?? 'k6_';
  const stats = o.trendStats ?? DEFAULT_PROMETHEUS_TREND_STATS;
  const extra = o.extraLabels ?? {};
  const out: string[] = [];
  for (const m of [...store.metrics.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const series: Array<{ tags: Record<string, string>; sink: Sink }> =
      m.series.size > 0 ? [...m.series.values()] : [{ tags: {}, sink: m.sink }];
    const base = `${prefix}${m.name}`;
    switch (m.type) {
      case 'counter':
        out.push(`# TYPE ${base}_total counter`);
        for (const s of series)
          if (s.sink.kind === 'counter') out.push(`${base}_total${labels(s.tags, extra)} ${s.sink.count}`);
        break;
      case 'gauge':
        out.push(`# TYPE ${base} gauge`);
        for (const s of series)
          if (s.sink.kind === 'gauge' && s.sink.set)
            out.push(`${base}${labels(s.tags, extra)} ${s.sink.value}`);
        break;
      case 'rate':
        out.push(`# TYPE ${base}_rate gauge`);
        for (const s of series) {
          if (s.sink.kind === 'rate' && s.sink.total > 0)
            out.push(`${base}_rate${labels(s.tags, extra)} ${s.sink.passes / s.sink.total}`);
        }
        break;
      case 'trend':
        for (const stat of stats) {
          const name = `${base}_${statSuffix(stat)}`;
          out.push(`# TYPE ${name} gauge`);
          for (const s of series) {
            if (s.sink.kind !== 'trend' || s.sink.count === 0) continue;
            const v = trendStat(s.sink, stat) ?? 0;
            out.push(
              `${name}${labels(s.tags, extra)} ${m.contains === 'time' && stat !== 'count' ? v / 1000 : v}`,
            );
          }
        }
        break;
    }
  }
  return `${out.join('\n')}\n`;
}
