import { resolve } from 'node:path';
import { Command } from 'commander';
import { RunRecordError } from '../../reports/record.ts';
import { writeReport } from '../../reports/write-report.ts';

/** `gelombang report <run-dir>`: the funnel report of a recorded run, in HTML, Markdown and JSON. */
export function reportCommand(): Command {
  return new Command('report')
    .description('write the funnel report (report.html, report.md, report.json) of a run directory')
    .argument('<run-dir>', 'a run directory written by `gelombang rehearse` (results/<run-id>)')
    .action(async (dir: string) => {
      try {
        const { report, files } = await writeReport(resolve(dir));
        console.log(report.verdict.headline);
        for (const f of files) console.log(`  ${f}`);
      } catch (err) {
        if (!(err instanceof RunRecordError)) throw err;
        console.error(`error: ${err.message}`);
        process.exitCode = 2;
      }
    });
}
