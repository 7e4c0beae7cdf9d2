import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Capacity } from '../model/capacity.ts';
import { readRunRecord } from '../reports/record.ts';
import type { Report } from '../reports/report-model.ts';
import { gelombang, gelombangAsync, tinyRehearsal } from './support/gelombang-cli.ts';

/** `gelombang rehearse --faults / --chaos` as a user runs it: the schedule applied, recorded and reported. */

const dir = mkdtempSync(join(tmpdir(), 'gelombang-rehearse-faults-'));
const results = join(dir, 'results');
const schedule = join(dir, 'faults.yaml');
writeFileSync(
  schedule,
  [
    'faults:',
    '  - at: 10            # profile minute: 0.5 s into the run at --compress 1200',
    '    dependency: dukcapil',
    '    down: 10m',
    '  - at: 30',
    '    kill: registration',
    '',
  ].join('\n'),
);

describe('gelombang rehearse with a fault schedule', () => {
  it('applies it during the run, records what happened and reports it, and a scheduled kill is not a failed run', async () => {
    const r = await gelombangAsync(tinyRehearsal(results, 'faulted', ['--faults', schedule]));
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/fault at t=.*dukcapil down .* station changed/);
    expect(r.stdout).toMatch(/fault at t=.*registration ready again \(pid \d+\)/);

    const record = readRunRecord(join(results, 'faulted'));
    const [down, kill] = record.manifest.faults ?? [];
    expect(down).toMatchObject({ kind: 'down', target: 'dukcapil', profileMinute: 10, plannedSeconds: 0.5 });
    expect(down?.appliedSeconds).not.toBeNull();
    expect(down?.restoredSeconds).toBeGreaterThan(down?.appliedSeconds ?? Number.POSITIVE_INFINITY);
    expect(down?.station?.during).toMatchObject({ errorRate: 1, errorStatus: 503 });
    // The mock ran the capacity file scaled by the run's rate, as the record says: its station
    // before the fault (read from the mock) has the scaled servers, not the file's full size.
    const ran = (record.manifest.stack.capacity as Capacity).dukcapil;
    const row = record.manifest.similitude?.stations.find((x) => x.dependency === 'dukcapil');
    expect(record.manifest.similitude?.scaled).toBe(true);
    expect(down?.station?.before).toEqual(JSON.parse(JSON.stringify(ran)));
    expect(ran.concurrency).toBe(row?.concurrency);
    expect(ran.concurrency).toBeLessThan(row?.fullConcurrency ?? 0);
    expect(kill).toMatchObject({ kind: 'kill', target: 'registration', plannedSeconds: 1.5 });
    expect(kill?.problem).toBeUndefined();
    expect(kill?.kill?.pidAfter).not.toBe(kill?.kill?.pidBefore);
    expect(kill?.kill?.downtimeSeconds).toBeGreaterThan(0);
    expect(record.timeseries.notes?.some((n) => n.startsWith('2 faults were injected'))).toBe(true);

    const report = JSON.parse(readFileSync(join(results, 'faulted', 'report.json'), 'utf8')) as Report;
    expect(report.faults?.map((f) => f.origin)).toEqual([`${schedule}: faults[0]`, `${schedule}: faults[1]`]);
    expect(report.faults?.[1]?.effect?.requests).toEqual(expect.any(Number));
    const md = readFileSync(join(results, 'faulted', 'report.md'), 'utf8');
    expect(md).toContain('## Faults');
    expect(readFileSync(join(results, 'faulted', 'report.html'), 'utf8')).toContain('registration killed');
  });

  it.each([
    [
      ['--target', 'http://127.0.0.1:9', '--faults', schedule],
      '--faults: the service behind --target is not started here, so --faults would not apply to it',
    ],
    [
      ['--target', 'http://127.0.0.1:9', '--chaos', 'kill-service@3'],
      '--chaos: the service behind --target is not started here',
    ],
    [
      ['--chaos', 'kill-service@soon'],
      "--chaos: expected kill-service@MINUTE (a profile minute, e.g. kill-service@40), got 'kill-service@soon'",
    ],
    [
      ['--window', '0-20', '--faults', schedule],
      `${schedule}: faults[1].at: minute 30 is outside the replay's window, profile minutes 0-20`,
    ],
    [
      ['--scenario', 'smoke', '--chaos', 'kill-service@3'],
      '--chaos: only registration-day replays a profile, not smoke',
    ],
  ])('refuses %j before anything starts', (extra, message) => {
    const r = gelombang(['rehearse', '--results', results, '-q', '--no-full-scale', ...extra]);
    expect(r.status).toBe(104);
    expect(r.stderr).toContain(message);
  });
});
