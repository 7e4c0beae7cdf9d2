import { describe, expect, it } from 'vitest';
import { probeHash } from './hash-probe.ts';

describe('the hash probe', () => {
  it("times the service's own hash at the cost it is given", async () => {
    const p = await probeHash(1024, { hashes: 5 });
    expect(p.n).toBe(1024);
    expect(p.hashes).toBe(5);
    expect(Number.isFinite(p.ms)).toBe(true);
    expect(p.ms).toBeGreaterThan(0);
  });

  it('costs more at a larger N: it measures the hash, not its own overhead', async () => {
    // 64 times the memory and work; a margin of 4 leaves room for a noisy machine.
    const small = await probeHash(1024, { hashes: 5 });
    const large = await probeHash(65536, { hashes: 3 });
    expect(large.ms).toBeGreaterThan(4 * small.ms);
  });

  it('stops at its time budget, having timed at least one hash', async () => {
    const p = await probeHash(1024, { hashes: Number.MAX_SAFE_INTEGER, maxMs: 20 });
    expect(p.hashes).toBeGreaterThan(0);
    expect(p.hashes).toBeLessThan(Number.MAX_SAFE_INTEGER);
  });
});
