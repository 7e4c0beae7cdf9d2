import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { rngFor } from '../model/random.ts';
import { makeRecord } from '../reports/fixtures/make-record.ts';
import type { RunRecord } from '../reports/record.ts';
import { COSTED_STEPS, type CostedStep, loadCalibration, scryptCpuMs } from './calibration.ts';
import { FitError, fitCalibration } from './fit.ts';

const { $comment: _, ...capacity } = JSON.parse(readFileSync('mock-services/capacity.default.json', 'utf8'));
const prior = loadCalibration();

/** Costs the fit should find: each step's CPU besides scrypt, and scrypt's, far from the prior's. */
const TRUE_STEP_MS: Record<CostedStep, number> = {
  create_account: 4,
  verify_email: 1.2,
  login: 2.5,
  submit_biodata: 6,
  upload_photo: 9,
  submit_assessment: 0.9,
  join_wave: 1.1,
};
const TRUE_SCRYPT_MS = 80;

/** A measured-looking record whose registration CPU is exactly what those costs give its requests. */
function recordWithCosts(o: { others?: number; cores?: number } = {}): RunRecord {
  const r = makeRecord({
    seed: 3,
    durationSeconds: 120,
    arrivalsPerSecond: 40,
    machineCores: o.cores ?? 4,
    cpuCores: { runner: o.others ?? 0.5 },
  });
  r.manifest.stack.capacity = capacity;
  r.manifest.stack.knobs = { SCRYPT_N: '16384' };
  const ts = r.timeseries;
  // Requests per step that vary independently (in a journey login and submit_biodata come in
  // pairs, and no fit can tell their costs apart: the ridge splits them as the prior does).
  const rng = rngFor(5);
  for (const s of ts.series) {
    if (s.name === 'step_requests') s.values = s.values.map(() => Math.round(rng() * 40) / 2);
  }
  const req = (step: string, i: number) =>
    ts.series.find((s) => s.name === 'step_requests' && s.labels.step === step)?.values[i] ?? 0;
  const cpu = ts.t.map(
    (_, i) =>
      COSTED_STEPS.reduce(
        (a, s) =>
          a + req(s, i) * (TRUE_STEP_MS[s] + (s === 'create_account' || s === 'login' ? TRUE_SCRYPT_MS : 0)),
        0,
      ) / 1000,
  );
  ts.series = ts.series.filter(
    (s) => !(s.name === 'process_cpu_cores' && s.labels.process === 'registration'),
  );
  ts.series.push({ name: 'process_cpu_cores', labels: { process: 'registration' }, values: cpu });
  return r;
}

describe('calibrate fits a measured run', () => {
  it("recovers each step's CPU and scrypt's from the registration process's CPU per interval", () => {
    const { calibration: c, perRequestCpuMs } = fitCalibration(recordWithCosts(), prior);
    // Each step's whole cost is identified; how much of a sign-up is scrypt is not (see fit.ts).
    const whole = (s: CostedStep) =>
      c.service.stepCpuMs[s] + (s === 'create_account' || s === 'login' ? scryptCpuMs(c, 16384) : 0);
    for (const s of COSTED_STEPS) {
      const truth = TRUE_STEP_MS[s] + (s === 'create_account' || s === 'login' ? TRUE_SCRYPT_MS : 0);
      expect(Math.abs(perRequestCpuMs[s] - truth) / truth, s).toBeLessThan(0.02);
      expect(Math.abs(whole(s) - perRequestCpuMs[s]), s).toBeLessThan(0.01);
    }
    expect(c.source).toContain('fixture');
  });

  it('gives the service the cores the other processes left it', () => {
    const { calibration: c } = fitCalibration(recordWithCosts({ cores: 4, others: 1.5 }), prior);
    // The fixture's runner CPU peaks at 1.5 under the surge and is lower elsewhere: 2.5 cores or more are left.
    expect(c.service.effectiveCores).toBeGreaterThanOrEqual(2.5);
    expect(c.service.effectiveCores).toBeLessThan(4);
  });

  it('refuses a record without the capacity file it ran with, naming the field', () => {
    const r = recordWithCosts();
    r.manifest.stack.capacity = null;
    expect(() => fitCalibration(r, prior)).toThrow(FitError);
    expect(() => fitCalibration(r, prior)).toThrow('stack.capacity');
  });
});
