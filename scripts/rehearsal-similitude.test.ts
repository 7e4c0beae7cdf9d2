import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCapacityFile } from '../mock-services/capacity.ts';
import { CapacityFileError } from '../model/capacity.ts';
import { scaleCapacityFile, similarScryptN, standsForCores } from '../model/similitude.ts';
import { DEFAULT_CALIBRATION_FILE, journeyCpuMs, loadCalibration } from '../simulator/calibration.ts';
import {
  cpuSimilitude,
  DEFAULT_REHEARSAL_CAPACITY,
  poolSimilitude,
  type RunRate,
  runCapacity,
  runRate,
} from './rehearsal-similitude.ts';

/** A rehearsal's capacities and hash cost by similitude, before anything starts. */

const dir = mkdtempSync(join(tmpdir(), 'gelombang-rehearsal-similitude-'));
const day = { scenario: 'registration-day', scale: 0.0005, compress: 300, env: {} };

/** the default file, with the service section given (or left out) */
function capacityFile(name: string, service?: Record<string, number>): string {
  const { service: _, ...stations } = JSON.parse(readFileSync(DEFAULT_REHEARSAL_CAPACITY, 'utf8'));
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify({ ...stations, ...(service ? { service } : {}) }));
  return file;
}

const scaled = (rate: RunRate | { problem: string }): RunRate => {
  if ('problem' in rate) throw new Error(rate.problem);
  return rate;
};

describe("a rehearsal's rate factor", () => {
  it('registration-day: scale x compress', () => {
    const rate = scaled(runRate(day));
    expect(rate.scaled).toBe(true);
    expect(rate.factor).toBeCloseTo(0.15, 12);
  });

  it("opening-spike: its -e SCALE x -e COMPRESS, with the scenario's defaults", () => {
    expect(scaled(runRate({ ...day, scenario: 'opening-spike' })).factor).toBeCloseTo(0.03, 12);
    const given = scaled(
      runRate({ ...day, scenario: 'opening-spike', env: { SCALE: '0.01', COMPRESS: '4' } }),
    );
    expect(given).toMatchObject({ scaled: true });
    expect(given.factor).toBeCloseTo(0.04, 12);
    expect(runRate({ ...day, scenario: 'opening-spike', env: { SCALE: 'lots' } })).toEqual({
      problem: "-e SCALE: expected a number above 0, got 'lots'",
    });
  });

  it('another scenario: the file as it is, and why', () => {
    const rate = scaled(runRate({ ...day, scenario: 'smoke' }));
    expect(rate).toMatchObject({ factor: 1, scaled: false });
    expect(!rate.scaled && rate.why).toMatch(/smoke scenario brings no arrival rate tied to the 2020 day/);
  });

  it('--absolute-capacity: not scaled, the rate factor still told', () => {
    const rate = scaled(runRate({ ...day, absoluteCapacity: true }));
    expect(rate.scaled).toBe(false);
    expect(rate.factor).toBeCloseTo(0.15, 12);
    expect(!rate.scaled && rate.why).toMatch(/^--absolute-capacity: /);
  });

  it("refuses a factor above the day's own rate, naming the flags", () => {
    const rate = runRate({ ...day, scale: 0.01, compress: 300 });
    expect('problem' in rate && rate.problem).toMatch(
      /^--scale x --compress \(0\.01 x 300\) = 3: more than the day's own arrival rate.*--absolute-capacity/,
    );
    expect(scaled(runRate({ ...day, scale: 0.01, compress: 300, absoluteCapacity: true })).scaled).toBe(
      false,
    );
  });
});

describe("the run's capacities", () => {
  it('scaled: the stations model/similitude.ts gives, the full-size file kept beside them, the record told', () => {
    const file = capacityFile('with-service.json', { cores: 96, workers: 64, commitsPerSecond: 20000 });
    const run = runCapacity(file, { factor: 0.15, scaled: true });
    const expected = scaleCapacityFile(loadCapacityFile(file), 0.15);
    expect(run.capacity).toEqual(expected.capacity);
    expect(run.full).toEqual(loadCapacityFile(file));
    expect(run.similitude).toMatchObject({ factor: 0.15, scaled: true, capacityFile: file });
    expect(run.similitude.stations).toEqual(expected.stations.map(({ capacityRatio: _, ...row }) => row));
    expect(run.similitude.notes).toEqual([
      ...expected.notes,
      expect.stringMatching(
        /^service: the file's service section \(96 cores, 64 workers, 20000 commits a second\)/,
      ),
    ]);
  });

  it('not scaled: the file as it is, its first note why', () => {
    const file = capacityFile('absolute.json');
    const run = runCapacity(file, { factor: 0.15, scaled: false, why: 'because' });
    expect(run.capacity).toEqual(loadCapacityFile(file).capacity);
    expect(run.similitude.scaled).toBe(false);
    expect(run.similitude.notes).toEqual(['because']);
    for (const row of run.similitude.stations) {
      expect(row.concurrency).toBe(row.fullConcurrency);
      expect(row.serviceTimeStretch).toBe(1);
    }
  });

  it('refuses a file that, scaled, the mocks could not honour, naming the file, the factor and the field', () => {
    const file = join(dir, 'one-slow-server.json');
    const stations = JSON.parse(readFileSync(capacityFile('base.json'), 'utf8'));
    // one server at 1 % is a hundredfold stretch: a median of 200 ms becomes 20 s, beyond its 10 s timeout
    stations.dtks = {
      ...stations.dtks,
      concurrency: 1,
      serviceTime: { distribution: 'constant', ms: 200 },
      timeoutMs: 10_000,
    };
    writeFileSync(file, JSON.stringify(stations));
    expect(() => runCapacity(file, { factor: 0.01, scaled: true })).toThrow(CapacityFileError);
    let message = '';
    try {
      runCapacity(file, { factor: 0.01, scaled: true });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message.startsWith(`${file}, scaled by this run's rate factor 0.01: `)).toBe(true);
    expect(message).toContain('dtks.serviceTime.ms: 20000 ms does not fit in timeoutMs');
    expect(message).toMatch(/or give --absolute-capacity to enforce the file as it is\)$/);
  });
});

describe("the service's hash cost by the same rule", () => {
  const calibration = loadCalibration(DEFAULT_CALIBRATION_FILE);
  const journey = (n: number) => journeyCpuMs(calibration, n);
  const withCores = loadCapacityFile(capacityFile('cores.json', { cores: 96 }));

  it("journeyCpuMs: the steps' own CPU and two hashes", () => {
    const steps = Object.values(calibration.service.stepCpuMs).reduce((a, b) => a + b, 0);
    expect(journey(16384)).toBeCloseTo(steps + 2 * calibration.service.scryptCpuMs.n16384, 9);
    expect(journey(1024)).toBeCloseTo(steps + 2 * calibration.service.scryptCpuMs.n1024, 9);
  });

  it('without SCRYPT_N given and with the full-size cores: similarScryptN, and what the cores stood for', () => {
    for (const [cores, factor] of [
      [2, 0.15],
      [16, 0.15],
      [64, 0.01],
    ] as const) {
      const c = cpuSimilitude({ factor, knobs: { EMAIL_DELIVERY: 'inline' }, full: withCores, cores });
      const rule = { cores, factor, fullSizeScryptN: 16384, journeyCpuMs: journey };
      expect(c.chosen).toBe(true);
      expect(c.scryptN).toBe(similarScryptN({ ...rule, fullSizeCores: 96 }));
      expect(c.cpu).toEqual({
        cores,
        scryptN: c.scryptN,
        fullSizeScryptN: 16384,
        standsForCores: standsForCores(rule, c.scryptN),
        fullSizeCores: 96,
      });
    }
    // 16 cores at 15 % of the day stand for 107 at the day's own hash: no need to lower it
    expect(cpuSimilitude({ factor: 0.15, knobs: {}, full: withCores, cores: 16 }).scryptN).toBe(16384);
    // 2 cores at 15 % of the day stand for 13 at the day's hash: a cheaper one it must be
    expect(cpuSimilitude({ factor: 0.15, knobs: {}, full: withCores, cores: 2 }).scryptN).toBeLessThan(16384);
  });

  it('a SCRYPT_N given wins: it is the design, run as it is', () => {
    const c = cpuSimilitude({ factor: 0.15, knobs: { SCRYPT_N: '16384' }, full: withCores, cores: 2 });
    expect(c).toMatchObject({ chosen: false, scryptN: 16384 });
    expect(c.cpu).toMatchObject({ scryptN: 16384, fullSizeScryptN: 16384, fullSizeCores: 96 });
    expect(c.cpu.standsForCores).toBeCloseTo(2 / 0.15, 9);
  });

  it('a file without service cores: the design hash cost, what the cores stood for, no full-size cores', () => {
    const c = cpuSimilitude({
      factor: 0.15,
      knobs: {},
      full: loadCapacityFile(capacityFile('no-service.json')),
      cores: 2,
    });
    expect(c).toMatchObject({ chosen: false, scryptN: 16384 });
    expect(c.cpu.fullSizeCores).toBeNull();
  });
});

describe("the service's SMTP connections by the same rule", () => {
  const withWorkers = loadCapacityFile(capacityFile('workers.json', { cores: 96, workers: 64 }));

  it('without EMAIL_CONNECTIONS given and with the full-size workers: the run’s share of their pools', () => {
    // 64 processes of 16 at full size: 1,024; 0.09 of them is 92, over two processes 46 each.
    expect(poolSimilitude({ factor: 0.09, knobs: {}, full: withWorkers })).toEqual({
      connections: 92,
      chosen: true,
      smtpPool: { workers: 1, connections: 92, fullSizeWorkers: 64, fullSizeConnections: 16 },
    });
    expect(poolSimilitude({ factor: 0.09, knobs: { WORKERS: '2' }, full: withWorkers })).toMatchObject({
      connections: 46,
      chosen: true,
    });
  });

  it('an EMAIL_CONNECTIONS given wins; a file without workers leaves the design’s pool', () => {
    expect(poolSimilitude({ factor: 0.09, knobs: { EMAIL_CONNECTIONS: '4' }, full: withWorkers })).toEqual({
      connections: 4,
      chosen: false,
      smtpPool: { workers: 1, connections: 4, fullSizeWorkers: 64, fullSizeConnections: 4 },
    });
    const noWorkers = loadCapacityFile(capacityFile('cores-only.json', { cores: 96 }));
    expect(poolSimilitude({ factor: 0.09, knobs: {}, full: noWorkers })).toMatchObject({
      connections: 16,
      chosen: false,
      smtpPool: { fullSizeWorkers: null },
    });
  });
});
