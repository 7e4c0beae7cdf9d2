import { describe, expect, it } from 'vitest';
import { findByNik, indexFromNik, isEligible, MAX_POPULATION, personAt } from './population.ts';

describe('the synthetic population', () => {
  it('is deterministic per (seed, index) and differs between seeds', () => {
    expect(personAt(2020, 123)).toEqual(personAt(2020, 123));
    expect(personAt(2021, 123).nik).not.toBe(personAt(2020, 123).nik);
  });

  it('gives every person a unique NIK that maps back to its index', () => {
    const seen = new Set<string>();
    for (const i of [0, 1, 9998, 9999, 10000, 98_000, 1_000_000, MAX_POPULATION - 1]) {
      const p = personAt(2020, i);
      expect(seen.has(p.nik)).toBe(false);
      seen.add(p.nik);
      expect(indexFromNik(p.nik)).toBe(i);
      expect(findByNik(2020, p.nik)?.fullName).toBe(p.fullName);
    }
  });

  it('encodes birth date and gender in the NIK (day + 40 for women)', () => {
    for (let i = 0; i < 500; i++) {
      const p = personAt(2020, i);
      const day = Number(p.nik.slice(6, 8));
      expect(p.gender === 'F' ? day - 40 : day).toBe(Number(p.dateOfBirth.slice(8, 10)));
      expect(p.nik.slice(8, 10)).toBe(p.dateOfBirth.slice(5, 7));
    }
  });

  it('refuses an index outside the population', () => {
    expect(() => personAt(2020, -1)).toThrow(RangeError);
    expect(() => personAt(2020, MAX_POPULATION)).toThrow(RangeError);
    expect(findByNik(2020, '12')).toBeUndefined();
  });

  it('finds eligible people in the population at the stated shares', () => {
    let eligible = 0;
    for (let i = 0; i < 2000; i++) if (isEligible(personAt(2020, i))) eligible++;
    // 1 - (3 % unknown + 2 % name mismatch + 6 % studying + 2 % minors + 0.2 % non-citizens) ~ 87 %
    expect(eligible / 2000).toBeGreaterThan(0.82);
    expect(eligible / 2000).toBeLessThan(0.92);
  });
});
