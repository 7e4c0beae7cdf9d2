import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { compiledEntry } from './compiled.mjs';

const ROOT = join(import.meta.dirname, '..');
const COMPILED = join(import.meta.dirname, 'compiled.mjs');
// Inside the project, as the bundles' imports of packages need; removed at the end.
const cacheRoot = mkdtempSync(join(ROOT, 'node_modules', '.cache', 'compiled-test-'));
const sources = mkdtempSync(join(tmpdir(), 'gelombang-compiled-'));
afterAll(() => {
  rmSync(cacheRoot, { recursive: true, force: true });
  rmSync(sources, { recursive: true, force: true });
});

let n = 0;
/** A fresh folder of TypeScript sources and a fresh cache for them. */
function project(files: Record<string, string>): { dir: string; cache: string } {
  const dir = join(sources, `p${++n}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return { dir, cache: join(cacheRoot, `c${n}`) };
}

function run(bundle: string, args: string[] = []) {
  return spawnSync(process.execPath, [...args, bundle], { encoding: 'utf8', timeout: 30_000 });
}

const META = {
  'main.ts': [
    "import { z } from 'zod';",
    "import { other } from './lib/other.ts';",
    'const own: string = import.meta.url;',
    'console.log(JSON.stringify({ own, dir: import.meta.dirname, ...other, zod: typeof z.string }));',
    '',
  ].join('\n'),
  'lib/other.ts': [
    'export const other = {',
    '  url: import.meta.url,',
    '  file: import.meta.filename,',
    "  text: 'not import.meta.url but its text',",
    '  version: 1,',
    '};',
    '',
  ].join('\n'),
};

describe('compiledEntry: the TypeScript entries run from cached bundles', () => {
  it('gives each module its own import.meta, leaves strings as written, and resolves packages', async () => {
    const { dir, cache } = project(META);
    const bundle = await compiledEntry(join(dir, 'main.ts'), cache);
    expect(bundle).toMatch(/\.mjs$/);
    const r = run(bundle as string);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      own: pathToFileURL(join(dir, 'main.ts')).href,
      dir,
      url: pathToFileURL(join(dir, 'lib', 'other.ts')).href,
      file: join(dir, 'lib', 'other.ts'),
      text: 'not import.meta.url but its text',
      version: 1,
      zod: 'function',
    });
  });

  it('reuses the bundle while its sources are unchanged, and makes it again when one changes', async () => {
    const { dir, cache } = project(META);
    const entry = join(dir, 'main.ts');
    const first = (await compiledEntry(entry, cache)) as string;
    const made = statSync(first).mtimeMs;
    expect(await compiledEntry(entry, cache)).toBe(first);
    expect(statSync(first).mtimeMs).toBe(made);

    // An imported module, not the entry, changes: the bundle is made again with it.
    writeFileSync(
      join(dir, 'lib', 'other.ts'),
      (META['lib/other.ts'] as string).replace('version: 1', 'version: 22'),
    );
    const second = (await compiledEntry(entry, cache)) as string;
    expect(JSON.parse(run(second).stdout).version).toBe(22);
  });

  it('names the TypeScript file and line in a stack trace', async () => {
    const { dir, cache } = project({
      'fails.ts': [
        'type T = { a: number };',
        'const t: T = { a: 1 };',
        'if (t.a) throw new Error("boom");',
        '',
      ].join('\n'),
    });
    const bundle = (await compiledEntry(join(dir, 'fails.ts'), cache)) as string;
    const r = run(bundle, ['--enable-source-maps']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${join(dir, 'fails.ts')}:3`);
  });

  it('refuses a source that does not compile, naming the file and line', async () => {
    const { dir, cache } = project({ 'broken.ts': 'const x: number = ;\n' });
    await expect(compiledEntry(join(dir, 'broken.ts'), cache)).rejects.toThrow(/broken\.ts:1/);
  });

  it('keeps apart two checkouts that share a cache: each runs its own entry of the same name', async () => {
    // Two copies of the launcher, each the root of its own checkout (inside the project, for esbuild).
    const cache = join(cacheRoot, 'shared');
    const bundles: string[] = [];
    for (const side of ['a', 'b']) {
      const root = join(cacheRoot, `checkout-${side}`);
      mkdirSync(join(root, 'bin'), { recursive: true });
      mkdirSync(join(root, 'src'), { recursive: true });
      copyFileSync(COMPILED, join(root, 'bin', 'compiled.mjs'));
      writeFileSync(join(root, 'src', 'main.ts'), `console.log('${side}');\n`);
      const copy = (await import(pathToFileURL(join(root, 'bin', 'compiled.mjs')).href)) as {
        compiledEntry: typeof compiledEntry;
      };
      bundles.push((await copy.compiledEntry(join(root, 'src', 'main.ts'), cache)) as string);
    }
    expect(bundles.map((b) => run(b).stdout.trim())).toEqual(['a', 'b']);
  });

  it('serves four processes that start at once on an empty cache: each runs the entry', async () => {
    const { dir, cache } = project(META);
    const script = `const { compiledEntry } = await import(${JSON.stringify(pathToFileURL(COMPILED).href)});
      await import(await compiledEntry(${JSON.stringify(join(dir, 'main.ts'))}, ${JSON.stringify(cache)}));`;
    const outs = await Promise.all(
      [1, 2, 3, 4].map(
        () =>
          new Promise<{ code: number | null; out: string }>((res) => {
            const c = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
            let out = '';
            c.stdout.on('data', (d) => {
              out += d;
            });
            c.stderr.on('data', (d) => {
              out += d;
            });
            c.on('exit', (code) => res({ code, out }));
          }),
      ),
    );
    for (const o of outs) {
      expect(o.code, o.out).toBe(0);
      expect(JSON.parse(o.out).version).toBe(1);
    }
  });
});
