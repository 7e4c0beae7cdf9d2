import { builtinModules } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Message, type Plugin } from 'esbuild';
import { configError } from './errors.ts';

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

/** k6 v0.47's JavaScript engine (goja) supports ES2020 syntax; newer syntax is lowered. */
export const K6_TARGET = 'es2020';

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

async function bundle(
  entry: string,
  forRunner: boolean,
  sourcemap: 'inline' | 'external' | false,
): Promise<BundleResult> {
  const path = resolve(entry);
  try {
    const result = await build({
      entryPoints: [path],
      bundle: true,
      write: false,
      format: 'esm',
      platform: forRunner ? 'node' : 'neutral',
      mainFields: ['module', 'main'],
      conditions: ['import', 'default'],
      target: forRunner ? 'node20' : K6_TARGET,
      sourcemap,
      sourcesContent: false,
      metafile: true,
      logLevel: 'silent',
      external: forRunner ? [] : ['k6', 'k6/*'],
      banner: forRunner
        ? {
            js: "import { createRequire as __gelombangRequire } from 'node:module'; const require = __gelombangRequire(import.meta.url);",
          }
        : undefined,
      // The runner's own modules import node built-ins (net, tls, crypto): those are the engine's, not the script's.
      plugins: forRunner ? [k6ForRunner()] : [refuseNodeBuiltins()],
      outfile: `${basename(path).replace(/\.[cm]?[jt]s$/, '')}.js`,
      legalComments: 'none',
      nodePaths: [PROJECT_MODULES],
    });
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
    const e = err as { errors?: Message[] };
    if (e.errors?.length)
      throw configError(`${entry}: the script does not compile:\n${describeErrors(entry, e.errors)}`);
    throw err;
  }
}

/** A bundle for real k6 (k6 v0.47+): k6 modules external, inline source map. */
export function bundleForK6(entry: string): Promise<BundleResult> {
  return bundle(entry, false, 'inline');
}

/** A bundle for the embedded runner: k6 modules are ours. */
export function bundleForRunner(entry: string): Promise<BundleResult> {
  return bundle(entry, true, 'inline');
}
