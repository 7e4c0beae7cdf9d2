import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCalibration } from '../../simulator/calibration.ts';
import { gelombang } from '../../test/support/gelombang-cli.ts';
import { admissionNote, BadInput, type SimulateFlags, simulationInputs } from './simulate.ts';

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
/** the default's service without its version 7 and 8 fields, for files of the versions before */
const { restartMs: _restart, workerStartMs: _worker, ...before7 } = calibration.service;
/** a hash's time on its path over its CPU (mean 0.92) */
const SPREAD = { min: 0.8, p50: 0.86, p90: 1.05, p95: 1.15, p99: 1.4 };
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
    ['an unknown service field', { ...capacity, service: { cores: 8, cpus: 4 } }, 'service'],
    [
      'no commits a second',
      { ...capacity, service: { cores: 8, commitsPerSecond: 0 } },
      'service.commitsPerSecond',
    ],
    [
      'no mail delivered a second',
      { ...capacity, email: { ...capacity.email, deliveryPerSecond: 0 } },
      'email.deliveryPerSecond',
    ],
  ])(
    'a capacity file with %s',
    (what, content, field) => {
      const path = file(`capacity-${what.replaceAll(' ', '-')}.json`, content);
      const message = refused({ capacity: path });
      expect(message).toContain(path);
      expect(message).toContain(field);
      if (what === 'an unknown service field') expect(message).toContain('cpus');
      // The command: exit 2, the same message, no run directory.
      const r = gelombang([
        'simulate',
        '--capacity',
        path,
        '--results',
        dir,
        '--run-id',
        `bad-${what.length}`,
        '-q',
      ]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(path);
      expect(r.stderr).toContain(field);
      expect(existsSync(join(dir, `bad-${what.length}`))).toBe(false);
    },
    30_000,
  );

  it.each([
    ['another version', { ...calibration, version: 10 }, 'version'],
    [
      'a version 8 field in a version 7 file',
      { ...calibration, version: 7 },
      'service.workerStartMs: a version 8 field in a version 7 file',
    ],
    [
      "a negative worker's start",
      { ...calibration, service: { ...calibration.service, workerStartMs: -1 } },
      'service.workerStartMs',
    ],
    [
      'a version 7 field in a version 6 file',
      { ...calibration, version: 6 },
      'service.restartMs: a version 7 field in a version 6 file',
    ],
    [
      'a negative restart',
      { ...calibration, service: { ...calibration.service, restartMs: -1 } },
      'service.restartMs',
    ],
    [
      'a version 6 field in a version 5 file',
      { ...calibration, version: 5, service: { ...before7, smtpExchangeMs: 14 } },
      'service.smtpExchangeMs: a version 6 field in a version 5 file',
    ],
    [
      'a negative SMTP exchange',
      { ...calibration, service: { ...calibration.service, smtpExchangeMs: -1 } },
      'service.smtpExchangeMs',
    ],
    [
      'a pool of SMTP connections (version 5 has it as the service knob)',
      { ...calibration, version: 5, service: { ...before7, mailerConnections: 16 } },
      'service.mailerConnections: not a field of a version 5 file',
    ],
    [
      'an older pool of SMTP connections other than the knob would give',
      { ...calibration, version: 4, service: { ...before7, mailerConnections: 32 } },
      'give --knob EMAIL_CONNECTIONS=32',
    ],
    [
      'a version 4 field in a version 3 file',
      { ...calibration, version: 3, service: { ...before7, warmUp: { extra: 0.1, tauS: 12 } } },
      'service.warmUp: a version 4 field in a version 3 file',
    ],
    [
      'a warm-up beyond what the fit searches',
      { ...calibration, version: 4, service: { ...before7, warmUp: { extra: 1.5, tauS: 12 } } },
      'service.warmUp.extra',
    ],
    [
      'a version 3 field in a version 2 file',
      { ...calibration, version: 2, service: { ...before7, scryptSpread: SPREAD } },
      'service.scryptSpread: a version 3 field in a version 2 file',
    ],
    [
      "a hash's time on its path above its CPU",
      {
        ...calibration,
        version: 3,
        service: { ...before7, scryptSpread: { ...SPREAD, p90: 3, p95: 3, p99: 3 } },
      },
      'service.scryptSpread: expected a mean of at most 1',
    ],
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

  it('a fault schedule that names a bad field or leaves the window, or a --chaos that is not a kill', () => {
    const schedule = (faults: unknown[]) => file(`faults-${faults.length}-${Math.random()}.yaml`, { faults });
    const bad = schedule([{ at: 1, dependency: 'dukcapil', down: 'five' }]);
    expect(refused({ faults: bad }).startsWith(`${bad}: faults[0]`)).toBe(true);
    expect(refused({ faults: bad })).toContain('down');
    expect(
      refused({ window: [0, 10], faults: schedule([{ at: 12, dependency: 'dukcapil', down: '1m' }]) }),
    ).toContain('minute 12 is outside the replay');
    expect(refused({ faults: schedule([{ at: 3, kill: 'ministry' }]) })).toMatch(
      /faults\[0\]\.kill: expected registration/,
    );
    expect(refused({ window: [0, 10], chaos: ['kill-service@12'] })).toBe(
      "--chaos kill-service@12: minute 12 is outside the replay's window, profile minutes 0-10",
    );
    // A chaos problem names --chaos even beside a schedule file.
    const fine = schedule([{ at: 1, dependency: 'dukcapil', down: '1m' }]);
    expect(refused({ window: [0, 10], faults: fine, chaos: ['kill-service@12'] })).toMatch(
      /^--chaos kill-service@12: minute 12/,
    );
    const r = gelombang([
      'simulate',
      '--chaos',
      'kill-service@soon',
      '--results',
      dir,
      '--run-id',
      'chaos',
      '-q',
    ]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      "expected kill-service@MINUTE (a profile minute, e.g. kill-service@40), got 'kill-service@soon'",
    );
    expect(existsSync(join(dir, 'chaos'))).toBe(false);
  });

  it.each([
    [['--set', 'dukcapil.concurrenzy=4'], 'dukcapil.concurrenzy'],
    // A seed not whole was taken, simulated, and refused by the record's schema as it was written.
    [['--seed', '1.5'], "--seed: expected a whole number >= 0 and <= 4294967295, got '1.5'"],
    // A run faster than the day was taken, and the capacity's scaling threw a RangeError (exit 1).
    [
      ['--scale', '0.001', '--compress', '1000000'],
      "--scale x --compress (0.001 x 1000000) = 1000: more than the day's own arrival rate",
    ],
    // k6's maxVUs is a count of VUs.
    [['--max-vus', '1.5'], "--max-vus: expected a whole number >= 1 and <= 1000000000, got '1.5'"],
  ])('%s: exits 2 with the message and writes nothing', (args, message) => {
    const r = gelombang(['simulate', ...args, '--results', dir, '--run-id', 'bad', '-q']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
    expect(existsSync(join(dir, 'bad'))).toBe(false);
  });
});

describe('a kill of the service (--chaos)', () => {
  it("is down from its profile minute for the calibration's restart, and the record and the report say so", () => {
    const r = gelombang([
      'simulate',
      '--scale',
      '0.002',
      '--window',
      '0-10',
      '--chaos',
      'kill-service@5',
      '--results',
      dir,
      '--run-id',
      'chaos-run',
      '-q',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const run = JSON.parse(readFileSync(join(dir, 'chaos-run', 'run.json'), 'utf8'));
    // Five profile minutes into the window at --compress 1; the default calibration's 0.7 s restart.
    expect(run.faults).toEqual([
      expect.objectContaining({
        kind: 'kill',
        origin: '--chaos kill-service@5',
        appliedSeconds: 300,
        restoredSeconds: 300.7,
        kill: { pidBefore: null, pidAfter: null, downtimeSeconds: 0.7 },
      }),
    ]);
    const md = readFileSync(join(dir, 'chaos-run', 'report.md'), 'utf8');
    expect(md).toContain('This simulated run broke things on purpose');
    expect(md).toContain('registration killed (SIGKILL) and restarted (`--chaos kill-service@5`)');
  }, 60_000);
});

describe("a kill's restart by the design's processes", () => {
  it("takes one process's start, or a cluster's: the primary's, then its workers sharing the cores", () => {
    // The mocks' default capacity has no service section: the service has DEFAULT_CORES, 2.
    const downMs = (workers: number, o: Partial<SimulateFlags> = {}) => {
      const { day } = simulationInputs(
        flags({
          scale: 0.002,
          compress: 1,
          window: [0, 10],
          capacity: resolve('mock-services/capacity.default.json'),
          chaos: ['kill-service@5'],
          knob: { WORKERS: String(workers) },
          ...o,
        }),
      );
      const k = day.kills?.[0];
      if (!k) throw new Error('expected the kill planned');
      return { ms: k.endMs - k.restartMs, cores: day.cores };
    };
    const { restartMs = 0, workerStartMs = 0 } = loadCalibration().service;
    expect(restartMs).toBeGreaterThan(0);
    expect(workerStartMs).toBeGreaterThan(0);
    expect(downMs(1)).toEqual({ ms: restartMs, cores: 2 });
    expect(downMs(2).ms).toBeCloseTo(restartMs + workerStartMs, 6);
    expect(downMs(4).ms).toBeCloseTo(restartMs + 2 * workerStartMs, 6);
    // Eight cores at full size, a share of them in the run: the processes start on the machine's eight.
    const eight = { set: { 'service.cores': '8' } };
    expect(downMs(4, eight)).toEqual({ ms: expect.closeTo(restartMs + workerStartMs, 6), cores: 0.016 });
  });
});

describe("the waiting room's rate from a service profile", () => {
  it('is named when neither the capacity file nor --knob gave it, with the run’s peak arrivals', () => {
    const at = (o: Partial<SimulateFlags>) => {
      const f = flags({ scale: 0.01, compress: 1, window: [0, 60], ...o });
      const inputs = simulationInputs(f);
      return admissionNote(f, inputs.knobs, inputs.day);
    };
    // The 2020 profile's peak minute, 80,000 arrivals, at 0.01: 13.3 a second.
    expect(at({ serviceProfile: '2020+waiting-room' })).toMatch(
      /^ADMISSION_RATE=15 comes from the service profile '2020\+waiting-room', .* peak at 13\.3 a second\./,
    );
    expect(at({ serviceProfile: 'hardened' })).toContain(
      "ADMISSION_RATE=15 comes from the service profile 'hardened'",
    );
    expect(at({ serviceProfile: '2020+waiting-room', knob: { ADMISSION_RATE: '20' } })).toBeUndefined();
    expect(at({ serviceProfile: '2020' })).toBeUndefined();
    const sized = file('sized.json', { ...capacity, service: { cores: 8, admissionRate: 40 } });
    expect(at({ serviceProfile: '2020+waiting-room', capacity: sized })).toBeUndefined();
  });

  it('the command prints it and its record keeps it, which the report lists', () => {
    const r = gelombang([
      'simulate',
      '--scale',
      '0.002',
      '--window',
      '0-5',
      '--service-profile',
      '2020+waiting-room',
      '--results',
      dir,
      '--run-id',
      'room',
      '-q',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const note = r.stdout.split('\n').find((l) => l.startsWith('note: ADMISSION_RATE=15 comes from'));
    expect(note).toBeDefined();
    const run = JSON.parse(readFileSync(join(dir, 'room', 'run.json'), 'utf8'));
    expect(run.simulation.notes).toEqual([note?.slice('note: '.length)]);
    expect(readFileSync(join(dir, 'room', 'report.md'), 'utf8')).toContain(
      note?.slice('note: '.length) as string,
    );
  }, 60_000);
});

describe("simulate scales the capacity file, at full size, by the run's rate factor", () => {
  const full = file('full.json', {
    ...capacity,
    dukcapil: { ...capacity.dukcapil, concurrency: 100, queue: 200 },
    service: { cores: 20, workers: 10, commitsPerSecond: 1000 },
  });

  it('every capacity times scale x compress, --set applied to the file before', () => {
    const { day, manifestSimilitude: s } = simulationInputs(
      flags({
        scale: 0.1,
        compress: 2,
        capacity: full,
        set: { 'dukcapil.concurrency': '400', 'service.cores': '40' },
        knob: { SCRYPT_N: '2048' },
      }),
    );
    // 400 x 0.2, not 100 x 0.2 with 400 set over it; the queue and the machine alike.
    expect(day.capacity.dukcapil.concurrency).toBe(80);
    expect(day.capacity.dukcapil.queue).toBe(40);
    expect(day.cores).toBeCloseTo(8, 9);
    expect(day.knobs.WORKERS).toBe(2);
    expect(day.commitsPerSecond).toBeCloseTo(200, 9);
    expect(s).toMatchObject({ factor: expect.closeTo(0.2, 12), scaled: true, capacityFile: full });
    expect(s.stations.find((r) => r.dependency === 'dukcapil')).toEqual({
      dependency: 'dukcapil',
      fullConcurrency: 400,
      concurrency: 80,
      fullQueue: 200,
      queue: 40,
      serviceTimeStretch: 1,
    });
    expect(s.cpu).toEqual({
      cores: expect.closeTo(8, 9),
      scryptN: 2048,
      fullSizeScryptN: 2048,
      standsForCores: expect.closeTo(40, 9),
      fullSizeCores: 40,
    });
  });

  it('--absolute-capacity enforces the file as it is; its cores then stand for more at full size', () => {
    const { day, manifestSimilitude: s } = simulationInputs(
      flags({ scale: 0.1, compress: 2, capacity: full, absoluteCapacity: true }),
    );
    expect(day.capacity.dukcapil.concurrency).toBe(100);
    expect(day.cores).toBe(20);
    expect(s).toMatchObject({
      factor: expect.closeTo(0.2, 12),
      scaled: false,
      notes: [expect.stringMatching(/^--absolute-capacity: /)],
    });
    expect(s.cpu?.standsForCores).toBeCloseTo(100, 9);
    expect(s.cpu?.fullSizeCores).toBe(20);
  });

  it("without a service section the service runs on this machine's cores, unscaled, and says what they stand for", () => {
    const { day, manifestSimilitude: s } = simulationInputs(
      flags({ scale: 0.01, compress: 1, capacity: file('laptop.json', capacity) }),
    );
    expect(day.cores).toBe(2);
    expect(s.cpu).toMatchObject({ cores: 2, standsForCores: expect.closeTo(200, 9), fullSizeCores: null });
  });

  it('the command says so, and --absolute-capacity says it did not', () => {
    const run = (id: string, extra: string[]) =>
      gelombang([
        'simulate',
        '--scale',
        '0.002',
        '--window',
        '0-20',
        '--capacity',
        full,
        '--results',
        dir,
        '--run-id',
        id,
        '-q',
        ...extra,
      ]);
    const scaled = run('scaled', []);
    expect(scaled.status, scaled.stderr).toBe(0);
    // One wording with rehearse and stack (scripts/rehearsal-similitude.ts capacitiesLines).
    expect(scaled.stdout).toContain(
      `capacities: ${full} at full size x 0.002 (the run's share of the day's arrival rate)`,
    );
    const absolute = run('absolute', ['--absolute-capacity']);
    expect(absolute.status, absolute.stderr).toBe(0);
    expect(absolute.stdout).toContain(
      `capacities: ${full} as it is (--absolute-capacity: the capacity file was enforced as it is, not scaled by the rate factor)`,
    );
    const similitude = (id: string) => JSON.parse(readFileSync(join(dir, id, 'run.json'), 'utf8')).similitude;
    expect(similitude('scaled')).toMatchObject({ factor: 0.002, scaled: true, capacityFile: full });
    expect(similitude('absolute')).toMatchObject({
      factor: 0.002,
      scaled: false,
      notes: ['--absolute-capacity: the capacity file was enforced as it is, not scaled by the rate factor'],
    });
    expect(similitude('absolute').stations[0]).toMatchObject({ fullConcurrency: 100, concurrency: 100 });
  }, 60_000);
});

describe('simulate from another directory', () => {
  it('reads its defaults (the 2020 profile, the 2020 capacities, the photo) from the project, not from where it is run', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'gelombang-elsewhere-'));
    const r = spawnSync(
      process.execPath,
      [
        resolve('bin/gelombang.js'),
        'simulate',
        '--scale',
        '0.001',
        '--window',
        '0-10',
        '--run-id',
        'away',
        '-q',
      ],
      { cwd: elsewhere, encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    // The results go where the user is; the inputs came from the project.
    const manifest = JSON.parse(readFileSync(join(elsewhere, 'results', 'away', 'run.json'), 'utf8'));
    expect(manifest.replay.profile).toBe(resolve('scenarios/profiles/registration-day-2020.csv'));
    expect(manifest.similitude.capacityFile).toBe(resolve('mock-services/capacity.2020.json'));
  }, 60_000);
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
    // The default capacities: the 2020 file, its service at full size times the rate factor.
    const file2020 = JSON.parse(readFileSync('mock-services/capacity.2020.json', 'utf8'));
    const cores = Number((file2020.service.cores * 0.002).toPrecision(3));
    expect(a.stdout).toMatch(new RegExp(`^SIMULATED \\(calibration: default, seed 2020, ${cores} cores\\)`));
    expect(a.stdout).toContain('capacity.2020.json at full size x 0.002 (the run');
    const similitude = JSON.parse(readFileSync(join(dir, 'a', 'same', 'run.json'), 'utf8')).similitude;
    expect(similitude).toMatchObject({ factor: 0.002, scaled: true });
    expect(similitude.capacityFile).toMatch(/mock-services\/capacity\.2020\.json$/);
    expect(similitude.cpu.fullSizeCores).toBe(file2020.service.cores);
    // What the simulation itself cost, the record's event count (the time is the machine's, not the record's).
    const events = JSON.parse(readFileSync(join(dir, 'a', 'same', 'run.json'), 'utf8')).simulation.events;
    expect(events).toBeGreaterThan(0);
    expect(a.stdout).toMatch(
      new RegExp(
        `\\nsimulation: ${events.toLocaleString('en')} events in \\d+\\.\\d\\d s \\(\\d+\\.\\d\\d s of CPU\\)`,
      ),
    );
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
