import { describe, expect, it } from 'vitest';
import type { DapodikResponse, DtksResponse, DukcapilResponse } from '../ministry/api.ts';
import { decide, dukcapilRefusal, type OccupationStatus, priorityOf } from './eligibility.ts';

const NIK = '3171054506900001';
const verified: DukcapilResponse = {
  nik: NIK,
  found: true,
  match: { fullName: true, dateOfBirth: true },
  citizen: true,
};
const notEnrolled: DapodikResponse = { nik: NIK, enrolled: false, level: null };
const notRecipient: DtksResponse = { nik: NIK, recipient: false, programmes: [] };
const answers = (
  over: {
    dukcapil?: Partial<DukcapilResponse>;
    dapodik?: Partial<DapodikResponse>;
    dtks?: Partial<DtksResponse>;
  } = {},
) => ({
  dukcapil: { ...verified, ...over.dukcapil },
  dapodik: { ...notEnrolled, ...over.dapodik },
  dtks: { ...notRecipient, ...over.dtks },
});

describe('dukcapilRefusal', () => {
  it.each([
    [{ found: false, match: { fullName: false, dateOfBirth: false }, citizen: false }, 'nik_not_found'],
    [{ match: { fullName: false, dateOfBirth: true } }, 'name_mismatch'],
    [{ match: { fullName: true, dateOfBirth: false } }, 'date_of_birth_mismatch'],
    [{ match: { fullName: false, dateOfBirth: false } }, 'name_mismatch'],
    [{}, undefined],
  ] as const)('%o -> %s', (over, reason) => {
    expect(dukcapilRefusal({ ...verified, ...over })).toBe(reason);
  });
});

describe('decide', () => {
  it('accepts a verified citizen out of school', () => {
    expect(decide(answers(), 'laid_off')).toEqual({ eligible: true, priority: 'high', dtksRecipient: false });
  });

  it('refuses an identity Dukcapil does not verify, before looking at the other answers', () => {
    const d = decide(
      answers({ dukcapil: { match: { fullName: true, dateOfBirth: false } }, dapodik: { enrolled: true } }),
      'other',
    );
    expect(d).toMatchObject({
      eligible: false,
      code: 'nik_not_verified',
      details: { reason: 'date_of_birth_mismatch' },
    });
  });

  it('refuses a non-citizen, then anyone in formal education', () => {
    expect(
      decide(answers({ dukcapil: { citizen: false }, dapodik: { enrolled: true } }), 'other'),
    ).toMatchObject({ eligible: false, code: 'not_citizen' });
    const student = decide(answers({ dapodik: { enrolled: true, level: 'S1' } }), 'laid_off');
    expect(student).toMatchObject({ eligible: false, code: 'in_formal_education', details: { level: 'S1' } });
    expect(student.eligible === false && student.message).toContain('S1');
  });

  it('keeps a DTKS recipient eligible at low priority, whatever their occupation', () => {
    for (const occupation of ['laid_off', 'furloughed', 'micro_business', 'other'] as const) {
      expect(decide(answers({ dtks: { recipient: true, programmes: ['PKH'] } }), occupation)).toEqual({
        eligible: true,
        priority: 'low',
        dtksRecipient: true,
      });
    }
  });
});

describe('priorityOf', () => {
  it.each([
    [false, 'laid_off', 'high'],
    [false, 'furloughed', 'high'],
    [false, 'micro_business', 'high'],
    [false, 'other', 'normal'],
    [true, 'laid_off', 'low'],
    [true, 'other', 'low'],
  ] as const)('recipient %s, %s -> %s', (recipient, occupation: OccupationStatus, priority) => {
    expect(priorityOf(recipient, occupation)).toBe(priority);
  });
});
