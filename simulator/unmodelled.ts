import type { ServiceKnobs } from '../model/service-design.ts';

/**
 * The service's switches the queueing model does not represent. A prediction made with one of
 * them on simulates the service as if it were off, and says so: a waiting room or a circuit
 * breaker changes where the day breaks, so silence would make the prediction a claim it is not.
 * Each entry: the knob, when it counts as on, and what the model leaves out. Every knob of
 * model/service-design.ts is modelled now (the last, the presigned upload and the idempotency
 * keys, in service.ts and registrant.ts); a new one goes here until the simulator reads it, which
 * unmodelled.test.ts checks.
 */
export const UNMODELLED: ReadonlyArray<{
  knob: keyof ServiceKnobs;
  on: (k: ServiceKnobs) => boolean;
  what: string;
}> = [];

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
