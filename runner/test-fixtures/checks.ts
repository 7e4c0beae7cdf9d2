import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * check() as k6 v0.47 makes it: a check that throws counts as failed and its error goes on up,
 * the checks after it not made; an async check, and a name holding '::' (a group path's
 * separator), are refused before they are counted. Run on the runner (runner/modules.test.ts) and
 * on k6 (test/real-k6.test.ts): 4 passes and 1 failure on both, and exit 0.
 */
export const CHECKS_EXPECTED = { passes: 4, fails: 1 };

export function checksScript(dir: string): string {
  const file = join(dir, 'checks.js');
  writeFileSync(
    file,
    `import { check } from 'k6';
export const options = { iterations: 1 };
export default function () {
  let thrown = '';
  try {
    check(1, { before: () => true, throws: () => { throw new Error('inside'); }, after: () => true });
  } catch (err) {
    thrown = String(err);
  }
  let refused = '';
  try {
    check(1, { later: async () => true });
  } catch (err) {
    refused = String(err);
  }
  let named = '';
  try {
    check(1, { 'a::b': () => true });
  } catch (err) {
    named = String(err);
  }
  check(null, {
    'the error came out of check()': () => thrown.includes('inside'),
    'an async check is refused': () => refused.includes('does not support async functions'),
    'a name with a group separator is refused': () => named.includes("may not contain '::'"),
  });
}
`,
  );
  return file;
}
