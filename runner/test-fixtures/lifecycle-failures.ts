import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, type ExitCode } from '../errors.ts';

/**
 * Scripts whose setup(), teardown() or handleSummary() fails, each with the exit code real k6 v0.47
 * gives it: runner.test.ts runs them on the runner, test/real-k6.test.ts on k6. Plain JavaScript,
 * so that k6 runs the file as it is.
 */
export const LIFECYCLE_FAILURES: ReadonlyArray<readonly [what: string, body: string, exitCode: ExitCode]> = [
  ['a throw in setup', 'export function setup() { throw new Error("no"); }', EXIT.scriptException],
  ['a rejection of async setup', 'export async function setup() { throw new Error("no"); }', EXIT.uncaught],
  [
    'a rejection after an await in setup',
    'export async function setup() { await sleep(0.01); fail("no"); }',
    EXIT.uncaught,
  ],
  ['a throw in teardown', 'export function teardown() { throw new Error("no"); }', EXIT.scriptException],
  ['a rejection of async teardown', 'export async function teardown() { fail("no"); }', EXIT.uncaught],
  [
    'test.abort() in async setup',
    'export async function setup() { exec.test.abort("no"); }',
    EXIT.scriptAborted,
  ],
  ['a failing handleSummary()', 'export async function handleSummary() { throw new Error("no"); }', EXIT.ok],
];

/** The case's script, written in `dir`. */
export function lifecycleScript(dir: string, index: number, body: string): string {
  const file = join(dir, `lifecycle-${index}.js`);
  writeFileSync(
    file,
    `import { fail, sleep } from 'k6';
import exec from 'k6/execution';
export const options = { iterations: 1 };
export default function () {}
${body}
`,
  );
  return file;
}
