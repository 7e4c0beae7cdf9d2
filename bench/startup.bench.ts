import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compiledEntry } from '../bin/compiled.mjs';
import { tsNodeArgs } from '../scripts/node-ts.ts';
import { ROOT } from '../scripts/paths.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * How long a process of the project takes to start from its cached bundle (bin/compiled.mjs)
 * against the same entry through tsx, alternating, in the same run: the CLI's `--help` to its exit,
 * and each service to the line that says it listens (on a port of its own choosing, loopback only).
 * A rehearsal starts the CLI, four services and the runner's worker threads; the test suite, hundreds.
 */

const ROUNDS = 9;

interface Target {
  metric: string;
  entry: string;
  args: string[];
  env: Record<string, string>;
  /** the process is up: its exit, or a line of its output */
  ready: RegExp | 'exit';
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};

function timeStart(args: string[], t: Target, dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...args, ...t.args], {
      cwd: ROOT,
      env: { ...process.env, ...t.env, DB_PATH: join(dir, `r${Math.random()}.db`) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      const ms = performance.now() - t0;
      child.kill('SIGKILL');
      if (ok) resolve(ms);
      else reject(new Error(`${t.metric}: did not start:\n${out.slice(-800)}`));
    };
    const onData = (d: Buffer) => {
      out += d;
      if (t.ready !== 'exit' && t.ready.test(out)) finish(true);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => finish(t.ready === 'exit' && code === 0));
    setTimeout(() => finish(false), 30_000).unref();
  });
}

const loopback = { HOST: '127.0.0.1' };
const TARGETS: Target[] = [
  { metric: 'gelombang --help', entry: 'scripts/cli.ts', args: ['--help'], env: {}, ready: 'exit' },
  {
    metric: 'registration service, to listening',
    entry: 'mock-services/registration/main.ts',
    args: [],
    env: { ...loopback, PORT: '0' },
    ready: /listening on/,
  },
  {
    metric: 'ministry mock, to listening',
    entry: 'mock-services/ministry/main.ts',
    args: [],
    env: { ...loopback, PORT: '0' },
    ready: /listening on/,
  },
  {
    metric: 'email mock, to listening',
    entry: 'mock-services/email/main.ts',
    args: [],
    env: { ...loopback, HTTP_PORT: '0', SMTP_PORT: '0' },
    ready: /listening on/,
  },
];

const bench: Bench = {
  name: 'startup',
  async run() {
    const rows: BenchRow[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'gelombang-startup-'));
    try {
      for (const t of TARGETS) {
        const entry = join(ROOT, t.entry);
        const bundle = await compiledEntry(entry);
        if (!bundle) throw new Error(`the bundle cache cannot be written: ${entry}`);
        const fromBundle: number[] = [];
        const fromTsx: number[] = [];
        // One of each first, not counted: both reach the disk cache (tsx keeps one too).
        await timeStart([bundle], t, dir);
        await timeStart([...tsNodeArgs(), entry], t, dir);
        for (let r = 0; r < ROUNDS; r++) {
          fromBundle.push(await timeStart([bundle], t, dir));
          fromTsx.push(await timeStart([...tsNodeArgs(), entry], t, dir));
        }
        const value = median(fromBundle);
        const reference = median(fromTsx);
        rows.push({
          bench: 'startup',
          metric: t.metric,
          value: Math.round(value),
          unit: 'ms',
          reference: Math.round(reference),
          ratio: value / reference,
          note: `median of ${ROUNDS} alternating starts each (bundle ${Math.round(Math.min(...fromBundle))}-${Math.round(Math.max(...fromBundle))} ms); reference: the same entry through tsx`,
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return rows;
  },
};

export default bench;
