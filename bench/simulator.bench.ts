import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EventQueue } from '../simulator/events.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * The capacity simulator on the whole 2020 day at full scale (1,432,133 registrants, every step,
 * retries): wall time, CPU time, events per second and peak RSS, each simulation in its own
 * process (`gelombang simulate`, so its peak RSS is its own). Two designs: the default one (the
 * 2020 service on the 2020 capacities, mock-services/capacity.2020.json: 96 cores, 64 workers, and
 * the 2020 day breaks at email delivery, Dukcapil and the photo store), and one sized so that every
 * step runs all day (service.cores=256, WORKERS=64, DB_SYNCHRONOUS=NORMAL, every station 100 times
 * mock-services/capacity.default.json's). Reference, in the same run: the bare event queue's events per second with a
 * few hundred thousand events pending, the most the simulator could do per event. First, the same
 * command on a tiny day: what start-up and the report cost in each of the times.
 */

const SIZED = [
  '--capacity',
  'mock-services/capacity.default.json',
  '--set',
  'service.cores=256',
  '--knob',
  'WORKERS=64',
  // With FULL every commit waits for fsync (2.6 ms here): the write lock alone caps the day at ~380 writes/s.
  '--knob',
  'DB_SYNCHRONOUS=NORMAL',
  ...['dukcapil', 'dapodik', 'dtks', 'email', 'upload'].flatMap((d) => [
    '--set',
    `${d}.concurrency=${{ dukcapil: 1600, dapodik: 2400, dtks: 2400, email: 800, upload: 3200 }[d]}`,
    '--set',
    `${d}.queue=${{ dukcapil: 6400, dapodik: 6400, dtks: 6400, email: 3200, upload: 6400 }[d]}`,
  ]),
  '--set',
  'upload.bandwidthBytesPerSecond=2097152000',
];

interface DayRun {
  wallS: number;
  cpuS: number;
  events: number;
  peakRssMiB: number;
  arrivals: number;
  joined: number;
}

function runDay(extra: string[], runId: string): DayRun {
  const cli = fileURLToPath(new URL('../bin/gelombang.js', import.meta.url));
  const results = fileURLToPath(new URL('../.tmp/bench-simulator', import.meta.url));
  const t0 = performance.now();
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      '%M %U %S',
      process.execPath,
      cli,
      'simulate',
      '--results',
      results,
      '--run-id',
      `${runId}-${Date.now()}`,
      '-q',
      ...extra,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`simulate failed (${r.status}): ${r.stderr}`);
  const [rssKiB, user, sys] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
  const runDir = /report: (.*)\/report\.html/.exec(r.stdout)?.[1] ?? '';
  const manifest = JSON.parse(readFileSync(`${runDir}/run.json`, 'utf8')) as {
    simulation: { events: number };
    totals: { arrivals: number; funnel: Array<{ stage: string; outcome: string; count: number }> };
  };
  return {
    wallS,
    cpuS: (user ?? 0) + (sys ?? 0),
    events: manifest.simulation.events,
    peakRssMiB: (rssKiB ?? 0) / 1024,
    arrivals: manifest.totals.arrivals,
    joined: manifest.totals.funnel
      .filter((f) => f.stage === 'joined_wave' && f.outcome === 'continued')
      .reduce((a, f) => a + f.count, 0),
  };
}

/** Events per second of the bare queue: 200,000 pending, each firing schedules the next. */
function bareQueueRate(): number {
  const q = new EventQueue();
  let n = 0;
  const total = 5_000_000;
  const h = (x: number) => {
    if (++n < total) q.schedule(q.now + (x % 997) * 0.37 + 1, h, x + 1);
  };
  for (let i = 0; i < 200_000; i++) q.schedule(i * 0.01, h, i);
  const c0 = process.cpuUsage();
  q.run();
  const c = process.cpuUsage(c0);
  return q.fired / ((c.user + c.system) / 1e6);
}

const bench: Bench = {
  name: 'simulator',
  async run(): Promise<BenchRow[]> {
    const reference = bareQueueRate();
    const rows: BenchRow[] = [];
    // What the command costs whatever the day: Node and tsx starting, the CLI's modules, the
    // report; the day at scale 0.001 (1,432 registrants) adds well under a second.
    const fixed = runDay(['--scale', '0.001'], 'fixed');
    rows.push({
      bench: 'simulator',
      metric: 'CPU time of the command on a tiny day (start-up, record, report)',
      value: fixed.cpuS,
      unit: 's',
      note: `scale 0.001: ${fixed.arrivals.toLocaleString('en')} registrants, ${(fixed.events / 1e3).toFixed(0)} k events; included in every CPU time below`,
    });
    for (const [label, extra] of [
      ['sized design (every step all day)', SIZED],
      ['default design (2020 service on the 2020 capacities)', []],
    ] as const) {
      const d = runDay([...extra], label.startsWith('sized') ? 'sized' : 'default');
      const note = `${d.arrivals.toLocaleString('en')} registrants, ${d.joined.toLocaleString('en')} joined, ${(d.events / 1e6).toFixed(1)} M events; ${label}`;
      rows.push(
        {
          bench: 'simulator',
          metric: `2020 day at full scale, wall time: ${label}`,
          value: d.wallS,
          unit: 's',
          reference: 20,
          ratio: d.wallS / 20,
          note: `${note}; reference: the goal (20 s)`,
        },
        { bench: 'simulator', metric: `CPU time: ${label}`, value: d.cpuS, unit: 's', note },
        {
          bench: 'simulator',
          metric: `events per CPU second: ${label}`,
          value: d.events / d.cpuS,
          unit: 'events/s',
          reference,
          ratio: d.events / d.cpuS / reference,
          note: 'reference: the bare event queue, 200,000 pending, same run',
        },
        { bench: 'simulator', metric: `peak RSS: ${label}`, value: d.peakRssMiB, unit: 'MiB', note },
      );
    }
    return rows;
  },
};

export default bench;
