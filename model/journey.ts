/**
 * The registrant journey's defaults that the k6 scenarios (scenarios/lib/registrant.ts,
 * registration-day.ts) and the capacity simulator share, so that a simulation asks the question a
 * rehearsal asks. Pure: no k6, no Node.
 */

/**
 * Who arrives, as shares of arrivals: minors (refused by the age rule before any ministry call)
 * and others the rules refuse (NIK unknown to Dukcapil, name mismatch, in formal education).
 * Assumptions: docs/2020.md publishes no split of the refused; 2 % matches the population's
 * under-18 share (population.ts DEFAULT_SHARES), 10 % the order of the NIK-verified loss the
 * behaviour model puts on the rules.
 */
export const ARRIVAL_MIX = { minorShare: 0.02, ineligibleShare: 0.1 } as const;

/**
 * How long a registrant keeps looking for the verification mail before giving up, in seconds of
 * the day. Assumption: half an hour (the page says "check your email", and the 2020 complaints were
 * of mail that came hours later or never). It is a patience, so a replay compresses it with the
 * think times (`mailWaitSeconds`): a backlog of mail drains in compressed time too, and a
 * registrant who waited real seconds for it would wait longer, in the day's terms, the more the
 * replay is compressed.
 */
export const MAIL_WAIT_S = 1800;

/** A run never looks for less than this (ten looks at the mailbox), whatever the compression. */
export const MIN_MAIL_WAIT_S = 5;

/** The seconds a run's registrant looks for the mail: the day's patience over the think-time compression. */
export function mailWaitSeconds(daySeconds: number, thinkCompress: number): number {
  return Math.max(MIN_MAIL_WAIT_S, daySeconds / thinkCompress);
}

/** How long a replay lets registrants still on the way finish after the window closes (k6 gracefulStop), seconds. */
export const GRACEFUL_STOP_S = 30;

/**
 * How long a registrant's page waits for an answer before it counts the request as failed (k6's
 * `timeout`), seconds; a photo, carried over a phone's uplink, gets longer.
 */
export const REQUEST_TIMEOUT_S = 30;
export const PHOTO_TIMEOUT_S = 60;

/** The page looks at the mailbox for the verification mail this often, seconds. */
export const MAILBOX_POLL_S = 0.5;

/**
 * The statuses a registrant can do nothing about but wait and try again (0: no answer at all);
 * any other 4xx is the rules' answer, any other 5xx a failure.
 */
export const RETRYABLE_STATUSES: readonly number[] = [0, 429, 502, 503, 504];

/**
 * A 409 whose error code says "the same request (the same Idempotency-Key) is still being handled,
 * come back for its answer": a retry, not the rules' answer. A registrant whose first tap timed out
 * and whose second came while the first still ran would otherwise count as refused by the rules.
 */
export const STILL_RUNNING_CODE = 'request_in_progress';

export interface WaitingRoomPatience {
  /** in all, in the scenario's seconds; then the step fails with reason `waiting_room` */
  maxWaitS: number;
  /** the longest single wait, however far off the turn: the page checks again at least this often */
  maxPollS: number;
}

/**
 * Assumption: a person who was given a place in the waiting room waits far longer than they would
 * retry an error, up to half an hour, looking again at least every minute.
 */
export const WAITING_ROOM_PATIENCE: WaitingRoomPatience = { maxWaitS: 1800, maxPollS: 60 };
