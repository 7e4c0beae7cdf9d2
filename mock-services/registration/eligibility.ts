import type { DapodikResponse, DtksResponse, DukcapilResponse } from '../ministry/api.ts';

/**
 * Who may join the programme, from the three ministries' answers (pure, so the rules are tested
 * without a server). Order matters: an unverified identity is refused before anything else, because
 * Dapodik's and DTKS's answers about a NIK that is not the registrant's say nothing about them.
 */

export type OccupationStatus = 'laid_off' | 'furloughed' | 'micro_business' | 'other';

/**
 * 'low': already receives social assistance (DTKS), so others go first; 'high': lost work or
 * income to the pandemic (laid off, furloughed, micro-business); 'normal': everyone else.
 */
type Priority = 'high' | 'normal' | 'low';

type DukcapilReason = 'nik_not_found' | 'name_mismatch' | 'date_of_birth_mismatch';

type Refusal =
  | { code: 'nik_not_verified'; message: string; details: { reason: DukcapilReason } }
  | { code: 'not_citizen'; message: string }
  | { code: 'in_formal_education'; message: string; details: { level: string | null } };

type Decision =
  | { eligible: true; priority: Priority; dtksRecipient: boolean }
  | ({ eligible: false } & Refusal);

/** Why Dukcapil did not verify the identity, or undefined when it did. */
export function dukcapilRefusal(d: DukcapilResponse): DukcapilReason | undefined {
  if (!d.found) return 'nik_not_found';
  if (!d.match.fullName) return 'name_mismatch';
  if (!d.match.dateOfBirth) return 'date_of_birth_mismatch';
  return undefined;
}

export function priorityOf(dtksRecipient: boolean, occupation: OccupationStatus): Priority {
  if (dtksRecipient) return 'low';
  return occupation === 'other' ? 'normal' : 'high';
}

export function decide(
  answers: { dukcapil: DukcapilResponse; dapodik: DapodikResponse; dtks: DtksResponse },
  occupation: OccupationStatus,
): Decision {
  const reason = dukcapilRefusal(answers.dukcapil);
  if (reason) {
    return {
      eligible: false,
      code: 'nik_not_verified',
      message: `Dukcapil could not verify the NIK: ${reason.replace(/_/g, ' ')}`,
      details: { reason },
    };
  }
  if (!answers.dukcapil.citizen)
    return { eligible: false, code: 'not_citizen', message: 'the programme is for Indonesian citizens' };
  if (answers.dapodik.enrolled) {
    return {
      eligible: false,
      code: 'in_formal_education',
      message: `Dapodik lists the registrant in formal education (${answers.dapodik.level ?? 'level unknown'})`,
      details: { level: answers.dapodik.level },
    };
  }
  return {
    eligible: true,
    priority: priorityOf(answers.dtks.recipient, occupation),
    dtksRecipient: answers.dtks.recipient,
  };
}
