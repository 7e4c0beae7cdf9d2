import { STEPS, type Step } from './funnel.ts';

/**
 * Per-step service level objectives: one place, read by the scenarios' thresholds, the dashboards
 * and the reports. No SLO was published in 2020; these are assumptions sized from the work each
 * step does and from what a registrant on a phone tolerates before tapping again (a second tap is
 * a retry: it doubles the load exactly when the system is slowest).
 */

export interface StepSlo {
  /** 95th percentile of http_req_duration for the step, ms */
  p95Ms: number;
  /** share of the step's requests that may fail (http_req_failed) */
  errorRate: number;
  why: string;
}

/** The share of a step's requests its p95 objective leaves above it. */
export const ABOVE_P95 = 0.05;

export const SLOS: Record<Step, StepSlo> = {
  create_account: {
    p95Ms: 1500,
    errorRate: 0.01,
    // A deliberately slow password hash plus one insert; in 2020 the verification mail was sent
    // inside this request, so a slow mail server shows here first.
    why: 'a password hash (scrypt), one insert and, in 2020, the verification mail sent inline',
  },
  verify_email: {
    p95Ms: 800,
    errorRate: 0.01,
    // The click on the link: one indexed update. Delivery delays are not in this request; they
    // show as registrants stuck before it (the funnel), not as latency.
    why: 'one indexed update; the mail delivery itself is not in this request',
  },
  login: {
    p95Ms: 800,
    errorRate: 0.01,
    why: 'one password verification (scrypt) and a session',
  },
  submit_biodata: {
    p95Ms: 3000,
    errorRate: 0.02,
    // Three ministry calls in sequence (Dukcapil, then Dapodik and DTKS): each ministry's own
    // latency adds up, so this step gets the loosest latency objective, and a 2 % error budget
    // because a ministry timeout is answered as an error the registrant can retry.
    why: 'three ministry lookups (Dukcapil, Dapodik, DTKS) before anything is stored',
  },
  upload_photo: {
    p95Ms: 5000,
    errorRate: 0.02,
    // A KTP photo is a few hundred KB: on a 2020 mobile uplink of about 1 Mbit/s that alone is
    // 2-3 s, then the object store write.
    why: 'a few hundred KB over a phone connection, then into the object store',
  },
  submit_assessment: {
    p95Ms: 800,
    errorRate: 0.01,
    why: 'scoring 20 answers and one update',
  },
  join_wave: {
    p95Ms: 800,
    errorRate: 0.01,
    // The quota is the contended row of the day: a short transaction, but everyone hits the same one.
    why: 'one short transaction on the wave quota',
  },
  read_status: {
    p95Ms: 500,
    errorRate: 0.01,
    why: 'one read by primary key',
  },
};

export type ThresholdEntry = string | { threshold: string; abortOnFail: boolean; delayAbortEval: string };

export interface ThresholdOptions {
  /** stop the test at the first broken objective (the breakpoint scenario) */
  abortOnFail?: boolean;
  /** with abortOnFail: how long to wait before judging, so a cold start does not count; default 10s */
  delayAbortEval?: string;
  /** only these steps (default: all) */
  steps?: readonly Step[];
}

/**
 * k6 thresholds for every step: `http_req_duration{step:<step>}` p(95) and
 * `http_req_failed{step:<step>}` rate.
 */
export function stepThresholds(o: ThresholdOptions = {}): Record<string, ThresholdEntry[]> {
  const out: Record<string, ThresholdEntry[]> = {};
  const entry = (threshold: string): ThresholdEntry =>
    o.abortOnFail ? { threshold, abortOnFail: true, delayAbortEval: o.delayAbortEval ?? '10s' } : threshold;
  for (const step of STEPS) {
    if (o.steps && !o.steps.includes(step)) continue;
    const slo = SLOS[step];
    out[`http_req_duration{step:${step}}`] = [entry(`p(95)<=${slo.p95Ms}`)];
    out[`http_req_failed{step:${step}}`] = [entry(`rate<=${slo.errorRate}`)];
  }
  return out;
}
