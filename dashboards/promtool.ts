import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * Runs promtool, the parser and rule evaluator Prometheus itself uses: a PromQL expression that
 * promtool accepts is one Prometheus will accept.
 */

export interface PromtoolResult {
  ok: boolean;
  output: string;
}

export function runPromtool(promtool: string, args: string[], cwd?: string): PromtoolResult {
  const r = spawnSync(promtool, args, { cwd, encoding: 'utf8', timeout: 30_000 });
  return {
    ok: r.status === 0,
    output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`,
  };
}

/**
 * Parses every expression by wrapping each in a recording rule of one file and checking it:
 * promtool reports every rule that fails, by name. Returns the rejected expressions with their message.
 */
export function unparsableExpressions(
  promtool: string,
  exprs: readonly string[],
): Array<{ expr: string; error: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gelombang-promql-'));
  try {
    const file = join(dir, 'parse.yml');
    const rules = exprs.map((expr, i) => ({ record: `gelombang_parse_check_${i}`, expr }));
    writeFileSync(file, stringify({ groups: [{ name: 'parse', rules }] }));
    const r = runPromtool(promtool, ['check', 'rules', file]);
    if (r.ok) return [];
    const failures: Array<{ expr: string; error: string }> = [];
    for (const line of r.output.split('\n')) {
      const m = /"gelombang_parse_check_(\d+)": (.*)$/.exec(line);
      if (m?.[1] !== undefined) failures.push({ expr: exprs[Number(m[1])] ?? '', error: m[2] ?? '' });
    }
    // promtool failed without naming a rule (a broken file): report that rather than pass.
    if (failures.length === 0) failures.push({ expr: '(whole file)', error: r.output.trim() });
    return failures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
