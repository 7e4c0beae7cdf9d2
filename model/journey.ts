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

/** How long a registrant watches the mailbox for the verification mail before giving up, seconds. */
export const MAIL_WAIT_S = 60;

/** How long a replay lets registrants still on the way finish after the window closes (k6 gracefulStop), seconds. */
export const GRACEFUL_STOP_S = 30;
