import { describe, expect, it } from 'vitest';
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

  it('computes age on a date, birthday included', () => {
    expect(ageOn('2008-04-11', new Date(Date.UTC(2026, 3, 10)))).toBe(17);
    expect(ageOn('2008-04-11', new Date(Date.UTC(2026, 3, 11)))).toBe(18);
  });
});
