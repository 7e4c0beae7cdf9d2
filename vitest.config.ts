import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The slowest files first, then vitest's own order. On a fresh clone vitest has no durations and
 * starts the largest files first, so a short file whose test runs minutes (the 20 crash rounds)
 * would start last and run alone at the end of the suite.
 */
const SLOW_FIRST = ['test/crash-rounds.test.ts', 'test/scenarios.test.ts', 'test/rehearse.test.ts'];

class SlowFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((s) => f.moduleId.endsWith(s));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    const base = await super.sort(files);
    return base
      .map((f, i) => ({ f, i }))
      .sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i)
      .map(({ f }) => f);
  }
}

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', 'dist/**', 'results/**', '.tmp/**'],
    // Tests start real processes (services, Prometheus, Chromium) on loopback: give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    sequence: { sequencer: SlowFirst },
  },
});
