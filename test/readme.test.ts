import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * The README's walk from a laptop to a cluster, run as written, so that it cannot go stale: every
 * command of the section that this machine can run is run, with its results and manifests sent to
 * a temporary folder; a command that needs what the machine lacks (k6, Docker, kubectl) is skipped
 * with a message naming it. The "Commands" list's --help lines are run too.
 */

const ROOT = join(import.meta.dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const K6 = process.env.K6_BIN && existsSync(process.env.K6_BIN) ? process.env.K6_BIN : undefined;
const out = mkdtempSync(join(tmpdir(), 'gelombang-readme-'));

function section(title: string): string {
  const start = README.indexOf(`## ${title}`);
  if (start < 0) throw new Error(`README.md has no section '${title}'`);
  const end = README.indexOf('\n## ', start + 3);
  return README.slice(start, end < 0 ? undefined : end);
}

function commands(text: string): string[] {
  const lines: string[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g))
    for (const line of (block[1] as string).split('\n')) {
      const command = line.replace(/\s+#.*$/, '').trim();
      if (command) lines.push(command);
    }
  return lines;
}

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const dockerEngine = has('docker') && spawnSync('docker', ['info'], { timeout: 10_000 }).status === 0;

/** Why this machine cannot run the command, or undefined. */
function missing(command: string): string | undefined {
  if (command.startsWith('docker ')) return dockerEngine ? undefined : 'no Docker engine';
  if (command.startsWith('kubectl ')) return 'needs a cluster (kubectl)';
  if (command.includes('gelombang record') && command.includes('.svc:'))
    return "needs the cluster's Prometheus";
  if (command.includes('--engine k6') && !K6)
    return 'needs a k6 binary: set K6_BIN (../shared/tools/build-k6.sh builds one)';
  return undefined;
}

/** The command as written, with what it writes sent to the temporary folder. */
function argv(command: string): { file: string; args: string[] } {
  const words = command.split(/\s+/);
  const withOut = (args: string[]) => {
    if (args[0] === 'rehearse') return [...args, '--results', join(out, 'results')];
    const i = args.indexOf('--out');
    if (i >= 0) args[i + 1] = join(out, args[i + 1] as string);
    return args;
  };
  if (words[0] === 'npx' && words[1] === 'gelombang')
    return { file: process.execPath, args: [join(ROOT, 'bin/gelombang.js'), ...withOut(words.slice(2))] };
  if (words[0] === 'npm' && words[1] === 'run') {
    const rest = words.slice(2);
    return { file: 'npm', args: ['run', '--silent', ...rest] };
  }
  return { file: words[0] as string, args: words.slice(1) };
}

function run(command: string) {
  const { file, args } = argv(command);
  return spawnSync(file, args, {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    env: { ...process.env, PATH: K6 ? `${dirname(K6)}${delimiter}${process.env.PATH}` : process.env.PATH },
  });
}

describe('README: from a laptop to a cluster', () => {
  const lines = commands(section('From a laptop to a cluster'));

  it('has the four ways, each with its commands', () => {
    for (const what of ['rehearse --scale', 'rehearse --engine k6', 'docker compose up', 'gelombang k8s'])
      expect(
        lines.some((l) => l.includes(what)),
        what,
      ).toBe(true);
  });

  for (const command of lines) {
    const why = missing(command);
    if (why) console.warn(`test/readme.test.ts: skipped '${command}': ${why}`);
    it.skipIf(why !== undefined)(
      command,
      () => {
        const r = run(command);
        expect(r.stderr).not.toMatch(/^error:/m);
        expect(r.status, r.stderr).toBe(0);
        const runId = /--run-id (\S+)/.exec(command)?.[1];
        if (runId) {
          const dir = join(out, 'results', runId);
          const manifest = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
          expect(manifest.totals.arrivals).toBeGreaterThan(0);
          expect(existsSync(join(dir, 'report.html'))).toBe(true);
          if (/\brehearse\b/.test(command) && !command.includes('--no-full-scale')) {
            // The report's "At full scale": the same window with every registrant, simulated.
            const full = JSON.parse(readFileSync(join(dir, 'full-scale', 'run.json'), 'utf8'));
            expect(full.engine.name).toBe('simulator');
            expect(full.replay.scale).toBe(1);
            expect(full.replay.windowMinutes).toEqual(manifest.replay.windowMinutes);
            const everyone = full.replay.profilePerMinute.reduce((a: number, n: number) => a + n, 0);
            expect(full.totals.arrivals).toBe(everyone);
            expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('## At full scale');
          }
        }
        const manifests = /--out (\S+)/.exec(command)?.[1];
        if (command.includes('gelombang k8s') && manifests) {
          const docs = parseAllDocuments(readFileSync(join(out, manifests, 'testrun.yaml'), 'utf8')).map(
            (d) => d.toJS(),
          );
          expect(docs.map((d) => d.kind)).toEqual(['ConfigMap', 'TestRun']);
        }
      },
      300_000,
    );
  }
});

describe('README: the commands list', () => {
  for (const command of commands(section('Commands')).filter((l) => l.endsWith('--help'))) {
    it(command, () => {
      const r = run(command);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Usage:/);
    });
  }
});
