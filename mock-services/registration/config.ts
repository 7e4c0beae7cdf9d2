import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_PORTS, LOOPBACK } from '../ports.ts';

/**
 * Every knob of the reference service, read from the environment. The "service profile" knobs
 * (EMAIL_DELIVERY, MINISTRY_CALLS, MINISTRY_RETRIES, SCRYPT_N) are the optimisations a rehearsal
 * compares: the defaults reproduce the 2020 behaviour.
 */
const onOff = z.enum(['on', 'off']);

const configSchema = z.object({
  HOST: z.string().default(LOOPBACK),
  PORT: z.coerce.number().int().min(0).max(65535).default(DEFAULT_PORTS.registration),
  WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  DB_PATH: z.string().min(1).default(join(tmpdir(), 'gelombang-registration.db')),
  /** FULL: an acknowledged write survives power loss too; NORMAL: survives a process crash only */
  DB_SYNCHRONOUS: z.enum(['FULL', 'NORMAL']).default('FULL'),
  MINISTRY_URL: z.url().default(`http://${LOOPBACK}:${DEFAULT_PORTS.ministry}`),
  UPLOAD_URL: z.url().default(`http://${LOOPBACK}:${DEFAULT_PORTS.upload}`),
  SMTP_URL: z.url().default(`smtp://${LOOPBACK}:${DEFAULT_PORTS.emailSmtp}`),
  /** base of the verification link; default: the address the service listens on */
  PUBLIC_URL: z.url().optional(),
  GELOMBANG_ADMIN_TOKEN: z.string().min(1).default('gelombang-admin'),
  UPLOAD_ACCESS_TOKEN: z.string().min(1).default('gelombang-upload'),
  UPLOAD_SIGNING_SECRET: z.string().min(8).default('gelombang-signing'),
  /** scrypt cost: 2^14 is the floor most guidance accepts; each doubling doubles CPU and memory */
  SCRYPT_N: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1048576)
    .refine((n) => (n & (n - 1)) === 0, 'expected a power of two')
    .default(16384),
  EMAIL_DELIVERY: z.enum(['inline', 'outbox']).default('inline'),
  /** SMTP connections one process keeps (nodemailer's pool); more mails wait in the pool's queue, with no timeout there */
  EMAIL_CONNECTIONS: z.coerce.number().int().min(1).max(10_000).default(16),
  /** outbox: mails handed to SMTP per second by all processes together (the provider's rate); 0 = as fast as the pool sends */
  EMAIL_SEND_RATE: z.coerce.number().min(0).max(100_000).default(0),
  /** outbox: attempts per mail before it is set aside as a dead letter (counted, never silently dropped) */
  EMAIL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  /** service: the photo goes through the service (2020); presigned: the client uploads to the store with a signed URL */
  PHOTO_UPLOAD: z.enum(['service', 'presigned']).default('service'),
  EMAIL_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  EMAIL_TOKEN_TTL_S: z.coerce.number().int().min(1).default(86_400),
  /** at most one verification mail resent per account per this many seconds */
  EMAIL_RESEND_INTERVAL_S: z.coerce.number().int().min(1).max(86_400).default(60),
  /**
   * Limits on guessing (attempts.ts): failed log-ins (a wrong password, also at the resend of a
   * verification mail) per email and per client address, and unknown verification tokens per
   * address, each in a window of RATE_LIMIT_WINDOW_S; beyond them a 429 with Retry-After. Only
   * failures count: honest traffic, a rehearsal's included, never meets them.
   */
  LOGIN_MAX_FAILURES_PER_EMAIL: z.coerce.number().int().min(1).max(1_000_000).default(10),
  LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000_000).default(1000),
  VERIFY_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(1_000_000_000).default(1000),
  RATE_LIMIT_WINDOW_S: z.coerce.number().int().min(1).max(86_400).default(900),
  /** the counters' SQLite file (shared by the processes); default: beside DB_PATH, `<name>.limits.db` */
  RATE_LIMIT_DB_PATH: z.string().min(1).optional(),
  SESSION_TTL_S: z.coerce.number().int().min(1).default(86_400),
  MINISTRY_CALLS: z.enum(['sequential', 'parallel']).default('sequential'),
  MINISTRY_TIMEOUT_MS: z.coerce.number().int().min(50).default(5000),
  MINISTRY_RETRIES: z.coerce.number().int().min(0).max(5).default(0),
  /** calls in flight to one ministry from one process; 0 = unbounded (2020) */
  MINISTRY_BULKHEAD: z.coerce.number().int().min(0).max(10_000).default(0),
  /** calls that may wait for the bulkhead; one more is refused at once (503 dependency_unavailable) */
  MINISTRY_BULKHEAD_QUEUE: z.coerce.number().int().min(0).max(100_000).default(64),
  /** a circuit breaker per ministry: after repeated failures, calls fail fast for a while, then one probes */
  MINISTRY_BREAKER: onOff.default('off'),
  /** answers that do not change within a wave (a NIK's identity, enrolment, DTKS status) kept per process */
  MINISTRY_CACHE: onOff.default('off'),
  /** the waiting room: registrants admitted to sign up per second, the others given a place and Retry-After; 0 = no waiting room */
  ADMISSION_RATE: z.coerce.number().min(0).max(1_000_000).default(0),
  /** Idempotency-Key on POSTs: a retried request gets the first answer again, never a second account or join */
  IDEMPOTENCY: onOff.default('off'),
  UPLOAD_TIMEOUT_MS: z.coerce.number().int().min(100).default(30_000),
  PHOTO_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(2 * 1024 * 1024),
  WAVE_QUOTA: z.coerce.number().int().min(0).default(1_000_000),
  METRICS: onOff.default('on'),
});

export type Config = z.infer<typeof configSchema>;

export function parseConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`registration: invalid environment: ${lines.join('; ')}`);
  }
  return parsed.data;
}
