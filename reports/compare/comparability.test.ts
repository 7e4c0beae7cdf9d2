import { describe, expect, it } from 'vitest';
import { makeRecord } from '../fixtures/make-record.ts';
import { compareRuns } from './index.ts';
import { metric } from './test-support.ts';

/** Runs that differ in what was run, or in how they were sampled: warned about, still compared. */

describe('compareRuns: comparability', () => {
  it('warns when the runs are not comparable, and still compares them', () => {
    const c = compareRuns(
      makeRecord({ seed: 1 }),
      makeRecord({
        seed: 2,
        scenario: 'opening-spike',
        replay: { scale: 0.001, compress: 120, windowMinutes: [0, 60] },
      }),
    );
    expect(c.comparable).toBe(false);
    expect(c.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/scenario differs \(baseline registration-day, candidate opening-spike\)/),
        expect.stringMatching(/replay scale differs \(baseline 0.0005, candidate 0.001\)/),
        expect.stringMatching(/replay compression differs \(baseline 252, candidate 120\)/),
        expect.stringMatching(
          /replay window \(profile minutes\) differs \(baseline \[0, 1260\), candidate \[0, 60\)\)/,
        ),
      ]),
    );
    expect(c.metrics.length).toBeGreaterThan(40);
    expect(c.metrics.filter((m) => m.verdict === 'not_comparable').map((m) => m.id)).toEqual([]);
    // no pairing of intervals by time: the runs did not face the same load at the same moment
    expect(c.pairing).toBe('unpaired');
    expect(c.warnings).toContainEqual(expect.stringMatching(/pairing them by time assumes/));
  });

  it('a run that is not a replay against one that is: not comparable', () => {
    const c = compareRuns(makeRecord({ seed: 1 }), makeRecord({ seed: 2, replay: null }));
    expect(c.warnings).toContainEqual(expect.stringMatching(/only the baseline replays a profile/));
  });

  it('the same arrivals replayed, one run draining longer: comparable and paired, the drain said', () => {
    const c = compareRuns(
      makeRecord({ seed: 1, durationSeconds: 120 }),
      makeRecord({ seed: 2, durationSeconds: 150 }),
    );
    expect(c.comparable).toBe(true);
    expect(c.pairing).toBe('paired');
    expect(c.warnings).toContainEqual(
      expect.stringMatching(
        /test durations differ by more than 10 % \(120.0 s, 150.0 s\) with the same arrivals replayed: the candidate took longer to finish the journeys in flight/,
      ),
    );
    expect(c.warnings.filter((w) => w.startsWith('not comparable'))).toEqual([]);
  });

  it('runs of other lengths that replay nothing: not comparable by their length', () => {
    const c = compareRuns(
      makeRecord({ seed: 1, durationSeconds: 120, replay: null }),
      makeRecord({ seed: 2, durationSeconds: 150, replay: null }),
    );
    expect(c.comparable).toBe(false);
    expect(c.warnings).toContainEqual(
      'not comparable: test durations differ by more than 10 % (120.0 s, 150.0 s)',
    );
    expect(c.warnings).not.toContainEqual(expect.stringMatching(/the drain/));
  });

  it('sampling grids that differ: unpaired Mann-Whitney, with a warning', () => {
    const c = compareRuns(
      makeRecord({ seed: 1, shape: 'flat' }),
      makeRecord({ seed: 2, shape: 'flat', intervalSeconds: 3, latencyFactor: 2 }),
    );
    expect(c.pairing).toBe('unpaired');
    expect(c.warnings).toContainEqual(expect.stringMatching(/sampling grids differ \(every 2 s vs 3 s/));
    const m = metric(c, 'latency.create_account.p95');
    expect(m.test?.method).toBe('mann_whitney_u');
    expect(m.test?.samples).toEqual([60, 40]);
    expect(m.verdict).toBe('worse');
  });

  it('another machine, or a disk that committed at another speed before the load: listed, and warned', () => {
    const b = makeRecord({ seed: 1, machineCores: 2 });
    const c = makeRecord({ seed: 2, machineCores: 4 });
    const probe = (r: typeof b, FULL: number) => {
      (r.manifest.machine as NonNullable<typeof r.manifest.machine>).commitMs = { FULL, NORMAL: FULL / 10 };
    };
    probe(b, 0.21);
    probe(c, 0.33);
    const near = compareRuns(b, c);
    expect(near.configChanges).toContain('machine cores: 2 → 4');
    expect(near.warnings.filter((w) => w.includes('committed'))).toEqual([]);
    probe(c, 2.62);
    expect(compareRuns(b, c).warnings).toContainEqual(
      expect.stringMatching(
        /disk committed 12\.5x slower before the candidate's load .*\(0\.21 → 2\.62 ms a commit/,
      ),
    );
    expect(compareRuns(c, b).warnings).toContainEqual(expect.stringMatching(/12\.5x faster/));
    // a verdict is still given: the warning tells the reader what else differed
    expect(compareRuns(b, c).comparable).toBe(true);
  });

  it("warns when the CPU hashed at another speed before one run's load, at the same cost only", () => {
    const b = makeRecord({ seed: 1, machineCores: 2 });
    const c = makeRecord({ seed: 2, machineCores: 2 });
    const probe = (r: typeof b, ms: number, n = 16384) => {
      (r.manifest.machine as NonNullable<typeof r.manifest.machine>).hashMs = { n, ms };
    };
    const hashWarnings = () => compareRuns(b, c).warnings.filter((w) => w.includes('hashed'));
    // within the probe's repeatability on one machine: no warning
    probe(b, 34.14);
    probe(c, 33.3);
    expect(hashWarnings()).toEqual([]);
    // two sessions' machines (scripts/hash-probe.ts)
    probe(c, 41);
    expect(hashWarnings()).toEqual([
      expect.stringMatching(
        /^the CPU hashed 1\.20x slower .*\(34\.14 → 41 ms a password hash at scrypt N=16384/,
      ),
    ]);
    expect(compareRuns(c, b).warnings).toContainEqual(expect.stringMatching(/CPU hashed 1\.20x faster/));
    // another cost is another hash: SCRYPT_N's change is a configuration change, not the machine
    probe(c, 2.2, 1024);
    expect(hashWarnings()).toEqual([]);
    expect(compareRuns(b, c).comparable).toBe(true);
  });

  it("a managed stack's ports are not a change of set-up; a target's are", () => {
    const b = makeRecord({ seed: 1 });
    const c = makeRecord({ seed: 2 });
    const at = (r: typeof b, port: number) => {
      r.manifest.stack.target = `http://127.0.0.1:${port}`;
      r.manifest.scenario.env = {
        ...r.manifest.scenario.env,
        BASE_URL: `http://127.0.0.1:${port}`,
        RUN_KEY: String(port),
      };
    };
    at(b, 33103);
    at(c, 40111);
    // both rehearsals started their own stacks on free ports: only the run key differs
    expect(compareRuns(b, c).configChanges).toEqual(['env RUN_KEY: 33103 → 40111']);
    // against a --target the address is what was tested
    c.manifest.stack.managed = false;
    expect(compareRuns(b, c).configChanges).toEqual([
      'env BASE_URL: http://127.0.0.1:33103 → http://127.0.0.1:40111',
      'env RUN_KEY: 33103 → 40111',
      'target: http://127.0.0.1:33103 → http://127.0.0.1:40111',
    ]);
  });

  it('configuration changes are listed for the reader', () => {
    const c = compareRuns(
      makeRecord({ seed: 1, knobs: { EMAIL_DELIVERY: 'inline' } }),
      makeRecord({ seed: 2, knobs: { EMAIL_DELIVERY: 'outbox', WORKERS: '4' } }),
    );
    expect(c.configChanges).toEqual(['knob EMAIL_DELIVERY: inline → outbox', 'knob WORKERS: (unset) → 4']);
  });
});
