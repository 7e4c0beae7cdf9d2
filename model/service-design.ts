import { z } from 'zod';
import { describeIssues } from './capacity.ts';

/**
 * The registration service's design as knobs: the named designs a rehearsal or a simulation picks
 * from, and the knobs that change how the service spends its capacity, with the defaults the
 * reference service (mock-services/registration/config.ts) gives them. Rehearse passes the knobs
 * to the real service; the simulator reads them the same way. Pure: no Node, no k6.
 */

/**
 * The hardened design's parts, each a switch of its own, so a comparison can say what each buys.
 * A switch sets only its own knobs; the rest stay as the profile it is added to has them.
 */
export const SERVICE_SWITCHES: Record<string, Record<string, string>> = {
  // The mail written in the sign-up's transaction, sent by a worker at the provider's rate, retried,
  // and set aside as a dead letter after EMAIL_MAX_ATTEMPTS.
  'email-outbox': { EMAIL_DELIVERY: 'outbox', EMAIL_SEND_RATE: '100' },
  // The photo straight to the store with a signed URL: its bytes never pass through the service.
  'presigned-upload': { PHOTO_UPLOAD: 'presigned' },
  // Timeout, bulkhead, jittered retries, circuit breaker and a cache of answers that do not change.
  'ministry-guard': {
    MINISTRY_CALLS: 'parallel',
    MINISTRY_TIMEOUT_MS: '2000',
    MINISTRY_RETRIES: '2',
    MINISTRY_BULKHEAD: '16',
    MINISTRY_BREAKER: 'on',
    MINISTRY_CACHE: 'on',
  },
  // Admission control: sign-ups admitted at a set rate, the others told their place and when to come
  // back. 15 a second is below what the reference service holds on a 2-core laptop (19.3 whole
  // journeys a second with instant mocks: bench/README.md), so the rehearsal's service is never
  // given more than it can finish; a deployment sets its own from `gelombang plan` or a breakpoint run.
  'waiting-room': { ADMISSION_RATE: '15' },
  // A retried POST gets its first answer again.
  'idempotency-keys': { IDEMPOTENCY: 'on' },
};

/** The registration service's design, as knobs: 2020's, and the usual fixes. */
export const SERVICE_PROFILES: Record<string, Record<string, string>> = {
  // The 2020 design: the mail sent inside the sign-up request, the ministries asked one after another.
  '2020': { EMAIL_DELIVERY: 'inline', MINISTRY_CALLS: 'sequential', MINISTRY_RETRIES: '0' },
  // The fixes a team reaches for first: mail from an outbox, ministries in parallel, one retry.
  optimized: { EMAIL_DELIVERY: 'outbox', MINISTRY_CALLS: 'parallel', MINISTRY_RETRIES: '1' },
  // Every switch above.
  hardened: Object.assign({}, ...Object.values(SERVICE_SWITCHES)),
};

/**
 * The knobs of a design named as a profile, optionally with switches added: `hardened`,
 * `2020+waiting-room`, `2020+email-outbox+idempotency-keys`. A later switch overrides an earlier
 * part where they share a knob. Throws ServiceKnobError naming the choices.
 */
export function serviceProfileKnobs(name: string): Record<string, string> {
  const [base = '', ...switches] = name.split('+');
  const profile = SERVICE_PROFILES[base];
  if (!profile)
    throw new ServiceKnobError(
      `'${base}' is not a service profile: expected one of ${Object.keys(SERVICE_PROFILES).join(', ')}, optionally followed by +switch (${Object.keys(SERVICE_SWITCHES).join(', ')})`,
    );
  const knobs = { ...profile };
  const seen = new Set<string>();
  for (const s of switches) {
    const sw = SERVICE_SWITCHES[s];
    if (!sw)
      throw new ServiceKnobError(
        `'${s}' in '${name}' is not a switch: expected one of ${Object.keys(SERVICE_SWITCHES).join(', ')}`,
      );
    if (seen.has(s)) throw new ServiceKnobError(`'${s}' appears twice in '${name}'`);
    seen.add(s);
    Object.assign(knobs, sw);
  }
  return knobs;
}

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
    /** SMTP connections per process (nodemailer's pool); mails beyond them wait, with no timeout there */
    EMAIL_CONNECTIONS: z.coerce.number().int().min(1).max(10_000).default(16),
    EMAIL_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
    MINISTRY_CALLS: z.enum(['sequential', 'parallel']).default('sequential'),
    MINISTRY_TIMEOUT_MS: z.coerce.number().int().min(50).default(5000),
    MINISTRY_RETRIES: z.coerce.number().int().min(0).max(5).default(0),
    MINISTRY_BULKHEAD: z.coerce.number().int().min(0).max(10_000).default(0),
    MINISTRY_BULKHEAD_QUEUE: z.coerce.number().int().min(0).max(100_000).default(64),
    MINISTRY_BREAKER: z.enum(['on', 'off']).default('off'),
    MINISTRY_CACHE: z.enum(['on', 'off']).default('off'),
    EMAIL_SEND_RATE: z.coerce.number().min(0).max(100_000).default(0),
    EMAIL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
    PHOTO_UPLOAD: z.enum(['service', 'presigned']).default('service'),
    ADMISSION_RATE: z.coerce.number().min(0).max(1_000_000).default(0),
    IDEMPOTENCY: z.enum(['on', 'off']).default('off'),
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
