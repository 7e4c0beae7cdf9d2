/**
 * The registration funnel: its stages in order, the step that reaches each, the outcome vocabulary
 * and the counts of the 2020 opening at the 21-hour mark (docs/2020.md, "Opening day"). Pure:
 * scenarios, simulator and reports import it. Percentages are always recomputed from counts: the
 * press release's (73.85 %, 43.65 %) disagree with its own counts (74.23 %, 43.58 %).
 */

/** The stages, in the order a registrant reaches them; the service's status endpoint uses these names. */
export const STAGES = [
  'registered',
  'email_verified',
  'biodata_verified',
  'photo_uploaded',
  'assessment_done',
  'joined_wave',
] as const;
export type Stage = (typeof STAGES)[number];
/** The stages a registrant moves into (every stage but the first, which an arrival reaches at once). */
export type LaterStage = Exclude<Stage, 'registered'>;
export const LATER_STAGES: readonly LaterStage[] = STAGES.slice(1) as LaterStage[];

/** The HTTP actions of the journey (the k6 request tag `step`). */
export const STEPS = [
  'create_account',
  'verify_email',
  'login',
  'submit_biodata',
  'upload_photo',
  'submit_assessment',
  'join_wave',
  'read_status',
] as const;
export type Step = (typeof STEPS)[number];

/**
 * The step that takes a registrant into each stage. `login` and `read_status` move nobody: login
 * precedes the biodata in the 2020 journey, and the status read is what a waiting registrant polls.
 */
export const STEP_OF_STAGE: Record<Stage, Step> = {
  registered: 'create_account',
  email_verified: 'verify_email',
  biodata_verified: 'submit_biodata',
  photo_uploaded: 'upload_photo',
  assessment_done: 'submit_assessment',
  joined_wave: 'join_wave',
};

/** The stage before `stage` (null for the first). */
export function previousStage(stage: Stage): Stage | null {
  const i = STAGES.indexOf(stage);
  return i > 0 ? (STAGES[i - 1] as Stage) : null;
}

/**
 * What happened to a registrant at a stage. "failed" is the system's doing, "rejected" the rules',
 * "left_by_choice" the registrant's, and "in_progress" means the window closed first: a rehearsal
 * report must keep the four apart, because only "failed" is ours to fix.
 */
export type Outcome = 'continued' | 'left_by_choice' | 'in_progress' | 'failed' | 'rejected';
export const OUTCOMES: readonly Outcome[] = [
  'continued',
  'left_by_choice',
  'in_progress',
  'failed',
  'rejected',
];

/** Counts per stage; null where nobody published one. */
export type StageCounts = Record<Stage, number | null>;

/**
 * Counts at 16:00 WIB on Sunday 12 April 2020, 21 hours after registration opened (docs/2020.md rows
 * "accounts registered", "email verified", "NIK verified", "joined a batch"). The photo upload and
 * the test have no published count: null, not a guess (the behaviour model states its assumptions
 * for them separately).
 */
export const COUNTS_2020: StageCounts = {
  registered: 1_432_133,
  email_verified: 1_063_028,
  biodata_verified: 624_090,
  photo_uploaded: null,
  assessment_done: null,
  joined_wave: 77_834,
};

/** The window the 2020 counts were taken at: 21 hours (docs/2020.md, "window"). */
export const WINDOW_2020_MINUTES = 21 * 60;

export interface ConversionRow {
  stage: Stage;
  count: number | null;
  /** share of the previous stage that has a count (null if either count is missing or zero) */
  fromPrevious: number | null;
  /** which stage `fromPrevious` divides by: the previous stage with a count */
  previousCounted: Stage | null;
  /** share of the first stage */
  fromTop: number | null;
}

/** Stage-to-stage and top-of-funnel conversion from counts (null where a count is missing). */
export function conversions(counts: StageCounts): ConversionRow[] {
  const top = counts.registered;
  let previous: { stage: Stage; count: number } | null = null;
  return STAGES.map((stage) => {
    const count = counts[stage];
    const row: ConversionRow = {
      stage,
      count,
      fromPrevious: count !== null && previous !== null && previous.count > 0 ? count / previous.count : null,
      previousCounted: previous?.stage ?? null,
      fromTop: count !== null && top !== null && top > 0 ? count / top : null,
    };
    if (count !== null) previous = { stage, count };
    return row;
  });
}

/** The share of `from` that reached `to` (null if a count is missing or `from` is zero). */
export function conversion(counts: StageCounts, from: Stage, to: Stage): number | null {
  const a = counts[from];
  const b = counts[to];
  return a !== null && b !== null && a > 0 ? b / a : null;
}

/** A share as a percentage with `digits` decimals, for reports ("74.23 %"). */
export function percent(share: number | null, digits = 2): string {
  return share === null ? 'n/a' : `${(share * 100).toFixed(digits)} %`;
}
