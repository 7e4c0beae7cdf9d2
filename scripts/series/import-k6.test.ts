import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunRecordError } from '../../reports/record.ts';
import { runTest } from '../../runner/index.ts';
import { fromSummaryExport, readSummary } from './import-k6.ts';

/**
 * k6's --summary-export (legacy shape) read as handleSummary data: one run of the embedded
 * runner writes both (the runner's legacy export is k6's format), and the conversion must give
 * back what handleSummary saw for every metric the legacy shape keeps.
 */

const dir = mkdtempSync(join(tmpdir(), 'gelombang-import-k6-'));

describe("k6's --summary-export as handleSummary data", () => {
  it('recovers types, counts, rates, trend statistics, thresholds, checks and the duration', async () => {
    const server = createServer((_req, res) => res.writeHead(200).end('hi'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const exportFile = join(dir, 'legacy.json');
    try {
      const r = await runTest({
        script: 'runner/test-fixtures/hello.ts',
        env: { TARGET: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
        workers: 1,
        quiet: true,
        progress: 'none',
        noSummary: true,
        summaryExport: exportFile,
      });
      const data = r.summary;
      if (!data) throw new Error('no summary');
      const converted = readSummary(exportFile);
      for (const [name, m] of Object.entries(data.metrics)) {
        const c = converted.metrics[name];
        expect(c?.type, name).toBe(m.type);
        if (m.type === 'counter') expect(c?.values).toEqual({ count: m.values.count, rate: m.values.rate });
        if (m.type === 'rate')
          expect(c?.values).toEqual({ rate: m.values.rate, passes: m.values.passes, fails: m.values.fails });
        if (m.type === 'trend') expect(c?.values).toEqual(m.values);
        if (m.thresholds) expect(c?.thresholds, name).toEqual(m.thresholds);
      }
      expect(converted.metrics.http_req_duration?.contains).toBe('time');
      expect(converted.metrics['http_req_duration{step:hello}']?.contains).toBe('time');
      expect(converted.metrics.data_sent?.contains).toBe('data');
      expect(converted.root_group.checks.map((c) => [c.name, c.passes, c.fails])).toEqual(
        data.root_group.checks.map((c) => [c.name, c.passes, c.fails]),
      );
      // count / rate of a counter: the run's duration
      expect(converted.state.testRunDurationMs).toBeCloseTo(data.state.testRunDurationMs, -1);
    } finally {
      server.close();
    }
  }, 60_000);

  it('leaves handleSummary data as it is, and names the file of something that is neither', () => {
    const handle = {
      metrics: { x: { type: 'counter', contains: 'default', values: { count: 1, rate: 1 } } },
    };
    expect(fromSummaryExport(handle)).toBe(handle);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ metrics: 3 }));
    expect(() => readSummary(bad)).toThrow(RunRecordError);
    expect(() => readSummary(bad)).toThrow(
      `${bad}: neither k6's handleSummary data nor its --summary-export`,
    );
    expect(readFileSync(bad, 'utf8')).toContain('metrics');
  });
});
