import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STAGES } from '../model/funnel.ts';
import { openingSpike, parseProfileCsv } from '../model/profile.ts';
import { durationMs, replay } from '../model/replay.ts';
import { EXIT, inspectTest, runTest } from '../runner/index.ts';
import { bundleScenarios } from '../scripts/commands/bundle.ts';
import { unlimitedStack } from './support/unlimited-stack.ts';

/**
 * opening-spike on the wave-9 opening (OPENING=wave-9) at a tiny scale, on the embedded runner
 * against the stack: the arrivals follow the profile. Whether the 2020 capacities break at the
 * opening depends on a capacity file still being calibrated and on the machine, so the stack here
 * is unlimited and nothing is asserted about errors.
 */

const SCRIPT = 'scenarios/opening-spike.ts';
const profile = parseProfileCsv(readFileSync('scenarios/profiles/wave-9-opening.csv', 'utf8'));
const SCALE = 0.0002;
const COMPRESS = 50;

const stackOf = unlimitedStack();

/** The per-minute arrivals the scenario plans (its own arithmetic, from the same defaults). */
function plannedPerMinute(): number[] {
  const r = replay(openingSpike(profile, { fromMinute: 0, toMinute: 30 }), {
    scale: SCALE,
    compress: COMPRESS,
  });
  const unit = durationMs(r.scenario.timeUnit);
  const minuteMs = (60 * 1000) / COMPRESS;
  const out: number[] = [];
  let t = 0;
  for (const s of r.scenario.stages) {
    const d = durationMs(s.duration);
    // The replay's stages are jumps (0 s) and holds at a constant rate.
    for (let a = t; a < t + d; ) {
      const m = Math.floor(a / minuteMs);
      const b = Math.min(t + d, (m + 1) * minuteMs);
      out[m] = (out[m] ?? 0) + (s.target * (b - a)) / unit;
      a = b;
    }
    t += d;
  }
  return out;
}

describe('opening-spike on the wave-9 opening', () => {
  it('replays the whole 30-minute profile: the opening minute the busiest, every arrival started and accounted for', async () => {
    const jsonOut = join(mkdtempSync(join(tmpdir(), 'gelombang-wave-9-')), 'samples.json');
    const r = await runTest({
      script: SCRIPT,
      env: {
        BASE_URL: stackOf().urls.registration,
        EMAIL_URL: stackOf().urls.email,
        OPENING: 'wave-9',
        SCALE: String(SCALE),
        COMPRESS: String(COMPRESS),
        GRACEFUL_STOP: '60s',
      },
      quiet: true,
      progress: 'none',
      workers: 2,
      noThresholds: true,
      prometheus: { host: '127.0.0.1', port: 0 },
      outJson: jsonOut,
    });
    expect(r.error).toBeUndefined();

    // The plan: every minute of the profile, scaled, the opening minute the busiest.
    const planned = plannedPerMinute();
    expect(planned).toHaveLength(30);
    profile.arrivals.forEach((a, m) => {
      expect(planned[m], `minute ${m}`).toBeCloseTo(a * SCALE, 2);
    });
    expect(planned.indexOf(Math.max(...planned))).toBe(0);

    // The run: arrivals per compressed minute from the time of each one, counted from the first.
    // The opening minute plans about 12 and every minute of the last half at most 0.6, so a
    // stalled scheduler on a busy machine cannot turn the order round.
    const times = readFileSync(jsonOut, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"funnel_arrivals"') && l.includes('"Point"'))
      .map((l) => Date.parse((JSON.parse(l) as { data: { time: string } }).data.time));
    const t0 = Math.min(...times);
    const seen: number[] = new Array(30).fill(0);
    for (const t of times) {
      const m = Math.min(29, Math.floor((t - t0) / ((60 * 1000) / COMPRESS)));
      seen[m] = (seen[m] as number) + 1;
    }
    expect(seen[0]).toBeGreaterThan(Math.max(...seen.slice(15)));

    const total = profile.arrivals.reduce((a, b) => a + b, 0) * SCALE;
    const count = (metric: string) => r.summary?.metrics[metric]?.values.count ?? 0;
    expect(Math.abs(count('funnel_arrivals') - total)).toBeLessThanOrEqual(1);
    expect(count('dropped_iterations')).toBe(0);
    // every journey ended within the graceful stop (iterations counts those that finished)
    expect(count('iterations')).toBe(count('funnel_arrivals'));

    // Each registrant ends in one outcome per stage reached.
    const series = r.metrics.counterBy('funnel_stage', ['stage', 'outcome']);
    const at = (stage: string, outcome?: string) =>
      series
        .filter((x) => x.tags.stage === stage && (outcome === undefined || x.tags.outcome === outcome))
        .reduce((a, x) => a + x.value, 0);
    expect(at('registered')).toBe(count('funnel_arrivals'));
    for (let i = 1; i < STAGES.length; i++)
      expect(at(STAGES[i] as string), STAGES[i]).toBe(at(STAGES[i - 1] as string, 'continued'));
  }, 150_000);

  it('refuses an unknown OPENING, and OPENING with PROFILE, before any load, naming the variables', async () => {
    const base = { BASE_URL: 'http://127.0.0.1:9', EMAIL_URL: 'http://127.0.0.1:9' };
    const unknown = await inspectTest({ script: SCRIPT, env: { ...base, OPENING: 'wave-10' } });
    expect(unknown.exitCode).not.toBe(EXIT.ok);
    expect(unknown.error).toContain(
      "environment variable OPENING: expected one of 2020, wave-9, got 'wave-10'",
    );
    const both = await inspectTest({
      script: SCRIPT,
      env: { ...base, OPENING: 'wave-9', PROFILE: './profiles/registration-day-2020.csv' },
    });
    expect(both.exitCode).not.toBe(EXIT.ok);
    expect(both.error).toContain('environment variables OPENING and PROFILE: give one');
  }, 60_000);

  it('bundles for real k6 with the wave-9 profile beside the script', async () => {
    const out = mkdtempSync(join(tmpdir(), 'gelombang-wave-9-'));
    const [b] = await bundleScenarios([SCRIPT], out);
    expect(b?.imports.every((im) => /^k6(\/[a-z]+)?$/.test(im))).toBe(true);
    // k6 resolves open() relative to the script: the path the scenario names must be there.
    expect(readFileSync(b?.out as string, 'utf8')).toContain('./profiles/wave-9-opening.csv');
    expect(existsSync(join(out, 'profiles', 'wave-9-opening.csv'))).toBe(true);
    expect(readFileSync(join(out, 'profiles', 'wave-9-opening.csv'), 'utf8')).toBe(
      readFileSync('scenarios/profiles/wave-9-opening.csv', 'utf8'),
    );
  }, 60_000);
});
