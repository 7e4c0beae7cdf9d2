import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gelombang } from '../../test/support/gelombang-cli.ts';
import { BadInput, type SimulateFlags, simulationInputs } from './simulate.ts';

const dir = mkdtempSync(join(tmpdir(), 'gelombang-simulate-'));
const flags = (o: Partial<SimulateFlags> = {}): SimulateFlags => ({
  scale: 1,
  compress: 1,
  serviceProfile: '2020',
  knob: {},
  set: {},
  seed: 1,
  results: dir,
  ...o,
});
const file = (name: string, content: unknown) => {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
};
const capacity = JSON.parse(readFileSync('mock-services/capacity.default.json', 'utf8'));
const calibration = JSON.parse(readFileSync('simulator/calibration.default.json', 'utf8'));
const refused = (o: Partial<SimulateFlags>): string => {
  try {
    simulationInputs(flags(o));
  } catch (err) {
    if (err instanceof BadInput) return err.message;
    throw err;
  }
  throw new Error('expected the input to be refused');
};

describe('simulate refuses bad input, naming the file and the field', () => {
  it.each([
    ['an unknown station', { ...capacity, sirekap: capacity.dtks }, 'sirekap'],
    [
      'a zero capacity',
      { ...capacity, dukcapil: { ...capacity.dukcapil, concurrency: 0 } },
      'dukcapil.concurrency',
    ],
    [
      'a p99 below the median',
      {
        ...capacity,
        email: { ...capacity.email, serviceTime: { distribution: 'lognormal', medianMs: 50, p99Ms: 10 } },
      },
      'email.serviceTime.p99Ms',
    ],
  ])('a capacity file with %s', (_what, content, field) => {
    const path = file('capacity.json', content);
    const message = refused({ capacity: path });
    expect(message).toContain(path);
    expect(message).toContain(field);
  });

  it.each([
    ['another version', { ...calibration, version: 3 }, 'version'],
    ['an unknown station', { ...calibration, stations: { sirekap: {} } }, 'sirekap'],
    [
      'a negative cost',
      {
        ...calibration,
        service: { ...calibration.service, stepCpuMs: { ...calibration.service.stepCpuMs, login: -1 } },
      },
      'service.stepCpuMs.login',
    ],
  ])('a calibration file with %s', (_what, content, field) => {
    const path = file('calibration.json', content);
    const message = refused({ calibration: path });
    expect(message).toContain(path);
    expect(message).toContain(field);
  });

  it.each([
    ['a gap', 'minute,arrivals\n0,10\n2,10\n', 'line 3'],
    ['a negative count', 'minute,arrivals\n0,10\n1,-5\n', 'column 2 (arrivals)'],
    ['no rows', 'minute,arrivals\n', 'at least one row'],
  ])('a profile with %s', (_what, content, where) => {
    const path = file('profile.csv', content);
    const message = refused({ profile: path });
    expect(message).toContain(path);
    expect(message).toContain(where);
  });

  it('an override of a field that does not exist, or out of range', () => {
    expect(refused({ set: { 'dukcapil.concurrenzy': '400' } })).toMatch(
      /dukcapil\.concurrenzy: no field 'concurrenzy' in dukcapil/,
    );
    expect(refused({ set: { 'service.cpus': '4' } })).toContain("no field 'cpus' in service");
    expect(refused({ set: { 'dukcapil.queue': '-1' } })).toContain('dukcapil.queue');
    expect(refused({ knob: { SCRYPT_M: '1' } })).toContain('SCRYPT_M');
  });

  it('exits 2 with the message and writes nothing', () => {
    const r = gelombang([
      'simulate',
      '--set',
      'dukcapil.concurrenzy=4',
      '--results',
      dir,
      '--run-id',
      'bad',
      '-q',
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('dukcapil.concurrenzy');
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });
});

describe('simulate writes a run record', () => {
  it('byte-identical for the same seed and inputs, that report reads', () => {
    const args = (results: string) => [
      'simulate',
      '--scale',
      '0.002',
      '--window',
      '0-20',
      '--results',
      results,
      '--run-id',
      'same',
      '-q',
    ];
    const a = gelombang(args(join(dir, 'a')));
    const b = gelombang(args(join(dir, 'b')));
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    expect(a.stdout).toMatch(/^SIMULATED \(calibration: default, seed 2020, 2 cores\)/);
    for (const f of ['run.json', 'timeseries.json', 'summary.json']) {
      expect(readFileSync(join(dir, 'a', 'same', f), 'utf8')).toBe(
        readFileSync(join(dir, 'b', 'same', f), 'utf8'),
      );
    }
    expect(readFileSync(join(dir, 'a', 'same', 'report.md'), 'utf8').split('\n')[0]).toContain(
      'simulated (calibration: default)',
    );
  }, 60_000);
});
