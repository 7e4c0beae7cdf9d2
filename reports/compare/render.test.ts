import { describe, expect, it } from 'vitest';
import { makeRecord } from '../fixtures/make-record.ts';
import { compareRuns } from './index.ts';
import { renderComparisonJson, renderComparisonMarkdown } from './render.ts';

/** comparison.md and comparison.json. */

describe('rendering', () => {
  const c = compareRuns(makeRecord({ seed: 1 }), makeRecord({ seed: 2, latencyFactor: 2, replay: null }));

  it('markdown: a comparable pair with a real slow-down heads with the regression', () => {
    const same = compareRuns(makeRecord({ seed: 1 }), makeRecord({ seed: 2, latencyFactor: 2 }));
    expect(renderComparisonMarkdown(same).split('\n')[2]).toMatch(
      /^\*\*Overall: ✗ regression\*\*: \d+ gating metrics worse/,
    );
  });

  it('markdown: the overall verdict first, warnings, then a table per section', () => {
    const md = renderComparisonMarkdown(c);
    const lines = md.split('\n');
    expect(lines[0]).toBe('# Comparison: fixture-1 → fixture-2');
    // This pair differs in its replay too, so its overall line is "not comparable" (checked below).
    expect(lines[2]).toMatch(/^\*\*Overall: – not comparable\*\*/);
    const order = [
      '## Warnings',
      '## Throughput',
      '## Latency',
      '## Errors',
      '## Funnel',
      '## Bottleneck',
    ].map((h) => md.indexOf(h));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(md).toMatch(
      /\| p95 submit_biodata \* \| [\d,]+ ms \| [\d,]+ ms \| \+\d+\.\d % \| ✗ worse \(p<0\.001\) \|/,
    );
    expect(md).toMatch(/\| error rate login \* \| \d+\.\d\d % \([\d,]+ of [\d,]+\) \|/);
    expect(md).toMatch(/not comparable: only the baseline replays a profile/);
    // Not evidence of a change either way: the headline says so rather than "no change".
    expect(md).toMatch(/^\*\*Overall: – not comparable\*\*: only the baseline replays a profile\.$/m);
    expect(md).toMatch(
      /Bottleneck \(highest peak utilisation\): dukcapil \(peak \d\.\d\d, saturated at \d+ s\)/,
    );
  });

  it('json: the Comparison object, as it is', () => {
    expect(JSON.parse(renderComparisonJson(c))).toEqual(JSON.parse(JSON.stringify(c)));
  });
});
