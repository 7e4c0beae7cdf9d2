import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { Command } from 'commander';
import { bundleForK6 } from '../../runner/bundle.ts';
import { ROOT } from '../paths.ts';
import { outputDir } from './flags.ts';

/** Bundles scenarios into plain k6 scripts (k6 v0.47+), copying the fixtures they open(). */
export async function bundleScenarios(
  files: string[],
  outDir: string,
): Promise<Array<{ file: string; out: string; bytes: number; imports: string[] }>> {
  const scenariosDir = join(ROOT, 'scenarios');
  const entries = files.length
    ? files.map((f) => resolve(f))
    : readdirSync(scenariosDir)
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
        .map((f) => join(scenariosDir, f));
  mkdirSync(outDir, { recursive: true });
  const results = [];
  for (const entry of entries) {
    const b = await bundleForK6(entry);
    const out = join(outDir, `${basename(entry).replace(/\.[cm]?[jt]s$/, '')}.js`);
    writeFileSync(out, b.code);
    results.push({ file: entry, out, bytes: Buffer.byteLength(b.code), imports: b.externalImports });
  }
  // k6 resolves open() relative to the script: the bundles find the fixtures and profiles beside them.
  for (const [dir, keep] of [
    ['fixtures', () => true],
    ['profiles', (f: string) => f.endsWith('.csv')],
  ] as const) {
    const from = join(scenariosDir, dir);
    if (!existsSync(from)) continue;
    mkdirSync(join(outDir, dir), { recursive: true });
    for (const f of readdirSync(from).filter(keep)) copyFileSync(join(from, f), join(outDir, dir, f));
  }
  return results;
}

/**
 * `gelombang bundle [files...]`: exit codes 0 written, 104 a scenario that is not there or does not
 * compile (k6's invalid configuration, naming the file), 2 a bad flag.
 */
export function bundleCommand(): Command {
  return new Command('bundle')
    .description('bundle k6 scenarios (TypeScript) into plain JavaScript for real k6 (v0.47+)')
    .argument('[files...]', 'scenario files (default: every scenarios/*.ts)')
    .option('--out <dir>', 'output directory', outputDir('--out'), 'dist/k6')
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (files: string[], o: { out: string }) => {
      const missing = files.find((f) => !existsSync(f) || statSync(f).isDirectory());
      if (missing) {
        console.error(`error: ${missing}: no such scenario file`);
        process.exitCode = 104;
        return;
      }
      try {
        for (const r of await bundleScenarios(files, resolve(o.out))) {
          console.log(
            `${r.out}  ${(r.bytes / 1024).toFixed(0)} KiB  imports: ${r.imports.join(', ') || '(none)'}`,
          );
        }
      } catch (err) {
        console.error((err as Error).message);
        process.exitCode = 104;
      }
    });
}
