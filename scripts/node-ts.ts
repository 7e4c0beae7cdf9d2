import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/**
 * Node arguments that let a child process (a service, a worker) run a `.ts` entry directly.
 * The loader is named by absolute URL so that it resolves whatever the child's working directory.
 */
export function tsNodeArgs(): string[] {
  const loader = pathToFileURL(require.resolve('tsx')).href;
  return ['--import', loader];
}
