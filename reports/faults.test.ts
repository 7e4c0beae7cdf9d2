import { describe, expect, it } from 'vitest';
import { overlapping } from './faults.ts';
import { makeRecord } from './fixtures/make-record.ts';
import { buildReport } from './funnel-report.ts';
import type { FaultRecord, RunRecord } from './record.ts';
import { runManifestSchema } from './record.ts';
import { renderHtml } from './render-html.ts';
import { renderMarkdown } from './render-markdown.ts';

/** The faults of a run record in its report: their figures from the series, the section, the chart marks. */

const kill: FaultRecord = {
  origin: '--chaos kill-service@40',
  kind: 'kill',
  target: 'registration',
  description: 'registration killed (SIGKILL) and restarted',
  profileMinute: 40,
  profileSeconds: 0,
  plannedSeconds: 20,
  plannedEndSeconds: 20,
  appliedSeconds: 20.2,
  restoredSeconds: 24.9,
  kill: { pidBefore: 100, pidAfter: 200, downtimeSeconds: 4.7 },
};
const down: FaultRecord = {
  origin: 'faults.yaml: faults[0]',
  kind: 'down',
  target: 'dukcapil',
  description: 'dukcapil down (503 to every request) for 1 min of profile time',
  profileMinute: 10,
  profileSeconds: 60,
  plannedSeconds: 5,
  plannedEndSeconds: 6,
  appliedSeconds: null,
  restoredSeconds: null,
  problem: 'not applied: PATCH ministry /admin/config answered 400: ...',
};

/** A record in which every request failed while the service was down (the intervals ending at 21 to 25 s). */
function recordWithKill(): RunRecord {
  const r = makeRecord({ seed: 7, durationSeconds: 60, intervalSeconds: 1, errorRate: 0.01 });
  for (const s of r.timeseries.series)
    if (s.name === 'step_failed_ratio')
      s.values = s.values.map((v, i) =>
        (r.timeseries.t[i] as number) > 20.2 && (r.timeseries.t[i] as number) - 1 < 24.9 ? 1 : v,
      );
  r.manifest = runManifestSchema.parse({ ...r.manifest, faults: [down, kill] });
  return r;
}

describe('faults in the report', () => {
  it('takes whole intervals overlapping a span, at least the one it falls in', () => {
    const ts = { t: [1, 2, 3, 4, 5], intervalSeconds: 1 };
    expect(overlapping(ts, 1.5, 3.2)).toEqual([1, 2, 3]);
    expect(overlapping(ts, 2.4, 2.4)).toEqual([2]);
    expect(overlapping(ts, 0, 1)).toEqual([0]);
    // ticks come when the runner samples: an interval runs from the tick before
    const late = { t: [0.733, 1.013, 1.56, 2.082], intervalSeconds: 0.5 };
    expect(overlapping(late, 1.1, 1.5)).toEqual([2]);
    expect(overlapping(late, 0.75, 1.1)).toEqual([1, 2]);
  });

  it('counts the requests that failed while the service was down, against the rest of the run', () => {
    const r = recordWithKill();
    const report = buildReport(r);
    const [d, k] = report.faults ?? [];
    expect(d).toMatchObject({
      fromSeconds: null,
      effect: null,
      problem: expect.stringContaining('not applied'),
    });
    expect(k?.downtimeSeconds).toBe(4.7);
    expect(k?.effect).toMatchObject({ intervals: 5, fromSeconds: 20, toSeconds: 25 });
    // the requests of those five intervals, from the series
    const requests = r.timeseries.series
      .filter((s) => s.name === 'step_requests')
      .reduce((a, s) => a + s.values.slice(20, 25).reduce<number>((b, v) => b + (v ?? 0), 0), 0);
    expect(k?.effect?.requests).toBe(Math.round(requests));
    expect(k?.effect?.failedRequests).toBe(Math.round(requests));
    expect(k?.effect?.failedShare).toBeCloseTo(1, 9);
    expect(k?.effect?.failedShareElsewhere).toBeLessThan(0.05);
    expect(k?.effect?.rejections).toBeNull();
    // the fixture fails some registrants throughout: a count, never unknown, where the series exists
    expect(k?.effect?.registrantsFailed).toEqual(expect.any(Number));
  });

  it('lists the faults in a section of the Markdown, with what went wrong', () => {
    const md = renderMarkdown(buildReport(recordWithKill()));
    expect(md).toContain('## Faults');
    expect(md).toContain('`--chaos kill-service@40`');
    expect(md).toMatch(
      /\| registration killed \(SIGKILL\) and restarted .*\| 40 \| 20 s \| 20\.2 s to 24\.9 s \| 4\.7 s \|/,
    );
    expect(md).toContain('`faults.yaml: faults[0]`: not applied');
  });

  it('shades each fault on the time-series charts of the HTML', async () => {
    const html = await renderHtml(buildReport(recordWithKill()));
    expect(html).toContain('<section id="faults">');
    expect(html).toContain('Shaded: the faults the rehearsal injected');
    const latency = /<figure class="chart" id="chart-latency">[\s\S]*?<\/figure>/.exec(html)?.[0] ?? '';
    expect(latency).toContain('registration killed');
    // the fault never applied has no span
    expect(latency).not.toContain('dukcapil down');
  });

  it('says nothing of faults in a run without them', () => {
    const r = makeRecord({ seed: 7, durationSeconds: 30, intervalSeconds: 1 });
    const report = buildReport(r);
    expect(report.faults).toBeUndefined();
    const md = renderMarkdown(report);
    expect(md).not.toContain('## Faults');
    expect(md).not.toContain('Shaded');
  });
});
