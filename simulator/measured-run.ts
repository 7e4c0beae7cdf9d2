import { readFileSync } from 'node:fs';
import { DEFAULT_MODEL, RETRY_POLICY } from '../model/behaviour.ts';
import { ARRIVAL_MIX, GRACEFUL_STOP_S, MAIL_WAIT_S } from '../model/journey.ts';
import { type Profile, parseProfileCsv } from '../model/profile.ts';
import { durationMs } from '../model/replay.ts';
import type { RunRecord } from '../reports/record.ts';
import type { Calibration } from './calibration.ts';
import type { DayOptions } from './day.ts';
import { FitError, recordedCapacity, recordedKnobs } from './fit.ts';

/**
 * A measured run as a simulation of it: the run's replay (profile, scale, compress, window),
 * knobs, capacity file, machine and scenario settings (run.json), for `gelombang validate`.
 */

/** the photo registration-day uploads */
const PHOTO = 'scenarios/fixtures/ktp-medium.jpg';
/** the scenarios' POPULATION_SEED when the run set none (scenarios/lib/registrant.ts) */
const DEFAULT_SEED = 2020;

/** What the record's scenario ran with, as a simulation of it; a record that cannot say is refused naming the field. */
export function dayOfRecord(r: RunRecord, calibration: Calibration): DayOptions {
  const m = r.manifest;
  const where = `${r.dir}/run.json`;
  const envNum = (key: string, fallback: number): number => {
    const v = m.scenario.env[key];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n))
      throw new FitError(`${where} scenario.env.${key}: expected a number, got '${v}'`);
    return n;
  };
  if (!m.replay) throw new FitError(`${where} replay: not a profile replay, nothing to simulate`);
  if (m.engine.name === 'simulator')
    throw new FitError(`${where} engine: a simulated run; validate needs a measured one`);
  const options = m.scenario.options as {
    scenarios?: Record<string, { maxVUs?: number; gracefulStop?: string }>;
  };
  const scenario = Object.values(options?.scenarios ?? {})[0];
  const cores = m.machine?.cores;
  if (!cores) throw new FitError(`${where} machine.cores: the run did not record its machine`);
  let profile: Profile;
  try {
    profile = parseProfileCsv(readFileSync(m.replay.profile, 'utf8'), m.replay.profile);
  } catch {
    // The profile file moved: the record keeps the replayed minutes.
    const perMinute = m.replay.profilePerMinute;
    profile = {
      bucketSeconds: 60,
      arrivals: [...new Array(Math.floor(m.replay.windowMinutes[0])).fill(0), ...perMinute],
    };
  }
  const effective = calibration.service.effectiveCores ?? cores;
  return {
    profile,
    scale: m.replay.scale,
    compress: m.replay.compress,
    thinkCompress: envNum('THINK_COMPRESS', m.replay.compress),
    window: { fromMinute: m.replay.windowMinutes[0], toMinute: m.replay.windowMinutes[1] },
    capacity: recordedCapacity(r),
    knobs: recordedKnobs(r),
    cores,
    calibration,
    cpuStretch: cores / effective,
    seed: envNum('POPULATION_SEED', DEFAULT_SEED),
    model: DEFAULT_MODEL,
    retry: RETRY_POLICY,
    minorShare: envNum('MINOR_SHARE', ARRIVAL_MIX.minorShare),
    ineligibleShare: envNum('INELIGIBLE_SHARE', ARRIVAL_MIX.ineligibleShare),
    mailWaitS: envNum('MAIL_WAIT_S', MAIL_WAIT_S),
    gracefulStopS: scenario?.gracefulStop ? durationMs(scenario.gracefulStop) / 1000 : GRACEFUL_STOP_S,
    maxVUs: scenario?.maxVUs ?? Number.POSITIVE_INFINITY,
    photoBytes: readFileSync(PHOTO).length,
    intervalSeconds: r.timeseries.intervalSeconds,
  };
}
