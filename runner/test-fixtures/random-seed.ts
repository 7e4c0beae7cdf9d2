import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * k6's randomSeed as k6 v0.47 applies it, for runner/modules/random-seed.test.ts and
 * test/real-k6.test.ts: each expectation a check (the thresholds want every one held).
 * - In the init context it seeds the init context's draws: the same seed, the same draws;
 * - but not an iteration's: k6 gives each VU a fresh random source once its init has run, so the
 *   first draw of an iteration is not the seed's first draw;
 * - in an iteration it seeds that VU's draws from then on: the same seed, the same sequence.
 * The two engines draw different numbers for a seed (k6 from Go's math/rand), so no check names one.
 */
export function randomSeedScript(dir: string): string {
  const file = join(dir, 'random-seed.js');
  writeFileSync(
    file,
    `import { check, randomSeed } from 'k6';
randomSeed(7);
const initDraws = [Math.random(), Math.random()];
randomSeed(7);
const initAgain = [Math.random(), Math.random()];
export const options = {
  scenarios: { s: { executor: 'per-vu-iterations', vus: 2, iterations: 2 } },
  thresholds: { checks: ['rate==1'] },
};
export default function () {
  const first = Math.random();
  randomSeed(7);
  const seeded = [Math.random(), Math.random()];
  randomSeed(7);
  const again = [Math.random(), Math.random()];
  check(null, {
    "the init context's draws repeat with its seed": () => initDraws[0] === initAgain[0] && initDraws[1] === initAgain[1],
    "an iteration's draws are not the init seed's": () => first !== initDraws[0],
    'a VU reseeded draws the same sequence': () => seeded[0] === again[0] && seeded[1] === again[1] && seeded[0] !== seeded[1],
    "the same seed in the init context and in a VU": () => seeded[0] === initDraws[0],
  });
}
`,
  );
  return file;
}
