import type { ServiceKnobs } from '../model/service-design.ts';

/**
 * The hardened design's switches the queueing model does not represent yet. A prediction made
 * with one of them on simulates the service as if it were off, and says so: a waiting room or a
 * circuit breaker changes where the day breaks, so silence would make the prediction a claim it
 * is not. Each entry: the knob, when it counts as on, and what the model leaves out. The waiting
 * room (ADMISSION_RATE), the outbox's send rate (EMAIL_SEND_RATE) and the ministry guard's
 * breaker, bulkhead and answer cache (MINISTRY_BREAKER, MINISTRY_BULKHEAD, MINISTRY_CACHE) and the
 * idempotency keys (IDEMPOTENCY) are modelled (service.ts, registrant.ts, outbox.ts, breaker.ts),
 * so they are not here.
 */
const UNMODELLED: ReadonlyArray<{
  knob: keyof ServiceKnobs;
  on: (k: ServiceKnobs) => boolean;
  what: string;
}> = [{ knob: 'PHOTO_UPLOAD', on: (k) => k.PHOTO_UPLOAD === 'presigned', what: 'the presigned upload' }];

/** The knobs set in `knobs` that the simulator ignores, as "what (KNOB=value)". */
export function unmodelledKnobs(knobs: ServiceKnobs): string[] {
  return UNMODELLED.filter((u) => u.on(knobs)).map((u) => `${u.what} (${u.knob}=${knobs[u.knob]})`);
}

/** One sentence for a record's notes or a command's output, or undefined when nothing is left out. */
export function unmodelledNote(knobs: ServiceKnobs): string | undefined {
  const left = unmodelledKnobs(knobs);
  if (left.length === 0) return undefined;
  return `Not modelled by the simulator, which ran the service as if they were off: ${left.join(', ')}.`;
}
