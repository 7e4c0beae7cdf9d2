import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningStack, SERVICE_NAMES, startStack } from '../scripts/stack.ts';

/**
 * `npm run stack` as processes: the four services start from one capacity file, each answers
 * /healthz, the mocks expose their stations on /metrics, and the admin endpoint changes a running
 * mock's capacity behind the token.
 */
let stack: RunningStack;

beforeAll(async () => {
  stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.default.json',
    adminToken: 'stack-test-token',
    env: { registration: { SCRYPT_N: '1024' } },
  });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
}, 30_000);

function metricValue(text: string, name: string, dependency: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{dependency="${dependency}"}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

describe('the stack', () => {
  it('starts all four services and each answers /healthz', async () => {
    const urls: Record<(typeof SERVICE_NAMES)[number], string> = {
      ministry: stack.urls.ministry,
      email: stack.urls.email,
      upload: stack.urls.upload,
      registration: stack.urls.registration,
    };
    for (const name of SERVICE_NAMES) {
      const res = await fetch(`${urls[name]}/healthz`);
      expect(res.status, name).toBe(200);
    }
  });

  it('exposes every dependency station from the capacity file on the mocks /metrics', async () => {
    const ministry = await (await fetch(`${stack.urls.ministry}/metrics`)).text();
    for (const dep of ['dukcapil', 'dapodik', 'dtks']) {
      expect(metricValue(ministry, 'station_capacity', dep), dep).toBeGreaterThan(0);
    }
    const email = await (await fetch(`${stack.urls.email}/metrics`)).text();
    expect(metricValue(email, 'station_capacity', 'email')).toBeGreaterThan(0);
    const upload = await (await fetch(`${stack.urls.upload}/metrics`)).text();
    expect(metricValue(upload, 'station_capacity', 'upload')).toBeGreaterThan(0);
  });

  it('changes a running mock capacity through the admin endpoint, only with the token', async () => {
    const url = `${stack.urls.ministry}/admin/config`;
    const body = JSON.stringify({ dukcapil: { concurrency: 3 } });
    const headers = { 'content-type': 'application/json' };
    expect((await fetch(url, { method: 'PATCH', headers, body })).status).toBe(401);
    const wrong = { ...headers, authorization: 'Bearer nope' };
    expect((await fetch(url, { method: 'PATCH', headers: wrong, body })).status).toBe(403);

    const auth = { ...headers, authorization: `Bearer ${stack.adminToken}` };
    const res = await fetch(url, { method: 'PATCH', headers: auth, body });
    expect(res.status).toBe(200);
    const metrics = await (await fetch(`${stack.urls.ministry}/metrics`)).text();
    expect(metricValue(metrics, 'station_capacity', 'dukcapil')).toBe(3);
    expect(metricValue(metrics, 'station_config_changes_total', 'dukcapil')).toBe(1);
  });
});
