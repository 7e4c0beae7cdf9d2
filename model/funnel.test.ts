import { describe, expect, it } from 'vitest';
import {
  COUNTS_2020,
  conversion,
  conversions,
  LATER_STAGES,
  percent,
  previousStage,
  STAGES,
  STEP_OF_STAGE,
  STEPS,
} from './funnel.ts';

describe('the funnel', () => {
  it('has the six stages in the order of the service, each reached by a journey step', () => {
    expect(STAGES).toEqual([
      'registered',
      'email_verified',
      'biodata_verified',
      'photo_uploaded',
      'assessment_done',
      'joined_wave',
    ]);
    expect(LATER_STAGES).toEqual(STAGES.slice(1));
    for (const stage of STAGES) expect(STEPS).toContain(STEP_OF_STAGE[stage]);
    expect(STEP_OF_STAGE.biodata_verified).toBe('submit_biodata');
    expect(previousStage('registered')).toBeNull();
    expect(previousStage('joined_wave')).toBe('assessment_done');
  });

  it('holds the 2020 counts at hour 21, with no invented count for photo and test', () => {
    expect(COUNTS_2020).toEqual({
      registered: 1_432_133,
      email_verified: 1_063_028,
      biodata_verified: 624_090,
      photo_uploaded: null,
      assessment_done: null,
      joined_wave: 77_834,
    });
  });

  it('recomputes the percentages from the counts, not the press release (74.23 %, not 73.85 %)', () => {
    const rows = conversions(COUNTS_2020);
    const row = (stage: string) => rows.find((r) => r.stage === stage);
    expect(percent(row('email_verified')?.fromTop ?? null)).toBe('74.23 %');
    expect(percent(row('email_verified')?.fromTop ?? null)).not.toBe('73.85 %');
    expect(percent(row('biodata_verified')?.fromTop ?? null)).toBe('43.58 %'); // press release: 43.65 %
    expect(percent(row('joined_wave')?.fromTop ?? null)).toBe('5.43 %');
    expect(row('registered')).toMatchObject({ fromTop: 1, fromPrevious: null, previousCounted: null });
    expect(row('photo_uploaded')).toMatchObject({ count: null, fromTop: null, fromPrevious: null });
    // joined_wave's previous counted stage is biodata_verified (photo and test have no count)
    expect(row('joined_wave')).toMatchObject({ previousCounted: 'biodata_verified' });
    expect(row('joined_wave')?.fromPrevious).toBeCloseTo(77_834 / 624_090, 12);
    expect(row('biodata_verified')?.fromPrevious).toBeCloseTo(624_090 / 1_063_028, 12);
    expect(conversion(COUNTS_2020, 'email_verified', 'biodata_verified')).toBeCloseTo(0.5871, 4);
    expect(conversion(COUNTS_2020, 'biodata_verified', 'photo_uploaded')).toBeNull();
    expect(percent(null)).toBe('n/a');
  });

  it('does not divide by an empty stage', () => {
    const rows = conversions({ ...COUNTS_2020, registered: 0, email_verified: 0 });
    expect(rows[1]).toMatchObject({ fromTop: null, fromPrevious: null });
  });
});
