import { resolve } from 'node:path';
import { Command } from 'commander';
import { RunRecordError } from '../../reports/record.ts';
import { writeReport } from '../../reports/write-report.ts';
import { readCheckedRecord } from './run-record.ts';

/**
 * `gelombang report <run-dir>`: the funnel report of a recorded run, in HTML, Markdown and JSON.
 * Exit codes: 0 written, 2 bad input (a flag, or a directory that is not a consistent run record:
 * the message names the file and the field).
 */

const EXIT_BAD_INPUT = 2;

export function reportCommand(): Command {
  return new Command('report')
    .description('write the funnel report (report.html, report.md, report.json) of a run directory')
    .argument('<run-dir>', 'a run directory written by `gelombang rehearse` (results/<run-id>)')
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_INPUT);
    })
    .action(async (dir: string) => {
      const fail = (message: string) => {
        console.error(`error: ${message}`);
        process.exitCode = EXIT_BAD_INPUT;
      };
      // Checked here, before the report's charts meet a record they cannot draw.
      const checked = readCheckedRecord(resolve(dir));
      if (typeof checked === 'string') return fail(checked);
      try {
        const { report, files } = await writeReport(resolve(dir));
        console.log(report.verdict.headline);
        for (const f of files) console.log(`  ${f}`);
      } catch (err) {
        if (err instanceof RunRecordError) return fail(err.message);
        const e = err as NodeJS.ErrnoException;
        if (e.code && e.path) return fail(`${e.path}: cannot write the report (${e.code})`);
        throw err;
      }
    });
}
