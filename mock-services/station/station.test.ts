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

describe('a station measures its service time', () => {
  /** the cumulative count of station_service_seconds at `le` (or +Inf), and its sum */
  const read = (text: string, dependency: string) => {
    const at = (le: string) =>
      Number(
        new RegExp(
          `station_service_seconds_bucket\\{le="${le.replace('+', '\\+')}",dependency="${dependency}"\\} (\\S+)`,
        ).exec(text)?.[1] ?? Number.NaN,
      );
    const sum = Number(
      new RegExp(`station_service_seconds_sum\\{dependency="${dependency}"\\} (\\S+)`).exec(text)?.[1],
    );
    return { at, sum };
  };

  it('from taking a server to the answer, not the wait for it', async () => {
    const metrics = createStationMetrics();
    const s = new StationRuntime(
      'dukcapil',
      stationSchema.parse({
        concurrency: 1,
        queue: 1,
        serviceTime: { distribution: 'constant', ms: 0 },
        timeoutMs: 60_000,
      }),
      metrics,
    );
    const first = await s.admit();
    const second = s.admit();
    // The first holds its server 300 ms; the second waits all that time, then releases at once.
    await new Promise((r) => setTimeout(r, 300));
    if (first.admitted) first.ticket.release();
    const granted = await second;
    if (granted.admitted) granted.ticket.release();
    const { at, sum } = read(await metrics.registry.metrics(), 'dukcapil');
    expect(at('+Inf')).toBe(2);
    expect(at('0.2068')).toBe(1); // the second: its 300 ms in the queue are not service
    expect(sum).toBeGreaterThanOrEqual(0.2585);
  });

  it('leaves out a service cut at the deadline or by the caller going away', async () => {
    const metrics = createStationMetrics();
    const s = new StationRuntime(
      'dtks',
      stationSchema.parse({
        concurrency: 2,
        queue: 0,
        serviceTime: { distribution: 'constant', ms: 0 },
        timeoutMs: 50,
      }),
      metrics,
    );
    const late = await s.admit();
    const gone = await s.admit();
    if (gone.admitted) gone.ticket.release(true);
    await new Promise((r) => setTimeout(r, 100));
    if (late.admitted) late.ticket.release();
    const served = await s.admit();
    if (served.admitted) served.ticket.release();
    expect(read(await metrics.registry.metrics(), 'dtks').at('+Inf')).toBe(1);
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
