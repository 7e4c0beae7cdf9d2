// Entry of a runner worker thread: the engine's TypeScript from its bundle (bin/compiled.mjs), or
// through tsx where the bundle cannot be cached.
import { fileURLToPath } from 'node:url';
import { runEntry } from '../bin/compiled.mjs';

await runEntry(fileURLToPath(new URL('./worker.ts', import.meta.url)));
