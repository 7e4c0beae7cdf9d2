import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { vi } from 'vitest';

/** A `gelombang` command run in the test's process, as the CLI parses it: fast enough for tables of cases. */

class Exited extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/** Runs a command as the CLI does, capturing everything it prints and its exit code. */
export async function invoke(
  command: () => Command,
  args: string[],
): Promise<{ code: number; output: string }> {
  let output = '';
  const capture = (chunk: unknown) => {
    output += String(chunk);
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(capture);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture);
  vi.spyOn(console, 'log').mockImplementation((...p: unknown[]) => capture(`${p.join(' ')}\n`));
  vi.spyOn(console, 'error').mockImplementation((...p: unknown[]) => capture(`${p.join(' ')}\n`));
  vi.spyOn(process, 'exit').mockImplementation((code) => {
    throw new Exited(Number(code ?? 0));
  });
  process.exitCode = undefined;
  try {
    await command().parseAsync(args, { from: 'user' });
    return { code: Number(process.exitCode ?? 0), output };
  } catch (err) {
    if (err instanceof Exited) return { code: err.code, output };
    // What the CLI would have shown: the error with its frames.
    return { code: -1, output: `${output}${(err as Error).stack}` };
  } finally {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  }
}

/** Every file under `dir` with its size and time, to tell that nothing was written there. */
export function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((p) => {
      const s = statSync(join(dir, p));
      return `${p} ${s.size} ${s.mtimeMs}`;
    });
}
