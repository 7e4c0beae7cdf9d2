import type { Block, Inline } from './report/blocks.ts';
import { reportDocument } from './report/document.ts';
import type { Report } from './report-model.ts';

/**
 * report.md: the report's document laid out in Markdown (CommonMark with GitHub's tables). The
 * charts are SVG and stay in report.html; the Markdown keeps to words and tables.
 */

/**
 * Text from the report may hold anything (a scenario named `<b>`, a reason with `|`): escaped so
 * that it renders as written and cannot break a table. An underscore inside a word is left alone
 * (it is not emphasis in CommonMark) so that names like submit_biodata stay readable in the source.
 */
function escapeMarkdown(text: string): string {
  return text
    .replace(/\r?\n/g, ' ')
    .replace(/[\\`*[\]<>|&#]/g, (c) => `\\${c}`)
    .replace(/(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])/g, '\\_');
}

function codeSpan(text: string, inTable: boolean): string {
  const longestRun = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(longestRun + 1);
  const body = inTable ? text.replace(/\|/g, '\\|') : text;
  const pad = body.startsWith('`') || body.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${body.replace(/\r?\n/g, ' ')}${pad}${fence}`;
}

function inlineMarkdown(parts: Inline[], inTable = false): string {
  return parts
    .map((part) => {
      if (typeof part === 'string') return escapeMarkdown(part);
      if ('code' in part) return codeSpan(part.code, inTable);
      return `**${escapeMarkdown(part.strong)}**`;
    })
    .join('');
}

function tableMarkdown(block: Extract<Block, { kind: 'table' }>): string {
  const head = `| ${block.columns.map((c) => escapeMarkdown(c.label)).join(' | ')} |`;
  const rule = `|${block.columns.map((c) => (c.numeric ? ' ---: ' : ' --- ')).join('|')}|`;
  const rows = block.rows.map((row) => `| ${row.map((cell) => inlineMarkdown(cell, true)).join(' | ')} |`);
  return [`*${escapeMarkdown(block.caption)}*`, '', head, rule, ...rows].join('\n');
}

/** A line that starts like a list item or a heading underline would turn into one: escape its marker. */
function escapeLineStart(line: string): string {
  return line.replace(/^(\d+)([.)])/, '$1\\$2').replace(/^([-+=])/, '\\$1');
}

function blockMarkdown(block: Block): string | null {
  switch (block.kind) {
    case 'headline':
    case 'paragraph':
      return escapeLineStart(inlineMarkdown(block.parts));
    case 'list':
      return block.items.map((item) => `- ${escapeLineStart(inlineMarkdown(item))}`).join('\n');
    case 'table':
      return tableMarkdown(block);
    case 'chart':
      return null;
  }
}

export function renderMarkdown(report: Report): string {
  const doc = reportDocument(report);
  const out = [`# ${escapeMarkdown(doc.title)}`];
  for (const section of doc.sections) {
    out.push(`## ${escapeMarkdown(section.title)}`);
    for (const block of section.blocks) {
      const text = blockMarkdown(block);
      if (text !== null) out.push(text);
    }
  }
  out.push(`_${escapeMarkdown(doc.withoutCharts)}_`);
  return `${out.join('\n\n')}\n`;
}
