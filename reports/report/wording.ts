import { percent, type Stage, type Step } from '../../model/funnel.ts';
import { EVENT_LOOP, SMTP_POOL, WRITE_LOCK } from '../record.ts';

/**
 * Plain words for the project's names and numbers: the report is written for a manager, who
 * knows Dukcapil but not `dependency:dukcapil`, and reads "1,083" faster than "1083".
 */

export const STAGE_LABELS: Record<Stage, string> = {
  registered: 'Created an account',
  email_verified: 'Verified their email',
  biodata_verified: 'Identity checked by the ministries',
  photo_uploaded: 'Uploaded a KTP (ID card) photo',
  assessment_done: 'Completed the online test',
  joined_wave: 'Joined a wave',
};

export const STEP_LABELS: Record<Step, string> = {
  create_account: 'create an account',
  verify_email: 'click the email link',
  login: 'log in',
  submit_biodata: 'submit biodata, checked against the ministries',
  upload_photo: 'upload the KTP photo',
  submit_assessment: 'submit the online test',
  join_wave: 'join a wave',
  read_status: 'check the status page',
};

const DEPENDENCY_LABELS: Record<string, string> = {
  dukcapil: 'Dukcapil (the population registry)',
  dapodik: 'Dapodik (the education registry)',
  dtks: 'DTKS (the social welfare registry)',
  email: 'the email server',
  upload: 'the photo store',
  // The service's own resources, which the bottleneck lists beside the dependencies.
  [SMTP_POOL]: 'the service’s own SMTP connections (EMAIL_CONNECTIONS)',
  [WRITE_LOCK]: 'the service’s database write lock',
  [EVENT_LOOP]: 'the service’s event loops',
};

export const REJECTION_LABELS: Record<string, string> = {
  too_young: 'too young',
  in_formal_education: 'still in formal education',
  nik_not_verified: 'ID number (NIK) not confirmed by Dukcapil',
  not_citizen: 'not an Indonesian citizen',
};

export const EXIT_CODES: Record<number, string> = {
  0: 'every threshold passed',
  99: 'some thresholds failed',
  107: 'the script failed',
  108: 'the run was aborted',
};

export const dependencyLabel = (name: string): string => DEPENDENCY_LABELS[name] ?? name;

export function failureLabel(reason: string): string {
  if (reason === 'timeout') return 'timed out';
  if (reason === 'connection') return 'could not connect';
  const http = /^http_(\d)xx$/.exec(reason);
  if (http) return `server error (HTTP ${http[1]}xx)`;
  const dependency = /^dependency:(.+)$/.exec(reason);
  if (dependency?.[1]) return `${dependencyLabel(dependency[1])} failed`;
  return reason;
}

// ---- numbers

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
export const decimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
export const significant = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 3 });

export const count = (n: number): string => integer.format(n);
export const pct = (share: number | null): string => (share === null ? '–' : percent(share, 2));
export const pct1 = (share: number): string => percent(share, 1);
export const ms = (n: number | null): string => (n === null ? '–' : `${integer.format(n)} ms`);
export const rate = (n: number): string => decimal.format(n);
export const seconds = (s: number): string =>
  s < 120 ? `${decimal.format(s)} s` : `${decimal.format(s)} s (${decimal.format(s / 60)} min)`;

export function atTime(t: number, profileMinute: number | null): string {
  const minute =
    profileMinute === null ? '' : `, minute ${decimal.format(profileMinute)} of the replayed profile`;
  return `${seconds(t)} into the run${minute}`;
}
