import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPrediction } from './full-scale.ts';
import { buildReport } from './funnel-report.ts';
import { readRunRecord } from './record.ts';
import { renderHtml } from './render-html.ts';
import { renderMarkdown } from './render-markdown.ts';
import type { Report } from './report-model.ts';

/** Reads a run directory (and its full-scale prediction, if any) and writes report.json, report.md and report.html into it. */
export async function writeReport(runDir: string): Promise<{ report: Report; files: string[] }> {
  const report = buildReport(readRunRecord(runDir), readPrediction(runDir));
  const files = [join(runDir, 'report.json'), join(runDir, 'report.md'), join(runDir, 'report.html')];
  writeFileSync(files[0] as string, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(files[1] as string, renderMarkdown(report));
  writeFileSync(files[2] as string, await renderHtml(report));
  return { report, files };
}
