import { isEligible, type Person, personAt } from '../../model/population.ts';

/** Hands out distinct people of the synthetic population matching a predicate, so tests never collide. */
export function people(seed = 2020, start = 0) {
  let next = start;
  return {
    take(predicate: (p: Person) => boolean = isEligible): Person {
      for (let i = next; i < next + 100_000; i++) {
        const p = personAt(seed, i);
        if (predicate(p)) {
          next = i + 1;
          return p;
        }
      }
      throw new Error('no matching person in 100,000');
    },
  };
}
