import { execFileSync } from 'node:child_process';

/**
 * Finds a system binary (prometheus, chromium, ...) a test needs. On a developer's laptop without it
 * the test is skipped with a message naming the Debian package; in CI (CI=true or
 * GELOMBANG_REQUIRE_SYSTEM_BINARIES=1) a missing binary is a failure, so CI never passes by skipping.
 */
export function findSystemBinary(names: string[]): string | undefined {
  for (const name of names) {
    try {
      const path = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
      if (path) return path;
    } catch {
      // not on PATH: try the next name
    }
  }
  return undefined;
}

export function systemBinariesRequired(): boolean {
  return process.env.GELOMBANG_REQUIRE_SYSTEM_BINARIES === '1' || process.env.CI === 'true';
}

/**
 * Returns the binary's path, or undefined with a printed skip reason. Throws in CI when missing.
 * Use with `describe.skipIf(!bin)`.
 */
export function requireSystemBinary(names: string[], debianPackage: string): string | undefined {
  const found = findSystemBinary(names);
  if (found) return found;
  const msg = `${names[0]} not found on PATH: install the Debian package '${debianPackage}' (apt-get install ${debianPackage})`;
  if (systemBinariesRequired()) throw new Error(`${msg}. CI requires it.`);
  console.warn(`skipping: ${msg}`);
  return undefined;
}
