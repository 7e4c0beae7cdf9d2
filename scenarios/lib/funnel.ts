/**
 * The registration funnel: its stages in order, the step that reaches each, and the counts of
 * the 2020 opening at the 21-hour mark (FACTS.md, "Opening day"). Pure: scenarios, simulator and
 * reports import it. Percentages are always recomputed from counts: the press release's
 * (73.85 %, 43.65 %) disagree with its own counts.
 */

export const STAGES = [
  'registered',
  'email_verified',
  'biodata_verified',
  'photo_uploaded',
  'assessment_done',
  'joined_wave',
] as const;
export type Stage = (typeof STAGES)[number];

/** The journey step (k6 request tag `step`) that takes a registrant into each stage. */
export const STEP_OF_STAGE: Record<Stage, string> = {
  registered: 'create_account',
  email_verified: 'verify_email',
  biodata_verified: 'submit_biodata',
  photo_uploaded: 'upload_photo',
  assessment_done: 'submit_assessment',
  joined_wave: 'join_wave',
};

/** What happened to a registrant at a stage. */
export type Outcome = 'continued' | 'left_by_choice' | 'in_progress' | 'failed' | 'rejected';
export const OUTCOMES: readonly Outcome[] = [
  'continued',
  'left_by_choice',
  'in_progress',
  'failed',
  'rejected',
];

/**
 * Counts at 16:00 WIB on 12 April 2020, 21 hours after registration opened (FACTS.md rows
 * "accounts registered", "email verified", "NIK verified", "joined a batch"). Photo upload and
 * the test have no published count.
 */
export const COUNTS_2020: Record<Stage, number | null> = {
  registered: 1_432_133,
  email_verified: 1_063_028,
  biodata_verified: 624_090,
  photo_uploaded: null,
  assessment_done: null,
  joined_wave: 77_834,
};

export interface ConversionRow {
  stage: Stage;
  count: number | null;
  /** of the previous stage with a count */
  fromPrevious: number | null;
  /** of the first stage */
  fromTop: number | null;
}

/** Stage-to-stage and top-of-funnel conversion from counts (null where a count is missing). */
export function conversions(counts: Record<Stage, number | null>): ConversionRow[] {
  const top = counts.registered;
  let previous: number | null = null;
  return STAGES.map((stage) => {
    const count = counts[stage];
    const row: ConversionRow = {
      stage,
      count,
      fromPrevious: count !== null && previous !== null && previous > 0 ? count / previous : null,
      fromTop: count !== null && top !== null && top > 0 ? count / top : null,
    };
    if (count !== null) previous = count;
    return row;
  });
}
