import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadCapacityFile } from '../mock-services/capacity.ts';
import { scaleCapacity } from '../model/similitude.ts';
import { DEFAULT_REHEARSAL_CAPACITY } from '../scripts/rehearsal-similitude.ts';

const cli = ['bin/gelombang.js'];

/** `gelombang stack` with every port free (each service takes one and the stack prints it), its output as it comes. */
function stackProcess(extra: string[] = [], o: { ownGroup?: boolean } = {}) {
  const flags = ['--registration-port', '--ministry-port', '--email-port', '--smtp-port', '--upload-port'];
  const child = spawn(process.execPath, [...cli, 'stack', ...extra, ...flags.flatMap((f) => [f, '0'])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // A process group of its own, as a terminal gives a command: its Ctrl-C reaches every process in it.
    detached: o.ownGroup ?? false,
  });
  const io = { out: '', err: '' };
  child.stdout.on('data', (d) => {
    io.out += d;
  });
  child.stderr.on('data', (d) => {
    io.err += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const until = async (done: () => boolean, what: string) => {
    const deadline = Date.now() + 60_000;
    while (!done() && Date.now() < deadline && child.exitCode === null)
      await new Promise((r) => setTimeout(r, 100));
    if (!done()) throw new Error(`${what}; stdout: ${io.out}; stderr: ${io.err}`);
  };
  // Ctrl-C, not SIGKILL: the stack must stop its services, or they would outlive the test.
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  };
  return { child, io, exited, until, stop };
}

describe('the gelombang CLI', () => {
  it('lists its commands', () => {
    const r = spawnSync(process.execPath, [...cli, '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/stack/);
    expect(r.stdout).toMatch(/demo/);
  });

  it('refuses a bad flag with a precise message', () => {
    const r = spawnSync(process.execPath, [...cli, 'stack', '--registration-port', '99999'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/expected a TCP port number 1-65535 \(0: any free port\), got '99999'/);
  });

  // The commands' bad input class by class is test/cli-input.test.ts, in-process; these go through
  // bin/gelombang.js as a user runs it, where an uncaught error would print a stack trace.
  it.each([
    [['stack', '--capacity', 'missing.json'], 2, "--capacity: no such file 'missing.json'"],
    [['stack', '--workers', '0'], 2, "--workers: expected a whole number >= 1 and <= 64, got '0'"],
    [['stack', '--scale', '0.001'], 2, '--scale without --compress: '],
    [['stack', '--compress', '90'], 2, '--compress without --scale: '],
    [
      ['stack', '--scale', '0.5', '--compress', '90'],
      2,
      "--scale x --compress (0.5 x 90) = 45: more than the day's own arrival rate, and a capacity file at full size is not scaled up (model/similitude.ts); lower them, or leave out --scale and --compress to enforce the file as it is",
    ],
    [['rehearse', '--knob', 'SCRYPT_N=3'], 104, '--knob: SCRYPT_N: Too small'],
    [['report', 'no/such/run'], 2, 'no/such/run/run.json: cannot read the run record (ENOENT)'],
  ])('%j: exit %i naming the flag or file, no stack trace', (args, code, message) => {
    const r = spawnSync(process.execPath, [...cli, ...args], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.status).toBe(code);
  });

  it('stack: a service that exits before listening is named, with its exit code and its reason', () => {
    // The ministry mock refuses this environment and exits 2, saying why on stderr.
    const ports = ['--registration-port', '--ministry-port', '--email-port', '--smtp-port', '--upload-port'];
    const r = spawnSync(process.execPath, [...cli, 'stack', ...ports.flatMap((p) => [p, '0'])], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, POPULATION_SHARES: '{"typo":0.1}' },
    });
    expect(r.stderr).toContain(
      'error: ministry exited with code 2 before it was ready: ministry: invalid environment: POPULATION_SHARES: Unrecognized key: "typo"',
    );
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(r.status).toBe(1);
  });

  it('demo: starts the stack and walks a registrant to joined_wave', () => {
    const r = spawnSync(process.execPath, [...cli, 'demo'], { encoding: 'utf8', timeout: 90_000 });
    expect(r.stdout).toMatch(/✓ read_status\s+200/);
    expect(r.stdout).toMatch(/reached joined_wave/);
    expect(r.status).toBe(0);
  }, 100_000);

  it('stack: a service that dies while the stack runs is reported at once: which, its signal; Ctrl-C then exits 1', async () => {
    const stack = stackProcess();
    try {
      await stack.until(() => stack.io.out.includes('Ctrl-C'), 'the stack did not start');
      const ministry = /ministry\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(stack.io.out)?.[1];
      const { pid } = (await (await fetch(`${ministry}/healthz`)).json()) as { pid: number };
      process.kill(pid, 'SIGKILL');
      await stack.until(() => stack.io.err.includes('Ctrl-C to stop'), 'the death was not reported');
      expect(stack.io.err).toContain(`error: ministry (pid ${pid}) died: killed by SIGKILL`);
      expect(stack.io.err).not.toMatch(/^\s+at /m);
      stack.child.kill('SIGINT');
      expect(await stack.exited).toBe(1);
    } finally {
      await stack.stop();
    }
  }, 90_000);

  it("stack --scale --compress: the mocks enforce the 2020 file scaled by the replay's rate, as rehearse's do", async () => {
    const stack = stackProcess(['--scale', '0.001', '--compress', '90']);
    try {
      await stack.until(() => stack.io.out.includes('Ctrl-C'), 'the stack did not start');
      const { out, err } = stack.io;
      expect(err).toBe('');
      expect(out).toContain(`capacities: ${DEFAULT_REHEARSAL_CAPACITY} at full size x 0.09`);
      expect(out).toMatch(
        /^service: SCRYPT_N=\d+ instead of the design's 16384: this machine's \d+ cores stand for [\d.]+ cores of the full-size service$/m,
      );
      expect(out).toContain('replay with -e SCALE=0.001 -e COMPRESS=90');
      const full = loadCapacityFile(DEFAULT_REHEARSAL_CAPACITY).capacity;
      const scaled = scaleCapacity(full, 0.001 * 90).capacity;
      // Dukcapil's 7 servers at full size are not what a 0.09 share of the day meets.
      expect(scaled.dukcapil.concurrency).not.toBe(full.dukcapil.concurrency);
      const ministry = /ministry\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
      const config = (await (
        await fetch(`${ministry}/admin/config`, { headers: { authorization: 'Bearer gelombang-admin' } })
      ).json()) as { dukcapil: unknown; dapodik: unknown; dtks: unknown };
      expect(config).toEqual({ dukcapil: scaled.dukcapil, dapodik: scaled.dapodik, dtks: scaled.dtks });
      stack.child.kill('SIGINT');
      expect(await stack.exited).toBe(0);
    } finally {
      await stack.stop();
    }
  }, 90_000);

  it("stack: a terminal's Ctrl-C, which every service receives too, stops the stack without calling them dead", async () => {
    const stack = stackProcess([], { ownGroup: true });
    try {
      await stack.until(() => stack.io.out.includes('Ctrl-C'), 'the stack did not start');
      const urls = ['registration', 'ministry', 'upload'].map(
        (name) => new RegExp(`${name}\\s+(http://127\\.0\\.0\\.1:\\d+)`).exec(stack.io.out)?.[1],
      );
      for (const url of urls) expect((await fetch(`${url}/healthz`)).status).toBe(200);
      process.kill(-(stack.child.pid as number), 'SIGINT');
      expect(await stack.exited).toBe(0);
      expect(stack.io.err).toBe('');
      for (const url of urls) await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    } finally {
      await stack.stop();
    }
  }, 90_000);

  it('stack: prints a URL per service and stops on Ctrl-C', async () => {
    const stack = stackProcess();
    try {
      await stack.until(() => stack.io.out.includes('Ctrl-C'), 'the stack did not start');
      for (const name of ['registration', 'ministry', 'email', 'upload'])
        expect(stack.io.out).toMatch(new RegExp(`${name}\\s+http://127\\.0\\.0\\.1:\\d+`));
      const registration = /registration\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(stack.io.out)?.[1];
      expect(registration).toBeDefined();
      expect((await fetch(`${registration}/healthz`)).status).toBe(200);
      stack.child.kill('SIGINT');
      expect(await stack.exited).toBe(0);
      await expect(fetch(`${registration}/healthz`)).rejects.toThrow();
    } finally {
      await stack.stop();
    }
  }, 90_000);
});
