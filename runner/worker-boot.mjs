// Entry of a runner worker thread: the engine's TypeScript from its bundle (bin/compiled.mjs), or
// through tsx where the bundle cannot be cached.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compiledEntry, mapStackTraces } from '../bin/compiled.mjs';

const entry = await compiledEntry(fileURLToPath(new URL('./worker.ts', import.meta.url)));
if (entry) {
  mapStackTraces();
  await import(pathToFileURL(entry).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./worker.ts');
}
