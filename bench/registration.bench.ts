import autocannon from 'autocannon';
import { isEligible, personAt } from '../model/population.ts';
import { RegistrantClient } from '../scripts/registrant-client.ts';
import { type RunningStack, startStack } from '../scripts/stack.ts';
import { benchEnv } from './env.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * The reference service's own speed, with the mocks at no artificial delay (capacity.unlimited.json):
 * (1) full journeys per second (all eight steps) at the default scrypt cost and at a cheap one, so
 * the KDF's share shows; (2) the cost of the metrics middleware: one cheap route with METRICS=on vs
 * off, autocannon against both in the same run.
 */

const JOURNEY_SECONDS = benchEnv('BENCH_JOURNEY_SECONDS', 'positive', 15);
const CONCURRENT_REGISTRANTS = 16;
const CANNON_SECONDS = benchEnv('BENCH_CANNON_SECONDS', 'positive', 8);

async function journeysPerSecond(
  env: Record<string, string>,
  firstIndex: number,
): Promise<{ rate: number; done: number; failed: number }> {
  const stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: { registration: env },
  });
  try {
    let next = firstIndex;
    const take = () => {
      for (;;) {
        const p = personAt(2020, next++);
        if (isEligible(p)) return p;
      }
    };
    let done = 0;
    let failed = 0;
    const t0 = performance.now();
    const deadline = t0 + JOURNEY_SECONDS * 1000;
    const worker = async (w: number) => {
      while (performance.now() < deadline) {
        const c = new RegistrantClient(stack.urls, `bench.${w}.${next}.${Date.now()}@example.test`);
        try {
          await c.throughAssessment(take());
          const joined = await c.joinWave(1);
          if (joined.status === 201) done++;
          else failed++;
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENT_REGISTRANTS }, (_, w) => worker(w)));
    return { rate: done / ((performance.now() - t0) / 1000), done, failed };
  } finally {
    await stack.stop();
  }
}

async function cannon(stack: RunningStack): Promise<number> {
  const result = await autocannon({
    url: `${stack.urls.registration}/api/v1/waves`,
    connections: 32,
    duration: CANNON_SECONDS,
  });
  return result.requests.average;
}

async function metricsCost(): Promise<{ on: number; off: number }> {
  const stacks = {
    on: await startStack({
      ports: 'auto',
      capacityFile: 'mock-services/capacity.unlimited.json',
      env: { registration: { METRICS: 'on' } },
    }),
    off: await startStack({
      ports: 'auto',
      capacityFile: 'mock-services/capacity.unlimited.json',
      env: { registration: { METRICS: 'off' } },
    }),
  };
  try {
    // Alternate off/on twice and keep the better of each, so one noisy interval does not decide.
    const off = Math.max(await cannon(stacks.off), await cannon(stacks.off));
    const on = Math.max(await cannon(stacks.on), await cannon(stacks.on));
    return { on, off };
  } finally {
    await stacks.on.stop();
    await stacks.off.stop();
  }
}

const bench: Bench = {
  name: 'registration',
  async run() {
    const rows: BenchRow[] = [];
    const real = await journeysPerSecond({}, 300_000);
    const cheap = await journeysPerSecond({ SCRYPT_N: '1024' }, 400_000);
    rows.push({
      bench: 'registration',
      metric: 'full journeys/s (scrypt N=16384)',
      value: real.rate,
      unit: 'journeys/s',
      reference: cheap.rate,
      ratio: real.rate / cheap.rate,
      note: `${CONCURRENT_REGISTRANTS} concurrent registrants, ${JOURNEY_SECONDS} s, ${real.done} done, ${real.failed} failed; reference: scrypt N=1024`,
    });
    const m = await metricsCost();
    rows.push({
      bench: 'registration',
      metric: 'GET /api/v1/waves with metrics middleware',
      value: m.on,
      unit: 'req/s',
      reference: m.off,
      ratio: m.on / m.off,
      note: `autocannon, 32 connections, ${CANNON_SECONDS} s x2 each; reference: METRICS=off`,
    });
    return rows;
  },
};

export default bench;
