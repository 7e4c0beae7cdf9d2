import { describe, expect, it } from 'vitest';
import { STEPS } from './funnel.ts';
import { SLOS, stepThresholds } from './slo.ts';

describe('per-step SLOs as k6 thresholds', () => {
  it('has an objective for every step, the ministry-bound and upload steps the loosest', () => {
    expect(Object.keys(SLOS).sort()).toEqual([...STEPS].sort());
    const p95 = (s: keyof typeof SLOS) => SLOS[s].p95Ms;
    for (const step of STEPS) {
      if (step !== 'upload_photo') expect(p95('upload_photo')).toBeGreaterThan(p95(step));
      if (step !== 'upload_photo' && step !== 'submit_biodata')
        expect(p95('submit_biodata')).toBeGreaterThan(p95(step));
    }
  });

  it('keys thresholds by step tag, one latency and one error-rate line per step', () => {
    const t = stepThresholds();
    expect(Object.keys(t)).toHaveLength(STEPS.length * 2);
    expect(t['http_req_duration{step:submit_biodata}']).toEqual(['p(95)<=3000']);
    expect(t['http_req_failed{step:submit_biodata}']).toEqual(['rate<=0.02']);
    expect(t['http_req_failed{step:login}']).toEqual(['rate<=0.01']);
    expect(t['http_req_duration{step:read_status}']).toEqual(['p(95)<=500']);
  });

  it('aborts on failure for the breakpoint scenario, after a delay, for chosen steps', () => {
    expect(stepThresholds({ abortOnFail: true, steps: ['login'] })).toEqual({
      'http_req_duration{step:login}': [
        { threshold: 'p(95)<=800', abortOnFail: true, delayAbortEval: '10s' },
      ],
      'http_req_failed{step:login}': [{ threshold: 'rate<=0.01', abortOnFail: true, delayAbortEval: '10s' }],
    });
    const t = stepThresholds({ abortOnFail: true, delayAbortEval: '30s', steps: ['join_wave'] });
    expect(t['http_req_failed{step:join_wave}']).toEqual([
      { threshold: 'rate<=0.01', abortOnFail: true, delayAbortEval: '30s' },
    ]);
  });
});
