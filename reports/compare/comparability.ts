import type { RunManifest, RunRecord, Timeseries } from '../record.ts';
import { durationSeconds } from './run-figures.ts';
import type { Comparison, RunInfo } from './types.ts';

/**
 * Whether two runs can be compared, and how: what each run was, what differs between them besides
 * the change under test, and whether their intervals can be paired. Runs that differ in what was
 * run are still compared, with warnings, because a reader may know why the difference does not
 * matter; only the pairing of intervals by time is given up, since it assumes the same load.
 */

type Comparability = Pick<
  Comparison,
  'baseline' | 'candidate' | 'comparable' | 'warnings' | 'configChanges' | 'pairing'
>;

export function comparability(baseline: RunRecord, candidate: RunRecord): Comparability {
  const info = { baseline: runInfo(baseline), candidate: runInfo(candidate) };
  const mismatches = comparabilityWarnings(info.baseline, info.candidate);
  const aligned = gridsAlign(baseline.timeseries, candidate.timeseries);
  // Interval i of both runs faced the same load only when they replayed the same thing.
  const paired = aligned && mismatches.length === 0;
  const warnings = [
    ...mismatches,
    ...drainWarnings(info.baseline, info.candidate),
    ...machineWarnings(baseline.manifest, candidate.manifest),
  ];
  if (baseline.manifest.runId === candidate.manifest.runId)
    warnings.push(`the baseline and the candidate are the same run (${baseline.manifest.runId})`);
  if (!aligned)
    warnings.push(
      `the sampling grids differ (every ${info.baseline.intervalSeconds} s vs ${info.candidate.intervalSeconds} s, or shifted): intervals are compared unpaired (Mann-Whitney), which is less sensitive`,
    );
  else if (!paired)
    warnings.push(
      'intervals are compared unpaired (Mann-Whitney): pairing them by time assumes both runs replayed the same load',
    );
  return {
    ...info,
    comparable: mismatches.length === 0,
    warnings,
    configChanges: configChanges(baseline.manifest, candidate.manifest),
    pairing: paired ? 'paired' : 'unpaired',
  };
}

function runInfo(r: RunRecord): RunInfo {
  const replay = r.manifest.replay;
  return {
    runId: r.manifest.runId,
    dir: r.dir,
    scenario: r.manifest.scenario.name,
    engine: r.manifest.engine.name,
    startedAt: r.manifest.startedAt,
    durationSeconds: durationSeconds(r),
    intervalSeconds: r.timeseries.intervalSeconds,
    profile: replay?.profile ?? null,
    scale: replay?.scale ?? null,
    compress: replay?.compress ?? null,
    windowMinutes: replay?.windowMinutes ?? null,
  };
}

function comparabilityWarnings(b: RunInfo, c: RunInfo): string[] {
  const w: string[] = [];
  const differ = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y))
      w.push(`not comparable: ${what} differs (baseline ${show(x)}, candidate ${show(y)})`);
  };
  differ('scenario', b.scenario, c.scenario);
  differ('engine', b.engine, c.engine);
  if ((b.profile === null) !== (c.profile === null)) {
    w.push(`not comparable: only the ${b.profile === null ? 'candidate' : 'baseline'} replays a profile`);
  } else {
    differ('replayed profile', b.profile, c.profile);
    differ('replay scale', b.scale, c.scale);
    differ('replay compression', b.compress, c.compress);
    differ('replay window (profile minutes)', b.windowMinutes, c.windowMinutes);
  }
  if (!sameReplay(b, c) && durationsDiffer(b, c))
    w.push(
      `not comparable: test durations differ by more than ${DURATION_SHARE * 100} % (${b.durationSeconds.toFixed(1)} s, ${c.durationSeconds.toFixed(1)} s)`,
    );
  return w;
}

/** test durations this share of the longer apart: two runs of another length of load */
const DURATION_SHARE = 0.1;

function durationsDiffer(b: RunInfo, c: RunInfo): boolean {
  const longer = Math.max(b.durationSeconds, c.durationSeconds);
  return longer > 0 && Math.abs(b.durationSeconds - c.durationSeconds) / longer > DURATION_SHARE;
}

/** Both replay the same arrivals: the same profile, scale, compression and window. */
function sameReplay(b: RunInfo, c: RunInfo): boolean {
  return (
    b.profile !== null &&
    JSON.stringify([b.profile, b.scale, b.compress, b.windowMinutes]) ===
      JSON.stringify([c.profile, c.scale, c.compress, c.windowMinutes])
  );
}

/**
 * Two replays of the same arrivals had the same load for the same time: a run that lasted longer
 * spent it finishing the journeys in flight when the arrivals stopped (the drain, up to the
 * graceful stop), which is what the system did, not how it was tested. Said, and compared as an
 * outcome in the metrics; only runs of other loads are not comparable by their length.
 */
function drainWarnings(b: RunInfo, c: RunInfo): string[] {
  if (!sameReplay(b, c) || !durationsDiffer(b, c)) return [];
  const longer = b.durationSeconds > c.durationSeconds ? 'baseline' : 'candidate';
  return [
    `the test durations differ by more than ${DURATION_SHARE * 100} % (${b.durationSeconds.toFixed(1)} s, ${c.durationSeconds.toFixed(1)} s) with the same arrivals replayed: the ${longer} took longer to finish the journeys in flight when arrivals stopped (the drain), an outcome of the system, not a difference in the test`,
  ];
}

function show(x: unknown): string {
  return Array.isArray(x) ? `[${x.join(', ')})` : String(x);
}

function diffRecords(what: string, a: Record<string, string>, b: Record<string, string>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys
    .filter((k) => a[k] !== b[k])
    .map((k) => `${what} ${k}: ${a[k] ?? '(unset)'} → ${b[k] ?? '(unset)'}`);
}

/** The scenario's knobs that name where the stack listens: a managed stack takes free ports each run. */
const STACK_URLS: ReadonlySet<string> = new Set(['BASE_URL', 'EMAIL_URL']);

function configChanges(b: RunManifest, c: RunManifest): string[] {
  // Two rehearsals that started their own stacks ran against the same system on other ports:
  // not a change of set-up, and listed every time it would hide the ones that are.
  const managed = b.stack.managed && c.stack.managed;
  const env = (e: Record<string, string>) =>
    managed ? Object.fromEntries(Object.entries(e).filter(([k]) => !STACK_URLS.has(k))) : e;
  const changes = [
    ...diffRecords('knob', b.stack.knobs, c.stack.knobs),
    ...diffRecords('env', env(b.scenario.env), env(c.scenario.env)),
  ];
  if (JSON.stringify(b.stack.capacity) !== JSON.stringify(c.stack.capacity))
    changes.push('the mocks ran with different capacities (stack.capacity)');
  if (b.stack.target !== c.stack.target && !managed)
    changes.push(`target: ${b.stack.target} → ${c.stack.target}`);
  if (b.machine && c.machine) {
    const m = (what: string, x: unknown, y: unknown) => {
      if (x !== y) changes.push(`machine ${what}: ${x} → ${y}`);
    };
    m('cores', b.machine.cores, c.machine.cores);
    m('cpu', b.machine.cpu, c.machine.cpu);
    m('node', b.machine.node, c.machine.node);
  }
  return changes;
}

/** a commit this many times slower or faster before one run's load than the other's: another disk, or a busier one */
const COMMIT_RATIO = 2;

/**
 * A hash this much slower or faster before one run's load than the other's: another CPU under the
 * same model name, or one shared with other work. The probe's fastest hash repeats within 5 % on
 * one machine; two sessions' machines differed by 1.2x (scripts/hash-probe.ts).
 */
const HASH_RATIO = 1.1;

/**
 * The machine measured before each run's load (the commit and hash probes, run.json
 * machine.commitMs and hashMs): a verdict on two runs assumes the same machine, and a write-bound
 * step measures the disk as much as the change, a hashing one the CPU. Only what both runs
 * recorded is compared; hashes at different costs (SCRYPT_N changed, a configuration change
 * already) are not.
 */
function machineWarnings(b: RunManifest, c: RunManifest): string[] {
  const w: string[] = [];
  const apart = (ratio: number, digits: number) =>
    ratio >= 1 ? `${ratio.toFixed(digits)}x slower` : `${(1 / ratio).toFixed(digits)}x faster`;
  const bm = b.machine?.commitMs;
  const cm = c.machine?.commitMs;
  if (bm && cm) {
    const ratio = cm.FULL / bm.FULL;
    if (ratio >= COMMIT_RATIO || ratio <= 1 / COMMIT_RATIO)
      w.push(
        `the database's disk committed ${apart(ratio, 1)} before the candidate's load than before the baseline's (${bm.FULL} → ${cm.FULL} ms a commit, synchronous FULL; run.json machine.commitMs): steps that write measure the disk as well as the change`,
      );
  }
  const bh = b.machine?.hashMs;
  const ch = c.machine?.hashMs;
  if (bh && ch && bh.n === ch.n) {
    const ratio = ch.ms / bh.ms;
    if (ratio >= HASH_RATIO || ratio <= 1 / HASH_RATIO)
      w.push(
        `the CPU hashed ${apart(ratio, 2)} before the candidate's load than before the baseline's (${bh.ms} → ${ch.ms} ms a password hash at scrypt N=${bh.n}; run.json machine.hashMs): steps that hash (sign-up, login) measure the CPU as well as the change`,
      );
  }
  return w;
}

/** Intervals pair up when both runs sample on the same grid from the same start. */
function gridsAlign(a: Timeseries, b: Timeseries): boolean {
  if (Math.abs(a.intervalSeconds - b.intervalSeconds) > 1e-9) return false;
  const ta = a.t[0];
  const tb = b.t[0];
  return ta === undefined || tb === undefined || Math.abs(ta - tb) < a.intervalSeconds / 2;
}
