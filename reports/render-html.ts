import { arrivalsChart, funnelChart, lossesChart, stepLatencyChart, utilisationChart } from './charts.ts';
import type { Block, Chart, Inline, Section } from './report/blocks.ts';
import { reportDocument } from './report/document.ts';
import type { Report } from './report-model.ts';

/**
 * report.html: the report's document laid out in HTML, with the charts as inline SVG. One file
 * that opens anywhere, offline, years later: inline CSS, no script, and no request of any kind (a
 * Content-Security-Policy forbids them, so a stray reference fails loudly in the browser test
 * rather than quietly phoning out). Every piece of text from the report is escaped.
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function drawChart(c: Chart): Promise<string> {
  switch (c.id) {
    case 'funnel':
      return funnelChart(c.stages, c.reached, c.conversion, c.conversion2020);
    case 'losses':
      return lossesChart(c.stages, c.leftByChoice, c.inProgress, c.failed, c.rejected);
    case 'latency':
      return stepLatencyChart(c.t, c.p95MsByStep, c.sloMs, c.marks);
    case 'utilisation':
      return utilisationChart(c.t, c.byDependency, c.marks);
    case 'arrivals':
      return arrivalsChart(c.t, c.arrivalsPerSecond, c.completionsPerSecond, c.marks);
  }
}

/** Draws every chart of the document at once: Vega's renders are independent and each takes a while. */
async function drawCharts(sections: readonly Section[]): Promise<Map<Chart, string>> {
  const charts = sections.flatMap((s) => s.blocks.flatMap((b) => (b.kind === 'chart' ? [b.chart] : [])));
  const svgs = await Promise.all(charts.map(drawChart));
  return new Map(charts.map((c, i) => [c, svgs[i] ?? '']));
}

function inlineHtml(parts: Inline[]): string {
  return parts
    .map((part) => {
      if (typeof part === 'string') return escapeHtml(part);
      if ('code' in part) return `<code>${escapeHtml(part.code)}</code>`;
      return `<strong>${escapeHtml(part.strong)}</strong>`;
    })
    .join('');
}

function tableHtml(block: Extract<Block, { kind: 'table' }>): string {
  const cls = (numeric: boolean) => (numeric ? ' class="num"' : '');
  const head = block.columns
    .map((c) => `<th scope="col"${cls(c.numeric)}>${escapeHtml(c.label)}</th>`)
    .join('');
  const rows = block.rows
    .map(
      (row) =>
        `<tr>${row.map((cell, i) => `<td${cls(block.columns[i]?.numeric ?? false)}>${inlineHtml(cell)}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return [
    '<div class="table-wrap"><table>',
    `<caption>${escapeHtml(block.caption)}</caption>`,
    `<thead><tr>${head}</tr></thead>`,
    `<tbody>\n${rows}\n</tbody>`,
    '</table></div>',
  ].join('\n');
}

function blockHtml(block: Block, svgs: Map<Chart, string>): string {
  switch (block.kind) {
    case 'headline':
      return `<p class="headline">${inlineHtml(block.parts)}</p>`;
    case 'paragraph':
      return `<p>${inlineHtml(block.parts)}</p>`;
    case 'list':
      return `<ul>\n${block.items.map((item) => `<li>${inlineHtml(item)}</li>`).join('\n')}\n</ul>`;
    case 'table':
      return tableHtml(block);
    case 'chart':
      return [
        `<figure class="chart" id="chart-${block.chart.id}">`,
        svgs.get(block.chart),
        `<figcaption>${escapeHtml(block.caption)}</figcaption>`,
        '</figure>',
      ].join('\n');
  }
}

function sectionHtml(section: Section, svgs: Map<Chart, string>): string {
  const cls = section.verdict ? ` class="verdict verdict-${section.verdict}"` : '';
  return [
    `<section id="${escapeHtml(section.id)}"${cls}>`,
    `<h2>${escapeHtml(section.title)}</h2>`,
    ...section.blocks.map((b) => blockHtml(b, svgs)),
    '</section>',
  ].join('\n');
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0; color: #1a1a1a; background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
}
main { max-width: 62rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 .5rem; padding-bottom: .2rem; border-bottom: 1px solid #bbb; }
code {
  font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .88em;
  background: #f1f1f1; padding: 0 .2em; border-radius: 3px; overflow-wrap: break-word;
}
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: .75rem 0 1rem; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { border: 1px solid #b5b5b5; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #efefef; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num { white-space: nowrap; }
figure.chart { margin: 1rem 0 1.5rem; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #444; margin-top: .3rem; }
.verdict { border: 2px solid; border-left-width: .8rem; border-radius: 4px; padding: .2rem 1rem .6rem; }
.verdict h2 { border: 0; margin-top: .6rem; }
.verdict-held { border-color: #1b7a33; background: #e9f6ec; }
.verdict-broke { border-color: #b3261e; background: #fdeceb; }
.headline { font-size: 1.2rem; font-weight: 600; }
.headline strong {
  display: inline-block; color: #fff; padding: 0 .5rem; margin-right: .2rem; border-radius: 3px; letter-spacing: .04em;
}
.verdict-held .headline strong { background: #1b7a33; }
.verdict-held .headline strong::before { content: "\\2713\\00a0"; }
.verdict-broke .headline strong { background: #b3261e; }
.verdict-broke .headline strong::before { content: "\\2717\\00a0"; }
@page { margin: 15mm; }
@media print {
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  /* A page cannot scroll: tables shrink to the page width instead. */
  .table-wrap { overflow: visible; }
  table { font-size: 8.5pt; }
  th, td { padding: 2pt 4pt; }
  table, figure, tr, .verdict { break-inside: avoid; page-break-inside: avoid; }
  h2, caption { break-after: avoid; page-break-after: avoid; }
  thead { display: table-header-group; }
  code { background: none; padding: 0; }
}
`;

export async function renderHtml(report: Report): Promise<string> {
  const doc = reportDocument(report);
  const svgs = await drawCharts(doc.sections);
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    `<title>${escapeHtml(doc.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<h1>${escapeHtml(doc.title)}</h1>`,
    ...doc.sections.map((s) => sectionHtml(s, svgs)),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
