/**
 * The path of a JavaScript file that runs the TypeScript `entry`: its cached bundle, made first if
 * a source changed; null where the cache cannot be written. `cacheDir` must lie inside the project.
 */
export function compiledEntry(entry: string, cacheDir?: string): Promise<string | null>;

/** Runs the TypeScript `entry` in this process: from its bundle, or through tsx where the cache cannot be written. */
export function runEntry(entry: string): Promise<void>;
