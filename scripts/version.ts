import { readFileSync } from 'node:fs';

/** gelombang's version (package.json), as run records name their engine. */
export function gelombangVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
