import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probeCommits } from './commit-probe.ts';

describe('the commit probe', () => {
  it("times the service's own transactions in both synchronous modes and leaves nothing behind", () => {
    const dir = mkdtempSync(join(tmpdir(), 'gelombang-commit-probe-test-'));
    const p = probeCommits(dir, { commits: 50 });
    for (const mode of ['FULL', 'NORMAL'] as const) {
      expect(Number.isFinite(p[mode])).toBe(true);
      expect(p[mode]).toBeGreaterThan(0);
    }
    expect(p.commits).toBeGreaterThan(0);
    expect(p.commits).toBeLessThanOrEqual(50);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('stops at its time budget, however many commits it was allowed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gelombang-commit-probe-test-'));
    const p = probeCommits(dir, { commits: Number.MAX_SAFE_INTEGER, maxMs: 30 });
    expect(p.commits).toBeGreaterThan(0);
    expect(p.commits).toBeLessThan(Number.MAX_SAFE_INTEGER);
  });
});
