/**
 * The NIK (Nomor Induk Kependudukan) as the service checks it before asking anybody: 16 digits =
 * province (2) + regency (2) + district (2) + date of birth DDMMYY with DD + 40 for women + serial (4).
 * Pure: no I/O.
 */

/** Kemendagri province codes (38 provinces after the 2022 Papua split). */
const PROVINCE_CODES: ReadonlySet<number> = new Set([
  11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 31, 32, 33, 34, 35, 36, 51, 52, 53, 61, 62, 63, 64, 65, 71, 72, 73,
  74, 75, 76, 81, 82, 91, 92, 93, 94, 95, 96,
]);

type NikProblem =
  | 'not_16_digits'
  | 'unknown_province'
  | 'impossible_region'
  | 'impossible_date'
  | 'date_of_birth_mismatch'
  | 'gender_mismatch'
  | 'impossible_serial';

interface ParsedNik {
  province: number;
  regency: number;
  district: number;
  gender: 'M' | 'F';
  /** the day, month and two-digit year the NIK encodes */
  day: number;
  month: number;
  yy: number;
}

type NikResult = { ok: true; nik: ParsedNik } | { ok: false; problem: NikProblem; message: string };

function realDate(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** Checks the NIK alone and against the stated date of birth (YYYY-MM-DD) and gender. */
export function checkNik(nik: string, dateOfBirth: string, gender: 'M' | 'F'): NikResult {
  if (!/^\d{16}$/.test(nik))
    return { ok: false, problem: 'not_16_digits', message: 'expected exactly 16 digits' };
  const n = (from: number, to: number) => Number(nik.slice(from, to));
  const province = n(0, 2);
  const regency = n(2, 4);
  const district = n(4, 6);
  const dd = n(6, 8);
  const month = n(8, 10);
  const yy = n(10, 12);
  const serial = n(12, 16);
  if (!PROVINCE_CODES.has(province)) {
    return {
      ok: false,
      problem: 'unknown_province',
      message: `digits 1-2 (${nik.slice(0, 2)}) are not an Indonesian province code`,
    };
  }
  if (regency < 1 || district < 1) {
    return {
      ok: false,
      problem: 'impossible_region',
      message: 'digits 3-6 (regency, district) must be 01-99',
    };
  }
  const nikGender = dd > 40 ? 'F' : 'M';
  const day = dd > 40 ? dd - 40 : dd;
  const [y, m, d] = dateOfBirth.split('-').map(Number) as [number, number, number];
  if (!realDate(y, m, d))
    return { ok: false, problem: 'impossible_date', message: 'dateOfBirth is not a calendar date' };
  if (day < 1 || month < 1 || month > 12 || !realDate(y, month, day)) {
    return {
      ok: false,
      problem: 'impossible_date',
      message: `digits 7-12 (${nik.slice(6, 12)}) are not a date of birth (DDMMYY, DD+40 for women)`,
    };
  }
  if (day !== d || month !== m || yy !== y % 100) {
    return {
      ok: false,
      problem: 'date_of_birth_mismatch',
      message: 'the date of birth in the NIK differs from dateOfBirth',
    };
  }
  if (nikGender !== gender) {
    return {
      ok: false,
      problem: 'gender_mismatch',
      message: `the NIK's day (${nik.slice(6, 8)}) says gender ${nikGender}, not ${gender}`,
    };
  }
  if (serial < 1)
    return { ok: false, problem: 'impossible_serial', message: 'digits 13-16 (serial) must be 0001-9999' };
  return { ok: true, nik: { province, regency, district, gender: nikGender, day, month, yy } };
}

/** Whole years between a date of birth (YYYY-MM-DD) and `on`. */
export function ageOn(dateOfBirth: string, on: Date): number {
  const [y, m, d] = dateOfBirth.split('-').map(Number) as [number, number, number];
  let age = on.getUTCFullYear() - y;
  const beforeBirthday = on.getUTCMonth() + 1 < m || (on.getUTCMonth() + 1 === m && on.getUTCDate() < d);
  if (beforeBirthday) age--;
  return age;
}
