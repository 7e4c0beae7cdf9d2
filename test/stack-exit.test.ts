import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningStack, type ServiceExit, startStack } from '../scripts/stack.ts';

/**
 * A service that dies once the stack is up is news at once: which one, its exit code or signal,
 * its last lines on stderr. Real processes on free loopback ports; the services are killed from
 * outside the stack, as a crash or the OOM killer would.
 */

let stack: RunningStack;
const told: ServiceExit[] = [];

beforeAll(async () => {
  stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: { registration: { SCRYPT_N: '1024', WORKERS: '2' } },
    onExit: (exit) => told.push(exit),
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

/** The promise, or a failure naming what did not happen within `ms` (a bound, not a measurement). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function nextExit(service: string): Promise<ServiceExit> {
  return new Promise((resolve) => {
    const off = stack.onExit((exit) => {
      if (exit.service !== service) return;
      off();
      resolve(exit);
    });
  });
}

describe('a service that exits after the stack is up', () => {
  it('stopped by the stack itself: recorded as expected, not as a death', async () => {
    await stack.kill('upload', 'SIGKILL');
    const exit = stack.exits.find((e) => e.service === 'upload');
    expect(exit).toMatchObject({ service: 'upload', signal: 'SIGKILL', code: null, expected: true });
    expect(exit?.message).toMatch(/^upload \(pid \d+\) stopped: killed by SIGKILL/);
  });

  it('killed from outside (SIGKILL): reported at once, naming it and its signal', async () => {
    const ministry = stack.process('ministry');
    process.kill(ministry.pid as number, 'SIGKILL');
    const exit = await within(stack.died, 20_000, 'the death of the ministry mock');
    expect(exit).toMatchObject({
      service: 'ministry',
      pid: ministry.pid,
      signal: 'SIGKILL',
      code: null,
      expected: false,
    });
    expect(exit.message).toMatch(
      /^ministry \(pid \d+\) died: killed by SIGKILL; it printed nothing on stderr$/,
    );
    // The listener given at start heard the same, and the stack keeps the record.
    expect(told.filter((e) => !e.expected)).toEqual([exit]);
    expect(stack.exits.map((e) => [e.service, e.expected])).toEqual([
      ['upload', true],
      ['ministry', false],
    ]);
  });

  it('the registration service: its last lines on stderr come with the report', async () => {
    // A worker killed is replaced by the primary, which says so on stderr; then the primary dies.
    const health = (await (await fetch(`${stack.urls.registration}/healthz`)).json()) as { pid: number };
    const primary = stack.process('registration');
    expect(health.pid).not.toBe(primary.pid);
    const replaced = new Promise<void>((resolve) => {
      primary.stderr?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes(`worker ${health.pid} died`)) resolve();
      });
    });
    process.kill(health.pid, 'SIGKILL');
    await within(replaced, 20_000, 'the primary noticing its worker died');
    const next = nextExit('registration');
    process.kill(primary.pid as number, 'SIGKILL');
    const exit = await within(next, 20_000, 'the death of the registration service');
    expect(exit).toMatchObject({ service: 'registration', signal: 'SIGKILL', expected: false });
    expect(exit.lastLines.join('\n')).toContain(
      `registration: worker ${health.pid} died (SIGKILL); starting another`,
    );
    expect(exit.message).toContain(`its last lines: registration: worker ${health.pid} died (SIGKILL)`);
  });
});
