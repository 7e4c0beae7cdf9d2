import { spawn, spawnSync } from 'node:child_process';

/** The `gelombang` CLI as a user runs it, for the end-to-end tests: a process, its output, its exit code. */

const cli = ['bin/gelombang.js'];

export function gelombang(args: string[], timeout = 60_000) {
  return spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout });
}

/** Runs a command without blocking the test's event loop (a rehearsal takes a while). */
export function gelombangAsync(
  args: string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...cli, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/**
 * A rehearsal small enough for a test: the first profile hour at 0.01 % of the registrants,
 * compressed 1200 times (3 s of load), a cheap password hash, think times compressed so
 * registrants reach every stage, sampled every half second. No full-scale prediction: that hour
 * is 707,623 registrants to simulate (test/readme.test.ts and test/report-html.test.ts predict a
 * two-minute window).
 */
export const tinyRehearsal = (results: string, runId: string, extra: string[] = []) => [
  'rehearse',
  '--scale',
  '0.0001',
  '--compress',
  '1200',
  '--window',
  '0-60',
  '--knob',
  'SCRYPT_N=1024',
  '-e',
  'THINK_COMPRESS=20000',
  '-e',
  'GRACEFUL_STOP=20s',
  '--interval',
  '0.5',
  '--results',
  results,
  '--run-id',
  runId,
  '-q',
  '--no-full-scale',
  ...extra,
];
