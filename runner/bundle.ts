import { builtinModules } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type BuildOptions, build, type Message, type Plugin } from 'esbuild';
import { configError, EXIT, RunError } from './errors.ts';
import { unsupportedCalls } from './script-check.ts';

/**
 * Turns a k6 script (TypeScript or JavaScript, with npm dependencies) into one ES module:
 * - for real k6: `k6` and `k6/*` stay external imports, everything else is bundled, plain
 *   JavaScript that k6 v0.47's goja runs (no native TypeScript there before v0.52);
 * - for the embedded runner: `k6` and `k6/*` resolve to runner/modules.
 * A Node built-in anywhere in the script's imports is refused: real k6 has none.
 */

const MODULES_DIR = join(dirname(fileURLToPath(import.meta.url)), 'modules');
/** npm dependencies of a script resolve from the project too, wherever the script lives. */
const PROJECT_MODULES = join(dirname(fileURLToPath(import.meta.url)), '..', 'node_modules');
const K6_MODULES: Record<string, string> = {
  k6: 'k6.ts',
  'k6/http': 'http.ts',
  'k6/metrics': 'metrics.ts',
  'k6/execution': 'execution.ts',
  'k6/data': 'data.ts',
  'k6/encoding': 'encoding.ts',
};
const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/**
 * k6 before v0.52 passes an ES module through its own Babel (6.x) before goja runs it, and that
 * Babel parses no syntax past ES2017: object spread, optional catch binding, `??` and `?.` are
 * syntax errors there (tried on a real k6 v0.47.0). esbuild lowers them; what it cannot lower
 * (BigInt literals, say) fails the bundle with the file and line, before k6 ever sees it.
 */
export const K6_TARGET = 'es2017';

function refuseNodeBuiltins(): Plugin {
  return {
    name: 'refuse-node-builtins',
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        if (NODE_BUILTINS.has(args.path)) {
          return {
            errors: [
              {
                text: `'${args.path}' is a Node.js built-in module: k6 scripts cannot use it (imported by ${args.importer})`,
              },
            ],
          };
        }
        return undefined;
      });
    },
  };
}

function k6ForRunner(): Plugin {
  return {
    name: 'k6-modules-for-runner',
    setup(b) {
      b.onResolve({ filter: /^k6(\/.*)?$/ }, (args) => {
        const file = K6_MODULES[args.path];
        if (!file) {
          return {
            errors: [
              {
                text: `'${args.path}' is not supported by the embedded runner (supported: ${Object.keys(K6_MODULES).join(', ')})`,
              },
            ],
          };
        }
        return { path: join(MODULES_DIR, file) };
      });
    },
  };
}

function describeErrors(file: string, errors: Message[]): string {
  return errors
    .map((e) =>
      e.location
        ? `${e.location.file}:${e.location.line}:${e.location.column}: ${e.text}`
        : `${file}: ${e.text}`,
    )
    .join('\n');
}

export interface BundleResult {
  code: string;
  /** every module path the bundle contains, for checks */
  inputs: string[];
  /** the bare imports left in the output (k6 modules, for a k6 bundle) */
  externalImports: string[];
}

type Mode = 'k6' | 'runner' | 'check';

/**
 * esbuild's options for a bundle for real k6, for the runner, or for the check of the calls the
 * runner lacks: the runner's resolution with k6's modules left as imports, so that their local
 * names can be followed, unlowered (ES2022 is what the check reads) and with a separate source map.
 */
function buildOptions(path: string, mode: Mode): BuildOptions & { write: false; metafile: true } {
  const forNode = mode !== 'k6';
  return {
    entryPoints: [path],
    bundle: true,
    write: false,
    format: 'esm',
    platform: forNode ? 'node' : 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['import', 'default'],
    target: { k6: K6_TARGET, runner: 'node20', check: 'es2022' }[mode],
    sourcemap: mode === 'check' ? 'external' : 'inline',
    sourcesContent: false,
    metafile: true,
    logLevel: 'silent',
    // esbuild turns a BigInt literal it cannot lower into BigInt(...) with a warning; k6 v0.47's goja
    // has no BigInt, so for k6 that is an error, with the file and line.
    ...(mode === 'k6' ? { logOverride: { bigint: 'error' as const } } : {}),
    external: mode === 'runner' ? [] : ['k6', 'k6/*'],
    banner:
      mode === 'runner'
        ? {
            js: "import { createRequire as __gelombangRequire } from 'node:module'; const require = __gelombangRequire(import.meta.url);",
          }
        : undefined,
    // The runner's own modules import node built-ins (net, tls, crypto): those are the engine's, not the script's.
    plugins: { k6: [refuseNodeBuiltins()], runner: [k6ForRunner()], check: [] }[mode],
    // The source map names the sources relative to the output: for the runner's and the check's,
    // beside the script, with the script's folder as their root, so that a stack or a refusal
    // points at the script's own files wherever the bundle is written.
    outfile: join(forNode ? dirname(path) : '', `${basename(path).replace(/\.[cm]?[jt]s$/, '')}.js`),
    sourceRoot: forNode ? `${pathToFileURL(dirname(path)).href}/` : undefined,
    legalComments: 'none',
    nodePaths: [PROJECT_MODULES],
  };
}

function compileError(entry: string, err: unknown): unknown {
  const e = err as { errors?: Message[] };
  if (e.errors?.length)
    return configError(`${entry}: the script does not compile:\n${describeErrors(entry, e.errors)}`);
  return err;
}

async function bundle(entry: string, forRunner: boolean): Promise<BundleResult> {
  const path = resolve(entry);
  try {
    const result = await build(buildOptions(path, forRunner ? 'runner' : 'k6'));
    const out = result.outputFiles.find((f) => f.path.endsWith('.js'));
    if (!out) throw new Error('esbuild produced no JavaScript');
    const inputs = Object.keys(result.metafile.inputs);
    if (forRunner) {
      const scriptInputs = inputs.filter((i) => !resolve(i).startsWith(MODULES_DIR));
      const builtins = Object.entries(result.metafile.inputs)
        .filter(([file]) => scriptInputs.includes(file))
        .flatMap(([file, meta]) =>
          meta.imports
            .filter((im) => NODE_BUILTINS.has(im.path))
            .map((im) => `${im.path} (imported by ${file})`),
        );
      if (builtins.length)
        throw configError(
          `${entry}: Node.js built-in modules cannot be used in a k6 script: ${builtins.join(', ')}`,
        );
    }
    const externalImports = Object.values(result.metafile.outputs).flatMap((o) =>
      o.imports.filter((i) => i.external).map((i) => i.path),
    );
    return { code: out.text, inputs, externalImports: [...new Set(externalImports)] };
  } catch (err) {
    throw compileError(entry, err);
  }
}

/**
 * Refuses a script that calls what the runner does not implement (group, the synchronous http
 * functions, cookie jars, Response.html): exit 107 before its first request, each call named
 * with where it is and what to write instead, rather than a run that sends nothing and passes.
 */
async function refuseUnsupportedCalls(entry: string): Promise<void> {
  const path = resolve(entry);
  const files = await build(buildOptions(path, 'check')).then(
    (r) => r.outputFiles,
    (err: unknown) => {
      throw compileError(entry, err);
    },
  );
  const code = files.find((f) => f.path.endsWith('.js'))?.text ?? '';
  const map =
    files.find((f) => f.path.endsWith('.js.map'))?.text ?? '{"version":3,"sources":[],"mappings":""}';
  const calls = unsupportedCalls(code, map, dirname(path));
  if (calls.length)
    throw new RunError(
      EXIT.scriptException,
      `${entry}: the script calls what the embedded runner does not implement (real k6 does; the portable subset runs on both):\n${calls.map((c) => `  ${c}`).join('\n')}`,
    );
}

/** A bundle for real k6 (k6 v0.47+): k6 modules external, inline source map. */
export function bundleForK6(entry: string): Promise<BundleResult> {
  return bundle(entry, false);
}

/** A bundle for the embedded runner: k6 modules are ours; a call it does not implement is refused. */
export async function bundleForRunner(entry: string): Promise<BundleResult> {
  const result = await bundle(entry, true);
  await refuseUnsupportedCalls(entry);
  return result;
}
