/**
 * Seeded randomness for the registrant behaviour model. A rehearsal must be replayable: the same
 * seed and registrant index give the same decisions on k6, on the embedded runner and in the
 * simulator, whichever VU or worker runs them. Pure: no k6, no Node.
 */

/** A uniform random number in [0, 1). */
export type Rng = () => number;

/**
 * mulberry32: 32 bits of state, fast in goja (integer ops only) and good enough for behaviour
 * draws; it is not for anything secret.
 */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** murmur3's finaliser: neighbouring inputs (registrant 41, 42) give unrelated outputs. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The random stream of one registrant (or any other keyed entity): a pure function of the run's
 * seed and the keys, so that iteration 1,234 decides the same whichever VU picks it up.
 */
export function rngFor(seed: number, ...keys: number[]): Rng {
  let h = fmix32((seed >>> 0) ^ 0x9e3779b9);
  for (const k of keys) {
    // Keys beyond 32 bits (iteration counters of long runs) keep their high part.
    const hi = Math.floor(k / 4294967296);
    h = fmix32(h ^ fmix32((k >>> 0) + 0x7f4a7c15));
    if (hi !== 0) h = fmix32(h ^ fmix32(hi >>> 0));
  }
  return createRng(h);
}

/** A standard normal draw (Box-Muller; 1 - u keeps the logarithm finite). */
export function standardNormal(rng: Rng): number {
  const u1 = 1 - rng();
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}
