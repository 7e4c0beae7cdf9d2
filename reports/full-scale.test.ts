import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STAGES } from '../model/funnel.ts';
import { makeRecord } from './fixtures/make-record.ts';
import { FULL_SCALE_DIR, FULL_SCALE_SKIPPED, readPrediction } from './full-scale.ts';
import { buildReport } from './funnel-report.ts';
import { writeRunRecord } from './record.ts';
import { renderMarkdown } from './render-markdown.ts';

// A small run and its "full-scale" counterpart: 1,000 times the arrivals, a worse system.
const measured = makeRecord({
  seed: 1,
  runId: 'small',
  arrivalsPerSecond: 4,
  failedShare: 0.05,
  replay: { scale: 0.001, compress: 60, windowMinutes: [0, 10] },
});
const simulated = makeRecord({
  seed: 2,
  runId: 'small-full-scale',
  arrivalsPerSecond: 4000,
  failedShare: 0.6,
  latencyFactor: 8,
  replay: { scale: 1, compress: 1, windowMinutes: [0, 10] },
});
simulated.manifest.simulation = {
  calibration: 'fitted on small',
  seed: 2020,
  cores: 48,
  overrides: {},
  events: 1,
};

describe('the report at full scale', () => {
  const report = buildReport(measured, simulated);
  const alone = buildReport(measured);
  const sim = buildReport(simulated);

  it('sets the simulated run beside the naive multiplication, stage by stage and step by step', () => {
    const f = report.fullScale;
    if (!f?.predicted) throw new Error('expected a prediction');
    expect(f.funnel.map((x) => x.stage)).toEqual([...STAGES]);
    for (const row of f.funnel) {
      expect(row.simulated).toBe(sim.funnel.find((x) => x.stage === row.stage)?.reached);
      expect(row.naive).toBe(alone.funnel.find((x) => x.stage === row.stage)?.fullScale);
    }
    for (const s of f.steps) {
      expect(s.p95Ms).toBe(sim.steps.find((x) => x.step === s.step)?.p95Ms);
      expect(s.measuredP95Ms).toBe(alone.steps.find((x) => x.step === s.step)?.p95Ms);
    }
    const failed = (r: typeof sim) => r.losses.reduce((a, l) => a + l.outcomes.failed, 0);
    expect(f.failedBySystem).toEqual({ simulated: failed(sim), naive: Math.round(failed(alone) / 0.001) });
    expect(f.failedBySystem.simulated).toBeGreaterThan(0);
    expect(f.cores).toBe(48);
    expect(f.calibration).toBe('fitted on small');
    expect(f.held).toBe(sim.verdict.held);
  });

  it('leaves the run’s own sections as they were', () => {
    expect({ ...report, fullScale: null }).toEqual(alone);
    expect(alone.fullScale).toBeNull();
  });

  it('renders the section with both columns, and the naive figures labelled naive', () => {
    const md = renderMarkdown(report);
    const section = md.slice(md.indexOf('## At full scale'), md.indexOf('## How this rehearsal was run'));
    expect(section).toContain('| Stage | Simulated | Naive (this run × 1 / scale) |');
    expect(section).toContain('48 cores');
    expect(md).toContain('Full scale, naive');
    expect(md).not.toContain('Full-scale estimate');
    expect(renderMarkdown(alone)).not.toContain('## At full scale');
    expect(section).not.toContain('Read it knowing');
  });

  it("lists the simulation's notes of how it departs from the run (a waiting room's rate kept)", () => {
    const noted = structuredClone(simulated);
    const note =
      'The waiting room admits 15 sign-ups a second at full scale, the rate this rehearsal ran with.';
    noted.manifest.simulation = {
      ...(noted.manifest.simulation as object),
      notes: [note],
    } as typeof noted.manifest.simulation;
    const f = buildReport(measured, noted).fullScale;
    expect(f?.predicted && f.notes).toEqual([note]);
    const md = renderMarkdown(buildReport(measured, noted));
    const section = md.slice(md.indexOf('## At full scale'), md.indexOf('## How this rehearsal was run'));
    expect(section).toContain(`Read it knowing:\n\n- ${note}`);
  });

  it('reads the prediction beside a run directory, or why there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gelombang-full-scale-'));
    expect(readPrediction(dir)).toBeUndefined();
    writeFileSync(join(dir, FULL_SCALE_SKIPPED), 'the run replayed no arrival profile\n');
    expect(readPrediction(dir)).toEqual({ why: 'the run replayed no arrival profile' });
    const md = renderMarkdown(buildReport(measured, { why: 'the run replayed no arrival profile' }));
    expect(md).toContain('No full-scale prediction for this run: the run replayed no arrival profile.');
    writeRunRecord(join(dir, FULL_SCALE_DIR), simulated);
    const read = readPrediction(dir);
    expect(read && 'manifest' in read ? read.manifest.runId : undefined).toBe('small-full-scale');
  });
});
