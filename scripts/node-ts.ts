import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { compiledEntry } from '../bin/compiled.mjs';

const require = createRequire(import.meta.url);

/**
 * Node arguments that let a child process (a service, a worker) run a `.ts` entry directly.
 * The loader is named by absolute URL so that it resolves whatever the child's working directory.
 */
export function tsNodeArgs(): string[] {
  const loader = pathToFileURL(require.resolve('tsx')).href;
  return ['--import', loader];
}

/**
 * Node arguments that run the TypeScript `entry` in a child process: its cached bundle, which
 * starts in about half the time (bin/compiled.mjs), or the source through tsx where the cache
 * cannot be written.
 */
export async function nodeArgsFor(entry: string): Promise<string[]> {
  const bundle = await compiledEntry(entry);
  return bundle ? ['--enable-source-maps', bundle] : [...tsNodeArgs(), entry];
}
