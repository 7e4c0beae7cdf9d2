import { z } from 'zod';
import { describeIssues } from './capacity.ts';

/**
 * The registration service's design as knobs: the named designs a rehearsal or a simulation picks
 * from, and the knobs that change how the service spends its capacity, with the defaults the
 * reference service (mock-services/registration/config.ts) gives them. Rehearse passes the knobs
 * to the real service; the simulator reads them the same way. Pure: no Node, no k6.
 */

/** The registration service's design, as knobs: 2020's, and the usual fixes. */
export const SERVICE_PROFILES: Record<string, Record<string, string>> = {
  // The 2020 design: the mail sent inside the sign-up request, the ministries asked one after another.
  '2020': { EMAIL_DELIVERY: 'inline', MINISTRY_CALLS: 'sequential', MINISTRY_RETRIES: '0' },
  // The fixes a team reaches for first: mail from an outbox, ministries in parallel, one retry.
  optimized: { EMAIL_DELIVERY: 'outbox', MINISTRY_CALLS: 'parallel', MINISTRY_RETRIES: '1' },
};

/**
 * The knobs that shape the service's capacity, as environment strings, with the reference
 * service's defaults and ranges. Connection and secret knobs (HOST, DB_PATH, tokens) change
 * nothing a capacity model sees and are not here.
 */
export const serviceKnobsSchema = z
  .object({
    /** processes behind one port (node:cluster), each with its own event loop and thread pool */
    WORKERS: z.coerce.number().int().min(1).max(64).default(1),
    /** FULL: a commit waits for fsync (an acknowledged write survives power loss) */
    DB_SYNCHRONOUS: z.enum(['FULL', 'NORMAL']).default('FULL'),
    SCRYPT_N: z.coerce
      .number()
      .int()
      .min(1024)
      .max(1048576)
      .refine((n) => (n & (n - 1)) === 0, 'expected a power of two')
      .default(16384),
    EMAIL_DELIVERY: z.enum(['inline', 'outbox']).default('inline'),
    EMAIL_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    MINISTRY_CALLS: z.enum(['sequential', 'parallel']).default('sequential'),
    MINISTRY_TIMEOUT_MS: z.coerce.number().int().min(50).default(5000),
    MINISTRY_RETRIES: z.coerce.number().int().min(0).max(5).default(0),
    UPLOAD_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
    PHOTO_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(2 * 1024 * 1024),
    WAVE_QUOTA: z.coerce.number().int().min(0).default(1_000_000),
  })
  .strict();

export type ServiceKnobs = z.infer<typeof serviceKnobsSchema>;

export class ServiceKnobError extends Error {
  override name = 'ServiceKnobError';
}

/** Reads knobs (a profile's, then overrides); an unknown knob or a bad value names itself. */
export function parseServiceKnobs(knobs: Record<string, string>, source: string): ServiceKnobs {
  const parsed = serviceKnobsSchema.safeParse(knobs);
  if (!parsed.success) throw new ServiceKnobError(`${source}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
