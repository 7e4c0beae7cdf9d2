import { describe, expect, it } from 'vitest';
import { isEligible, personAt } from '../../model/population.ts';
import { ageOn, checkNik } from './nik.ts';

describe('checkNik', () => {
  it('accepts a well-formed NIK for a man and for a woman (day + 40)', () => {
    expect(checkNik('3171011501900001', '1990-01-15', 'M')).toMatchObject({
      ok: true,
      nik: { province: 31, day: 15, month: 1, yy: 90 },
    });
    expect(checkNik('3171015501900001', '1990-01-15', 'F')).toMatchObject({
      ok: true,
      nik: { gender: 'F', day: 15 },
    });
  });

  it.each([
    ['317101150190001', '1990-01-15', 'M', 'not_16_digits'],
    ['9971011501900001', '1990-01-15', 'M', 'unknown_province'],
    ['3100011501900001', '1990-01-15', 'M', 'impossible_region'],
    ['3171013202900001', '1990-02-32', 'M', 'impossible_date'],
    ['3171013002900001', '1990-03-30', 'M', 'impossible_date'],
    ['3171011501900001', '1990-01-16', 'M', 'date_of_birth_mismatch'],
    ['3171011501900001', '1990-01-15', 'F', 'gender_mismatch'],
    ['3171011501900000', '1990-01-15', 'M', 'impossible_serial'],
  ] as const)('refuses %s (%s, %s): %s', (nik, dob, gender, problem) => {
    const r = checkNik(nik, dob, gender);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.problem).toBe(problem);
  });

  it('accepts every NIK the synthetic population generates', () => {
    for (let i = 0; i < 2000; i++) {
      const p = personAt(7, i * 7919);
      expect(checkNik(p.nik, p.dateOfBirth, p.gender)).toMatchObject({ ok: true });
    }
  });

  it('computes age on a date, birthday included', () => {
    expect(ageOn('2008-04-11', new Date(Date.UTC(2026, 3, 10)))).toBe(17);
    expect(ageOn('2008-04-11', new Date(Date.UTC(2026, 3, 11)))).toBe(18);
  });

  it('finds eligible people in the population at the stated shares', () => {
    let eligible = 0;
    for (let i = 0; i < 2000; i++) if (isEligible(personAt(2020, i))) eligible++;
    // 1 - (3 % unknown + 2 % name mismatch + 6 % studying + 2 % minors + 0.2 % non-citizens) ~ 87 %
    expect(eligible / 2000).toBeGreaterThan(0.82);
    expect(eligible / 2000).toBeLessThan(0.92);
  });
});
