import type { Step } from '../model/funnel.ts';
import { type Profile, perMinute } from '../model/profile.ts';
import { SLOS } from '../model/slo.ts';
import {
  EVENT_LOOP,
  RUN_RECORD_VERSION,
  type RunManifest,
  SMTP_POOL,
  type Timeseries,
  WRITE_LOCK,
} from '../reports/record.ts';
import { COSTED_STEPS } from './calibration.ts';
import type { DayOptions, DayResult } from './day.ts';
import { simulatedFaultRecords } from './faults.ts';
import { unmodelledNote } from './unmodelled.ts';

/**
 * A simulated run as a run record (reports/record.ts: run.json, summary.json, timeseries.json),
 * so `gelombang report` and `gelombang compare` read it as they read a rehearsal. Nothing in it
 * depends on the wall clock: the run is dated at the profile's own time (minute 0 is 19:00 WIB on
 * 11 April 2020), so the same inputs and seed give the same bytes.
 */

/** Minute 0 of the 2020 profile: 19:00 WIB (UTC+7) on Saturday 11 April 2020. */
const PROFILE_EPOCH_MS = Date.UTC(2020, 3, 11, 12, 0, 0);

interface RecordInputs {
  runId: string;
  engineVersion: string;
  profileFile: string;
  serviceProfile: string;
  /** the knobs as given (profile then --knob), as strings */
  knobs: Record<string, string>;
  calibrationSource: string;
  overrides: Record<string, string>;
  /** how the capacity file at full size was scaled into the run (simulate's; absent: not known) */
  similitude?: RunManifest['similitude'];
  day: DayOptions;
  /** what the caller knows the simulation departs from the run asked for, beside the switches it does not model */
  notes?: string[];
}

interface SimulatedRecord {
  manifest: RunManifest;
  summary: Record<string, unknown>;
  timeseries: Timeseries;
}

export function simulatedRecord(i: RecordInputs, r: DayResult): SimulatedRecord {
  const d = i.day;
  const from = d.window?.fromMinute ?? 0;
  const minutes = perMinute(d.profile as Profile);
  const to = d.window?.toMinute ?? minutes.length;
  const startedAtMs = PROFILE_EPOCH_MS + from * 60_000;
  const unmodelled = unmodelledNote(d.knobs);
  const cautions = [...(unmodelled ? [unmodelled] : []), ...(i.notes ?? [])];
  const steps = COSTED_STEPS.map((step) => {
    const s = r.rec.steps[step];
    const q = (x: number) => round(s.latency.quantile(x));
    return {
      step,
      requests: s.requests,
      failed: s.failed,
      p50Ms: q(0.5),
      p90Ms: q(0.9),
      p95Ms: q(0.95),
      p99Ms: q(0.99),
      maxMs: s.requests > 0 ? round(s.latency.max) : null,
    };
  });
  const sloBroken = steps.some(
    (s) =>
      s.requests > 0 &&
      ((s.p95Ms ?? 0) >= SLOS[s.step as Step].p95Ms ||
        s.failed / s.requests >= SLOS[s.step as Step].errorRate),
  );
  const env: Record<string, string> = {
    SCALE: String(d.scale),
    COMPRESS: String(d.compress),
    THINK_COMPRESS: String(d.thinkCompress),
    WINDOW_FROM: String(from),
    WINDOW_TO: String(to),
    PROFILE: i.profileFile,
    POPULATION_SEED: String(d.seed),
    MINOR_SHARE: String(d.minorShare),
    INELIGIBLE_SHARE: String(d.ineligibleShare),
    MAIL_WAIT_S: String(d.mailWaitS),
  };
  const manifest: RunManifest = {
    format: 'gelombang/run-record',
    version: RUN_RECORD_VERSION,
    runId: i.runId,
    engine: { name: 'simulator', version: i.engineVersion },
    startedAt: new Date(startedAtMs).toISOString(),
    endedAt: new Date(startedAtMs + r.durationS * 1000).toISOString(),
    exitCode: sloBroken ? 99 : 0,
    scenario: {
      // The report's title line names the scenario: it says at once that nothing was measured.
      name: `registration-day, simulated (calibration: ${i.calibrationSource})`,
      file: 'simulator/day.ts',
      env,
      options: { scenarios: { registration_day: r.plan.scenario } },
    },
    replay: {
      profile: i.profileFile,
      scale: d.scale,
      compress: d.compress,
      windowMinutes: [from, to],
      profilePerMinute: minutes.slice(Math.floor(from), Math.ceil(to)),
      durationSeconds: r.plan.durationSeconds,
    },
    stack: {
      target: 'simulated',
      managed: true,
      knobs: { SERVICE_PROFILE: i.serviceProfile, ...i.knobs },
      capacity: r.stations,
    },
    machine: { cores: d.cores, cpu: 'simulated', node: 'simulated' },
    simulation: {
      calibration: i.calibrationSource,
      seed: d.seed,
      cores: d.cores,
      overrides: i.overrides,
      events: r.events,
      ...(cautions.length > 0 ? { notes: cautions } : {}),
    },
    ...(i.similitude ? { similitude: i.similitude } : {}),
    ...((d.faults?.length ?? 0) + (d.kills?.length ?? 0) > 0
      ? { faults: simulatedFaultRecords(d.faults ?? [], d.kills ?? [], r.stations, r.durationS) }
      : {}),
    totals: {
      arrivals: r.rec.arrivals,
      funnel: r.rec.funnel(),
      steps,
      droppedIterations: r.rec.dropped,
    },
  };
  const timeseries: Timeseries = {
    format: 'gelombang/timeseries',
    version: RUN_RECORD_VERSION,
    intervalSeconds: d.intervalSeconds,
    startedAtMs,
    t: r.rec.t,
    sources: ['simulator'],
    notes: [
      `Simulated, not measured: gelombang's capacity simulator (calibration: ${i.calibrationSource}, seed ${d.seed}, ${d.cores} cores for the service) replayed the profile through a queueing model of the service and its dependencies; no request was sent.`,
      `Dependencies are saturated, as in a rehearsal, when all their servers are busy at one of four readings per interval; the service's SMTP connections ("${SMTP_POOL}") the same way; its "${WRITE_LOCK}" (the write lock) and "${EVENT_LOOP}" by their busy share of the interval.`,
      ...cautions,
    ],
    series: r.rec.allSeries(),
  };
  return { manifest, summary: summaryOf(manifest, r), timeseries };
}

/** The handleSummary-shaped data of the run (the per-step trends and totals k6 would have). */
function summaryOf(m: RunManifest, r: DayResult): Record<string, unknown> {
  const metrics: Record<string, unknown> = {};
  let requests = 0;
  let failed = 0;
  for (const s of m.totals.steps) {
    requests += s.requests;
    failed += s.failed;
    metrics[`http_req_duration{step:${s.step}}`] = {
      type: 'trend',
      contains: 'time',
      values: { med: s.p50Ms, 'p(90)': s.p90Ms, 'p(95)': s.p95Ms, 'p(99)': s.p99Ms, max: s.maxMs },
    };
    metrics[`http_req_failed{step:${s.step}}`] = {
      type: 'rate',
      contains: 'default',
      values: {
        rate: s.requests > 0 ? s.failed / s.requests : 0,
        passes: s.failed,
        fails: s.requests - s.failed,
      },
    };
  }
  metrics.http_reqs = {
    type: 'counter',
    contains: 'default',
    values: { count: requests, rate: requests / r.durationS },
  };
  metrics.http_req_failed = {
    type: 'rate',
    contains: 'default',
    values: { rate: requests > 0 ? failed / requests : 0, passes: failed, fails: requests - failed },
  };
  metrics.funnel_arrivals = {
    type: 'counter',
    contains: 'default',
    values: { count: m.totals.arrivals, rate: m.totals.arrivals / r.durationS },
  };
  metrics.dropped_iterations = {
    type: 'counter',
    contains: 'default',
    values: { count: m.totals.droppedIterations, rate: m.totals.droppedIterations / r.durationS },
  };
  return {
    metrics,
    root_group: { name: '', path: '', id: '', groups: [], checks: [] },
    options: m.scenario.options,
    state: { isStdOutTTY: false, isStdErrTTY: false, testRunDurationMs: Math.round(r.durationS * 1000) },
  };
}

function round(x: number | null): number | null {
  return x === null ? null : Math.round(x * 100) / 100;
}
