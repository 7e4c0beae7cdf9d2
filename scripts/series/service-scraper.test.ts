import express from 'express';
import type { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceMetrics } from '../../mock-services/registration/metrics.ts';
import { createStationMetrics } from '../../mock-services/station/metrics.ts';
import { SMTP_POOL, seriesValues } from '../../reports/record.ts';
import { serve } from '../../test/support/listen.ts';
import { SeriesBook } from './series-book.ts';
import { perBucket, ServiceScraper } from './service-scraper.ts';

/**
 * The mocks' service times as the run record keeps them, read from a real /metrics on loopback:
 * each interval's services by bucket (with the bucket's bounds, in ms) and their mean.
 */

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

/** A /metrics on loopback exposing `registry`, closed after the test: its URL. */
async function exposing(registry: Registry): Promise<string> {
  const app = express();
  app.get('/metrics', async (_req, res) => {
    res.type('text/plain').send(await registry.metrics());
  });
  const s = await serve(app);
  closers.push(s.close);
  return `${s.url}/metrics`;
}

/** The reference service's metrics, read by a scraper as the rehearsal reads them. */
async function registrationScraper() {
  const metrics = createServiceMetrics();
  const book = new SeriesBook();
  const scraper = new ServiceScraper(book, [
    { process: 'registration', url: await exposing(metrics.registry) },
  ]);
  const scrape = async () => {
    scraper.scrape();
    await scraper.settle();
  };
  /** a scrape, then the interval that ends `seconds` after the start */
  const tick = async (seconds: number) => {
    await scrape();
    book.tick(seconds);
    scraper.sample(1);
  };
  const build = () => book.build({ intervalSeconds: 1, startedAtMs: 0, sources: ['services'] });
  return { metrics, book, scraper, scrape, tick, build };
}

/** A histogram's buckets in the record's second interval, [gt, le, per second], where `label` is `value`. */
function bucketsOf(ts: ReturnType<SeriesBook['build']>, name: string, label: string, value: string) {
  return ts.series
    .filter((x) => x.name === name && x.labels[label] === value)
    .map((x) => [x.labels.gt, x.labels.le, x.values[1]]);
}

async function mock() {
  const metrics = createStationMetrics();
  return { metrics, url: await exposing(metrics.registry) };
}

describe('the scraper records the mocks’ service times', () => {
  it('per interval, by bucket and as a mean, counting a histogram that appears later from zero', async () => {
    const { metrics, url } = await mock();
    const book = new SeriesBook();
    const scraper = new ServiceScraper(book, [{ process: 'ministry', url }]);
    const tick = async (seconds: number) => {
      scraper.scrape();
      await scraper.settle();
      book.tick(seconds);
      scraper.sample(1);
    };
    await tick(1); // nothing served yet: the mock shows no histogram
    for (const s of [0.07, 0.075, 0.2]) metrics.service.observe({ dependency: 'dukcapil' }, s);
    await tick(2);
    metrics.service.observe({ dependency: 'dukcapil' }, 0.9);
    metrics.service.observe({ dependency: 'dtks' }, 0.001);
    await tick(3);
    const ts = book.build({ intervalSeconds: 1, startedAtMs: 0, sources: ['services'] });
    const buckets = ts.series.filter(
      (s) => s.name === 'dependency_service_buckets' && s.labels.dependency === 'dukcapil',
    );
    const at = (le: string) => buckets.find((s) => s.labels.le === le);
    // 70 and 75 ms fall in (67.76, 84.7], 200 ms in (165.4, 206.8], 900 ms in (788.9, 986.1].
    expect(at('84.7')?.labels.gt).toBe('67.76');
    expect(at('84.7')?.values).toEqual([null, 2, null]);
    expect(at('206.8')?.values).toEqual([null, 1, null]);
    expect(at('986.1')?.values).toEqual([null, null, 1]);
    expect(buckets).toHaveLength(3);
    const mean = ts.series.find(
      (s) => s.name === 'dependency_service_ms' && s.labels.dependency === 'dukcapil',
    );
    expect(mean?.values[0]).toBeNull();
    expect(mean?.values[1]).toBeCloseTo((70 + 75 + 200) / 3, 2);
    expect(mean?.values[2]).toBeCloseTo(900, 2);
    const dtks = ts.series.filter(
      (s) => s.name === 'dependency_service_buckets' && s.labels.dependency === 'dtks',
    );
    expect(dtks.map((s) => [s.labels.gt, s.labels.le, s.values[2]])).toEqual([['0.9766', '1.221', 1]]);
  });

  it('turns cumulative counts into each bucket’s own, in order of le, +Inf last', () => {
    const b = perBucket(
      new Map([
        ['+Inf', 7],
        ['0.1', 3],
        ['0.05', 1],
      ]),
    );
    expect(b).toEqual([
      { gt: '0', le: '50', count: 1 },
      { gt: '50', le: '100', count: 2 },
      { gt: '100', le: '+Inf', count: 4 },
    ]);
  });
});

describe('the scraper records the service’s hashes', () => {
  it('per interval and operation, by bucket and as a mean, from the reference service’s own metrics', async () => {
    const { metrics, tick, build } = await registrationScraper();
    await tick(1);
    for (const v of [0.0335, 0.036, 0.0362]) metrics.scryptDuration.observe({ operation: 'hash' }, v);
    metrics.scryptDuration.observe({ operation: 'verify' }, 0.05);
    await tick(2);
    const ts = build();
    const of = (operation: string) => bucketsOf(ts, 'password_hash_buckets', 'operation', operation);
    // The buckets are 1 ms x 1.1^k: 33.5 ms falls in (30.91, 34], 36 and 36.2 in (34, 37.4], 50 in (49.79, 54.76].
    expect(of('hash')).toEqual([
      ['30.91', '34', 1],
      ['34', '37.4', 2],
    ]);
    expect(of('verify')).toEqual([['49.79', '54.76', 1]]);
    const mean = ts.series.find((x) => x.name === 'password_hash_ms' && x.labels.operation === 'hash');
    expect(mean?.values[1]).toBeCloseTo((33.5 + 36 + 36.2) / 3, 2);
  });
});

describe('the scraper records the service’s calls to its dependencies', () => {
  it('per interval and dependency, its outcomes added up, by bucket and as a mean', async () => {
    const { metrics, tick, build } = await registrationScraper();
    await tick(1);
    metrics.dependencyDuration.observe({ dependency: 'email', outcome: 'ok' }, 0.03);
    metrics.dependencyDuration.observe({ dependency: 'email', outcome: 'ok' }, 0.04);
    metrics.dependencyDuration.observe({ dependency: 'email', outcome: 'timeout' }, 0.2);
    metrics.dependencyDuration.observe({ dependency: 'dukcapil', outcome: 'ok' }, 0.007);
    await tick(2);
    const ts = build();
    const of = (dependency: string) => bucketsOf(ts, 'dependency_call_buckets', 'dependency', dependency);
    expect(of('email')).toEqual([
      ['25', '50', 2],
      ['100', '250', 1],
    ]);
    expect(of('dukcapil')).toEqual([['5', '10', 1]]);
    const mean = ts.series.find((x) => x.name === 'dependency_call_ms' && x.labels.dependency === 'email');
    expect(mean?.values[1]).toBeCloseTo((30 + 40 + 200) / 3, 6);
  });
});

describe('the scraper records the service’s SMTP connections beside the dependencies', () => {
  it('as their busiest share of the pool in each interval, from the reference service’s own gauges', async () => {
    const { metrics, book, scraper, scrape } = await registrationScraper();
    metrics.emailConnections.set(16);
    metrics.emailConnectionsBusy.set(4);
    await scrape();
    book.tick(1);
    scraper.sample(1);
    // The pool full at one scrape and half full at the next: the interval keeps the full one.
    metrics.emailConnectionsBusy.set(16);
    await scrape();
    metrics.emailConnectionsBusy.set(8);
    await scrape();
    book.tick(2);
    scraper.sample(1);
    const ts = book.build({ intervalSeconds: 1, startedAtMs: 0, sources: ['services'] });
    expect(seriesValues(ts, 'dependency_utilisation', { dependency: SMTP_POOL })).toEqual([0.25, 1]);
  });
});

describe('the scraper records each process’s CPU', () => {
  it('leaves the interval of a restart (its counter went down) unknown, not negative', async () => {
    let cpuSeconds = 1;
    const app = express();
    app.get('/metrics', (_req, res) => {
      res
        .type('text/plain')
        .send(`# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ${cpuSeconds}\n`);
    });
    const s = await serve(app);
    closers.push(s.close);
    const book = new SeriesBook();
    const scraper = new ServiceScraper(book, [{ process: 'registration', url: `${s.url}/metrics` }]);
    const tick = async (seconds: number) => {
      // Readings a few milliseconds apart at least, so that each span is above zero.
      await new Promise((r) => setTimeout(r, 5));
      scraper.scrape();
      await scraper.settle();
      book.tick(seconds);
      scraper.sample(1);
    };
    await tick(1);
    cpuSeconds = 1.5;
    await tick(2);
    cpuSeconds = 0.2; // killed and restarted: a new process counts from zero
    await tick(3);
    cpuSeconds = 0.6;
    await tick(4);
    const ts = book.build({ intervalSeconds: 1, startedAtMs: 0, sources: ['services'] });
    const cores = ts.series.find((x) => x.name === 'process_cpu_cores')?.values ?? [];
    expect(cores).toHaveLength(4);
    expect(cores[1]).toBeGreaterThan(0);
    expect(cores[2]).toBeNull();
    expect(cores[3]).toBeGreaterThan(0);
  });
});
