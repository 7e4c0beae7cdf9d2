#!/usr/bin/env node
// The CLI is written in TypeScript: it runs from a bundle made on first use and remade when a
// source changes (bin/compiled.mjs), so that a fresh clone needs no build step.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compiledEntry, mapStackTraces } from './compiled.mjs';

const entry = await compiledEntry(fileURLToPath(new URL('../scripts/cli.ts', import.meta.url)));
if (entry) {
  mapStackTraces();
  await import(pathToFileURL(entry).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../scripts/cli.ts');
}
