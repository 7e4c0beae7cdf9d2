import type { Comparison, MetricComparison, OverallVerdict, Section, Unit, Verdict } from './types.ts';

/**
 * The comparison as comparison.md (what `gelombang compare` prints) and comparison.json (the
 * Comparison object itself). The overall verdict comes first because a reviewer reading a CI log
 * wants the answer before the evidence.
 */

const SECTIONS: ReadonlyArray<{ section: Section; title: string }> = [
  { section: 'throughput', title: 'Throughput' },
  { section: 'latency', title: 'Latency' },
  { section: 'errors', title: 'Errors' },
  { section: 'funnel', title: 'Funnel' },
  { section: 'bottleneck', title: 'Bottleneck' },
];

const VERDICT_MARK: Record<Verdict, string> = {
  better: '✓ better',
  worse: '✗ worse',
  within_noise: '≈ within noise',
  not_comparable: '– not comparable',
};

const OVERALL_MARK: Record<OverallVerdict, string> = {
  regression: '✗ regression',
  improvement: '✓ improvement',
  no_change: '≈ no change',
};

function formatValue(v: number | null, unit: Unit): string {
  if (v === null) return unit === 'seconds' ? 'never' : 'n/a';
  switch (unit) {
    case 'ms':
      return `${v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US')} ms`;
    case 'per_second':
      return `${v.toFixed(v < 10 ? 2 : 1)} /s`;
    case 'share':
      return `${(v * 100).toFixed(2)} %`;
    case 'ratio':
      return v.toFixed(2);
    case 'seconds':
      return `${Math.round(v)} s`;
    case 'cores':
      return `${v.toFixed(2)} cores`;
  }
}

function formatChange(m: MetricComparison): string {
  if (m.change !== null) return `${m.change >= 0 ? '+' : '−'}${Math.abs(m.change * 100).toFixed(1)} %`;
  if (m.baseline === 0 && m.candidate !== null && m.candidate > 0) return 'from 0';
  return 'n/a';
}

/** Pipes would split a table cell. */
const cell = (s: string) => s.replace(/\|/g, '\\|');

function row(m: MetricComparison): string {
  const value = (side: 'baseline' | 'candidate') => {
    const v = formatValue(m[side], m.unit);
    return m.counts ? `${v} (${m.counts[side]})` : v;
  };
  return `| ${cell(m.label)}${m.gating ? ' *' : ''} | ${value('baseline')} | ${value('candidate')} | ${formatChange(m)} | ${cell(`${VERDICT_MARK[m.verdict]} (${m.reason})`)} |`;
}

function table(metrics: readonly MetricComparison[]): string[] {
  return [
    '| metric | baseline | candidate | change | verdict |',
    '| --- | --- | --- | --- | --- |',
    ...metrics.map(row),
  ];
}

function bottleneckLine(c: Comparison): string {
  const side = (b: Comparison['bottleneck']['baseline']) =>
    b === null
      ? 'no dependency measured'
      : `${b.dependency} (peak ${b.peakUtilisation.toFixed(2)}, ${b.saturatedAtSeconds === null ? 'never saturated' : `saturated at ${Math.round(b.saturatedAtSeconds)} s`})`;
  return `Bottleneck (highest peak utilisation): ${side(c.bottleneck.baseline)} → ${side(c.bottleneck.candidate)}.`;
}

function header(c: Comparison): string[] {
  const o = c.options;
  const r = c.replicates;
  const adjusted =
    o.adjust === 'holm'
      ? `, p-values ${r ? 'Benjamini-Hochberg' : 'Holm'}-adjusted over ${c.tests} tests`
      : '';
  const runs = (side: readonly Comparison['baseline'][]) => side.map((x) => `\`${x.dir}\``).join(', ');
  return [
    r
      ? `# Comparison: ${r.baseline.length} runs → ${r.candidate.length} runs`
      : `# Comparison: ${c.baseline.runId} → ${c.candidate.runId}`,
    '',
    // Two runs of different scenarios, replays or engines: the metrics below are not evidence of a
    // change, so the headline must not read as "no change".
    c.comparable
      ? `**Overall: ${OVERALL_MARK[c.overall.verdict]}**: ${c.overall.headline}.`
      : `**Overall: – not comparable**: ${c.warnings
          .filter((w) => w.startsWith('not comparable: '))
          .map((w) => w.slice('not comparable: '.length))
          .join('; ')}.`,
    '',
    r
      ? `Baseline runs ${runs(r.baseline)}; candidate runs ${runs(r.candidate)} (${c.baseline.scenario}).`
      : `Baseline \`${c.baseline.dir}\` (${c.baseline.scenario}, ${c.baseline.startedAt}); candidate \`${c.candidate.dir}\` (${c.candidate.scenario}, ${c.candidate.startedAt}).`,
    `Confidence ${(o.confidence * 100).toFixed(0)} %, minimum effect ${(o.minEffect * 100).toFixed(0)} %${adjusted}; ${
      r
        ? "each side's figure is the median of its runs' and the test Welch's t over the runs' figures, so the noise is the spread between rehearsals"
        : `intervals ${c.pairing === 'paired' ? 'paired by time' : 'compared unpaired'}`
    }. Metrics marked * gate the overall verdict.`,
  ];
}

function listSection(title: string, items: readonly string[]): string[] {
  return items.length ? ['', `## ${title}`, '', ...items.map((w) => `- ${w}`)] : [];
}

export function renderComparisonMarkdown(c: Comparison): string {
  const lines = [
    ...header(c),
    ...listSection('Warnings', c.warnings),
    ...listSection('Configuration changes', c.configChanges),
  ];
  for (const { section, title } of SECTIONS) {
    const metrics = c.metrics.filter((m) => m.section === section);
    if (section === 'bottleneck') lines.push('', `## ${title}`, '', bottleneckLine(c));
    else if (metrics.length) lines.push('', `## ${title}`);
    if (metrics.length) lines.push('', ...table(metrics));
  }
  return `${lines.join('\n')}\n`;
}

export function renderComparisonJson(c: Comparison): string {
  return `${JSON.stringify(c, null, 2)}\n`;
}
