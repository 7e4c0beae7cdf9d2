/**
 * The mail providers' delivery rate (`email.deliveryPerSecond`) as `gelombang plan` reads it from
 * a probe. Unlike a station's servers it never shows as busy: accepted mail waits its turn at the
 * providers (simulator/service.ts `nextDeliveryAt`), the registrant stops looking after their
 * patience, and the only trace in a run is a failure at `email_verified` with reason
 * `dependency:email`. So the plan rebuilds the providers' backlog from what the SMTP relay
 * accepted, interval by interval: mails accepted are the relay's busy connections over its mean
 * service time (Little's law on the time-averaged busy share), the providers take `perSecond`.
 */

export interface DeliveryReading {
  /** the interval ends, seconds from the run's start (the run record's `t`) */
  t: readonly number[];
  /** the relay's busy connections over its connections, time-averaged per interval (DayResult.busyShare.email) */
  busyShare: readonly number[];
  concurrency: number;
  /** the relay's mean SMTP service time, ms */
  meanServiceMs: number;
  /** the providers' rate; undefined: no limit */
  perSecond: number | undefined;
}

export interface DeliveryBacklog {
  /** the busiest interval's mails accepted a second: the demand on the providers */
  peakAcceptedPerS: number;
  /** the longest a mail accepted waited for the providers, seconds (0 without a limit) */
  maxWaitS: number;
  /** when the backlog that reached that wait began (interval end, s); null when there was none */
  startedAtS: number | null;
}

/** The providers' backlog over the run, as the relay's acceptances and the providers' rate make it. */
export function deliveryBacklog(r: DeliveryReading): DeliveryBacklog {
  const perMs = r.meanServiceMs > 0 ? r.concurrency / r.meanServiceMs : 0;
  let peak = 0;
  let backlog = 0;
  let maxWait = 0;
  let since: number | null = null;
  let startedAt: number | null = null;
  let prev = 0;
  for (let i = 0; i < r.t.length; i++) {
    const t = r.t[i] as number;
    const dt = t - prev;
    prev = t;
    if (dt <= 0) continue;
    const accepted = (r.busyShare[i] ?? 0) * perMs * 1000;
    peak = Math.max(peak, accepted);
    if (r.perSecond === undefined) continue;
    // A backlog that empties ends an episode; the wait of the one that grew longest is what counts.
    const before = backlog;
    backlog = Math.max(0, backlog + (accepted - r.perSecond) * dt);
    if (before === 0 && backlog > 0) since = t - dt;
    if (backlog === 0) since = null;
    const wait = backlog / r.perSecond;
    if (wait > maxWait) {
      maxWait = wait;
      startedAt = since;
    }
  }
  return { peakAcceptedPerS: peak, maxWaitS: maxWait, startedAtS: maxWait > 0 ? startedAt : null };
}

/**
 * A backlog counts as what made registrants give up on the mail when the longest wait reached this
 * share of their patience: a registrant starts looking only after the behaviour model's delay, so a
 * wait shorter than the patience can still lose those who looked at once, and the relay's own queue
 * (email.concurrency) adds to it; a wait far below it is not what failed them.
 */
export const DELIVERY_WAIT_SHARE = 0.5;
