import { describe, expect, it } from 'vitest';
import type { Capacity } from './capacity.ts';
import {
  rateFactor,
  scaleCapacity,
  scaleCapacityFile,
  similarConnections,
  similarScryptN,
  standsForCores,
} from './similitude.ts';
import { meanServiceMs, type Station } from './station.ts';

const station = (concurrency: number, queue: number, medianMs = 100): Station => ({
  concurrency,
  queue,
  serviceTime: { distribution: 'lognormal', medianMs, p99Ms: medianMs * 5 },
  timeoutMs: 5000,
  errorRate: 0.01,
  errorStatus: 503,
  rejectStatus: 429,
  retryAfterSeconds: 2,
});

const full: Capacity = {
  dukcapil: station(2000, 8000, 80),
  dapodik: station(300, 1000, 40),
  dtks: station(7, 10, 50),
  email: {
    ...station(1000, 4000, 20),
    deliveryDelay: { distribution: 'lognormal', medianMs: 500, p99Ms: 9000 },
    deliveryPerSecond: 400,
  },
  upload: {
    ...station(4000, 4000, 30),
    bandwidthBytesPerSecond: 1_000_000_000,
    maxObjectBytes: 2_000_000,
  },
};

/** servers over mean service time: requests a second the station can finish */
const throughput = (s: Station) => (s.concurrency * 1000) / meanServiceMs(s.serviceTime);

describe('scaling a capacity file at full size into a run', () => {
  it('multiplies the rate factor out of scale and compression', () => {
    expect(rateFactor({ scale: 0.0005, compress: 150 })).toBeCloseTo(0.075, 12);
  });

  it("gives each station the day's capacity times the rate factor, exactly, whatever the rounding", () => {
    const f = 0.0123;
    const { capacity, stations } = scaleCapacity(full, f);
    for (const dep of ['dukcapil', 'dapodik', 'dtks', 'email', 'upload'] as const) {
      expect(throughput(capacity[dep]) / throughput(full[dep])).toBeCloseTo(f, 9);
      const row = stations.find((r) => r.dependency === dep);
      expect(row?.capacityRatio).toBeCloseTo(1, 9);
    }
    // 2000 x 0.0123 = 24.6 -> 25 servers, each 24.6/25 as fast: the service time stretches by 25/24.6
    expect(capacity.dukcapil.concurrency).toBe(25);
    const t = capacity.dukcapil.serviceTime;
    expect(t.distribution === 'lognormal' && [t.medianMs, t.p99Ms]).toEqual([
      expect.closeTo((80 * 25) / 24.6, 9),
      expect.closeTo((400 * 25) / 24.6, 9),
    ]);
    expect(capacity.dukcapil.queue).toBe(Math.round(8000 * f));
  });

  it("keeps a full queue's wait, which decides the timeouts, and the timeouts themselves", () => {
    const f = 0.05;
    const { capacity } = scaleCapacity(full, f);
    const wait = (s: Station) => (s.queue * meanServiceMs(s.serviceTime)) / s.concurrency;
    // 2000 x 0.05 = 100 servers and 8000 x 0.05 = 400 places: no rounding, so the wait is the day's
    expect(wait(capacity.dukcapil)).toBeCloseTo(wait(full.dukcapil), 9);
    expect(capacity.dukcapil.timeoutMs).toBe(5000);
    expect(capacity.dukcapil.errorRate).toBe(0.01);
    expect(capacity.email.deliveryDelay).toEqual(full.email.deliveryDelay);
    expect(capacity.email.deliveryPerSecond).toBe(20);
    expect(capacity.upload.bandwidthBytesPerSecond).toBe(50_000_000);
    expect(capacity.upload.maxObjectBytes).toBe(2_000_000);
  });

  it('says when a station falls below one server or loses its queue', () => {
    const { capacity, notes } = scaleCapacity(full, 0.01);
    // dtks: 7 x 0.01 = 0.07 of a server, run as one at 1/0.07 of the speed
    expect(capacity.dtks.concurrency).toBe(1);
    expect(capacity.dtks.queue).toBe(0);
    expect(notes.some((n) => n.startsWith('dtks: 7 servers x 0.01 = 0.07'))).toBe(true);
    expect(notes.some((n) => n.startsWith('dtks: a queue of 10'))).toBe(true);
    expect(notes.some((n) => n.startsWith('dukcapil'))).toBe(false);
  });

  it('changes nothing at the full day', () => {
    const { capacity, notes } = scaleCapacity(full, 1);
    expect(capacity).toEqual(full);
    expect(notes).toEqual([]);
  });

  it('refuses a factor outside (0, 1]', () => {
    expect(() => scaleCapacity(full, 0)).toThrow(/rate factor: expected \(0, 1\], got 0/);
    expect(() => scaleCapacity(full, 2)).toThrow(/got 2/);
  });

  it("scales the service's machine in proportion: cores as time, workers as servers, commits as a rate", () => {
    const s = scaleCapacityFile(
      { capacity: full, service: { cores: 160, workers: 160, commitsPerSecond: 20_000, admissionRate: 900 } },
      0.0125,
    );
    expect(s.service).toEqual({ cores: 2, workers: 2, commitsPerSecond: 250, admissionRate: 11.25 });
    expect(scaleCapacityFile({ capacity: full }, 0.5).service).toBeUndefined();
  });
});

describe("the service's CPU by the same rule", () => {
  // 8 ms of steps plus two hashes, the hash linear in n: 4 ms at 1024, 58 at 16384
  const journeyCpuMs = (n: number) => 8 + 2 * (4 + ((58 - 4) * (n - 1024)) / (16384 - 1024));
  const base = { cores: 2, fullSizeScryptN: 16384, fullSizeCores: 96, journeyCpuMs };

  it('keeps the day hash cost when the rate factor leaves the laptop as idle as the day', () => {
    // 2 cores at 1/100 of the rate stand for 200 cores, more than the day's 96
    expect(similarScryptN({ ...base, factor: 0.01 })).toBe(16384);
    expect(standsForCores({ ...base, factor: 0.01 }, 16384)).toBeCloseTo(200, 9);
  });

  it('halves the hash cost until the laptop is no busier than the day', () => {
    const factor = 0.15;
    const n = similarScryptN({ ...base, factor });
    // allowed: 124 x 2 / (0.15 x 96) = 17.2 ms; 2048 costs 8 + 2 x 7.6 = 23.2, 1024 costs 16
    expect(n).toBe(1024);
    expect(standsForCores({ ...base, factor }, n)).toBeGreaterThanOrEqual(96);
    expect(standsForCores({ ...base, factor }, 2048)).toBeLessThan(96);
  });

  it('stops at 1024 and says what the laptop stands for then', () => {
    const factor = 0.5;
    expect(similarScryptN({ ...base, factor })).toBe(1024);
    expect(standsForCores({ ...base, factor }, 1024)).toBeCloseTo((2 * 124) / (16 * 0.5), 9);
  });
});

describe("the service's SMTP connections by the same rule", () => {
  const day2020 = { fullSizeWorkers: 64, perProcess: 16 };
  it('gives a run its share of the full-size pool, over its own processes', () => {
    // 1,024 connections at full size: 0.09 of them is 92.16, 0.48 is 491.52.
    expect(similarConnections({ ...day2020, factor: 0.09, workers: 1 })).toBe(92);
    expect(similarConnections({ ...day2020, factor: 0.48, workers: 1 })).toBe(492);
    expect(similarConnections({ ...day2020, factor: 0.48, workers: 2 })).toBe(246);
  });
  it('keeps a pool no larger than the relay it talks to in proportion, and at least one connection', () => {
    // The relay's 60 servers scale by the same factor: the pool stays 1,024 / 60 times the relay.
    for (const factor of [0.001, 0.01, 0.09, 0.5, 1]) {
      const pool = similarConnections({ ...day2020, factor, workers: 1 });
      expect(pool).toBeGreaterThanOrEqual(1);
      if (factor >= 0.01) expect(pool / (60 * factor)).toBeCloseTo(1024 / 60, 0);
    }
    expect(similarConnections({ ...day2020, factor: 0.0001, workers: 1 })).toBe(1);
  });
});
