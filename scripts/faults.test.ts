import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMockCapacity } from '../mock-services/capacity.ts';
import { planFaults } from '../model/faults.ts';
import { loadFaults, readFaultFile, startFaults } from './faults.ts';
import { type RunningStack, startStack } from './stack.ts';

/**
 * A fault schedule applied to a real stack on loopback: the mock's /admin/config shows the fault
 * while it lasts and the station as it was after, a kill restarts the registration service as a
 * new process, and the stack counts that exit as expected, not as a death.
 */

const dir = mkdtempSync(join(tmpdir(), 'gelombang-faults-'));
const capacityFile = 'mock-services/capacity.default.json';
const TOKEN = 'faults-test-token';
let stack: RunningStack;

beforeAll(async () => {
  stack = await startStack({
    ports: 'auto',
    capacityFile,
    adminToken: TOKEN,
    env: { registration: { SCRYPT_N: '1024' } },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

async function ministryConfig(): Promise<Record<string, Record<string, unknown>>> {
  const res = await fetch(`${stack.urls.ministry}/admin/config`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, Record<string, unknown>>;
}

async function registrationPid(): Promise<number | null> {
  try {
    const res = await fetch(`${stack.urls.registration}/healthz`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? ((await res.json()) as { pid: number }).pid : null;
  } catch {
    return null;
  }
}

/** Polls until `check` gives a value; the deadline is generous because the machine is shared. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, ms = 45_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('a fault schedule on a running stack', () => {
  it('downs a dependency for its time, restores it, and kills and restarts the registration service', async () => {
    const file = join(dir, 'faults.yaml');
    writeFileSync(
      file,
      [
        'faults:',
        '  - at: 1          # profile minute: t = 1 s at --compress 60',
        '    dependency: dukcapil',
        '    down: 6m       # 6 s of the run',
        '  - at: 2',
        '    kill: registration',
        '    restartAfter: 30s',
        '',
      ].join('\n'),
    );
    const entries = readFaultFile(file);
    const original = (await ministryConfig()).dukcapil;
    const pidBefore = await registrationPid();
    expect(pidBefore).not.toBeNull();
    const lines: string[] = [];
    const lost: string[] = [];
    const faults = startFaults(planFaults(entries, { fromMinute: 0, compress: 60 }), stack, {
      originMs: Date.now(),
      log: (l) => lines.push(l),
      onLostService: (m) => lost.push(m),
    });

    const during = await eventually('dukcapil down on the ministry mock', async () => {
      const d = (await ministryConfig()).dukcapil;
      return d?.errorRate === 1 ? d : undefined;
    });
    expect(during).toEqual({ ...original, errorRate: 1, errorStatus: 503 });
    const pidAfter = await eventually('a new registration process answering /healthz', async () => {
      const pid = await registrationPid();
      return pid !== null && pid !== pidBefore ? pid : undefined;
    });
    await eventually('dukcapil as it was', async () => {
      const d = (await ministryConfig()).dukcapil;
      return JSON.stringify(d) === JSON.stringify(original) ? d : undefined;
    });

    const records = await faults.finish();
    expect(lost).toEqual([]);
    const [down, kill] = records;
    expect(down).toMatchObject({
      kind: 'down',
      target: 'dukcapil',
      profileMinute: 1,
      plannedSeconds: 1,
      plannedEndSeconds: 7,
      station: { before: original, during: { ...original, errorRate: 1, errorStatus: 503 } },
    });
    expect(down?.problem).toBeUndefined();
    // Node's timers fire late, never early (give or take the millisecond they round to).
    expect(down?.appliedSeconds).toBeGreaterThanOrEqual(0.99);
    expect(down?.restoredSeconds).toBeGreaterThanOrEqual(6.99);
    expect(kill).toMatchObject({
      kind: 'kill',
      target: 'registration',
      plannedSeconds: 2,
      plannedEndSeconds: 2.5,
    });
    expect(kill?.problem).toBeUndefined();
    expect(kill?.kill).toMatchObject({ pidBefore, pidAfter });
    expect(kill?.restoredSeconds).toBeGreaterThan(kill?.appliedSeconds ?? Number.POSITIVE_INFINITY);
    expect(kill?.kill?.downtimeSeconds).toBeGreaterThanOrEqual(0.49);

    // The schedule's kill is the stack's own doing: expected, and no death.
    const exit = stack.exits.find((e) => e.service === 'registration' && e.pid === pidBefore);
    expect(exit).toMatchObject({ expected: true, signal: 'SIGKILL' });
    const died = await Promise.race([stack.died.then(() => 'died'), Promise.resolve('alive')]);
    expect(died).toBe('alive');
    expect(lines.some((l) => /dukcapil down .* station changed/.test(l))).toBe(true);
    expect(lines.some((l) => /registration ready again/.test(l))).toBe(true);
  });

  it('when finished early: a fault still on is restored and says so, one not started is not applied', async () => {
    const original = (await ministryConfig()).dtks;
    const entries = [
      ...(
        loadFaults({
          chaos: [],
          window: { fromMinute: 0, toMinute: 1000 },
          capacity: null,
          file: writeYaml(
            'early.yaml',
            'faults:\n  - { at: 0, dependency: dtks, errorRate: 0.5, for: 10h }\n  - { at: 900, dependency: dapodik, down: 1m }\n',
          ),
        }) as { entries: ReturnType<typeof readFaultFile> }
      ).entries,
    ];
    const faults = startFaults(planFaults(entries, { fromMinute: 0, compress: 60 }), stack, {
      originMs: Date.now(),
      log: () => {},
    });
    await eventually('dtks failing half its requests', async () =>
      (await ministryConfig()).dtks?.errorRate === 0.5 ? true : undefined,
    );
    await eventually('the fault recorded as applied', async () =>
      faults.records[0]?.appliedSeconds != null ? true : undefined,
    );
    const [on, later] = await faults.finish();
    expect((await ministryConfig()).dtks).toEqual(original);
    expect(on?.restoredSeconds).not.toBeNull();
    expect(on?.problem).toMatch(/the run ended before its planned end \(t=600 s\): restored at t=/);
    expect(later).toMatchObject({
      appliedSeconds: null,
      restoredSeconds: null,
      problem: 'the run ended before its time: not applied',
    });
  });
});

function writeYaml(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe('loading a schedule for a rehearsal', () => {
  const capacity = loadMockCapacity(capacityFile);
  const window = { fromMinute: 0, toMinute: 60 };

  it('takes --faults and --chaos together', () => {
    const r = loadFaults({
      file: writeYaml(
        'ok.json',
        JSON.stringify({ faults: [{ at: 5, dependency: 'email', slow: 0.1, for: '5m' }] }),
      ),
      chaos: ['kill-service@30'],
      window,
      capacity,
    });
    expect('entries' in r && r.entries.map((e) => [e.kind, e.at])).toEqual([
      ['slow', 5],
      ['kill', 30],
    ]);
  });

  it('refuses a fault that would make a station its mock refuses, naming the entry', () => {
    const file = writeYaml(
      'too-slow.yaml',
      'faults:\n  - at: 5\n    dependency: dukcapil\n    slow: 0.001\n    for: 1m\n',
    );
    expect(loadFaults({ file, chaos: [], window, capacity })).toEqual({
      problem: expect.stringMatching(
        /too-slow\.yaml: faults\[0\]: during the fault dukcapil's station would be one its mock refuses: .*timeoutMs/,
      ),
    });
  });

  it('names the file when it cannot be read or parsed, and the flag for a bad --chaos', () => {
    expect(loadFaults({ file: join(dir, 'missing.yaml'), chaos: [], window, capacity })).toEqual({
      problem: `${join(dir, 'missing.yaml')}: cannot read the fault schedule (ENOENT)`,
    });
    const bad = writeYaml('bad.yaml', 'faults: [ { at: 1\n');
    expect(loadFaults({ file: bad, chaos: [], window, capacity })).toEqual({
      problem: expect.stringContaining(`${bad}: not YAML or JSON (`),
    });
    expect(loadFaults({ chaos: ['kill-service@61'], window, capacity })).toEqual({
      problem: "--chaos kill-service@61: minute 61 is outside the replay's window, profile minutes 0-60",
    });
  });
});
