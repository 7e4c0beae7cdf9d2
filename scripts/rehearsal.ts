import { readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../mock-services/registration/config.ts';
import type { ServiceSection } from '../model/capacity.ts';
import { type FaultEntry, type PlannedFault, planFaults } from '../model/faults.ts';
import { type Profile, ProfileError, parseProfileCsv, perMinute } from '../model/profile.ts';
import { replay } from '../model/replay.ts';
import { RUN_RECORD_VERSION, type RunManifest, writeRunRecord } from '../reports/record.ts';
import type { Report } from '../reports/report-model.ts';
import { writeReport } from '../reports/write-report.ts';
import { EXIT, type ExitCode, inspectTest, runTest } from '../runner/index.ts';
import { probeCommits } from './commit-probe.ts';
import { clockOf, type RunningFaults, startFaults } from './faults.ts';
import { predictFullScale } from './full-scale.ts';
import { probeHash } from './hash-probe.ts';
import { probeIdleCpu } from './idle-probe.ts';
import { runOnK6 } from './k6-engine.ts';
import { fromRoot } from './paths.ts';
import {
  capacitiesLines,
  enforcedCapacityFile,
  type RunCapacity,
  type SimilarRun,
  type Similitude,
  similarRun,
} from './rehearsal-similitude.ts';
import { importK6Run } from './series/import-k6.ts';
import { freePort, PrometheusApi, type RunningPrometheus, startPrometheus } from './series/prometheus.ts';
import { servicesSeries } from './series/prometheus-series.ts';
import { RunnerSampler, runnerTotals } from './series/runner-sampler.ts';
import { SeriesBook } from './series/series-book.ts';
import { type ScrapeTarget, ServiceScraper } from './series/service-scraper.ts';
import { type RunningStack, type ServiceName, startStack } from './stack.ts';
import { gelombangVersion } from './version.ts';

/**
 * One rehearsal, end to end: stack up (unless a target is given), the scenario on the embedded
 * runner with the time series sampled as it runs, the run record, the report, stack down. The
 * CLI command is a thin layer over this, and so is its end-to-end test.
 */

export interface RehearsalOptions {
  scenario: string;
  scenarioFile: string;
  scale: number;
  compress: number;
  window?: [number, number];
  /** a CSV of arrivals replacing the 2020 profile */
  profile?: string;
  /** the registration service's knobs (EMAIL_DELIVERY, MINISTRY_CALLS, ...) */
  knobs: Record<string, string>;
  serviceProfile: string;
  /**
   * the capacity file, at full size: scaled by the run's rate factor before the mocks get it
   * (scripts/rehearsal-similitude.ts); default DEFAULT_REHEARSAL_CAPACITY
   */
  capacityFile?: string;
  /** enforce the capacity file as it is instead (--absolute-capacity) */
  absoluteCapacity?: boolean;
  /** an already running service instead of starting the stack */
  target?: { registration: string; email?: string };
  resultsDir: string;
  runId?: string;
  /** extra scenario knobs */
  env: Record<string, string>;
  workers?: number;
  intervalSeconds: number;
  /**
   * a prometheus binary: start it for the run (TSDB in the run directory), scraping the services
   * and the runner, and take the services' series from it
   */
  prometheus?: string;
  /** every sample as k6's JSON output lines (-o json=FILE) */
  outJson?: string;
  /** run the scenario on this real k6 instead of the embedded runner (needs `prometheus` for remote write) */
  k6?: { binary: string; version: string };
  quiet: boolean;
  /** predict the run at full scale with the simulator calibrated on it (the report's "At full scale") */
  fullScale: boolean;
  /**
   * the service's machine in that prediction, instead of the capacity file's service section
   * (default: that section, else the machine's cores and the rehearsal's workers)
   */
  fullScaleService?: { cores?: number; workers?: number };
  /** a fault schedule (model/faults.ts), checked against the window; needs the stack started here */
  faults?: FaultEntry[];
  log: (line: string) => void;
}

export interface RehearsalResult {
  exitCode: ExitCode;
  runDir: string;
  report?: Report;
  error?: string;
  /** a service of the stack died during the run, unplanned (the record's notes say which, when, and whether it was restarted) */
  stackDied?: boolean;
}

/** A service that keeps dying is not restarted for ever: past this, the run goes on without it. */
const MAX_RESTARTS = 3;

const DEFAULT_PROFILE = fromRoot('scenarios/profiles/registration-day-2020.csv');

function runIdFor(scenario: string, at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}${p(at.getMonth() + 1)}${p(at.getDate())}-${p(at.getHours())}${p(at.getMinutes())}${p(at.getSeconds())}-${scenario}`;
}

/**
 * The scenario's environment: where the stack is, the replay's knobs, the client's half of the
 * service's knobs (PHOTO_UPLOAD: the app must use the upload the service was set up for), then
 * -e's. A target's knobs are unknown here: there -e PHOTO_UPLOAD says it.
 */
function scenarioEnv(
  o: RehearsalOptions,
  urls: { registration: string; email: string },
): Record<string, string> {
  return {
    BASE_URL: urls.registration,
    ...(urls.email ? { EMAIL_URL: urls.email } : {}),
    ...(!o.target && o.knobs.PHOTO_UPLOAD ? { PHOTO_UPLOAD: o.knobs.PHOTO_UPLOAD } : {}),
    ...(o.scenario === 'registration-day'
      ? {
          SCALE: String(o.scale),
          COMPRESS: String(o.compress),
          ...(o.window ? { WINDOW_FROM: String(o.window[0]), WINDOW_TO: String(o.window[1]) } : {}),
          ...(o.profile ? { PROFILE: o.profile } : {}),
        }
      : {}),
    // The run's key as the scenario would take it (its start second), given and so recorded: a
    // simulation of the run (gelombang validate) then draws each registrant's choices from the
    // streams the run drew them from.
    RUN_KEY: String(Math.floor(Date.now() / 1000)),
    ...o.env,
  };
}

type ReplayInputs = Pick<RehearsalOptions, 'scenario' | 'profile' | 'window' | 'scale' | 'compress'>;

/**
 * Why the replay these inputs describe cannot be made, or undefined: the profile parses, the
 * window lies within it, and the model's own check passes (model/replay.ts replay(), the
 * arithmetic the scenario will do). Asked before anything starts, not by the scenario once the
 * stack is up. `names` are where each input was given (rehearse's flags, record's -e).
 */
export function replayProblem(
  o: ReplayInputs,
  names: { profile: string; scale: string; compress: string; window: string },
): string | undefined {
  if (o.scenario !== 'registration-day') return undefined;
  const file = o.profile ?? DEFAULT_PROFILE;
  let profile: Profile;
  try {
    profile = parseProfileCsv(readFileSync(file, 'utf8'), file);
  } catch (err) {
    if (err instanceof ProfileError) return `${names.profile}: ${err.message}`;
    const code = (err as NodeJS.ErrnoException).code;
    if (code) return `${names.profile}: cannot read '${file}' (${code})`;
    throw err;
  }
  const minutes = (profile.arrivals.length * profile.bucketSeconds) / 60;
  // An open end (Infinity) is the profile's end, as the scenario's WINDOW_TO defaults to it.
  if (o.window && Number.isFinite(o.window[1]) && o.window[1] > minutes)
    return `${names.window}: the profile ${file} has ${minutes} minutes, got ${o.window[0]}-${o.window[1]}`;
  const window = o.window ? { fromMinute: o.window[0], toMinute: Math.min(o.window[1], minutes) } : undefined;
  try {
    replay(profile, { scale: o.scale, compress: o.compress, ...(window ? { window } : {}) });
    return undefined;
  } catch (err) {
    if (!(err instanceof ProfileError)) throw err;
    const about = /^(scale|compress|window)\b/.exec(err.message)?.[1] as
      | 'scale'
      | 'compress'
      | 'window'
      | undefined;
    return about ? `${names[about]}: ${err.message.replace(/^(scale|compress): /, '')}` : err.message;
  }
}

/** The replay the scenario will make, for the record (profile minutes unscaled). */
export function replayOf(o: ReplayInputs): RunManifest['replay'] {
  if (o.scenario !== 'registration-day') return null;
  const file = o.profile ?? DEFAULT_PROFILE;
  const minutes = perMinute(parseProfileCsv(readFileSync(file, 'utf8'), file));
  const [from, to] = o.window ? [o.window[0], Math.min(o.window[1], minutes.length)] : [0, minutes.length];
  return {
    profile: file,
    scale: o.scale,
    compress: o.compress,
    windowMinutes: [from, to],
    profilePerMinute: minutes.slice(Math.floor(from), Math.ceil(to)),
    durationSeconds: ((to - from) * 60) / o.compress,
  };
}

export async function runRehearsal(o: RehearsalOptions): Promise<RehearsalResult> {
  const started = new Date();
  const runId = o.runId ?? runIdFor(o.scenario, started);
  const runDir = join(o.resultsDir, runId);
  let stack: RunningStack | undefined;
  const deaths: string[] = [];
  const restarts = new Map<ServiceName, number>();
  const restarting: Promise<void>[] = [];
  let prometheus: RunningPrometheus | undefined;
  /** the scaled capacity file the mocks read while they run */
  let mocksCapacity: { file: string; remove: () => void } | undefined;
  const stop = async () => {
    const s = stack;
    const p = prometheus;
    stack = undefined;
    prometheus = undefined;
    await Promise.all([s?.stop(), p?.stop()]);
    mocksCapacity?.remove();
    mocksCapacity = undefined;
  };
  const onSignal = () => {
    o.log('\ninterrupted: stopping the stack ...');
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // Read (and validated) once, before anything starts: the same stations go to the mocks and the
    // record, scaled by the run's rate factor; the service's hash cost follows the same rule.
    let similar: SimilarRun | null = null;
    if (!o.target) {
      const s = similarRun(o);
      if ('problem' in s) return { exitCode: EXIT.invalidConfig, runDir, error: s.problem };
      similar = s;
    }
    const run = similar?.run ?? null;
    const similitude: Similitude | undefined = similar?.similitude;
    const knobs = similar?.knobs ?? o.knobs;
    const capacity = run?.capacity ?? null;
    // What the runner would refuse (the scenario's -e knobs read in its init context, its options)
    // is refused before the stack starts, not after.
    const inspected = await inspectTest({
      script: o.scenarioFile,
      env: scenarioEnv(o, { registration: 'http://127.0.0.1:9', email: 'http://127.0.0.1:9' }),
    });
    if (inspected.exitCode !== 0)
      return { exitCode: inspected.exitCode, runDir, error: inspected.error ?? 'the scenario cannot run' };
    let urls: { registration: string; email: string; scrape: ScrapeTarget[] };
    // What was measured before the load, for calibrate: the disk, the CPU, the idle service.
    const probes: MachineProbes = {};
    const intervalMs = o.intervalSeconds * 1000;
    // Four scrapes per interval keep a saturation shorter than an interval visible, as the scraper's do.
    const scrapeSeconds = Math.max(0.25, o.intervalSeconds / 4);
    if (o.target) {
      // A target's own /metrics, if it has one, still tells its CPU; a failed scrape leaves gaps.
      urls = {
        registration: o.target.registration,
        email: o.target.email ?? '',
        scrape: [{ process: 'registration', url: `${o.target.registration}/metrics` }],
      };
      o.log(`rehearsing against ${o.target.registration} (not started here: its configuration is unknown)`);
    } else {
      o.log('starting the registration service and its mock dependencies on 127.0.0.1 ...');
      // The mocks read their stations from a file: the scaled ones, beside nothing else of the run.
      mocksCapacity = similar
        ? enforcedCapacityFile(
            similar.run,
            `${similar.run.file} as this run enforces it (run.json similitude)`,
          )
        : undefined;
      for (const line of similar ? capacitiesLines(similar.similitude) : []) o.log(`  ${line}`);
      stack = await startStack({
        ports: 'auto',
        capacityFile: mocksCapacity?.file,
        env: { registration: knobs },
        // Said at once, kept for the record, and restarted: a crashed service is a finding, but
        // the rest of the run still measures how the day recovers rather than a stack without it.
        onExit: (e) => {
          if (e.expected) return;
          o.log(`error: ${e.message}`);
          const at = `at ${e.at.toISOString()}`;
          const n = (restarts.get(e.service) ?? 0) + 1;
          restarts.set(e.service, n);
          const s = stack;
          if (!s || n > MAX_RESTARTS) {
            deaths.push(
              `${e.message} (${at}); not restarted${n > MAX_RESTARTS ? `: it had died ${MAX_RESTARTS} times already` : ''}`,
            );
            return;
          }
          o.log(`restarting ${e.service} (restart ${n} of at most ${MAX_RESTARTS}) ...`);
          restarting.push(
            s.restart(e.service).then(
              () => {
                const downS = ((Date.now() - e.at.getTime()) / 1000).toFixed(1);
                deaths.push(`${e.message} (${at}); restarted, ready again after ${downS} s`);
                o.log(`${e.service} restarted: ready again after ${downS} s`);
              },
              (err: Error) => {
                deaths.push(`${e.message} (${at}); the restart failed: ${err.message}`);
                o.log(`error: ${e.service} could not be restarted: ${err.message}`);
              },
            ),
          );
        },
      });
      urls = {
        registration: stack.urls.registration,
        email: stack.urls.email,
        scrape: (['registration', 'ministry', 'email', 'upload'] as const).map((process) => ({
          process,
          url: `${(stack as RunningStack).urls[process]}/metrics`,
        })),
      };
      o.log(
        `  registration ${urls.registration}  (${Object.entries(knobs)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')})`,
      );
      // What a commit costs on this disk now, for the simulator's write lock (calibrate reads it).
      const probe = probeCommits(stack.dataDir);
      probes.commitMs = { FULL: probe.FULL, NORMAL: probe.NORMAL };
      o.log(
        `  the database's disk: a commit holds the write lock ${probe.FULL} ms (synchronous FULL), ${probe.NORMAL} ms (NORMAL), the mean of ${probe.commits} each`,
      );
      // And what the CPU is worth now: the same model name has hashed at different speeds.
      const hash = await probeHash(parseConfig(knobs).SCRYPT_N);
      probes.hashMs = { n: hash.n, ms: hash.ms };
      o.log(
        `  the CPU: a password hash (scrypt N=${hash.n}) takes ${hash.ms} ms, the fastest of ${hash.hashes}`,
      );
      // And the service's own CPU with nothing to answer, read as the run will read it.
      const idle = await probeIdleCpu(`${stack.urls.registration}/metrics`, { scrapeSeconds });
      probes.serviceIdleCores = idle.cores;
      o.log(
        `  the service idle: ${idle.cores} cores over ${idle.seconds} s, its /metrics read every ${scrapeSeconds} s`,
      );
    }

    const env = scenarioEnv(o, urls);
    const book = new SeriesBook();
    const sampler = new RunnerSampler(book);
    let runnerPort = 0;
    if (o.prometheus) {
      runnerPort = await freePort();
      const host = (u: string) => new URL(u).host;
      prometheus = await startPrometheus({
        binary: o.prometheus,
        dir: runDir,
        targets: {
          ...Object.fromEntries(urls.scrape.map((x) => [x.process, host(x.url)])),
          // real k6 pushes by remote write; the embedded runner is scraped
          ...(o.k6 ? {} : { runner: `127.0.0.1:${runnerPort}` }),
        },
        scrapeIntervalSeconds: scrapeSeconds,
      });
      o.log(
        `  prometheus ${prometheus.url} (scraping every ${scrapeSeconds} s; TSDB in ${prometheus.dataDir})`,
      );
    }
    if (o.k6) {
      if (!prometheus) throw new Error('a rehearsal on real k6 records through Prometheus: start one');
      if (o.faults)
        throw new Error(
          'a fault schedule runs with the embedded runner only (it starts with its first sample)',
        );
      o.log(`running ${o.scenario} on ${o.k6.binary} (k6 ${o.k6.version}), pushing to ${prometheus.url}`);
      const k6 = await runOnK6({
        k6: o.k6.binary,
        scenarioFile: o.scenarioFile,
        runDir,
        env,
        prometheusUrl: prometheus.url,
        testId: runId,
        pushIntervalSeconds: o.intervalSeconds,
        quiet: o.quiet,
        ...(o.outJson ? { outJson: o.outJson } : {}),
      });
      o.log(`recording the run in ${runDir} ...`);
      await importK6Run({
        summaryFile: k6.summaryFile,
        prometheusUrl: prometheus.url,
        // The test ran for the summary's duration up to k6's exit; bundling and VU start-up come before it.
        endS: k6.endS,
        intervalSeconds: o.intervalSeconds,
        select: { testid: runId },
        scenario: o.scenario,
        env: redact(env),
        replay: replayOf(o),
        target: urls.registration,
        managed: !o.target,
        knobs: o.target ? {} : { SERVICE_PROFILE: o.serviceProfile, ...knobs },
        capacity,
        ...(similitude ? { similitude } : {}),
        k6Version: o.k6.version,
        machine: thisMachine(probes),
        exitCode: k6.exitCode,
        runDir,
        runId,
      });
      const report = await finishReport(runDir, o, run);
      return { exitCode: k6.exitCode as ExitCode, runDir, report };
    }
    let faultPlan: PlannedFault[] | undefined;
    let faults: RunningFaults | undefined;
    if (o.faults) {
      const replay = replayOf(o);
      if (!stack || !replay)
        return {
          exitCode: EXIT.invalidConfig,
          runDir,
          error: 'a fault schedule needs the stack started here and a replayed profile',
        };
      faultPlan = planFaults(o.faults, clockOf(replay));
    }
    // Without Prometheus the services' /metrics are read here.
    const scraper = new ServiceScraper(book, prometheus ? [] : urls.scrape);
    let lastTick = 0;
    let startedAtMs = 0;
    o.log(
      `running ${o.scenario} (${Object.entries(env)
        .filter(([k]) => !k.endsWith('_URL'))
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')})`,
    );
    const r = await runTest({
      script: o.scenarioFile,
      env,
      workers: o.workers,
      // the report counts the requests that got no answer; a planned kill would print hundreds
      requestFailureWarnings: false,
      // With a Prometheus server, the runner's endpoint stays up for a few more scrapes (even late
      // ones on a busy machine) so the final counts are kept.
      prometheus: prometheus
        ? { host: '127.0.0.1', port: runnerPort, lingerMs: Math.max(3000, scrapeSeconds * 4000) }
        : undefined,
      outputs: [
        {
          description: 'rehearsal recorder',
          needs: { tagSeries: true },
          onSample: (metrics, elapsedMs) => {
            // The schedule's clock is the record's: t = 0 is the scenario's start.
            if (faultPlan && !faults && stack)
              faults = startFaults(faultPlan, stack, {
                originMs: Date.now() - elapsedMs,
                log: o.log,
                onLostService: (message) => {
                  deaths.push(`${message} (at ${new Date().toISOString()})`);
                },
              });
            if (lastTick === 0 && elapsedMs < intervalMs) {
              if (startedAtMs === 0) sampler.start();
              startedAtMs = Date.now() - elapsedMs;
            }
            scraper.scrape();
            if (elapsedMs - lastTick < intervalMs) return;
            // On the grid of whole intervals (not from the late tick), so intervals do not drift.
            lastTick += intervalMs;
            book.tick(elapsedMs / 1000);
            sampler.sample(metrics, o.intervalSeconds);
            scraper.sample(o.intervalSeconds);
          },
        },
      ],
      progress: o.quiet ? 'none' : undefined,
      noSummary: true,
      ...(o.outJson ? { outJson: o.outJson } : {}),
    });
    await scraper.settle();
    const faultRecords = await faults?.finish();
    await Promise.all(restarting);
    o.log(`recording the run in ${runDir} ...`);
    if (!r.summary) return { exitCode: r.exitCode, runDir, error: r.error ?? 'the run produced no summary' };

    const manifest: RunManifest = {
      format: 'gelombang/run-record',
      version: RUN_RECORD_VERSION,
      runId,
      engine: { name: 'gelombang', version: gelombangVersion() },
      startedAt: started.toISOString(),
      endedAt: new Date().toISOString(),
      exitCode: r.exitCode,
      scenario: { name: o.scenario, file: o.scenarioFile, env: redact(env), options: r.summary.options },
      replay: replayOf(o),
      stack: {
        target: urls.registration,
        managed: !o.target,
        knobs: o.target ? {} : { SERVICE_PROFILE: o.serviceProfile, ...knobs },
        capacity,
      },
      machine: thisMachine(probes),
      ...(similitude ? { similitude } : {}),
      ...(faultRecords ? { faults: faultRecords } : {}),
      totals: runnerTotals(r.metrics),
    };
    const timeseries = book.build({
      intervalSeconds: o.intervalSeconds,
      startedAtMs,
      sources: prometheus ? ['runner', 'prometheus'] : ['runner', 'services'],
    });
    if (prometheus) {
      const grid = { startS: startedAtMs / 1000, intervalSeconds: o.intervalSeconds, n: timeseries.t.length };
      timeseries.series.push(...(await servicesSeries(new PrometheusApi(prometheus.url), grid)));
    }
    if (faultRecords && faultRecords.length > 0)
      timeseries.notes = [
        ...(timeseries.notes ?? []),
        `${faultRecords.length} fault${faultRecords.length > 1 ? 's were' : ' was'} injected during this run by its schedule (listed in run.json and in the report's Faults section): the series around them show their effect, not the design's.`,
      ];
    if (deaths.length > 0)
      timeseries.notes = [
        ...(timeseries.notes ?? []),
        ...deaths.map((d) => `A service of the stack died during the run: ${d}.`),
      ];
    writeRunRecord(runDir, { manifest, summary: r.summary, timeseries });
    const report = await finishReport(runDir, o, run);
    const died =
      deaths.length > 0
        ? `a service of the stack died during the run, unplanned: ${deaths.join('; ')}`
        : undefined;
    const error = [r.error, died].filter(Boolean).join('; ');
    return {
      exitCode: r.exitCode,
      runDir,
      report,
      ...(error ? { error } : {}),
      ...(died ? { stackDied: true } : {}),
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stop();
  }
}

/**
 * The full-scale prediction (unless turned off), then the report, which reads both records. The
 * prediction is of the capacity file at full size (its stations and its service section), not of
 * the share this run enforced.
 */
async function finishReport(runDir: string, o: RehearsalOptions, run: RunCapacity | null): Promise<Report> {
  if (o.fullScale) {
    o.log('predicting the run at full scale (the capacity simulator, calibrated on this run) ...');
    const service: Partial<ServiceSection> = { ...run?.full.service, ...o.fullScaleService };
    const p = predictFullScale(runDir, {
      ...(service.cores !== undefined ? { cores: service.cores } : {}),
      ...(service.workers !== undefined ? { workers: service.workers } : {}),
      ...(service.commitsPerSecond !== undefined ? { commitsPerSecond: service.commitsPerSecond } : {}),
      ...(service.admissionRate !== undefined ? { admissionRate: service.admissionRate } : {}),
      ...(run ? { fullSize: run.full } : {}),
      ...(o.quiet ? {} : { onProgress: o.log }),
    });
    o.log(
      'problem' in p
        ? `no full-scale prediction: ${p.problem}`
        : `full-scale prediction: ${p.dir} (${p.events.toLocaleString('en')} events, ${p.cpuSeconds.toFixed(1)} s of CPU)`,
    );
  }
  o.log('writing the report ...');
  return (await writeReport(runDir)).report;
}

type MachineProbes = Pick<NonNullable<RunManifest['machine']>, 'commitMs' | 'hashMs' | 'serviceIdleCores'>;

function thisMachine(probes: MachineProbes): NonNullable<RunManifest['machine']> {
  return {
    cores: availableParallelism(),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    ...probes,
  };
}

/** Tokens do not belong in a record that is shared. */
function redact(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [k, /TOKEN|SECRET|PASSWORD/i.test(k) ? '***' : v]),
  );
}
