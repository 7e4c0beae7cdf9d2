// How the project's TypeScript runs without a build step, and starts fast: an entry (the CLI, a
// service, the runner's worker thread) is bundled by esbuild, once, into node_modules/.cache, and
// bundled again when one of its sources changed. tsx, which compiles module by module on every
// start, took 0.65-0.8 s to bring a service up on a 2-core machine, a bundle 0.33-0.39 s, and a
// rehearsal starts a dozen processes and threads (bench/README.md, "Start-up").
//
// Plain JavaScript on purpose: it is what loads the TypeScript, so it cannot be TypeScript.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(HERE), '..');
// Inside the project's node_modules so that the bundles' imports of packages resolve as the sources' do.
const CACHE = join(ROOT, 'node_modules', '.cache', 'gelombang', 'entries');
// Besides the sources: a bundle made by another version of this file or of esbuild is made again.
const ESBUILD = createRequire(import.meta.url).resolve('esbuild/package.json');

/** Size and modification time of a file, or null when it is gone. */
function stamp(path) {
  try {
    const s = statSync(path);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return null;
  }
}

/** The cached bundle if every file it was made from is unchanged. */
function fresh(manifestPath, entry) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return undefined;
  }
  if (manifest.entry !== entry || manifest.node !== process.version) return undefined;
  for (const [path, s] of Object.entries(manifest.inputs)) if (stamp(path) !== s) return undefined;
  return stamp(manifest.bundle) === null ? undefined : manifest.bundle;
}

/**
 * esbuild gives a bundle's modules the bundle's `import.meta`: each gets its own file's URL and
 * folder back, as when it ran from source (ROOT, the fixtures beside a module). A define in one
 * file's transform replaces expressions only, never the text of a string.
 */
const ownImportMeta = (esbuild) => ({
  name: 'own-import-meta',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?ts$/ }, async ({ path }) => {
      const source = await readFile(path, 'utf8');
      const { code } = await esbuild.transform(source, {
        loader: 'ts',
        format: 'esm',
        target: 'node20',
        sourcefile: path,
        // carries the lines back to the TypeScript through the bundle's own map
        sourcemap: 'inline',
        define: {
          'import.meta.url': JSON.stringify(pathToFileURL(path).href),
          'import.meta.dirname': JSON.stringify(dirname(path)),
          'import.meta.filename': JSON.stringify(path),
        },
      });
      return { contents: code, loader: 'js', resolveDir: dirname(path) };
    });
  },
});

async function build(entry, cacheDir, key) {
  const esbuild = await import('esbuild');
  const bundle = join(cacheDir, `${key}.mjs`);
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Packages stay imports, resolved from node_modules at run time: only the project's own code is bundled.
    packages: 'external',
    outfile: bundle,
    absWorkingDir: ROOT,
    write: false,
    sourcemap: 'linked',
    sourcesContent: false,
    metafile: true,
    logLevel: 'silent',
    plugins: [ownImportMeta(esbuild)],
  });
  const inputs = { [HERE]: stamp(HERE), [ESBUILD]: stamp(ESBUILD) };
  for (const input of Object.keys(result.metafile.inputs)) {
    const path = resolve(ROOT, input);
    inputs[path] = stamp(path);
  }
  // Written aside and renamed into place: a process starting meanwhile, or a second one bundling
  // the same entry (the test suite starts many at once), never reads half a file.
  const tag = randomBytes(6).toString('hex');
  const place = (path, contents) => {
    writeFileSync(`${path}.${tag}.tmp`, contents);
    renameSync(`${path}.${tag}.tmp`, path);
  };
  for (const out of result.outputFiles) if (out.path.endsWith('.map')) place(out.path, out.contents);
  for (const out of result.outputFiles) if (!out.path.endsWith('.map')) place(out.path, out.contents);
  place(join(cacheDir, `${key}.json`), JSON.stringify({ entry, node: process.version, bundle, inputs }));
  return bundle;
}

/**
 * The path of a JavaScript file that runs the TypeScript `entry`: its cached bundle, made first if
 * a source changed. null where the cache cannot be written (a read-only install): the caller runs
 * the source through tsx instead, as before. `cacheDir` must lie inside the project (its packages
 * resolve from there).
 */
export async function compiledEntry(entry, cacheDir = CACHE) {
  const abs = resolve(entry);
  // the entry's whole path in the key: two checkouts sharing one node_modules (a symlink, a
  // workspace) must not run each other's bundles
  const hash = createHash('sha256').update(abs).digest('hex').slice(0, 12);
  const key = `${relative(ROOT, abs).replaceAll(/[\\/.:]/g, '_')}-${hash}`;
  const hit = fresh(join(cacheDir, `${key}.json`), abs);
  if (hit) return hit;
  try {
    mkdirSync(cacheDir, { recursive: true });
    return await build(abs, cacheDir, key);
  } catch (err) {
    // a folder that exists but refuses writes fails in build, not in mkdir
    if (err.code === 'EACCES' || err.code === 'EROFS' || err.code === 'EPERM') return null;
    throw err;
  }
}

/**
 * Runs the TypeScript `entry` in this process: from its bundle, or through tsx where the cache
 * cannot be written. What the CLI and the runner's worker threads start with.
 */
export async function runEntry(entry) {
  const bundle = await compiledEntry(entry);
  if (bundle) {
    // Stack traces name the TypeScript and its lines, as under tsx: on before the import, since
    // Node reads a module's map as it loads it (a child process gets --enable-source-maps).
    process.setSourceMapsEnabled(true);
    await import(pathToFileURL(bundle).href);
    return;
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(entry).href);
}
