import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCapacityFile } from '../mock-services/capacity.ts';
import type { Capacity } from '../model/capacity.ts';
import { scaleCapacityFile } from '../model/similitude.ts';
import { FULL_SCALE_DIR, FULL_SCALE_SKIPPED } from '../reports/full-scale.ts';
import { readRunRecord, writeRunRecord } from '../reports/record.ts';
import { simulateDay } from '../simulator/day.ts';
import { simulatedRecord } from '../simulator/record.ts';
import { withServiceTimes } from '../test/support/service-times.ts';
import { simulationInputs } from './commands/simulate.ts';
import { predictFullScale } from './full-scale.ts';

/**
 * The prediction a rehearsal's report carries, on a run whose truth is known: a simulated run
 * relabelled as measured (as validate's tests do), of a small profile, so that the full scale is
 * a few thousand registrants.
 */

const dir = mkdtempSync(join(tmpdir(), 'gelombang-full-scale-'));
const profile = join(dir, 'profile.csv');
writeFileSync(profile, 'minute,arrivals\n0,1200\n1,1800\n2,600\n');

const DEPENDENCIES = ['dukcapil', 'dapodik', 'dtks', 'email', 'upload'] as const;
// Slower than every station of the file: a mock on a loaded machine holds longer than it draws, never shorter (fit.ts).
const FITTED = { medianMs: 300, p99Ms: 1500 };

function measuredRun(runId: string, change: (m: Record<string, unknown>) => void = () => {}): string {
  const { day } = simulationInputs({
    scale: 0.05,
    compress: 10,
    profile,
    // The laptop's capacities, which 'scaled' below says the run enforced at half their size.
    capacity: 'mock-services/capacity.default.json',
    serviceProfile: '2020',
    knob: { SCRYPT_N: '1024' },
    set: {},
    seed: 7,
    interval: 1,
    results: dir,
  });
  const record = simulatedRecord(
    {
      runId,
      engineVersion: 'test',
      profileFile: profile,
      serviceProfile: '2020',
      knobs: { SCRYPT_N: '1024' },
      calibrationSource: 'default',
      overrides: {},
      day,
    },
    simulateDay(day),
  );
  // What the mocks would have measured of each station: service times unlike any file's, so that
  // a prediction shows whether it took the fitted stations or the stated ones.
  for (const dep of DEPENDENCIES) withServiceTimes(record, dep, FITTED, 2_000);
  const m = record.manifest as unknown as Record<string, unknown>;
  m.engine = { name: 'gelombang', version: 'test' };
  delete m.simulation;
  change(m);
  const runDir = join(dir, runId);
  writeRunRecord(runDir, record);
  return runDir;
}

describe('predictFullScale', () => {
  it('replays the same window with every registrant, in real time, on the cores and workers it is given', () => {
    const runDir = measuredRun('small');
    const p = predictFullScale(runDir, { cores: 7, workers: 3 });
    if ('problem' in p) throw new Error(p.problem);
    const full = readRunRecord(join(runDir, FULL_SCALE_DIR)).manifest;
    expect(full.engine.name).toBe('simulator');
    expect(full.replay).toMatchObject({ scale: 1, compress: 1, windowMinutes: [0, 3] });
    expect(full.totals.arrivals).toBe(3600);
    expect(full.simulation?.cores).toBe(7);
    expect(full.stack.knobs).toMatchObject({ WORKERS: '3', SCRYPT_N: '1024' });
    expect(full.simulation?.calibration).toBe('fitted on small');
    // the calibration it used is kept beside the prediction
    const calibration = JSON.parse(readFileSync(join(runDir, FULL_SCALE_DIR, 'calibration.json'), 'utf8'));
    expect(calibration.source).toBe(runDir);
    // Not scaled from a file at full size: the stations' service times are those fitted on the run
    // (the upload store's less its link's time for the photo, which the simulator adds again).
    for (const dep of DEPENDENCIES.filter((d) => d !== 'upload')) {
      const median = calibration.stations[dep]?.serviceTime?.medianMs;
      expect([dep, Math.abs(median - FITTED.medianMs) / FITTED.medianMs < 0.1]).toEqual([dep, true]);
    }
    expect(calibration.stations.upload?.serviceTime).toBeDefined();
  });

  it("has every registrant arrive whatever VU budget the run had (k6's dropped arrivals are the load generator's)", () => {
    const runDir = measuredRun('budgeted', (m) => {
      const scenario = m.scenario as { options: unknown };
      scenario.options = { scenarios: { day: { preAllocatedVUs: 10, maxVUs: 40 } } };
    });
    const p = predictFullScale(runDir);
    if ('problem' in p) throw new Error(p.problem);
    expect(readRunRecord(join(runDir, FULL_SCALE_DIR)).manifest.totals.arrivals).toBe(3600);
  });

  it("keeps a rehearsal's waiting room at its rate and says so, unless the full-size rate is given", () => {
    const runDir = measuredRun('room', (m) => {
      (m.stack as { knobs: Record<string, string> }).knobs.ADMISSION_RATE = '15';
    });
    const kept = predictFullScale(runDir);
    if ('problem' in kept) throw new Error(kept.problem);
    const full = readRunRecord(join(runDir, FULL_SCALE_DIR)).manifest;
    expect(full.stack.knobs.ADMISSION_RATE).toBe('15');
    // the profile's busiest minute, 1,800 arrivals, at full scale: 30 a second
    expect(full.simulation?.notes).toEqual([
      expect.stringMatching(
        /^The waiting room admits 15 sign-ups a second at full scale, .* peak at 30 a second\./,
      ),
    ]);
    const given = predictFullScale(runDir, { admissionRate: 40 });
    if ('problem' in given) throw new Error(given.problem);
    const sized = readRunRecord(join(runDir, FULL_SCALE_DIR)).manifest;
    expect(sized.stack.knobs.ADMISSION_RATE).toBe('40');
    expect(sized.simulation?.notes).toBeUndefined();
    // A run without a waiting room has nothing to say of one.
    const none = measuredRun('no-room');
    predictFullScale(none);
    expect(readRunRecord(join(none, FULL_SCALE_DIR)).manifest.simulation?.notes).toBeUndefined();
  });

  it('by default, the machine the run was measured on', () => {
    const runDir = measuredRun('default-machine');
    const p = predictFullScale(runDir);
    if ('problem' in p) throw new Error(p.problem);
    const full = readRunRecord(join(runDir, FULL_SCALE_DIR)).manifest;
    const measured = readRunRecord(runDir).manifest;
    expect(full.simulation?.cores).toBe(measured.machine?.cores);
    expect(full.stack.knobs.WORKERS ?? '1').toBe(measured.stack.knobs.WORKERS ?? '1');
  });

  it('of a run scaled from a file at full size: that file, its service section and the design’s hash cost', () => {
    // The run enforced capacity.default.json at half its size (0.05 x 10) and hashed cheaper.
    const file = 'mock-services/capacity.default.json';
    const full = loadCapacityFile(file);
    const similitude = scaleCapacityFile(full, 0.5);
    const runDir = measuredRun('scaled', (m) => {
      m.similitude = {
        factor: 0.5,
        scaled: true,
        capacityFile: file,
        stations: similitude.stations,
        notes: [],
        cpu: { cores: 2, scryptN: 1024, fullSizeScryptN: 16384, standsForCores: 30, fullSizeCores: 8 },
        smtpPool: { workers: 1, connections: 64, fullSizeWorkers: 8, fullSizeConnections: 16 },
      };
      const stack = m.stack as { knobs: Record<string, string> };
      stack.knobs = { ...stack.knobs, EMAIL_CONNECTIONS: '64' };
    });
    const measured = readRunRecord(runDir).manifest;
    const ran = measured.stack.capacity as Capacity;
    expect(ran.dukcapil.concurrency).toBe(similitude.capacity.dukcapil.concurrency);
    expect(ran.dukcapil.concurrency).not.toBe(full.capacity.dukcapil.concurrency);
    const p = predictFullScale(runDir, { cores: 8, workers: 4 });
    if ('problem' in p) throw new Error(p.problem);
    const predicted = readRunRecord(join(runDir, FULL_SCALE_DIR)).manifest;
    const stations = predicted.stack.capacity as Capacity;
    for (const dep of ['dukcapil', 'dapodik', 'dtks', 'email', 'upload'] as const)
      expect([dep, stations[dep].queue]).toEqual([dep, full.capacity[dep].queue]);
    expect(stations.upload.bandwidthBytesPerSecond).toBe(full.capacity.upload.bandwidthBytesPerSecond);
    // The stations are the file's as stated (service times included), none fitted on the mocks.
    for (const dep of DEPENDENCIES)
      expect([dep, stations[dep].serviceTime]).toEqual([dep, full.capacity[dep].serviceTime]);
    const used = JSON.parse(readFileSync(join(runDir, FULL_SCALE_DIR, 'calibration.json'), 'utf8'));
    expect(used.stations).toEqual({});
    // Each process of the full-size service has the design's SMTP pool, not the run's share.
    expect(predicted.stack.knobs).toMatchObject({ SCRYPT_N: '16384', WORKERS: '4', EMAIL_CONNECTIONS: '16' });
    expect(predicted.simulation?.cores).toBe(8);

    // A file given (the rehearsal's, as it read it) is the one predicted, not the record's path.
    const bigger = structuredClone(full);
    bigger.capacity.dukcapil.queue = 4321;
    const again = predictFullScale(
      measuredRun('scaled-given', (m) => {
        m.similitude = {
          factor: 0.5,
          scaled: true,
          capacityFile: 'no-such.json',
          stations: similitude.stations,
          notes: [],
        };
      }),
      { fullSize: bigger },
    );
    if ('problem' in again) throw new Error(again.problem);
    const given = readRunRecord(join(again.dir)).manifest;
    expect((given.stack.capacity as Capacity).dukcapil.queue).toBe(4321);
    // without cpu similitude the run's own hash cost is the design's
    expect(given.stack.knobs.SCRYPT_N).toBe('1024');
  });

  it("leaves the run's own clock behind: the cores its other processes took by the second, its faults and kills at their profile minutes", () => {
    const stations = loadCapacityFile('mock-services/capacity.default.json').capacity;
    const faulted = (m: Record<string, unknown>) => {
      // Dukcapil down for profile minute 1 (6-12 s of the run at --compress 10).
      m.faults = [
        {
          origin: 'faults.yaml: faults[0]',
          kind: 'down',
          target: 'dukcapil',
          description: 'dukcapil down (503 to every request) for 1 min of profile time',
          profileMinute: 1,
          profileSeconds: 60,
          plannedSeconds: 6,
          plannedEndSeconds: 12,
          appliedSeconds: 6.02,
          restoredSeconds: 12.01,
          station: {
            before: stations.dukcapil,
            during: { ...stations.dukcapil, errorRate: 1, errorStatus: 503 },
          },
        },
        // The service killed at profile minute 3 (18 s), restarted at once, answering 1.5 s later.
        {
          origin: '--chaos kill-service@3',
          kind: 'kill',
          target: 'registration',
          description: 'registration killed (SIGKILL) and restarted',
          profileMinute: 3,
          profileSeconds: 0,
          plannedSeconds: 18,
          plannedEndSeconds: 18,
          appliedSeconds: 18.05,
          restoredSeconds: 19.55,
          kill: { pidBefore: 10, pidAfter: 11, downtimeSeconds: 1.5 },
        },
      ];
    };
    const plain = measuredRun('own-clock', faulted);
    const crowded = measuredRun('own-clock-crowded', faulted);
    // The load generator took nearly both cores for the run's first 10 s.
    const file = join(crowded, 'timeseries.json');
    const ts = JSON.parse(readFileSync(file, 'utf8'));
    ts.series.push({
      name: 'process_cpu_cores',
      labels: { process: 'runner' },
      values: ts.t.map((_: number, i: number) => (i < 10 ? 1.9 : 0.1)),
    });
    writeFileSync(file, JSON.stringify(ts));
    const predicted = (runDir: string) => {
      const p = predictFullScale(runDir);
      if ('problem' in p) throw new Error(p.problem);
      return readRunRecord(join(runDir, FULL_SCALE_DIR)).manifest;
    };
    const a = predicted(plain);
    const b = predicted(crowded);
    expect(b.totals.steps).toEqual(a.totals.steps);
    // At full size each at its profile minute; the kill down for the restart the rehearsal's took.
    expect(a.faults?.map((f) => [f.target, f.kind, f.appliedSeconds, f.restoredSeconds])).toEqual([
      ['dukcapil', 'down', 60, 120],
      ['registration', 'kill', 180, 181.5],
    ]);
  });

  it('writes why not, instead of a prediction, for a run it cannot calibrate on', () => {
    const runDir = measuredRun('no-machine', (m) => {
      delete m.machine;
    });
    const p = predictFullScale(runDir);
    expect(p).toEqual({ problem: expect.stringContaining('machine.cores') });
    expect(existsSync(join(runDir, FULL_SCALE_DIR))).toBe(false);
    expect(readFileSync(join(runDir, FULL_SCALE_SKIPPED), 'utf8')).toContain('machine.cores');
  });
});
