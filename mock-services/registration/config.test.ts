import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from './config.ts';

describe('parseConfig', () => {
  it('gives the 2020 profile by default', () => {
    expect(parseConfig({})).toMatchObject({
      HOST: '127.0.0.1',
      WORKERS: 1,
      DB_SYNCHRONOUS: 'FULL',
      SCRYPT_N: 16384,
      EMAIL_DELIVERY: 'inline',
      MINISTRY_CALLS: 'sequential',
      MINISTRY_TIMEOUT_MS: 5000,
      MINISTRY_RETRIES: 0,
      PHOTO_MAX_BYTES: 2 * 1024 * 1024,
      WAVE_QUOTA: 1_000_000,
      METRICS: 'on',
    });
  });

  it('reads numbers and choices from strings', () => {
    const c = parseConfig({ WORKERS: '2', SCRYPT_N: '1024', EMAIL_DELIVERY: 'outbox', METRICS: 'off' });
    expect(c).toMatchObject({ WORKERS: 2, SCRYPT_N: 1024, EMAIL_DELIVERY: 'outbox', METRICS: 'off' });
  });

  it.each([
    ['SCRYPT_N', '1000', /SCRYPT_N: expected a power of two/],
    ['WORKERS', '0', /WORKERS: /],
    ['EMAIL_DELIVERY', 'later', /EMAIL_DELIVERY: .*"inline"\|"outbox"/],
    ['MINISTRY_URL', 'not a url', /MINISTRY_URL: /],
    ['PORT', '70000', /PORT: /],
  ])('refuses %s=%s, naming the variable', (name, value, message) => {
    expect(() => parseConfig({ [name]: value })).toThrow(message);
  });
});

describe('main.ts', () => {
  it('stops at start with exit code 2 and one line naming the bad variable', () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', main], {
      env: { ...process.env, MINISTRY_CALLS: 'both', PORT: '0' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/registration: invalid environment: MINISTRY_CALLS: /);
    expect(r.stdout).not.toMatch(/listening/);
  });
});
