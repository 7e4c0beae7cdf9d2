import { parseExposition } from './series/service-scraper.ts';

/**
 * The CPU the registration service spends with no request to answer: its timers, its collector,
 * and the /metrics reads the run will make, read at the run's own scrape rate before the load.
 * The simulator charges CPU to requests only, so calibrate takes this level off every interval
 * before fitting each step's cost: without it, a run of a few hashes a second carried the idle
 * CPU on each hash (0.012 cores idle and 0.016 with /metrics read four times a second, measured
 * on the stack alone on 2026-12-06: a tenth of a hash at the validate bench's lowest point; this
 * probe read 0.012-0.020 cores before the 18 rehearsals of that day's last three bench runs).
 */
export interface IdleProbe {
  /** cores the process used, on average over the probe */
  cores: number;
  /** seconds between the first and last reading */
  seconds: number;
}

const CPU = new Set(['process_cpu_seconds_total']);

async function readCpu(url: string): Promise<number> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const cpu = parseExposition(await res.text(), CPU)[0];
  if (!cpu || !Number.isFinite(cpu.value)) throw new Error(`${url}: no process_cpu_seconds_total`);
  return cpu.value;
}

/**
 * Reads `metricsUrl` every `scrapeSeconds` for `seconds` and returns the CPU the process used per
 * second of wall time between the first and the last reading. A read that fails is an error: a
 * service that does not answer its /metrics before the load has no idle level to tell.
 */
export async function probeIdleCpu(
  metricsUrl: string,
  o: { scrapeSeconds: number; seconds?: number },
): Promise<IdleProbe> {
  const seconds = o.seconds ?? 2;
  const first = await readCpu(metricsUrl);
  const start = performance.now();
  let last = first;
  let end = start;
  while (end - start < seconds * 1000) {
    await new Promise((r) => setTimeout(r, o.scrapeSeconds * 1000));
    last = await readCpu(metricsUrl);
    end = performance.now();
  }
  const span = (end - start) / 1000;
  return {
    cores: Math.round((Math.max(0, last - first) / span) * 10000) / 10000,
    seconds: Math.round(span * 1000) / 1000,
  };
}
