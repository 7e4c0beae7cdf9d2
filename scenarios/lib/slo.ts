/**
 * Per-step service level objectives: one place, read by the scenarios' thresholds, the dashboards
 * and the reports. Latencies are what a registrant on a phone tolerates for that step, with the
 * work the step does behind it (assumptions; no SLO was published in 2020).
 */

export interface StepSlo {
  /** 95th percentile of http_req_duration for the step, ms */
  p95Ms: number;
  /** share of requests of the step that may fail (http_req_failed) */
  errorRate: number;
  why: string;
}

export const SLOS: Record<string, StepSlo> = {
  create_account: {
    p95Ms: 1500,
    errorRate: 0.01,
    why: 'a password hash (scrypt) and, in 2020, the verification mail sent inline',
  },
  verify_email: {
    p95Ms: 800,
    errorRate: 0.01,
    why: 'one indexed update; the mail delivery itself is not in this request',
  },
  login: { p95Ms: 800, errorRate: 0.01, why: 'one password verification (scrypt)' },
  submit_biodata: {
    p95Ms: 3000,
    errorRate: 0.02,
    why: 'three ministry lookups (Dukcapil, Dapodik, DTKS) before anything is stored',
  },
  upload_photo: {
    p95Ms: 5000,
    errorRate: 0.02,
    why: 'a few hundred KB over a phone connection, then into the object store',
  },
  submit_assessment: { p95Ms: 800, errorRate: 0.01, why: 'scoring 20 answers and one update' },
  join_wave: { p95Ms: 800, errorRate: 0.01, why: 'one short transaction on the quota' },
  read_status: { p95Ms: 500, errorRate: 0.01, why: 'one read' },
};

export type ThresholdEntry = string | { threshold: string; abortOnFail: boolean; delayAbortEval: string };

/**
 * k6 thresholds for every step: `http_req_duration{step:<step>}` p(95) and
 * `http_req_failed{step:<step>}` rate. With `abortOnFail`, the breakpoint scenario stops at the
 * first step that breaks (after `delayAbortEval`, so a cold start does not count).
 */
export function stepThresholds(
  o: { abortOnFail?: boolean; delayAbortEval?: string; steps?: string[] } = {},
): Record<string, ThresholdEntry[]> {
  const out: Record<string, ThresholdEntry[]> = {};
  for (const [step, slo] of Object.entries(SLOS)) {
    if (o.steps && !o.steps.includes(step)) continue;
    const entry = (threshold: string): ThresholdEntry =>
      o.abortOnFail ? { threshold, abortOnFail: true, delayAbortEval: o.delayAbortEval ?? '10s' } : threshold;
    out[`http_req_duration{step:${step}}`] = [entry(`p(95)<${slo.p95Ms}`)];
    out[`http_req_failed{step:${step}}`] = [entry(`rate<${slo.errorRate}`)];
  }
  return out;
}
