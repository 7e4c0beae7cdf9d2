/**
 * The service's funnel stages, in journey order: the status endpoint reports the furthest one
 * reached, and the funnel metrics are labelled with them. The service keeps its own list (it
 * stands for a real system and imports nothing of the harness's model); a test compares the two.
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
