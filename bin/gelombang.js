#!/usr/bin/env node
// The CLI is written in TypeScript: it runs from a bundle made on first use and remade when a
// source changes (bin/compiled.mjs), so that a fresh clone needs no build step.
import { fileURLToPath } from 'node:url';
import { runEntry } from './compiled.mjs';

await runEntry(fileURLToPath(new URL('../scripts/cli.ts', import.meta.url)));
