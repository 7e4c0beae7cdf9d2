import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalCdf } from '../model/behaviour.ts';
import { type Capacity, type DependencyName, parseCapacity } from '../model/capacity.ts';
import { type Lognormal, Z99 } from '../model/lognormal.ts';
import { parseServiceKnobs, type ServiceKnobs } from '../model/service-design.ts';
import { meanServiceMs } from '../model/station.ts';
import { bucketRates, type RunRecord, runMean, seriesValues, type Timeseries } from '../reports/record.ts';
import {
  CALIBRATION_VERSION,
  type Calibration,
  COSTED_STEPS,
  type CostedStep,
  PHOTO_REQUESTS,
  parseCalibration,
  photoCpuMs,
  restartsOf,
  scryptCpuMs,
  WARM_UP_MAX_EXTRA,
  warmUpFactor,
} from './calibration.ts';
import { type QuantileTable, tableMean, tableOf } from './quantile-table.ts';

/**
 * `gelombang calibrate`: a calibration fitted on a measured run record.
 *
 * CPU per step. Each interval i of the record gives the registration process's CPU (ms, from
 * process_cpu_cores) and each step's requests (step_requests). The model is
 * cpu_i - idle = sum_j requests_ij x c_j, idle the process's CPU with no request (the rehearsal's
 * probe before the load, 0 if none), c_j >= 0 the whole CPU of one request of step j
 * (scrypt included, which sign-up and login run: a column of hashes, whose cost scales the prior's
 * scrypt). Loads rise and fall together and login always precedes submit_biodata, so the columns
 * are nearly collinear: the fit leans on the prior calibration where the run says little (see
 * nnlsPrior), and only each step's whole cost is identified, not its split into scrypt and the rest.
 * Two refinements, each chosen by least squares over a grid: an interval spends the CPU of a share
 * of the next interval's requests (a request's CPU comes before its count), and where the
 * rehearsal started the service, the costs are times a fresh service's warm-up, 1 + extra x
 * e^(-t/WARM_UP_TAU_S) (calibration service.warmUp): the costs fitted are the settled level.
 *
 * Effective cores: the machine's cores as fast as they ran the service's work. The service shared
 * the machine with the load generator and the mocks; where the record has their CPU, a replay of
 * the run takes it from the cores interval by interval (measured-run.ts cpuStretchOverTime), so the
 * first estimate is the machine's cores. Without it, the machine's cores less what the service
 * could not get where it was backlogged. For a profile replay, measured-run.ts fitOnReplay refits
 * it on a replay of the run, with the latency the machine added to every request (see there).
 *
 * Stations. Each mock measures how long its servers were held, from taking a request to its
 * answer, queueing excluded (station_service_seconds), on the machine as loaded as it was: the
 * mock's own event-loop delay and its work on the request are in it, as they are in what the
 * service waited for. The record keeps it by bucket per interval (dependency_service_buckets)
 * with each interval's mean (dependency_service_ms). Over the run, the log-normal with the
 * measured median (from the buckets) and the measured mean (the histogram's sum over its count,
 * exact) is written as the capacity file states one: its median and p99. The median and the mean
 * rather than a likelihood fit, because measured holds on a loaded machine are not log-normal (a
 * long lower tail, an upper end cut by the deadline): the mean keeps the station's utilisation
 * and the median its typical wait, where a maximum-likelihood log-normal, pulled wide by the
 * lower tail, put the email mock's p99 beyond its own timeout. Without the mean (a record
 * without dependency_service_ms), the maximum-likelihood fit on the bins (fitLognormalBins). The
 * upload's holds include the photo's passage through the store's shared link, which the simulator
 * adds after the service time itself, so one photo's link time at the configured bandwidth is
 * taken off first (a link that queued would still be counted twice). Fewer than MIN_SERVICES services:
 * as configured. Held shorter on average than the file draws, as configured too: a mock's timers
 * never fire early, but a service whose caller gave up is not measured, so such a measure is
 * missing its long services (the default rehearsal's one-server Dukcapil, 728 ms measured
 * against 794 drawn). A station that refused for a full queue while never all busy behaved as having
 * the most servers it was seen to use: its effective concurrency. The Little's-law ratio of busy
 * servers to call rate x mean service time is reported as a diagnostic only (fitStation says why).
 */

/**
 * A fresh service's warm-up fades with this time constant (s). Pooled over the knee records of the
 * validate bench's twenty runs of 2026-12-05 and 06 (each knee rehearsal, its repeat and the
 * warm-up rehearsal, each with a service of its own), the service's CPU per unit of work in its
 * backlogged intervals against the seconds since the load began fitted 1 + extra x e^(-t/tau)
 * best at an extra of about 0.1 and tau 10-20 s (10 on the last ten runs' records, 20 on the first
 * ten's); 12 s was read first, from the same records with the hashes left out of the work of the
 * thirteen that have no hash histogram. Not fitted run by run: one run's extra is, for this tau
 * (WARM_UP_STEPS steps up to WARM_UP_MAX_EXTRA).
 */
export const WARM_UP_TAU_S = 12;
const WARM_UP_STEPS = 100;
/** steps of the share of the next interval's requests an interval spent CPU on (0 to 1) */
const LEAD_STEPS = 10;

/** how far from the prior's cost a step's cost is expected to be (one standard deviation, relative) */
const PRIOR_SPREAD = 0.5;
/** fewer unsaturated intervals than this with calls: the station is left as configured */
const MIN_INTERVALS = 10;
/** a station busier than this is treated as saturated (its busy servers are capped) */
const UNSATURATED = 0.9;

/** a step's median this many times its best marks a backlog, if also at least BACKLOG_MIN_MS */
const BACKLOG = 5;
const BACKLOG_MIN_MS = 250;
const MIN_BACKLOGGED = 3;

/**
 * fewer services than this in the run: the station's service time stays as configured. At 40, a
 * median is known within about sigma / sqrt(40), 15 % for the default stations' spread.
 */
const MIN_SERVICES = 40;

/** hashes at once (on average over an interval) beyond which a hash's time includes another's wait */
const QUIET_HASHES = 0.25;
/**
 * ...and up to which the quietest intervals are taken where those hold fewer than
 * MIN_SPREAD_HASHES: at one hash at once on average, two rarely run together on the rehearsal's
 * two cores and the four of libuv's pool never queue, and only the table's shape is kept (its mean
 * is scaled to at most 1).
 */
const QUIET_HASHES_MAX = 1;
/** fewer hashes than this in the quiet intervals: no spread fitted (at 100, a p95 is the fifth slowest) */
const MIN_SPREAD_HASHES = 100;

/** The photo the scenarios upload unless PHOTO says otherwise (relative to the scenario file). */
const DEFAULT_PHOTO = 'fixtures/ktp-medium.jpg';

/** Which step's requests call each dependency (the route's call graph in the service). */
export const CALLERS: Record<DependencyName, CostedStep> = {
  dukcapil: 'submit_biodata',
  dapodik: 'submit_biodata',
  dtks: 'submit_biodata',
  email: 'create_account',
  upload: 'upload_photo',
};
export const HASHING: ReadonlySet<CostedStep> = new Set(['create_account', 'login']);
/** The service's label of each hashing step's hash (password_hash_buckets operation). */
const HASH_OPERATION = { create_account: 'hash', login: 'verify' } as const;

export class FitError extends Error {
  override name = 'FitError';
}

/** The service's knobs as the run recorded them (the service profile's name aside). */
export function recordedKnobs(r: RunRecord): ServiceKnobs {
  const { SERVICE_PROFILE: _, ...knobs } = r.manifest.stack.knobs;
  return parseServiceKnobs(knobs, `${r.dir}/run.json stack.knobs`);
}

/** The capacity file the mocks ran with, as run.json recorded it. */
export function recordedCapacity(r: RunRecord): Capacity {
  if (r.manifest.stack.capacity === null || r.manifest.stack.capacity === undefined)
    throw new FitError(`${r.dir}/run.json stack.capacity: the run did not record its capacity file`);
  return parseCapacity(r.manifest.stack.capacity, `${r.dir}/run.json stack.capacity`);
}

const nums = (v: Array<number | null> | undefined, n: number): number[] =>
  Array.from({ length: n }, (_, i) => v?.[i] ?? 0);

/** Solves a x = b (a small, symmetric, positive definite) by Gaussian elimination with pivoting. */
function solve(a: number[][], b: number[]): number[] {
  const m = a.map((row, i) => [...row, b[i] as number]);
  const k = b.length;
  for (let c = 0; c < k; c++) {
    let p = c;
    for (let r = c + 1; r < k; r++)
      if (Math.abs((m[r] as number[])[c] as number) > Math.abs((m[p] as number[])[c] as number)) p = r;
    [m[c], m[p]] = [m[p] as number[], m[c] as number[]];
    const pivot = (m[c] as number[])[c] as number;
    for (let r = c + 1; r < k; r++) {
      const f = ((m[r] as number[])[c] as number) / pivot;
      for (let j = c; j <= k; j++)
        (m[r] as number[])[j] = ((m[r] as number[])[j] as number) - f * ((m[c] as number[])[j] as number);
    }
  }
  const x = new Array<number>(k).fill(0);
  for (let r = k - 1; r >= 0; r--) {
    let v = (m[r] as number[])[k] as number;
    for (let j = r + 1; j < k; j++) v -= ((m[r] as number[])[j] as number) * (x[j] as number);
    x[r] = v / ((m[r] as number[])[r] as number);
  }
  return x;
}

/**
 * Non-negative least squares leaning towards `prior` (a Gaussian prior: each coefficient within
 * PRIOR_SPREAD of the prior's value, at least 1 ms): minimises |y - Xc|^2 / sigma^2 +
 * sum_a (c_a - prior_a)^2 / tau_a^2, sigma^2 the residual variance of a nearly unconstrained first
 * fit over the intervals. So a step the run informs (many requests) follows the run, one it barely
 * informs (five logins) keeps the prior's cost, and exact data give the exact costs. The normal
 * equations are solved directly (a handful of unknowns); a coefficient that comes out negative is
 * held at 0 and the rest solved again, until none is.
 */
function nnlsPrior(x: number[][], y: number[], prior: number[], intervals: number): number[] {
  const k = prior.length;
  const gram = Array.from({ length: k }, (_, a) =>
    Array.from({ length: k }, (_, b) => x.reduce((s, row) => s + (row[a] as number) * (row[b] as number), 0)),
  );
  const xty = Array.from({ length: k }, (_, a) =>
    x.reduce((s, row, i) => s + (row[a] as number) * (y[i] as number), 0),
  );
  const fitWith = (lambda: number[]): number[] => {
    const free = Array.from({ length: k }, (_, a) => a);
    const c = new Array<number>(k).fill(0);
    while (free.length > 0) {
      const sub = free.map((a) =>
        free.map((b) => ((gram[a] as number[])[b] as number) + (a === b ? (lambda[a] as number) : 0)),
      );
      const sol = solve(
        sub,
        free.map((a) => (xty[a] as number) + (lambda[a] as number) * (prior[a] as number)),
      );
      let worst = -1;
      sol.forEach((v, i) => {
        if (v < 0 && (worst < 0 || v < (sol[worst] as number))) worst = i;
      });
      if (worst < 0) {
        free.forEach((a, i) => {
          c[a] = sol[i] as number;
        });
        return c;
      }
      free.splice(worst, 1);
    }
    return c;
  };
  // First pass: barely held (a millionth of each column's own weight), to measure the noise.
  const first = fitWith(prior.map((_, a) => 1e-6 * ((gram[a] as number[])[a] as number) || 1e-9));
  let sse = 0;
  for (let i = 0; i < intervals; i++) {
    const row = x[i] as number[];
    sse += ((y[i] as number) - row.reduce((s, v, a) => s + v * (first[a] as number), 0)) ** 2;
  }
  const sigma2 = sse / Math.max(1, intervals - k);
  return fitWith(prior.map((p) => sigma2 / Math.max(PRIOR_SPREAD * p, 1) ** 2));
}

export interface FitSummary {
  calibration: Calibration;
  /** intervals of the record the CPU fit used */
  cpuIntervals: number;
  /** the service's idle CPU taken off each of them (cores; undefined: none probed) */
  idleCores: number | undefined;
  /** the fitted CPU of one request of each step, scrypt included */
  perRequestCpuMs: Record<CostedStep, number>;
}

export function fitCalibration(r: RunRecord, prior: Calibration): FitSummary {
  const ts = r.timeseries;
  const n = ts.t.length;
  const dt = ts.intervalSeconds;
  const knobs = recordedKnobs(r);
  const capacity = recordedCapacity(r);
  const scrypt = scryptCpuMs(prior, knobs.SCRYPT_N);
  const reasons: Record<string, string> = {};
  const requests = COSTED_STEPS.map((step) =>
    nums(seriesValues(ts, 'step_requests', { step }), n).map((v) => v * dt),
  );
  const cpu = seriesValues(ts, 'process_cpu_cores', { process: 'registration' });
  // Columns: each step's requests (CPU besides scrypt) and the hashes (sign-ups and logins: scrypt's
  // CPU, leaning towards the prior's measured cost). The idle level is the rehearsal's probe, taken
  // off every interval, not fitted: an intercept would take the CPU of requests counted in a later
  // interval. Without it, the idle CPU falls on the requests, most on the hashes. The simulator
  // spends none between requests: at 0.01-0.02 cores it is within the effective cores that
  // fitOnReplay meets the measured median with.
  const idle = r.manifest.machine?.serviceIdleCores;
  const hashes = countedHashes(r) ?? hashingRequests(requests);
  // The prior's photo, a request of the step, in the run's count of requests a photo.
  const photoRequests = PHOTO_REQUESTS[knobs.PHOTO_UPLOAD];
  const priorCoef = [
    ...COSTED_STEPS.map((s) =>
      s === 'upload_photo' ? photoCpuMs(prior) / photoRequests : prior.service.stepCpuMs[s],
    ),
    scrypt,
  ];
  let coef = priorCoef;
  const used: number[] = [];
  if (cpu) {
    for (let i = 0; i < n; i++) if (cpu[i] !== null && cpu[i] !== undefined) used.push(i);
  }
  let warmUp: Calibration['service']['warmUp'];
  if (used.length >= priorCoef.length + 2) {
    const row = (i: number) => [...requests.map((col) => col[i] as number), hashes[i] as number];
    const y = used.map((i) => ((cpu?.[i] as number) - (idle ?? 0)) * dt * 1000);
    // Each interval's costs times the warm-up's factor then: the costs fitted are the settled level.
    // `lead`: the share of the next interval's requests whose CPU this interval spent (a request's
    // CPU comes before its count; a sign-up's mail and commit follow its hash). Without it, a load
    // that rose at the start fitted a warm-up on a simulated run, which has none (0.19 on the
    // 2020 surge of validate.test.ts; 0.05 with it, 0-0.03 on simulations of six knee rehearsals).
    // The rows are the same for every point of the grid below: built once.
    const rows = used.map(row);
    const nexts = used.map((i) => (i + 1 < n ? row(i + 1) : row(i).map(() => 0)));
    // A restarted service warms up again from its restart.
    const restarts = restartsOf(r.manifest.faults);
    const fitUnder = (extra: number, lead = 0): { coef: number[]; sse: number } => {
      const w = { extra, tauS: WARM_UP_TAU_S };
      const x = rows.map((cols, k) => {
        const next = nexts[k] as number[];
        const f = warmUpFactor(w, used[k] as number, dt, restarts);
        return cols.map((v, a) => ((1 - lead) * v + lead * (next[a] as number)) * f);
      });
      // A request's CPU is spent before the interval that counts it done: under a backlog the two
      // drift apart, but over the whole run they add up. The run's totals count as many rows.
      const weight = Math.sqrt(used.length);
      const total = x.reduce(
        (acc, r) => acc.map((v, a) => v + (r[a] as number) * weight),
        new Array<number>(priorCoef.length).fill(0),
      );
      const c = nnlsPrior(
        [...x, total],
        [...y, y.reduce((a, v) => a + v * weight, 0)],
        priorCoef,
        used.length,
      );
      const sse = x.reduce(
        (a, r, k) => a + ((y[k] as number) - r.reduce((s2, v, j) => s2 + v * (c[j] as number), 0)) ** 2,
        0,
      );
      return { coef: c, sse };
    };
    const flat = fitUnder(0);
    let best = { ...flat, extra: 0, lead: 0 };
    // Only a service the rehearsal started was fresh at the load's start (a --target may have been warm).
    const extras = r.manifest.stack.managed ? WARM_UP_STEPS : 0;
    for (let l = 0; l <= LEAD_STEPS; l++)
      for (let k = 0; k <= extras; k++) {
        const extra = (k / WARM_UP_STEPS) * WARM_UP_MAX_EXTRA;
        const f = fitUnder(extra, l / LEAD_STEPS);
        if (f.sse < best.sse) best = { ...f, extra, lead: l / LEAD_STEPS };
      }
    coef = best.coef;
    if (r.manifest.stack.managed) {
      warmUp = { extra: round(best.extra), tauS: WARM_UP_TAU_S };
      reasons['service.warmUp'] =
        `Fitted on ${r.dir}, whose service the rehearsal started (run.json stack.managed): the CPU fit made again with every interval's costs times 1 + extra x e^(-t/${WARM_UP_TAU_S} s), t from the load's start, for extra 0 to ${WARM_UP_MAX_EXTRA} by ${round(WARM_UP_MAX_EXTRA / WARM_UP_STEPS)}, and a share of 0 to 1 by ${round(1 / LEAD_STEPS)} of the next interval's requests spent in each (a request's CPU comes before its count); extra ${round(best.extra)} with ${round(best.lead)} left the least squared residual (${flat.sse > 0 ? round((100 * best.sse) / flat.sse) : 100} % of the flat fit's). tauS is not fitted run by run (one run rarely tells its own shape): ${WARM_UP_TAU_S} s, from the validate bench's knee records pooled (fit.ts WARM_UP_TAU_S says how).`;
    }
    reasons['service.stepCpuMs'] =
      `Fitted on ${r.dir}: the registration process's CPU per interval (process_cpu_cores, ${used.length} intervals of ${dt} s, and their total) ${idle === undefined ? 'as read (no idle level probed: run.json machine.serviceIdleCores; the CPU between requests falls on them)' : `less its idle level (${idle} cores, probed before the load: run.json machine.serviceIdleCores)`} against each step's requests, non-negative least squares leaning on the prior where the run says little (${prior.source}).`;
    reasons['service.scryptCpuMs'] =
      `The prior's (${prior.source}), scaled by the CPU per hash fitted on ${r.dir} at N=${knobs.SCRYPT_N}: ${round(coef[COSTED_STEPS.length] as number)} ms against ${round(scrypt)} ms.`;
  } else {
    reasons['service.stepCpuMs'] =
      `Kept from ${prior.source}: ${r.dir} has ${used.length} intervals of the registration process's CPU, too few to fit ${COSTED_STEPS.length} steps.`;
  }
  const stepCpuMs = Object.fromEntries(COSTED_STEPS.map((s, j) => [s, round(coef[j] as number)])) as Record<
    CostedStep,
    number
  >;
  const hashMs = coef[COSTED_STEPS.length] as number;
  const scryptScale = scrypt > 0 && hashMs > 0 ? hashMs / scrypt : 1;
  // A hashing step's request hashes once, or less often where the service answered without
  // hashing (its own count of each operation, over the step's requests).
  const hashShare = (s: CostedStep, j: number): number => {
    const op = HASH_OPERATION[s as keyof typeof HASH_OPERATION];
    const ran = op && countedHashes(r, op);
    const asked = (requests[j] as number[]).reduce((a, v) => a + v, 0);
    return ran && asked > 0 ? ran.reduce((a, v) => a + v, 0) / asked : 1;
  };
  const per = COSTED_STEPS.map(
    (s, j) => (stepCpuMs[s] as number) + (HASHING.has(s) ? hashMs * hashShare(s, j) : 0),
  );

  // The prior's overhead was another run's: fitOnReplay (measured-run.ts) fits this run's; its
  // warm-up was another service's start.
  // A prior before version 5 may hold the pool the knob EMAIL_CONNECTIONS now gives (its default only).
  const {
    requestOverheadMs: _,
    warmUp: _w,
    mailerConnections: _m,
    photoUpload: _p,
    smtpExchangeMs: _x,
    ...priorService
  } = prior.service;
  // ...and its reason, which would explain a field the file no longer has.
  const {
    'service.mailerConnections': _mr,
    'service.photoUpload': _pr,
    ...priorReasons
  } = prior.reasons ?? {};
  if (knobs.PHOTO_UPLOAD === 'presigned')
    reasons['service.photoUpload'] =
      `${r.dir} ran PHOTO_UPLOAD=presigned: upload_photo's cost is per request of the step, ${photoRequests} a photo (the URL, the PUT to the store, the confirmation), the service serving two of them.`;
  if (!warmUp)
    reasons['service.warmUp'] = r.manifest.stack.managed
      ? `None: ${r.dir} has too few intervals of the registration process's CPU to fit one.`
      : `None: ${r.dir} ran against a service the rehearsal did not start (run.json stack.managed false), which may have been warm.`;
  // The write lock's hold is the disk's flush, which moves with the disk's state: the run's own probe.
  const commitMs = r.manifest.machine?.commitMs;
  reasons['service.writeMs'] = commitMs
    ? `Measured by ${r.dir}'s rehearsal on its database's disk before the load (run.json machine.commitMs, scripts/commit-probe.ts): ${commitMs.FULL} ms a commit with synchronous FULL, ${commitMs.NORMAL} ms with NORMAL.`
    : `Kept from ${prior.source}: ${r.dir} measured no commit (run.json machine.commitMs; a run against a --target, or recorded before the probe).`;
  const service: Calibration['service'] = {
    ...priorService,
    ...(commitMs ? { writeMs: { FULL: commitMs.FULL, NORMAL: commitMs.NORMAL } } : {}),
    stepCpuMs,
    ...(knobs.PHOTO_UPLOAD === 'presigned' ? { photoUpload: 'presigned' as const } : {}),
    ...(warmUp ? { warmUp } : {}),
    scryptCpuMs: {
      n1024: round(prior.service.scryptCpuMs.n1024 * scryptScale),
      n16384: round(prior.service.scryptCpuMs.n16384 * scryptScale),
    },
  };
  const exchange = fitSmtpExchange(r);
  if (exchange.ms !== undefined) service.smtpExchangeMs = exchange.ms;
  reasons['service.smtpExchangeMs'] = exchange.reason;
  // A run's restarts fit one of the two: one process's start, or a cluster's workers'.
  const restart = fitRestart(r, prior.service);
  for (const [field, other] of [
    ['restartMs', 'workerStartMs'],
    ['workerStartMs', 'restartMs'],
  ] as const) {
    const fitted = restart[field];
    if (fitted !== undefined) {
      service[field] = fitted;
      reasons[`service.${field}`] = restart.reason;
    } else if (prior.service[field] !== undefined) {
      const why =
        restart[other] === undefined ? restart.reason : `${r.dir}'s restarts fitted service.${other}.`;
      reasons[`service.${field}`] =
        `Kept from ${prior.source}: ${why} ${prior.reasons?.[`service.${field}`] ?? ''}`.trim();
    }
  }
  const spread = fitScryptSpread(r, scryptCpuMs({ ...prior, service }, knobs.SCRYPT_N));
  if (spread.spread) service.scryptSpread = spread.spread;
  reasons['service.scryptSpread'] = spread.spread
    ? spread.reason
    : prior.service.scryptSpread
      ? `Kept from ${prior.source}. ${spread.reason}`
      : `${spread.reason} Every hash takes its whole CPU on its request's path.`;
  const cores = r.manifest.machine?.cores;
  if (cores) {
    const effective = effectiveCores(r, cores);
    service.effectiveCores = effective.cores;
    reasons['service.effectiveCores'] = effective.reason;
  }

  const stations: Calibration['stations'] = {};
  const photo = photoBytes(r);
  for (const dep of Object.keys(CALLERS) as DependencyName[]) {
    const fit = fitStation(
      r,
      dep,
      capacity,
      requests[COSTED_STEPS.indexOf(CALLERS[dep])] as number[],
      knobs,
      photo,
    );
    reasons[`stations.${dep}`] = fit.reason;
    if (fit.station) stations[dep] = fit.station;
  }

  const calibration = parseCalibration(
    {
      format: prior.format,
      version: CALIBRATION_VERSION,
      source: r.dir,
      measuredOn: `${r.manifest.machine ? `${r.manifest.machine.cores} cores (${r.manifest.machine.cpu}), Node ${r.manifest.machine.node}` : 'an unrecorded machine'}, run ${r.manifest.runId} (${r.manifest.startedAt})`,
      service,
      stations,
      reasons: { ...priorReasons, ...reasons },
    },
    `${r.dir} (fitted calibration)`,
  );
  return {
    calibration,
    cpuIntervals: used.length,
    idleCores: idle,
    perRequestCpuMs: Object.fromEntries(COSTED_STEPS.map((s, j) => [s, round(per[j] as number)])) as Record<
      CostedStep,
      number
    >,
  };
}

/** cores left to the service at the least, whatever the others used (a scrape may overshoot) */
const MIN_CORES_LEFT = 0.1;

/**
 * The intervals in which the service's steps had requests: where its CPU was the requests'. Not
 * the mailbox's (the email mock's step) alone.
 */
export function serviceRequestIntervals(ts: Timeseries): number[] {
  const counts = COSTED_STEPS.map((step) => seriesValues(ts, 'step_requests', { step }));
  return ts.t.map((_, i) => i).filter((i) => counts.some((c) => ((c?.[i] ?? 0) as number) > 0));
}

/**
 * The cores the run's other processes (the load generator, the mocks) left the service, interval
 * by interval: the machine's less what they used, null where one of them was not read (not
 * idle: unknown). `mean` is over serviceRequestIntervals with every process read: the one reading
 * of "the cores left while requests came" that the fit's start (effectiveCores) and validate's
 * stretch by interval (cpuStretchOverTime) share; undefined when there is no such interval.
 * `whileBacklogged`: where the service was backlogged on its own (backloggedIntervals), the CPU it
 * used, if less, is what it was left: the machine's kernel and whatever the record does not see
 * took the rest.
 */
export function coresLeft(
  r: RunRecord,
  cores: number,
  o: { whileBacklogged?: boolean } = {},
): { left: Array<number | null>; others: string[]; mean: number | undefined; intervals: number } {
  const ts = r.timeseries;
  const others = ts.series.filter(
    (s) => s.name === 'process_cpu_cores' && s.labels.process !== 'registration',
  );
  const own = seriesValues(ts, 'process_cpu_cores', { process: 'registration' });
  const backlogged = new Set(o.whileBacklogged ? backloggedIntervals(r) : []);
  const left = ts.t.map((_, i) => {
    const used = others.map((x) => x.values[i]);
    if (used.some((u) => u === null || u === undefined)) return null;
    const l = Math.max(MIN_CORES_LEFT, cores - (used as number[]).reduce((a, u) => a + u, 0));
    const got = own?.[i];
    return backlogged.has(i) && got !== null && got !== undefined
      ? Math.max(MIN_CORES_LEFT, Math.min(l, got))
      : l;
  });
  const busy = serviceRequestIntervals(ts).filter((i) => left[i] !== null);
  return {
    left,
    others: others.map((x) => x.labels.process as string),
    mean: busy.length ? busy.reduce((a, i) => a + (left[i] as number), 0) / busy.length : undefined,
    intervals: busy.length,
  };
}

/**
 * The cores the service could use, as a first estimate. Where the record has the other processes'
 * CPU, the machine's: a replay takes theirs from the cores interval by interval, and where the
 * service was backlogged on its own, what it used there (coresLeft). Without it, the machine may
 * still be shared with work the record does not see: where the service was backlogged (a step's
 * median latency at least BACKLOG x its best, with no dependency saturated, so the wait was the
 * service's own), the CPU it then used is all it could get, and the smaller is taken.
 */
function effectiveCores(r: RunRecord, cores: number): { cores: number; reason: string } {
  const c = coresLeft(r, cores);
  if (c.others.length > 0 && c.mean !== undefined)
    return {
      cores,
      reason: `${cores} cores (run.json machine): ${c.others.join(', ')} used ${round(cores - Math.min(cores, c.mean))} on average while requests came (${c.intervals} intervals), which a replay of the run (validate) takes from the cores interval by interval, not from every operation's speed.`,
    };
  const base = `${cores} cores (run.json machine), no other process's CPU read`;
  const cpu = seriesValues(r.timeseries, 'process_cpu_cores', { process: 'registration' });
  const backlogged = backloggedIntervals(r);
  if (backlogged.length < MIN_BACKLOGGED) return { cores, reason: `${base}.` };
  const got = backlogged.reduce((a, i) => a + (cpu?.[i] as number), 0) / backlogged.length;
  return {
    cores: round(Math.max(0.1, Math.min(cores, got))),
    reason: `${base}; while backlogged (${backlogged.length} intervals, no dependency saturated) the service used ${round(got)} cores: the machine was shared with work the record does not show. The smaller is taken.`,
  };
}

/**
 * The intervals in which the service was backlogged on its own: the median latency of a step that
 * calls no dependency at least BACKLOG x its best (and BACKLOG_MIN_MS), no dependency saturated,
 * its CPU read. There the CPU it used is all it could get.
 */
export function backloggedIntervals(r: RunRecord): number[] {
  const ts = r.timeseries;
  const cpu = seriesValues(ts, 'process_cpu_cores', { process: 'registration' });
  // Not a step that waits on a dependency: a slow ministry is not the service's backlog.
  const callers = new Set<string>(Object.values(CALLERS));
  const medians = ts.series.filter(
    (s) =>
      s.name === 'step_latency_ms' && s.labels.quantile === '0.5' && !callers.has(s.labels.step as string),
  );
  const bests = medians.map((s) => Math.min(...s.values.filter((v): v is number => v !== null && v > 0)));
  const saturated = ts.series.filter((s) => s.name === 'dependency_utilisation');
  return ts.t
    .map((_, i) => i)
    .filter((i) => {
      if (cpu?.[i] === null || cpu?.[i] === undefined) return false;
      if (saturated.some((s) => (s.values[i] ?? 0) >= UNSATURATED)) return false;
      return medians.some((s, j) => {
        const best = bests[j] as number;
        const v = s.values[i];
        return (
          v !== null && v !== undefined && Number.isFinite(best) && v >= BACKLOG * best && v >= BACKLOG_MIN_MS
        );
      });
    });
}

function fitStation(
  r: RunRecord,
  dep: DependencyName,
  capacity: Capacity,
  callsPerInterval: number[],
  knobs: ServiceKnobs,
  photo: number | null,
): { station?: NonNullable<Calibration['stations'][DependencyName]>; reason: string } {
  const ts = r.timeseries;
  const cfg = capacity[dep];
  const station: NonNullable<Calibration['stations'][DependencyName]> = {};
  const notes: string[] = [];
  const configured =
    cfg.serviceTime.distribution === 'lognormal'
      ? `median ${cfg.serviceTime.medianMs} ms, p99 ${cfg.serviceTime.p99Ms} ms`
      : `${cfg.serviceTime.ms} ms`;

  const bins = serviceBins(r, dep);
  const services = bins.reduce((a, b) => a + b.count, 0);
  if (services >= MIN_SERVICES) {
    let fitted = bins;
    let link = '';
    let linkMs = 0;
    if (dep === 'upload' && 'bandwidthBytesPerSecond' in cfg) {
      if (photo === null) link = "; the photo's size is unknown, so its link time is not taken off";
      else {
        linkMs = (photo / cfg.bandwidthBytesPerSecond) * 1000;
        fitted = bins.map((b) => {
          // A hold shorter than the link time (a timer's rounding) is kept, in the lowest bin.
          const le = Math.max(b.leMs - linkMs, 0.01);
          const gt = Math.max(0, b.gtMs - linkMs);
          return { gtMs: gt < le ? gt : 0, leMs: le, count: b.count };
        });
        link = `, less ${round(linkMs)} ms per photo for the link the simulator adds (${photo} bytes at ${cfg.bandwidthBytesPerSecond} B/s)`;
      }
    }
    const median = binQuantile(fitted, 0.5) as number;
    const measuredMean = serviceMeanMs(r, dep);
    const mean = measuredMean === null ? null : measuredMean - linkMs;
    const ml = fitLognormalBins(fitted) as Lognormal;
    const d =
      mean !== null && median > 0
        ? {
            mu: Math.log(median),
            sigma: Math.min(5, Math.max(0.005, Math.sqrt(2 * Math.log(Math.max(1, mean / median))))),
          }
        : ml;
    station.serviceTime = {
      distribution: 'lognormal',
      medianMs: round(Math.exp(d.mu)),
      p99Ms: round(Math.exp(d.mu + Z99 * d.sigma)),
    };
    const how =
      mean !== null
        ? `the log-normal of their median ${round(median)} ms and mean ${round(mean)} ms`
        : 'the log-normal most likely to give their buckets (no mean recorded)';
    const fittedNote = `service time fitted on ${Math.round(services)} services measured by the mock (station_service_seconds${link}): ${how}, median ${station.serviceTime.medianMs} ms and p99 ${station.serviceTime.p99Ms} ms (the buckets' own p99 ${round(binQuantile(fitted, 0.99) as number)} ms; the maximum-likelihood log-normal's median ${round(Math.exp(ml.mu))} ms, p99 ${round(Math.exp(ml.mu + Z99 * ml.sigma))} ms), against ${configured} configured`;
    // A mock holds a server at least the time it drew (its timers never fire early), but a
    // service whose caller gave up is not measured (station.ts observes answered ones): held
    // shorter on average than drawn, the measure is missing its long services, and the drawn
    // distribution is the better account of the station.
    const fittedMean = meanServiceMs(station.serviceTime);
    const drawnMean = meanServiceMs(cfg.serviceTime);
    if (fittedMean < drawnMean) {
      delete station.serviceTime;
      notes.push(
        `service time as configured (${configured}): ${fittedNote.replace('service time fitted', 'the one fitted')}, a mean of ${round(fittedMean)} ms under the ${round(drawnMean)} ms drawn; the services whose caller gave up are not in the measure`,
      );
    } else notes.push(fittedNote);
  } else {
    notes.push(
      `service time as configured (${configured}): ${Math.round(services)} services measured, fewer than ${MIN_SERVICES}`,
    );
  }

  const util = seriesValues(ts, 'dependency_utilisation', { dependency: dep });
  if (!util) notes.push(`no utilisation series for ${dep} in ${r.dir}`);
  else if (dep === 'email' && knobs.EMAIL_DELIVERY === 'outbox')
    notes.push('concurrency as configured: with the outbox, mails are not sent at the rate of a step');
  else {
    const dt = ts.intervalSeconds;
    const meanS = meanServiceMs(station.serviceTime ?? cfg.serviceTime) / 1000;
    let measured = 0;
    let expected = 0;
    let intervals = 0;
    let peak = 0;
    for (let i = 0; i < ts.t.length; i++) {
      const u = util[i];
      if (u === null || u === undefined) continue;
      peak = Math.max(peak, u);
      const rate = (callsPerInterval[i] as number) / dt;
      if (rate <= 0 || u >= UNSATURATED) continue;
      measured += u * cfg.concurrency;
      expected += rate * meanS;
      intervals++;
    }
    const refusedFull = ts.series
      .filter(
        (s) =>
          s.name === 'dependency_rejections' &&
          s.labels.dependency === dep &&
          s.labels.reason === 'queue_full',
      )
      .some((s) => s.values.some((v) => (v ?? 0) > 0));
    if (refusedFull && peak < UNSATURATED) {
      station.concurrency = Math.max(1, Math.round(peak * cfg.concurrency));
      notes.push(
        `refused for a full queue with at most ${Math.round(peak * 100)} % of its ${cfg.concurrency} servers busy: ${station.concurrency} effective`,
      );
    }
    // A diagnostic, not a fit: the readings are the busiest of four a second, not the mean; on a
    // simulated run, whose service times are the configured ones by construction, it came out 0.64.
    if (intervals >= MIN_INTERVALS && expected > 0)
      notes.push(
        `busy servers read ${round(measured / expected)} x what that service time gives at the measured call rate over ${intervals} unsaturated intervals (peak readings: a diagnostic, not a fit)`,
      );
  }
  const reason = `${dep}: ${notes.join('; ')}.`;
  return Object.keys(station).length > 0 ? { station, reason } : { reason };
}

/** this checkout's scenarios/, wherever the command runs */
const SCENARIOS_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));

/**
 * The size of the photo the run's scenario uploaded (its PHOTO, else the default, beside the
 * scenario file as recorded, else in this checkout's scenarios/), or null if it cannot be read.
 */
export function photoBytes(r: RunRecord): number | null {
  const photo = r.manifest.scenario.env.PHOTO ?? DEFAULT_PHOTO;
  for (const file of [resolve(dirname(r.manifest.scenario.file), photo), resolve(SCENARIOS_DIR, photo)]) {
    try {
      return statSync(file).size;
    } catch {
      // the next place
    }
  }
  return null;
}

/**
 * The hashes the service ran in each interval, as its own histogram counted them
 * (password_hash_buckets, every bucket; of one operation, or all); null for a record without it. Not the
 * hashing steps' requests: a sign-up the waiting room answers "come back later", or a key's
 * replay, hashes nothing, and the 2020 design with a waiting room answered 307 of its 651
 * sign-ups so. Counted as requests, the hashes' column read half again as many as ran and the
 * CPU per hash came out at three quarters of its cost (21 ms against 28 on the designs bench's
 * hardened record, whose quiet hashes took 28-30 ms).
 */
export function countedHashes(r: RunRecord, operation?: string): number[] | null {
  const ts = r.timeseries;
  return (
    bucketRates(
      ts,
      'password_hash_buckets',
      operation === undefined ? undefined : 'operation',
      operation,
    )?.map((v) => v * ts.intervalSeconds) ?? null
  );
}

/** The hashing steps' requests in each interval: the hashes of a record that did not count them. */
function hashingRequests(requests: readonly (readonly number[])[]): number[] {
  return (requests[0] ?? []).map((_, i) =>
    COSTED_STEPS.reduce((a, s, j) => a + (HASHING.has(s) ? ((requests[j] as number[])[i] as number) : 0), 0),
  );
}

/** Service times of one station over a run, by bucket: above gtMs, at most leMs (Infinity for the last). */
export interface ServiceBin {
  gtMs: number;
  leMs: number;
  count: number;
}

/** The run's service times of a dependency (dependency_service_buckets added up over the intervals), by bucket. */
export function serviceBins(r: RunRecord, dep: DependencyName): ServiceBin[] {
  return recordBins(r, 'dependency_service_buckets', 'dependency', dep);
}

/**
 * A histogram the record keeps by bucket per interval (rates per second, labelled gt and le in ms)
 * added up over the intervals `keep` lets through (all by default), by bucket: the series whose
 * `label` is `value`, or any value when `value` is undefined.
 */
function recordBins(
  r: RunRecord,
  name: 'dependency_service_buckets' | 'password_hash_buckets',
  label: string,
  value: string | undefined,
  keep: (i: number) => boolean = () => true,
): ServiceBin[] {
  const dt = r.timeseries.intervalSeconds;
  const byLe = new Map<number, ServiceBin>();
  for (const s of r.timeseries.series) {
    if (s.name !== name || (value !== undefined && s.labels[label] !== value)) continue;
    const gt = Number(s.labels.gt);
    const le = s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    if (s.labels.gt === undefined || !Number.isFinite(gt) || gt < 0 || Number.isNaN(le) || le <= gt)
      throw new FitError(
        `${r.dir}/timeseries.json ${name}{${label}="${s.labels[label]}"}: expected ms bounds 0 <= gt < le, got gt '${s.labels.gt}', le '${s.labels.le}'`,
      );
    const count = s.values.reduce<number>((a, v, i) => a + (keep(i) ? (v ?? 0) * dt : 0), 0);
    if (count <= 0) continue;
    const bin = byLe.get(le);
    if (bin) bin.count += count;
    else byLe.set(le, { gtMs: gt, leMs: le, count });
  }
  return [...byLe.values()].sort((a, b) => a.gtMs - b.gtMs);
}

/**
 * One scrypt's time on its request's path over the CPU fitted per hash, by quantile (calibration
 * service.scryptSpread), from the service's own histogram of its hashes' wall time
 * (password_hash_buckets, hashes and verifications pooled: the same work at the same cost). Only
 * the intervals in which hashes seldom overlapped: at most QUIET_HASHES at once on average
 * (Little's law: hashes a second times their mean time), where a hash's time is its own CPU and
 * what the machine took from it, not a wait for the pool or for another hash's core, which the
 * simulator makes itself; where those hold fewer than MIN_SPREAD_HASHES, the next quietest up to
 * QUIET_HASHES_MAX. Without a table every hash takes exactly its CPU, no spread at all: the
 * designs bench's records (45-90 hashes at 0.25) had none, and their sign-up and login p95s came
 * out 15-45 % under the measured. Over the CPU per hash (`cpuPerHashMs`, the regression's): where the
 * hashes measured took less than it, the rest is CPU off any request's path that the regression
 * put on the hashes (with no idle level probed, the process's CPU between requests, a tenth of a
 * hash at a few hashes a second). A table whose mean would exceed 1 (the machine stretched the
 * hashes beyond their CPU) is scaled to mean 1: the simulator stretches them itself.
 */
export function fitScryptSpread(
  r: RunRecord,
  cpuPerHashMs: number,
): { spread?: QuantileTable; reason: string } {
  const ts = r.timeseries;
  const dt = ts.intervalSeconds;
  const means = ts.series.filter((s) => s.name === 'password_hash_ms');
  const rates = new Map<string, number[]>();
  for (const op of new Set(
    ts.series.filter((s) => s.name === 'password_hash_buckets').map((s) => s.labels.operation ?? ''),
  ))
    rates.set(op, bucketRates(ts, 'password_hash_buckets', 'operation', op) ?? []);
  if (rates.size === 0)
    return {
      reason: `Not fitted: ${r.dir} has no histogram of the service's hashes (password_hash_buckets).`,
    };
  const inFlight = ts.t.map((_, i) => {
    let l = 0;
    for (const [op, rate] of rates) {
      const n = rate[i] as number;
      if (n <= 0) continue;
      const mean = means.find((m) => m.labels.operation === op)?.values[i];
      if (mean === null || mean === undefined) return Number.POSITIVE_INFINITY;
      l += (n * mean) / 1000;
    }
    return l;
  });
  const hashed = (i: number) => [...rates.values()].some((rate) => (rate[i] as number) > 0);
  // The quiet intervals; where they hold too few hashes, the next quietest, up to QUIET_HASHES_MAX.
  const byQuiet = ts.t
    .map((_, i) => i)
    .filter((i) => hashed(i) && (inFlight[i] as number) <= QUIET_HASHES_MAX)
    .sort((a, b) => (inFlight[a] as number) - (inFlight[b] as number) || a - b);
  const quiet: number[] = [];
  let counted = 0;
  let atOnce = QUIET_HASHES;
  for (const i of byQuiet) {
    const l = inFlight[i] as number;
    if (l > QUIET_HASHES && counted >= MIN_SPREAD_HASHES) break;
    quiet.push(i);
    for (const rate of rates.values()) counted += (rate[i] ?? 0) * dt;
    atOnce = Math.max(atOnce, l);
  }
  const keep = new Set(quiet);
  const bins = recordBins(r, 'password_hash_buckets', 'operation', undefined, (i) => keep.has(i));
  const hashes = Math.round(bins.reduce((a, b) => a + b.count, 0));
  const where = `${hashes} hashes in ${quiet.length} intervals of ${dt} s with at most ${round(atOnce)} hashes at once on average`;
  if (hashes < MIN_SPREAD_HASHES)
    return {
      reason: `Not fitted: ${r.dir} has ${where}, fewer than ${MIN_SPREAD_HASHES}.`,
    };
  const table = tableOf((_, p) => binQuantile(bins, p) as number);
  const mean = tableMean(table);
  const over = Math.max(mean, cpuPerHashMs);
  const spread = tableOf((key) => Math.round((table[key] / over) * 1000) / 1000);
  return {
    spread,
    reason: `Fitted on ${r.dir}: the quantiles of the service's hashes' wall time (password_hash_buckets, ${where}; ${round(table.min)}, ${round(table.p50)}, ${round(table.p95)} and ${round(table.p99)} ms at the least, p50, p95 and p99; the table's mean ${round(mean)} ms) over ${over === mean ? `their mean, which is above the CPU fitted per hash (${round(cpuPerHashMs)} ms): the machine stretched them` : `the CPU fitted per hash (${round(cpuPerHashMs)} ms): the other ${round(cpuPerHashMs - mean)} ms of it are spent off the requests' path`}.`,
  };
}

/**
 * What a mail's SMTP exchange added to the relay's service (calibration service.smtpExchangeMs):
 * the service's mean time for a send (dependency_call_ms, every outcome) less the relay's mean
 * service (dependency_service_ms), interval by interval, weighted by the sends, over the intervals
 * in which the relay queued nothing and had servers to spare (a send's wait for a server is the
 * station's to simulate). The service timed 46 ms a send where the relay served 32 (the designs
 * bench's 2020 day, 2026-12-07), 65 and 34 at the validate bench's knee: the commands before the
 * DATA and the answers after it pass both event loops, busier at the knee. Not fitted on fewer
 * than MIN_SERVICES sends, or a record without the service's own timing (before 2026-12-07).
 */
export function fitSmtpExchange(r: RunRecord): { ms?: number; reason: string } {
  const ts = r.timeseries;
  const call = seriesValues(ts, 'dependency_call_ms', { dependency: 'email' });
  const served = seriesValues(ts, 'dependency_service_ms', { dependency: 'email' });
  if (!call || !served)
    return {
      reason: `Not fitted: ${r.dir} has no ${call ? "relay's service time" : "service's own timing of its sends"} (${call ? 'dependency_service_ms' : 'dependency_call_ms'}{dependency="email"}): a send holds its caller for the relay's service alone.`,
    };
  const sends = (bucketRates(ts, 'dependency_call_buckets', 'dependency', 'email') ?? []).map(
    (v) => v * ts.intervalSeconds,
  );
  const busy = seriesValues(ts, 'dependency_utilisation', { dependency: 'email' });
  const queued = seriesValues(ts, 'dependency_queue_ratio', { dependency: 'email' });
  let weight = 0;
  let sum = 0;
  let intervals = 0;
  ts.t.forEach((_, i) => {
    const c = call[i];
    const m = served[i];
    const n = sends[i] ?? 0;
    if (c === null || c === undefined || m === null || m === undefined || n <= 0) return;
    if ((busy?.[i] ?? 0) >= UNSATURATED || (queued?.[i] ?? 0) > 0) return;
    weight += n;
    sum += n * (c - m);
    intervals++;
  });
  if (weight < MIN_SERVICES)
    return {
      reason: `Not fitted: ${r.dir} has ${Math.round(weight)} sends in intervals where the relay queued nothing, fewer than ${MIN_SERVICES}: a send holds its caller for the relay's service alone.`,
    };
  const ms = round(Math.max(0, sum / weight));
  return {
    ms,
    reason: `Fitted on ${r.dir}: the service's mean time for a send (dependency_call_ms) less the relay's mean service (dependency_service_ms), weighted by ${Math.round(weight)} sends in ${intervals} intervals of ${ts.intervalSeconds} s where the relay queued nothing and was under ${UNSATURATED * 100} % busy: ${ms} ms a send, the exchange's commands and answers through both event loops. A property of the service's SMTP client on the rehearsal's machine at its load, carried as it is to a full-scale prediction.`,
  };
}

/**
 * How long the service took to answer again once its restart began: over the kills of the run's
 * schedule whose service came back, the time nothing answered (run.json
 * faults[].kill.downtimeSeconds, from the kill to the restarted service's health check) less the
 * schedule's wait before the restart (its planned end less its planned start), averaged. One
 * process's (WORKERS=1) is calibration service.restartMs; a cluster's gives service.workerStartMs,
 * the prior's restartMs taken as the primary's part (calibration.ts restartDurationMs).
 */
export function fitRestart(
  r: RunRecord,
  prior: Pick<Calibration['service'], 'restartMs'>,
): { restartMs?: number; workerStartMs?: number; reason: string } {
  const restarts = (r.manifest.faults ?? []).flatMap((f) => {
    const down = f.kill?.downtimeSeconds;
    return f.kind === 'kill' && down !== null && down !== undefined
      ? [Math.max(0, down - (f.plannedEndSeconds - f.plannedSeconds))]
      : [];
  });
  if (restarts.length === 0) return { reason: `${r.dir}'s schedule restarted no killed service.` };
  const meanMs = (1000 * restarts.reduce((a, v) => a + v, 0)) / restarts.length;
  const measured = `${restarts.length} restart${restarts.length > 1 ? 's' : ''} of the killed service (run.json faults[].kill.downtimeSeconds less the schedule's wait before the restart: ${restarts.map((v) => round(v)).join(', ')} s)`;
  const workers = recordedKnobs(r).WORKERS;
  if (workers <= 1)
    return {
      restartMs: round(meanMs),
      reason: `Fitted on ${r.dir}: ${measured}. The process's start on the rehearsal's machine, carried as it is to a full-scale prediction.`,
    };
  const cores = r.manifest.machine?.cores ?? 1;
  const primaryMs = prior.restartMs ?? 0;
  const share = workers / Math.min(workers, cores);
  const workerStartMs = round(Math.max(0, meanMs - primaryMs) / share);
  return {
    workerStartMs,
    reason: `Fitted on ${r.dir}: ${measured}, WORKERS=${workers} on ${cores} cores: less one process's start (service.restartMs, ${primaryMs} ms, the primary's part), ${share === 1 ? 'each worker on a core of its own' : `the workers sharing the cores (${round(share)} times a worker's start)`}: ${workerStartMs} ms a worker. Carried as it is to a full-scale prediction, where a cluster's restart is restartMs plus its workers' share of its cores.`,
  };
}

/**
 * The run's mean service time of a dependency, ms: each interval's mean (dependency_service_ms)
 * weighted by the services its buckets counted; null when the record has no mean.
 */
export function serviceMeanMs(r: RunRecord, dep: DependencyName): number | null {
  return runMean(r.timeseries, 'dependency_service_ms', 'dependency_service_buckets', 'dependency', dep);
}

/** The q-quantile of binned times, log-linear within its bin (linear in the first, from 0). */
export function binQuantile(bins: readonly ServiceBin[], q: number): number | null {
  const n = bins.reduce((a, b) => a + b.count, 0);
  if (n <= 0) return null;
  let seen = 0;
  for (const b of bins) {
    if (seen + b.count >= q * n) {
      const f = (q * n - seen) / b.count;
      if (!Number.isFinite(b.leMs)) return b.gtMs;
      if (b.gtMs <= 0) return f * b.leMs;
      return b.gtMs * (b.leMs / b.gtMs) ** f;
    }
    seen += b.count;
  }
  return (bins[bins.length - 1] as ServiceBin).gtMs;
}

const cdf = (z: number): number =>
  z === Number.NEGATIVE_INFINITY ? 0 : z === Number.POSITIVE_INFINITY ? 1 : normalCdf(z);

/** ln P(lo < X <= hi) for X log-normal (mu, sigma) in ms; above the median from the upper tails, which keep their digits. */
function binLogLikelihood(lo: number, hi: number, mu: number, sigma: number): number {
  const a = lo > 0 ? (Math.log(lo) - mu) / sigma : Number.NEGATIVE_INFINITY;
  const b = Number.isFinite(hi) ? (Math.log(hi) - mu) / sigma : Number.POSITIVE_INFINITY;
  const p = a >= 0 ? cdf(-a) - cdf(-b) : cdf(b) - cdf(a);
  return Math.log(Math.max(p, 1e-300));
}

/** The x in [lo, hi] where a unimodal f is highest (golden-section search). */
function argmax(f: (x: number) => number, lo: number, hi: number, iterations = 80): number {
  const g = (Math.sqrt(5) - 1) / 2;
  let a = lo;
  let b = hi;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let fc = f(c);
  let fd = f(d);
  for (let i = 0; i < iterations; i++) {
    if (fc >= fd) {
      b = d;
      d = c;
      fd = fc;
      c = b - g * (b - a);
      fc = f(c);
    } else {
      a = c;
      c = d;
      fc = fd;
      d = a + g * (b - a);
      fd = f(d);
    }
  }
  return (a + b) / 2;
}

/**
 * The log-normal (ms) most likely to have given these bins' counts: the likelihood of each bin is
 * the distribution's mass between its bounds, so the counts are used as they are, with no
 * midpoint standing for a bin. For each sigma the best mu (the likelihood is unimodal in it), and
 * sigma searched on its logarithm, from 0.005 (a constant) to 5. Null without counts.
 */
export function fitLognormalBins(bins: readonly ServiceBin[]): Lognormal | null {
  const n = bins.reduce((a, b) => a + b.count, 0);
  if (n <= 0) return null;
  // Where to search: the moments of the bins' logarithmic middles.
  const mid = (b: ServiceBin) =>
    Math.log(b.gtMs <= 0 ? b.leMs / 2 : Number.isFinite(b.leMs) ? Math.sqrt(b.gtMs * b.leMs) : b.gtMs * 2);
  const m = bins.reduce((a, b) => a + b.count * mid(b), 0) / n;
  const sd = Math.sqrt(bins.reduce((a, b) => a + b.count * (mid(b) - m) ** 2, 0) / n);
  const span = 5 * Math.max(sd, 0.1);
  const ll = (mu: number, sigma: number) =>
    bins.reduce((a, b) => a + b.count * binLogLikelihood(b.gtMs, b.leMs, mu, sigma), 0);
  const bestMu = (sigma: number) => argmax((mu) => ll(mu, sigma), m - span, m + span);
  const sigma = Math.exp(
    argmax((ls) => ll(bestMu(Math.exp(ls)), Math.exp(ls)), Math.log(0.005), Math.log(5), 60),
  );
  return { mu: bestMu(sigma), sigma };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
