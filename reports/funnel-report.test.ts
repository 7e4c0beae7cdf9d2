import { describe, expect, it } from 'vitest';
import { bottleneck } from './bottleneck.ts';
import { buildReport, funnelRows, headroom, lossRows } from './funnel-report.ts';
import { RUN_RECORD_VERSION, type RunRecord, type Timeseries } from './record.ts';

/**
 * The report's arithmetic on hand-made records, every figure computed by hand in the comments.
 * Their six intervals are 5 s long: a saturation must last 10 s (model/station.ts SATURATION),
 * two intervals here, and a missed objective 3 s, which is never less than two intervals.
 */

const INTERVAL = 5;

function record(o: {
  funnel: Array<[string, string, string | null, number]>;
  series?: Timeseries['series'];
  scale?: number;
  compress?: number;
}): RunRecord {
  const t = [1, 2, 3, 4, 5, 6].map((i) => i * INTERVAL);
  return {
    dir: '/nowhere',
    manifest: {
      format: 'gelombang/run-record',
      version: RUN_RECORD_VERSION,
      runId: 'hand',
      engine: { name: 'gelombang', version: '0' },
      startedAt: '2026-11-23T00:00:00.000Z',
      endedAt: '2026-11-23T00:00:06.000Z',
      exitCode: 0,
      scenario: { name: 'registration-day', file: 'x', env: {}, options: {} },
      replay: {
        profile: 'p',
        scale: o.scale ?? 0.001,
        compress: o.compress ?? 60,
        windowMinutes: [0, 6],
        profilePerMinute: [60_000, 80_000, 40_000, 20_000, 10_000, 5_000],
        durationSeconds: 6,
      },
      stack: { target: 'http://127.0.0.1:1', managed: true, knobs: {}, capacity: null },
      totals: {
        arrivals: 100,
        funnel: o.funnel.map(([stage, outcome, reason, count]) => ({ stage, outcome, reason, count })),
        steps: [
          {
            step: 'create_account',
            requests: 100,
            failed: 0,
            p50Ms: 100,
            p90Ms: 200,
            p95Ms: 300,
            p99Ms: 400,
            maxMs: 500,
          },
        ],
        droppedIterations: 0,
      },
    },
    summary: { metrics: {}, root_group: { checks: [] }, state: { testRunDurationMs: 6000 } },
    timeseries: {
      format: 'gelombang/timeseries',
      version: RUN_RECORD_VERSION,
      intervalSeconds: INTERVAL,
      startedAtMs: 0,
      t,
      sources: ['runner', 'services'],
      series: o.series ?? [],
    },
  };
}

const FUNNEL: Array<[string, string, string | null, number]> = [
  ['registered', 'continued', null, 100],
  ['email_verified', 'continued', null, 80],
  ['email_verified', 'left_by_choice', null, 10],
  ['email_verified', 'failed', 'dependency:email', 6],
  ['email_verified', 'in_progress', null, 4],
  ['biodata_verified', 'continued', null, 50],
  ['biodata_verified', 'rejected', 'too_young', 10],
  ['biodata_verified', 'rejected', 'nik_not_verified', 5],
  ['biodata_verified', 'failed', 'timeout', 15],
];

describe('the funnel', () => {
  it('converts stage to stage and beside the 2020 counts (recomputed from docs/2020.md)', () => {
    const rows = funnelRows(record({ funnel: FUNNEL }));
    expect(rows.map((r) => r.reached)).toEqual([100, 80, 50, 0, 0, 0]);
    expect(rows[1]?.conversion).toBeCloseTo(0.8, 12);
    expect(rows[2]?.conversion).toBeCloseTo(50 / 80, 12);
    expect(rows[3]?.conversion).toBe(0);
    // 1,063,028 / 1,432,133 and 624,090 / 1,063,028
    expect(rows[1]?.conversion2020).toBeCloseTo(0.742269, 6);
    expect(rows[2]?.conversion2020).toBeCloseTo(0.587087, 6);
    // no published count before joining a wave: nothing to recompute
    expect(rows[5]?.conversion2020).toBeNull();
    // ... but against everyone registered it compares: 77,834 / 1,432,133 (the press release's 5.43 %)
    expect(rows[5]?.ofRegistered2020).toBeCloseTo(0.054348, 6);
    expect(rows[3]?.ofRegistered2020).toBeNull();
    expect(rows[2]?.ofRegistered).toBeCloseTo(0.5, 12);
    // 50 registrants at a scale of 1/1000
    expect(rows[2]?.fullScale).toBe(50_000);
  });

  it('accounts for the people lost, by outcome and reason, and scales them back', () => {
    const rows = lossRows(record({ funnel: FUNNEL }));
    const biodata = rows.find((r) => r.stage === 'biodata_verified');
    expect(biodata?.outcomes).toEqual({
      continued: 50,
      left_by_choice: 0,
      in_progress: 0,
      failed: 15,
      rejected: 15,
    });
    expect(biodata?.rejectedReasons).toEqual({ too_young: 10, nik_not_verified: 5 });
    expect(biodata?.failedReasons).toEqual({ timeout: 15 });
    expect(rows.find((r) => r.stage === 'email_verified')?.fullScale.failed).toBe(6000);
  });
});

describe('the bottleneck and the headroom', () => {
  const series: Timeseries['series'] = [
    { name: 'arrivals', labels: {}, values: [10, 20, 30, 40, 40, 40] },
    { name: 'dependency_utilisation', labels: { dependency: 'email' }, values: [0.2, 0.5, 0.9, 1, 1, 1] },
    { name: 'dependency_utilisation', labels: { dependency: 'dukcapil' }, values: [0.1, 0.2, 1, 1, 1, 1] },
    { name: 'dependency_queue_ratio', labels: { dependency: 'dukcapil' }, values: [0, 0, 0.2, 0.6, 1, 1] },
    { name: 'step_requests', labels: { step: 'create_account' }, values: [10, 20, 30, 40, 40, 40] },
    {
      name: 'step_latency_ms',
      labels: { step: 'create_account', quantile: '0.95' },
      values: [100, 100, 100, 2000, 2500, 3000],
    },
    { name: 'step_failed_ratio', labels: { step: 'create_account' }, values: [0, 0, 0, 0, 0, 0] },
  ];

  it('names the dependencies that saturated within 10 s of each other together, first one first, with the arrival rate then and what followed', () => {
    const b = bottleneck(record({ funnel: FUNNEL, series }));
    // dukcapil >= 0.95 from interval 2 (t=15 s), email from interval 3 (t=20 s): 5 s apart
    expect(b.dependency).toBe('dukcapil');
    expect(b.tSeconds).toBe(15);
    expect(b.firstSaturated).toEqual([
      { kind: 'dependency', name: 'dukcapil', tSeconds: 15 },
      { kind: 'dependency', name: 'email', tSeconds: 20 },
    ]);
    // profile minute: 0 + 15 s x 60 / 60
    expect(b.profileMinute).toBe(15);
    // the mean of the arrivals in the 3 intervals up to it: (10 + 20 + 30) / 3
    expect(b.arrivalsPerSecond).toBe(20);
    // 20 per compressed second = 20 / 60 per real second, x 60 per minute, / 0.001 scale
    expect(b.fullScalePerMinute).toBe(20_000);
    expect(b.consequences).toEqual([
      'dukcapil saturated (at least 95 % of its servers busy for 10 s) (t=15 s)',
      'email saturated (at least 95 % of its servers busy for 10 s) (t=20 s)',
      'dukcapil queue over half full (t=20 s)',
      'create_account p95 above its SLO (2000 ms > 1500 ms) (t=20 s)',
    ]);
  });

  it('headroom: the best 5-interval mean arrival rate without a missed objective', () => {
    const h = headroom(record({ funnel: FUNNEL, series }));
    // the only 5-interval windows are [0..4] and [1..5]; both include interval 3 (missed): none held
    expect(h.sustainedPerSecond).toBeNull();
    const calm = series.map((s) =>
      s.name === 'step_latency_ms' ? { ...s, values: [100, 100, 100, 100, 100, 3000] } : s,
    );
    const h2 = headroom(record({ funnel: FUNNEL, series: calm }));
    // [10, 20, 30, 40, 40] -> 28 per second -> 28 x 60 / 60 / 0.001 = 28,000 per minute; peak 80,000
    expect(h2.sustainedPerSecond).toBe(28);
    expect(h2.sustainedFullScalePerMinute).toBe(28_000);
    expect(h2.profilePeakPerMinute).toBe(80_000);
    expect(h2.ratio).toBe(0.35);
    // interval 5 still missed (an excursion, too short to break the verdict): the figure is a limit, not a lower bound
    expect(h2.lowerBound).toBe(false);
    const never = calm.map((s) =>
      s.name === 'step_latency_ms' ? { ...s, values: [100, 100, 100, 100, 100, 100] } : s,
    );
    const h3 = headroom(record({ funnel: FUNNEL, series: never }));
    // [20, 30, 40, 40, 40] -> 34 per second, but nothing broke: at least that
    expect(h3.sustainedPerSecond).toBe(34);
    expect(h3.lowerBound).toBe(true);
  });

  const cpu: Timeseries['series'] = [
    { name: 'arrivals', labels: {}, values: [10, 20, 30, 40, 40, 40] },
    {
      name: 'dependency_utilisation',
      labels: { dependency: 'dukcapil' },
      values: [0.1, 0.2, 0.3, 0.5, 1, 1],
    },
    {
      name: 'process_cpu_cores',
      labels: { process: 'registration' },
      values: [0.4, 1.4, 1.5, 1.5, 1.5, 1.5],
    },
    { name: 'process_cpu_cores', labels: { process: 'runner' }, values: [0.1, 0.4, 0.4, 0.4, 0.4, 0.4] },
    { name: 'process_cpu_cores', labels: { process: 'ministry' }, values: [0, 0.03, 0.1, 0.1, 0.1, 0.1] },
    { name: 'event_loop_lag_ms', labels: { process: 'registration' }, values: [11, 40, 180, 200, 210, 210] },
    { name: 'step_requests', labels: { step: 'create_account' }, values: [10, 20, 30, 40, 40, 40] },
    {
      name: 'step_latency_ms',
      labels: { step: 'create_account', quantile: '0.95' },
      values: [100, 100, 100, 2000, 2500, 3000],
    },
  ];
  const withCores = (r: RunRecord): RunRecord => ({
    ...r,
    manifest: { ...r.manifest, machine: { cores: 2, cpu: 'x', node: 'v20' } },
  });

  it("names the machine's CPU when it ran out more than 10 s before any dependency, and the process that used the most", () => {
    const base = record({ funnel: FUNNEL, series: cpu });
    const r = withCores(base);
    const b = bottleneck(r);
    // from interval 1: 1.4 + 0.4 + 0.03 = 1.83 >= 0.9 x 2 = 1.8, and so on; dukcapil only from interval 4, 15 s later
    expect(b.resource).toEqual({
      kind: 'cpu',
      name: 'registration',
      detail: 'CPU: 1.8 of 2 cores busy (registration 1.4, runner 0.4)',
    });
    expect(b.tSeconds).toBe(10);
    expect(b.firstSaturated).toEqual([{ kind: 'cpu', name: 'registration', tSeconds: 10 }]);
    expect(b.dependency).toBe('dukcapil');
    // (10 + 20) / 2 arrivals per second up to it
    expect(b.arrivalsPerSecond).toBe(15);
    expect(b.cpu?.saturatedAtSeconds).toBe(10);
    expect(b.cpu?.processes.find((p) => p.process === 'registration')).toEqual({
      process: 'registration',
      peakCores: 1.5,
      peakEventLoopLagMs: 210,
    });
    expect(b.consequences).toEqual([
      'CPU: 1.8 of 2 cores busy (registration 1.4, runner 0.4) (t=10 s)',
      'registration event loop delayed 180 ms (p99) (t=15 s)',
      'create_account p95 above its SLO (2000 ms > 1500 ms) (t=20 s)',
      'dukcapil saturated (at least 95 % of its servers busy for 10 s) (t=25 s)',
    ]);
    const report = buildReport(r);
    expect(report.verdict.brokeAt?.resource?.kind).toBe('cpu');
    expect(report.verdict.headline).toContain("after the machine's CPU saturated: 1.8 of 2 cores busy");
    // without the machine's core count the CPU cannot be judged saturated: the dependency is named
    expect(bottleneck(base).resource?.kind).toBe('dependency');
  });

  it('names the CPU and a dependency together when they saturated 10 s apart or less, in the headline too', () => {
    const close = cpu.map((s) =>
      s.name === 'dependency_utilisation' ? { ...s, values: [0.1, 0.2, 0.3, 1, 1, 1] } : s,
    );
    const r = withCores(record({ funnel: FUNNEL, series: close }));
    // the CPU from t=10 s, dukcapil from t=20 s: 10 s apart
    expect(bottleneck(r).firstSaturated).toEqual([
      { kind: 'cpu', name: 'registration', tSeconds: 10 },
      { kind: 'dependency', name: 'dukcapil', tSeconds: 20 },
    ]);
    expect(buildReport(r).verdict.headline).toContain(
      "after the machine's CPU and dukcapil saturated within 10 s of each other (the machine's CPU at t=10 s, dukcapil at t=20 s)",
    );
  });

  it('the verdict broke when an objective was missed for the window, though the whole-run p95 was within it', () => {
    const report = buildReport(record({ funnel: FUNNEL, series }));
    // the run's overall p95 (300 ms) held; intervals 3-5 (t=20..30 s) missed it, 3 intervals >= the window of 2
    expect(report.steps[0]?.p95Ms).toBe(300);
    expect(report.verdict.held).toBe(false);
    expect(report.verdict.window).toEqual({ seconds: 10, intervals: 2, minRequests: 5 });
    expect(report.verdict.brokeAt).toEqual({
      tSeconds: 20,
      profileMinute: 20,
      step: 'create_account',
      objective: 'p95_ms',
      dependency: 'dukcapil',
      resource: {
        kind: 'dependency',
        name: 'dukcapil',
        detail: 'dukcapil: at least 95 % of its servers busy for 10 s',
      },
    });
    expect(report.verdict.episodes).toEqual([
      {
        fromSeconds: 20,
        toSeconds: 30,
        recoveredAtSeconds: null,
        misses: [
          {
            step: 'create_account',
            objective: 'p95_ms',
            fromSeconds: 20,
            toSeconds: 30,
            intervals: 3,
            worst: 3000,
          },
        ],
      },
    ]);
    expect(report.verdict.slos.find((s) => s.objective === 'p95_ms')).toMatchObject({
      observed: 300,
      held: false,
    });
    expect(report.verdict.headline).toBe(
      'Broke at t=20 s (minute 20 of the profile): create_account p95 above its SLO (2000 ms > 1500 ms), after dukcapil and email saturated within 5 s of each other (dukcapil at t=15 s, email at t=20 s). Objectives missed over the run: create_account p95.',
    );
  });

  it('within means at most: a p95 equal to its objective holds, over the run and in every interval', () => {
    const atObjective = series.map((s) =>
      s.name === 'step_latency_ms' ? { ...s, values: [1500, 1500, 1500, 1500, 1500, 1500] } : s,
    );
    const base = record({ funnel: FUNNEL, series: atObjective });
    const steps = [
      { ...base.manifest.totals.steps[0], step: 'create_account', p95Ms: 1500 },
    ] as typeof base.manifest.totals.steps;
    const report = buildReport({
      ...base,
      manifest: { ...base.manifest, totals: { ...base.manifest.totals, steps } },
    });
    expect(report.verdict.slos.find((s) => s.objective === 'p95_ms')).toMatchObject({
      observed: 1500,
      held: true,
    });
    expect(report.verdict.held).toBe(true);
    expect(report.verdict.excursions).toEqual([]);
    expect(report.headroom.lowerBound).toBe(true);
  });
});
