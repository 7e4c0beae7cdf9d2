import { z } from 'zod';

/**
 * The wire contract of the ministries' identity APIs as the mock serves them and the reference
 * service's client reads them. Modelled on the shape of Dukcapil's NIK verification (match flags per
 * field, never the stored record), Dapodik's enrolment lookup and DTKS's recipient lookup.
 *
 * Errors from every ministry endpoint: `{ error: { code, message, field? } }` with
 * 400 (bad request), 429/503 + Retry-After (queue full), 504 (the ministry's own timeout),
 * 500/502/503 (injected faults).
 */

export const MINISTRY_PATHS = {
  dukcapil: '/dukcapil/v1/nik-verifications',
  dapodik: '/dapodik/v1/enrolments/:nik',
  dtks: '/dtks/v1/recipients/:nik',
} as const;

export type Ministry = keyof typeof MINISTRY_PATHS;
export const MINISTRIES: readonly Ministry[] = ['dukcapil', 'dapodik', 'dtks'];

/** POST body of a Dukcapil NIK verification. */
export const dukcapilRequestSchema = z
  .object({
    nik: z.string().regex(/^\d{16}$/, 'expected 16 digits'),
    fullName: z.string().min(1).max(200),
    /** YYYY-MM-DD */
    dateOfBirth: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD'),
  })
  .strict();

export const dukcapilResponseSchema = z.object({
  nik: z.string(),
  /** the NIK exists in the population registry */
  found: z.boolean(),
  /** per-field match flags; all false when not found */
  match: z.object({ fullName: z.boolean(), dateOfBirth: z.boolean() }),
  /** Indonesian citizen (WNI); false when not found */
  citizen: z.boolean(),
});

export const dapodikResponseSchema = z.object({
  nik: z.string(),
  /** currently enrolled in formal education (school or university) */
  enrolled: z.boolean(),
  level: z.enum(['SMA', 'SMK', 'D3', 'S1', 'S2']).nullable(),
});

export const dtksResponseSchema = z.object({
  nik: z.string(),
  /** already receives social assistance */
  recipient: z.boolean(),
  programmes: z.array(z.string()),
});

export type DukcapilRequest = z.infer<typeof dukcapilRequestSchema>;
export type DukcapilResponse = z.infer<typeof dukcapilResponseSchema>;
export type DapodikResponse = z.infer<typeof dapodikResponseSchema>;
export type DtksResponse = z.infer<typeof dtksResponseSchema>;
