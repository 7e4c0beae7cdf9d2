import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's root, from this file rather than the working directory: the CLI's defaults (the
 * 2020 profile, the capacity files, the scenarios and their photo) are the project's own files
 * wherever `gelombang` is run from; the paths a user gives stay relative to where they are.
 */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A path inside the project. */
export const fromRoot = (...parts: string[]): string => resolve(ROOT, ...parts);
