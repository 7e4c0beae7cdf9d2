import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import {
  lognormalParams,
  meanServiceMs,
  type Station,
  sampleServiceMs,
  stationSchema,
} from '../../model/station.ts';
import { serve } from '../../test/support/listen.ts';
import { createStationMetrics } from './metrics.ts';
import { StationRuntime, stationMiddleware } from './station.ts';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

async function stationServer(config: Partial<Station>) {
  const station = new StationRuntime(
    'dukcapil',
    stationSchema.parse({
      concurrency: 1,
      queue: 1,
      serviceTime: { distribution: 'constant', ms: 0 },
      timeoutMs: 5000,
      ...config,
    }),
    createStationMetrics(),
  );
  const app = express();
  app.get('/work', stationMiddleware(station), (_req, res) => {
    res.json({ ok: true });
  });
  const s = await serve(app);
  closers.push(s.close);
  return { station, url: `${s.url}/work` };
}

describe('a station enforces its capacity on real requests', () => {
  it('serves one, queues one and refuses the third at once with Retry-After', async () => {
    const { url, station } = await stationServer({
      concurrency: 1,
      queue: 1,
      serviceTime: { distribution: 'constant', ms: 400 },
      rejectStatus: 429,
      retryAfterSeconds: 7,
    });
    const first = fetch(url);
    const second = fetch(url);
    // Let both arrive before the third: the first holds the server, the second waits.
    while (station.queued < 1) await new Promise((r) => setTimeout(r, 5));
    expect(station.inFlight).toBe(1);
    const third = await fetch(url);
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('7');
    expect(await third.json()).toMatchObject({ error: { code: 'overloaded' } });
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
  });

  it('answers 504 at the dependency timeout, queueing included', async () => {
    const { url } = await stationServer({
      serviceTime: { distribution: 'constant', ms: 2000 },
      timeoutMs: 100,
    });
    const r = await fetch(url);
    expect(r.status).toBe(504);
    expect(await r.json()).toMatchObject({ error: { code: 'timeout' } });
  });

  it('injects errors at the configured rate and status', async () => {
    const { url } = await stationServer({ errorRate: 1, errorStatus: 502 });
    const r = await fetch(url);
    expect(r.status).toBe(502);
    expect(await r.json()).toMatchObject({ error: { code: 'injected_error' } });
  });

  it('takes a new configuration while running, and exposes saturation in its metrics', async () => {
    const { url, station } = await stationServer({ errorRate: 1 });
    expect((await fetch(url)).status).toBe(500);
    station.reconfigure({ ...station.config, errorRate: 0, concurrency: 4 });
    expect((await fetch(url)).status).toBe(200);
    const metrics = createStationMetrics();
    const s2 = new StationRuntime('dtks', { ...station.config, concurrency: 3 }, metrics);
    const admission = await s2.admit();
    expect(admission.admitted).toBe(true);
    const text = await metrics.registry.metrics();
    expect(text).toContain('station_in_flight{dependency="dtks"} 1');
    expect(text).toContain('station_capacity{dependency="dtks"} 3');
    if (admission.admitted) admission.ticket.release();
  });
});

describe('the station schema and service times', () => {
  it('rejects impossible stations with the path of the problem', () => {
    const r = stationSchema.safeParse({
      concurrency: 0,
      queue: 1,
      serviceTime: { distribution: 'lognormal', medianMs: 100, p99Ms: 50 },
      timeoutMs: 1,
    });
    expect(r.success).toBe(false);
    const paths = r.error?.issues.map((i) => i.path.join('.'));
    expect(paths).toContain('concurrency');
    expect(paths).toContain('serviceTime.p99Ms');
  });

  it('draws log-normal service times with the configured median and p99', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const st = { distribution: 'lognormal' as const, medianMs: 80, p99Ms: 600 };
    const draws = Array.from({ length: 20000 }, () => sampleServiceMs(st, random)).sort((a, b) => a - b);
    expect(draws[10000]).toBeGreaterThan(80 * 0.93);
    expect(draws[10000]).toBeLessThan(80 * 1.07);
    expect(draws[19800]).toBeGreaterThan(600 * 0.85);
    expect(draws[19800]).toBeLessThan(600 * 1.15);
    const { sigma } = lognormalParams(80, 600);
    expect(meanServiceMs(st)).toBeCloseTo(80 * Math.exp((sigma * sigma) / 2), 6);
  });
});
