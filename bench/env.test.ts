import { afterEach, describe, expect, it } from 'vitest';
import { BenchEnvError, benchEnv } from './env.ts';

const NAME = 'BENCH_ENV_TEST_KNOB';

describe('benchEnv', () => {
  afterEach(() => {
    delete process.env[NAME];
  });

  it('keeps the default when the variable is unset or empty', () => {
    expect(benchEnv(NAME, 'count', 3)).toBe(3);
    process.env[NAME] = ' ';
    expect(benchEnv(NAME, 'flag', true)).toBe(true);
  });

  it('reads a value of its kind', () => {
    process.env[NAME] = '12';
    expect(benchEnv(NAME, 'count', 3)).toBe(12);
    process.env[NAME] = '0.017';
    expect(benchEnv(NAME, 'positive', 1)).toBe(0.017);
    process.env[NAME] = '-4';
    expect(benchEnv(NAME, 'int', 1)).toBe(-4);
    process.env[NAME] = '0';
    expect(benchEnv(NAME, 'flag', true)).toBe(false);
  });

  it.each([
    ['count', 'abc', 'expected a whole number above 0'],
    ['count', '2.5', 'not a whole number'],
    ['count', '0', 'not above 0'],
    ['positive', '-0.1', 'expected a number above 0'],
    ['positive', 'Infinity', 'expected a number above 0'],
    ['int', '1e400', 'expected a whole number'],
    ['flag', 'no', 'expected 0 or 1'],
  ] as const)('refuses %s %s, naming the variable', (kind, raw, message) => {
    process.env[NAME] = raw;
    const read = () => (kind === 'flag' ? benchEnv(NAME, kind, true) : benchEnv(NAME, kind, 1));
    expect(read).toThrow(BenchEnvError);
    expect(read).toThrow(`${NAME}=${JSON.stringify(raw)}: `);
    expect(read).toThrow(message);
  });
});
