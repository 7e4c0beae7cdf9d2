import { describe, expect, it } from 'vitest';
import { RunError } from '../errors.ts';
import { applyCliOverrides, normaliseOptions } from './schema.ts';

/** Option validation and k6's derivation of scenarios from the shortcut options. */

const exported = new Set(['default', 'other']);
const normalise = (o: unknown) => normaliseOptions(o, 'script.ts', exported);
const refusal = (o: unknown): RunError => {
  try {
    normalise(o);
  } catch (err) {
    if (err instanceof RunError) return err;
    throw err;
  }
  throw new Error('accepted');
};

describe('shortcut options become a default scenario as in k6', () => {
  it.each([
    [{}, { executor: 'per-vu-iterations', vus: 1, iterations: 1 }],
    [{ vus: 3 }, { executor: 'shared-iterations', vus: 3, iterations: 3 }],
    [
      { vus: 2, iterations: 10 },
      { executor: 'shared-iterations', vus: 2, iterations: 10 },
    ],
    [
      { vus: 4, duration: '1m30s' },
      { executor: 'constant-vus', vus: 4, durationMs: 90_000 },
    ],
    [
      { vus: 2, stages: [{ duration: '10s', target: 5 }] },
      { executor: 'ramping-vus', startVUs: 2 },
    ],
  ])('%j', (options, expected) => {
    const [s] = normalise(options).scenarios;
    expect(s).toMatchObject({ name: 'default', ...expected });
  });

  it('iterations with duration: shared iterations bounded by maxDuration', () => {
    expect(normalise({ iterations: 5, duration: '20s' }).scenarios[0]).toMatchObject({
      executor: 'shared-iterations',
      maxDurationMs: 20_000,
    });
  });

  it.each([
    [{ iterations: 5, stages: [{ duration: '1s', target: 1 }] }, /`iterations` and `stages`/],
    [
      { duration: '5s', scenarios: { a: { executor: 'constant-vus', duration: '1s' } } },
      /`duration` and `scenarios`/,
    ],
    [{ duration: '0s' }, /options\.duration: expected more than 0/],
  ])('refuses %j with exit 104', (options, message) => {
    const err = refusal(options);
    expect(err.exitCode).toBe(104);
    expect(err.message).toMatch(message);
    expect(err.message).toContain('script.ts');
  });

  it('CLI --duration replaces the script scenarios; --vus alone sets vus', () => {
    const script = { scenarios: { a: { executor: 'constant-vus', vus: 9, duration: '1s' } } };
    expect(normalise(applyCliOverrides(script, { duration: '3s' })).scenarios[0]).toMatchObject({
      name: 'default',
      executor: 'constant-vus',
      durationMs: 3000,
    });
    expect(applyCliOverrides(script, { vus: 7 }).vus).toBe(7);
  });
});

describe('bad options are refused with the option path', () => {
  it.each([
    [{ scenarios: { a: { executor: 'warp-drive' } } }, /scenarios\.a/],
    [
      { scenarios: { a: { executor: 'constant-vus', duration: '5 parsecs' } } },
      /"5 parsecs" is not a duration/,
    ],
    [{ scenarios: { a: { executor: 'constant-vus', duration: '1s', exec: 'missing' } } }, /missing/],
    [{ scenarios: { a: { executor: 'shared-iterations', vus: 5, iterations: 2 } } }, /can't be less than/],
    [{ vux: 3 }, /unknown option 'vux'/],
    [{ maxRedirects: -1 }, /options\.maxRedirects: Too small: expected number to be >=0/],
    [{ noCookiesReset: 'yes' }, /options\.noCookiesReset: .*expected boolean/],
  ])('%j', (options, message) => {
    const err = refusal(options);
    expect(err.exitCode).toBe(104);
    expect(err.message).toMatch(message);
  });
});
