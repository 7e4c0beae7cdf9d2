import { describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../index.ts';
import { randomSeedScript } from '../test-fixtures/random-seed.ts';
import { quiet, scriptDir } from '../test-fixtures/target.ts';

/** k6's randomSeed on the runner; the same script on real k6 in test/real-k6.test.ts. */
describe('randomSeed', () => {
  it("seeds the init context's draws, and a VU's once it calls it, as k6 v0.47 does", async () => {
    const r = await runTest({ ...quiet, script: randomSeedScript(scriptDir) });
    expect(r.thresholds.filter((t) => !t.ok).map((t) => t.threshold.source)).toEqual([]);
    expect(r.summary?.metrics.checks?.values).toMatchObject({ passes: 16, fails: 0 });
    expect(r.exitCode).toBe(EXIT.ok);
  });
});
