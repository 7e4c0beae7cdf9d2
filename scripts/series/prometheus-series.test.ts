import { describe, expect, it } from 'vitest';
import { seriesValues, slowRatioLabels, type Timeseries } from '../../reports/record.ts';
import { PrometheusApi, type PromSeries } from './prometheus.ts';
import { runnerSeries } from './prometheus-series.ts';

/**
 * A Prometheus that answers from fixed cumulative counts, as k6's remote write leaves them: each
 * query is matched by the metric it names (the real one is in test/prometheus-record.test.ts).
 */
class CannedPrometheus extends PrometheusApi {
  constructor(
    private readonly counts: Record<string, Array<{ metric: Record<string, string>; at: number[] }>>,
  ) {
    super('http://127.0.0.1:9');
  }

  private answer(query: string): Array<{ metric: Record<string, string>; at: number[] }> {
    const name = Object.keys(this.counts).find((n) => query.includes(`${n}{`));
    return name ? (this.counts[name] ?? []) : [];
  }

  override async range(query: string, start: number, _end: number, step: number): Promise<PromSeries[]> {
    return this.answer(query).map((s) => ({
      metric: s.metric,
      values: s.at.map((v, i) => [start + i * step, String(v)] as [number, string]),
    }));
  }

  override async instant(query: string, time: number) {
    return this.answer(query).map((s) => ({
      metric: s.metric,
      value: [time, String(s.at.at(-1))] as [number, string],
    }));
  }
}

const grid = { startS: 1_000, intervalSeconds: 2, n: 4 };
const asTimeseries = (series: Awaited<ReturnType<typeof runnerSeries>>): Timeseries => ({
  format: 'gelombang/timeseries',
  version: 1,
  intervalSeconds: grid.intervalSeconds,
  startedAtMs: grid.startS * 1000,
  t: [2, 4, 6, 8],
  sources: ['prometheus'],
  series,
});

describe("the load generator's series from k6's metrics in Prometheus", () => {
  it("gives each interval's share of a step's slow requests, from the scenario's counter and http_reqs", async () => {
    const api = new CannedPrometheus({
      k6_http_reqs_total: [{ metric: { step: 'login' }, at: [0, 10, 30, 30, 50] }],
      k6_step_slow_requests_total: [{ metric: { step: 'login', above_ms: '800' }, at: [0, 1, 16, 16, 16] }],
    });
    const ts = asTimeseries(await runnerSeries(api, grid));
    // 1 of 10, 15 of 20, none asked (no share), 0 of 20.
    expect(seriesValues(ts, 'step_slow_ratio', slowRatioLabels('login'))).toEqual([0.1, 0.75, null, 0]);
    expect(seriesValues(ts, 'step_requests', { step: 'login' })).toEqual([5, 10, 0, 10]);
  });

  it('keeps the objective the scenario counted above, and has no share where it counted none', async () => {
    const api = new CannedPrometheus({
      k6_http_reqs_total: [
        { metric: { step: 'login' }, at: [0, 10, 20, 30, 40] },
        { metric: { step: 'join_wave' }, at: [0, 4, 8, 12, 16] },
      ],
      // A bundle made when login's objective was 600 ms: not the share above today's.
      k6_step_slow_requests_total: [{ metric: { step: 'login', above_ms: '600' }, at: [0, 2, 4, 6, 8] }],
    });
    const series = await runnerSeries(api, grid);
    const slow = series.filter((s) => s.name === 'step_slow_ratio');
    expect(slow.map((s) => s.labels)).toEqual([{ step: 'login', above_ms: '600' }]);
    expect(slow[0]?.values).toEqual([0.2, 0.2, 0.2, 0.2]);
    const ts = asTimeseries(series);
    expect(seriesValues(ts, 'step_slow_ratio', slowRatioLabels('login'))).toBeUndefined();
    expect(seriesValues(ts, 'step_slow_ratio', slowRatioLabels('join_wave'))).toBeUndefined();
  });
});
