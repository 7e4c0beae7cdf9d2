import { describe, expect, it } from 'vitest';
import { prometheusText } from './prometheus.ts';
import { parseSelector } from './selectors.ts';
import { percentile } from './sinks.ts';
import { defineBuiltins, Store } from './store.ts';
import { buildSummaryData, summaryExport, textSummary } from './summary.ts';
import { evaluateThresholds, parseExpression, parseThresholds, ThresholdError } from './thresholds.ts';

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('trend sinks', () => {
  it('give percentiles within HDR precision of the exact sorted-array percentiles', () => {
    const store = new Store();
    store.define('t', 'trend', 'time');
    const rnd = seeded(7);
    const values = Array.from({ length: 50_000 }, () => Math.exp(rnd() * 8));
    for (const v of values) store.add('t', v);
    const sorted = [...values].sort((a, b) => a - b);
    const sink = store.metrics.get('t')?.sink;
    if (sink?.kind !== 'trend') throw new Error('no trend');
    for (const p of [50, 90, 95, 99]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1] as number;
      expect(Math.abs(percentile(sink, p) - exact) / exact).toBeLessThan(0.002);
    }
    expect(sink.min).toBe(sorted[0]);
    expect(sink.max).toBe(sorted.at(-1));
  });

  it('merge exactly: split streams give the same counts and percentiles as one stream', () => {
    const one = new Store({ submetrics: ['d{step:a}'] });
    const parts = [
      new Store({ submetrics: ['d{step:a}'] }),
      new Store({ submetrics: ['d{step:a}'] }),
      new Store({ submetrics: ['d{step:a}'] }),
    ];
    const merged = new Store({ submetrics: ['d{step:a}'] });
    for (const s of [one, ...parts]) {
      s.define('d', 'trend', 'time');
      s.define('c', 'counter');
      s.define('r', 'rate');
    }
    const rnd = seeded(3);
    for (let i = 0; i < 30_000; i++) {
      const v = rnd() * 1000;
      const tags = { step: i % 3 === 0 ? 'a' : 'b' };
      const part = parts[i % 3] as Store;
      for (const s of [one, part]) {
        s.add('d', v, tags);
        s.add('c', 2, tags);
        s.add('r', v > 500 ? 1 : 0, tags);
        s.addCheck('ok', v > 100);
      }
    }
    for (const p of parts) merged.merge(p.drain());
    const a = buildSummaryData(one, { thresholds: [], testRunDurationMs: 1000 });
    const b = buildSummaryData(merged, { thresholds: [], testRunDurationMs: 1000 });
    expect(b.metrics).toEqual(a.metrics);
    expect(b.root_group.checks).toEqual(a.root_group.checks);
    expect(b.metrics['d{step:a}']?.values.avg).toBeGreaterThan(0);
  });

  it('keep memory bounded whatever the number of samples', () => {
    const store = new Store();
    store.define('t', 'trend', 'time');
    for (let i = 0; i < 200_000; i++) store.add('t', (i % 5000) / 7);
    const global = globalThis as { gc?: () => void };
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 2_000_000; i++) store.add('t', (i % 5000) / 7);
    global.gc?.();
    const grown = process.memoryUsage().heapUsed - before;
    // 2 million samples in an array would take 16 MB or more; the histogram stays put.
    expect(grown).toBeLessThan(8 * 1024 * 1024);
  });

  it('refuses bad metric names and type conflicts', () => {
    const s = new Store();
    s.define('ok_name', 'counter');
    expect(() => s.define('ok_name', 'trend')).toThrow(/already exists as a counter/);
    expect(() => s.define('9lives', 'counter')).toThrow(/invalid metric name/);
    expect(() => s.define('has-dash', 'counter')).toThrow(/invalid metric name/);
  });
});

describe('thresholds', () => {
  const types = (n: string) =>
    ({ http_req_duration: 'trend', http_reqs: 'counter', checks: 'rate', vus: 'gauge' })[n] as
      | 'trend'
      | undefined;

  it('parse k6 expressions', () => {
    expect(parseExpression('p(95)<500')).toEqual({ aggregation: 'p(95)', op: '<', value: 500 });
    expect(parseExpression(' p( 99.9 ) <= 1.5e3 ')).toEqual({
      aggregation: 'p(99.9)',
      op: '<=',
      value: 1500,
    });
    expect(parseExpression('rate===1')).toEqual({ aggregation: 'rate', op: '===', value: 1 });
    expect(() => parseExpression('p(101)<1')).toThrow(/between 0 and 100/);
    expect(() => parseExpression('p(abc)<1')).toThrow(/malformed percentile/);
    expect(() => parseExpression('median<1')).toThrow(/failed parsing method/);
    expect(() => parseExpression('avg < fast')).toThrow(/malformed threshold expression/);
  });

  it('check aggregations against the metric type as k6 does', () => {
    expect(() => parseThresholds({ http_req_duration: ['count<1'] }, types)).toThrow(ThresholdError);
    // k6's wording (metrics/thresholds.go Validate), word for word
    expect(() => parseThresholds({ http_req_duration: ['count<1'] }, types)).toThrow(
      'invalid threshold "count<1" applied on metric http_req_duration; reason: unsupported aggregation method count on metric of type trend. supported aggregation methods for this metric are: avg, min, max, med, p',
    );
    expect(() => parseThresholds({ nope: ['rate<1'] }, types)).toThrow(/no metric name "nope" found/);
    expect(() => parseThresholds({ http_reqs: ['p(95)<1'] }, types)).toThrow(
      /supported aggregation methods for this metric are: count, rate/,
    );
    expect(() => parseThresholds({ vus: ['rate<1'] }, types)).toThrow(/value/);
    expect(
      parseThresholds(
        {
          'http_req_duration{step:"login"}': [
            { threshold: 'avg<1', abortOnFail: true, delayAbortEval: '10s' },
          ],
        },
        types,
      )[0],
    ).toMatchObject({
      key: 'http_req_duration{step:login}',
      abortOnFail: true,
      delayAbortEvalMs: 10_000,
    });
  });

  it('evaluate every aggregation and operator on a submetric', () => {
    const s = new Store({ submetrics: ['http_req_duration{step:a}'] });
    defineBuiltins(s);
    for (const v of [10, 20, 30, 40]) s.add('http_req_duration', v, { step: 'a' });
    s.add('http_req_duration', 1000, { step: 'b' });
    s.add('http_reqs', 5);
    const parsed = parseThresholds(
      {
        'http_req_duration{step:a}': ['max<=40', 'min==10', 'avg>24', 'avg!=25.5', 'med<1000'],
        http_reqs: ['count===5', 'rate>4'],
        http_req_duration: ['max<100'],
      },
      (n) => s.metrics.get(n)?.type,
    );
    const results = evaluateThresholds(s, parsed, 1000);
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, true, true, false]);
  });
});

describe('summary formats', () => {
  it('build handleSummary data, the legacy export and the text summary', () => {
    const s = new Store();
    defineBuiltins(s);
    s.add('http_reqs', 1);
    s.add('checks', 1);
    s.add('checks', 0);
    s.addCheck('::status is 200', true);
    s.addCheck('::status is 200', false);
    s.add('http_req_duration', 12.5);
    const parsed = parseThresholds({ checks: ['rate>0.9'] }, (n) => s.metrics.get(n)?.type);
    const data = buildSummaryData(s, {
      thresholds: evaluateThresholds(s, parsed, 2000),
      testRunDurationMs: 2000,
    });
    expect(data.metrics.http_reqs).toEqual({
      type: 'counter',
      contains: 'default',
      values: { count: 1, rate: 0.5 },
    });
    expect(data.metrics.checks).toEqual({
      type: 'rate',
      contains: 'default',
      values: { rate: 0.5, passes: 1, fails: 1 },
      thresholds: { 'rate>0.9': { ok: false } },
    });
    expect(data.root_group.id).toBe('d41d8cd98f00b204e9800998ecf8427e');
    const legacy = summaryExport(data) as {
      metrics: Record<string, Record<string, unknown>>;
      root_group: { checks: Record<string, unknown> };
    };
    expect(legacy.metrics.checks).toEqual({
      passes: 1,
      fails: 1,
      value: 0.5,
      thresholds: { 'rate>0.9': true },
    });
    expect(legacy.root_group.checks['status is 200']).toMatchObject({ passes: 1, fails: 1 });
    const text = textSummary(data);
    expect(text).toMatch(/✗ status is 200/);
    expect(text).toMatch(/✗ checks\.+: 50\.00% ✓ 1\s+✗ 1/);
    expect(text).toMatch(/http_req_duration\.+: avg=12\.5ms/);
  });

  it.each([
    ['s', 'avg=0.76s min=0.01s max=1.50s'],
    ['ms', 'avg=756.25ms min=12.50ms max=1500.00ms'],
    ['us', 'avg=756250.00µs min=12500.00µs max=1500000.00µs'],
    [undefined, 'avg=756.25ms min=12.5ms max=1.5s'],
  ])("writes every time in summaryTimeUnit %s, two decimals, as k6 v0.47's summary.js", (unit, line) => {
    const s = new Store();
    defineBuiltins(s);
    for (const v of [12.5, 1500]) s.add('http_req_duration', v);
    const data = buildSummaryData(s, {
      thresholds: [],
      testRunDurationMs: 1000,
      summaryTrendStats: ['avg', 'min', 'max'],
      summaryTimeUnit: unit,
    });
    expect(data.options.summaryTimeUnit).toBe(unit ?? '');
    expect(textSummary(data)).toContain(`http_req_duration...: ${line}`);
  });

  it("puts setup's and teardown's checks under their groups, as k6 v0.47 lists and exports them", () => {
    const s = new Store();
    defineBuiltins(s);
    s.addCheck('::in an iteration', true);
    for (const passed of [true, false, false]) s.addCheck('::setup::in setup', passed);
    const data = buildSummaryData(s, {
      thresholds: [],
      testRunDurationMs: 1000,
      groups: ['setup', 'teardown'],
    });
    expect(data.root_group.checks.map((c) => c.name)).toEqual(['in an iteration']);
    // ids as k6 v0.47 gave them in a probe's --summary-export: md5 of the path
    expect(data.root_group.groups.map((g) => [g.name, g.path, g.id])).toEqual([
      ['setup', '::setup', '5c0f8025f7e0b6654089e5b00e950f1a'],
      ['teardown', '::teardown', 'a8a9942382e8ffe2e56ef29e664b8229'],
    ]);
    expect(data.root_group.groups[0]?.checks).toEqual([
      expect.objectContaining({ name: 'in setup', path: '::setup::in setup', passes: 1, fails: 2 }),
    ]);
    const legacy = summaryExport(data) as { root_group: { groups: Record<string, { checks: object }> } };
    expect(Object.keys(legacy.root_group.groups)).toEqual(['setup', 'teardown']);
    expect(legacy.root_group.groups.setup?.checks).toHaveProperty(['in setup', 'fails'], 2);
    // the layout of k6 v0.47's summary.js: a heading a group, its checks indented under it, a
    // failed one's share rounded down
    expect(textSummary(data).split('\n')).toEqual([
      '     ✓ in an iteration',
      '',
      '     █ setup',
      '',
      '       ✗ in setup',
      '        ↳  33% — ✓ 1 / ✗ 2',
      '',
      '     █ teardown',
      '',
    ]);
  });

  it('lists a submetric once it has samples, as k6 does: none for a test without requests', () => {
    const s = new Store({ submetrics: ['http_req_duration{expected_response:true}'] });
    defineBuiltins(s);
    s.add('iterations', 1);
    const before = buildSummaryData(s, { thresholds: [], testRunDurationMs: 1000 });
    expect(Object.keys(before.metrics)).toEqual(['iterations']);
    s.add('http_req_duration', 12, { expected_response: 'true' });
    const after = buildSummaryData(s, { thresholds: [], testRunDurationMs: 1000 });
    expect(after.metrics['http_req_duration{expected_response:true}']?.values.avg).toBe(12);
  });

  it('takes submetrics given after its metrics were defined, for the samples that follow', () => {
    const s = new Store();
    defineBuiltins(s);
    s.define('waited', 'trend', 'time');
    s.useSubmetrics(['waited{step:a}', 'http_req_duration{expected_response:true}']);
    s.add('waited', 5, { step: 'a' });
    s.add('waited', 7, { step: 'b' });
    s.add('http_req_duration', 12, { expected_response: 'true' });
    const data = buildSummaryData(s, { thresholds: [], testRunDurationMs: 1000 });
    expect(data.metrics['waited{step:a}']?.values.max).toBe(5);
    expect(data.metrics.waited?.values.max).toBe(7);
    expect(data.metrics['http_req_duration{expected_response:true}']?.values.avg).toBe(12);
  });

  it("prints a time trend's count as a number, as k6's summary.js does", () => {
    const s = new Store();
    defineBuiltins(s);
    for (const v of [1500, 2500, 4000]) s.add('http_req_duration', v);
    const data = buildSummaryData(s, {
      thresholds: [],
      testRunDurationMs: 1000,
      summaryTrendStats: ['med', 'count'],
    });
    expect(textSummary(data)).toMatch(/http_req_duration\.+: med=2\.5s\s+count=3$/m);
  });

  it("lays out times, sizes and rates as k6's summary.js does (truncated, no trailing zeros)", () => {
    const s = new Store();
    defineBuiltins(s);
    s.define('waited', 'gauge', 'time');
    s.add('waited', 3_723_456.7);
    s.add('waited', 90_500);
    s.add('data_received', 1_234_567);
    s.add('iterations', 3);
    s.add('http_req_duration', 0.0004);
    const text = textSummary(buildSummaryData(s, { thresholds: [], testRunDurationMs: 2000 }));
    // a gauge shows its last value, then its min and max; 617,283.5 B/s rounds to 617 kB
    expect(text).toMatch(/waited\.+: 1m30s\s+min=1m30s\s+max=1h2m3s$/m);
    expect(text).toMatch(/data_received\.+: 1\.2 MB\s+617 kB\/s$/m);
    expect(text).toMatch(/iterations\.+: 3\s+1\.5\/s$/m);
    expect(text).toMatch(/http_req_duration\.+: avg=400ns /m);
  });
});

describe('prometheus exposition', () => {
  it('names series as k6 remote write, converts times to seconds and escapes labels', () => {
    const s = new Store({ series: true });
    defineBuiltins(s);
    s.add('http_req_duration', 250, { step: 'say "hi"\n', url: 'http://x/1' });
    s.add('http_reqs', 1, { step: 'a', group: '' });
    const text = prometheusText(s);
    expect(text).toContain('k6_http_req_duration_p99{step="say \\"hi\\"\\n"} 0.25');
    expect(text).toContain('k6_http_reqs_total{step="a"} 1');
    expect(text).not.toContain('url=');
    expect(parseSelector('m{a:"x y",b:1}').tags).toEqual([
      ['a', 'x y'],
      ['b', '1'],
    ]);
  });

  it("keeps a counter's series that was added only zeros, through a worker's drain, as k6 sends it", () => {
    const worker = new Store({ series: true });
    const main = new Store({ series: true });
    for (const s of [worker, main]) s.define('slow', 'counter');
    worker.add('slow', 0, { step: 'login' });
    worker.add('slow', 0, { step: 'login' });
    worker.add('slow', 1, { step: 'join_wave' });
    main.merge(worker.drain());
    const text = prometheusText(main);
    expect(text).toContain('k6_slow_total{step="login"} 0');
    expect(text).toContain('k6_slow_total{step="join_wave"} 1');
    // Nothing added since: nothing sent, and the totals stay.
    main.merge(worker.drain());
    expect(prometheusText(main)).toContain('k6_slow_total{step="login"} 0');
  });

  it('lists a counter added only zeros in the summary at count 0, as k6 does, and leaves out one never added', () => {
    const worker = new Store();
    const main = new Store();
    for (const s of [worker, main]) {
      s.define('slow', 'counter');
      s.define('never', 'counter');
    }
    worker.add('slow', 0, { step: 'login' });
    main.merge(worker.drain());
    const data = buildSummaryData(main, { thresholds: [], testRunDurationMs: 1000 });
    // k6 v0.47's --summary-export of a script that adds 0 three times: {"count":0,"rate":0}
    expect(summaryExport(data).metrics).toMatchObject({ slow: { count: 0, rate: 0 } });
    expect(data.metrics.slow?.values).toEqual({ count: 0, rate: 0 });
    expect(data.metrics.never).toBeUndefined();
  });
});
