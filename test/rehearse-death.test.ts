import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRunRecord } from '../reports/record.ts';
import { runRehearsal } from '../scripts/rehearsal.ts';

/**
 * A service that dies during a rehearsal, unplanned (killed from outside, as an OOM killer or a
 * crash would): the rehearsal says so at once, restarts it, records the outage, and does not call
 * the run a success.
 */
describe('a rehearsal whose service dies', () => {
  it('restarts it, says so, records it and fails the run', async () => {
    const results = mkdtempSync(join(tmpdir(), 'gelombang-rehearse-death-'));
    const lines: string[] = [];
    let killed: Promise<number> | undefined;
    const r = await runRehearsal({
      scenario: 'registration-day',
      scenarioFile: resolve('scenarios/registration-day.ts'),
      scale: 0.0005,
      compress: 60,
      // ten profile minutes: ten seconds of load, the kill in the middle of it
      window: [0, 10],
      knobs: { SCRYPT_N: '1024' },
      serviceProfile: '2020',
      resultsDir: results,
      runId: 'died',
      // a registrant still retrying when the load ends is cut after 5 s: the run's story is the restart
      env: { THINK_COMPRESS: '20000', GRACEFUL_STOP: '5s' },
      intervalSeconds: 0.5,
      quiet: true,
      fullScale: false,
      log: (line) => {
        lines.push(line);
        const url = /^\s+registration (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
        if (url && !killed) killed = killWhenLoaded(url);
      },
    });
    const pid = await killed;
    expect(pid).toBeGreaterThan(0);
    expect(lines.some((l) => /^error: registration \(pid \d+\) died/.test(l))).toBe(true);
    expect(lines).toContain('restarting registration (restart 1 of at most 3) ...');
    expect(lines.some((l) => /^registration restarted: ready again after \d+\.\d s$/.test(l))).toBe(true);
    expect(r.stackDied).toBe(true);
    expect(r.error).toMatch(
      /a service of the stack died during the run, unplanned: registration .*restarted/,
    );
    const record = readRunRecord(join(results, 'died'));
    const note = record.timeseries.notes?.find((n) => n.startsWith('A service of the stack died'));
    expect(note).toMatch(/SIGKILL.*restarted, ready again after/);
    // After the restart the journey went on: registrants signed up after the kill too.
    const created = record.manifest.totals.funnel
      .filter((f) => f.stage === 'registered' && f.outcome === 'continued')
      .reduce((a, f) => a + f.count, 0);
    expect(created).toBeGreaterThan(0);
  }, 120_000);
});

/** Waits until the service has taken some load, then SIGKILLs it; resolves with its pid. */
async function killWhenLoaded(url: string): Promise<number> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (Date.now() > deadline) throw new Error(`${url} never took load`);
    const metrics = await fetch(`${url}/metrics`).then(
      (res) => res.text(),
      () => '',
    );
    const created = /gelombang_funnel_stage_reached_total\{stage="registered"\} (\d+)/.exec(metrics);
    if (created && Number(created[1]) >= 5) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const { pid } = (await (await fetch(`${url}/healthz`)).json()) as { pid: number };
  process.kill(pid, 'SIGKILL');
  return pid;
}
