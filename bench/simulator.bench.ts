import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EventQueue } from '../simulator/events.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * The capacity simulator on the whole 2020 day at full scale (1,432,133 registrants, every step,
 * retries), each simulation in its own process (`gelombang simulate`, so its peak RSS is its own)
 * pinned to one core (`taskset -c 0`, util-linux), as the goal states it: the garbage collector's
 * and the compiler's threads then take their CPU from the simulation's core. Measured: the
 * simulation alone (the command's own "simulation:" line, around simulateDay), and the whole
 * command with Node, tsx, the record and the report. Two designs: the default one (the 2020
 * service on the 2020 capacities, mock-services/capacity.2020.json: 96 cores, 64 workers, and the
 * 2020 day breaks at email delivery, Dukcapil and the photo store), and one sized so that every
 * step runs all day (service.cores=256, WORKERS=64, DB_SYNCHRONOUS=NORMAL, every station 100 times
 * mock-services/capacity.default.json's). Reference, in the same run: the bare event queue's events
 * per second with a few hundred thousand events pending, the most the simulator could do per
 * event. First, the same command on a tiny day: what start-up and the report cost.
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
  /** the whole command */
  wallS: number;
  cpuS: number;
  /** the simulation alone, as the command prints it */
  simWallS: number;
  simCpuS: number;
  events: number;
  peakRssMiB: number;
  arrivals: number;
  joined: number;
}

/** `taskset -c 0` when util-linux has it (the goal's one core); otherwise every core, said in the notes. */
const PIN = spawnSync('taskset', ['-c', '0', 'true']).status === 0 ? ['taskset', '-c', '0'] : [];
const PINNED = PIN.length > 0 ? 'one core (taskset -c 0)' : 'every core (no taskset: install util-linux)';

function runDay(extra: string[], runId: string): DayRun {
  const cli = fileURLToPath(new URL('../bin/gelombang.js', import.meta.url));
  const results = fileURLToPath(new URL('../.tmp/bench-simulator', import.meta.url));
  const t0 = performance.now();
  const r = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      '%M %U %S',
      ...PIN,
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
  const sim = /simulation: [\d,]+ events in ([\d.]+) s \(([\d.]+) s of CPU\)/.exec(r.stdout);
  if (!sim) throw new Error(`simulate printed no simulation line: ${r.stdout}`);
  const manifest = JSON.parse(readFileSync(`${runDir}/run.json`, 'utf8')) as {
    simulation: { events: number };
    totals: { arrivals: number; funnel: Array<{ stage: string; outcome: string; count: number }> };
  };
  return {
    wallS,
    cpuS: (user ?? 0) + (sys ?? 0),
    simWallS: Number(sim[1]),
    simCpuS: Number(sim[2]),
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
      metric: 'the command on a tiny day, wall time (start-up, record, report)',
      value: fixed.wallS,
      unit: 's',
      note: `${PINNED}; scale 0.001: ${fixed.arrivals.toLocaleString('en')} registrants, ${(fixed.events / 1e3).toFixed(0)} k events in ${fixed.simWallS.toFixed(2)} s; CPU ${fixed.cpuS.toFixed(2)} s`,
    });
    for (const [label, extra] of [
      ['sized design (every step all day)', SIZED],
      ['default design (2020 service on the 2020 capacities)', []],
    ] as const) {
      const d = runDay([...extra], label.startsWith('sized') ? 'sized' : 'default');
      const note = `${d.arrivals.toLocaleString('en')} registrants, ${d.joined.toLocaleString('en')} joined, ${(d.events / 1e6).toFixed(1)} M events; ${label}; ${PINNED}`;
      rows.push(
        {
          bench: 'simulator',
          metric: `2020 day at full scale, the simulation, wall time: ${label}`,
          value: d.simWallS,
          unit: 's',
          reference: 20,
          ratio: d.simWallS / 20,
          note: `${note}; CPU ${d.simCpuS.toFixed(2)} s; reference: the goal (20 s)`,
        },
        {
          bench: 'simulator',
          metric: `the whole command, wall time: ${label}`,
          value: d.wallS,
          unit: 's',
          note: `${note}; CPU ${d.cpuS.toFixed(2)} s; start-up, record and report included`,
        },
        {
          bench: 'simulator',
          metric: `events per second of the simulation: ${label}`,
          value: d.events / d.simWallS,
          unit: 'events/s',
          reference,
          ratio: d.events / d.simWallS / reference,
          note: 'reference: the bare event queue, 200,000 pending, same run (its CPU time)',
        },
        { bench: 'simulator', metric: `peak RSS: ${label}`, value: d.peakRssMiB, unit: 'MiB', note },
      );
    }
    return rows;
  },
};

export default bench;
