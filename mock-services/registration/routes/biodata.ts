import type { IRouter } from 'express';
import { z } from 'zod';
import { lineText } from '../body.ts';
import { decide, dukcapilRefusal } from '../eligibility.ts';
import { ApiError, parseBody } from '../errors.ts';
import { ageOn, checkNik } from '../nik.ts';
import { asyncRoute, type RouteContext } from './context.ts';

const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD');
const text = lineText;
export const biodataBody = z
  .object({
    fullName: text(200),
    placeOfBirth: text(100),
    dateOfBirth: date,
    gender: z.enum(['M', 'F']),
    nik: z.string().regex(/^\d{16}$/, 'expected 16 digits'),
    address: z
      .object({
        street: text(200),
        village: text(100),
        district: text(100),
        regency: text(100),
        province: text(100),
        postalCode: z.string().regex(/^\d{5}$/, 'expected 5 digits'),
      })
      .strict(),
    occupationStatus: z.enum(['laid_off', 'furloughed', 'micro_business', 'other']).default('other'),
  })
  .strict();

/** Step 4: the biodata, checked locally (NIK, age) and then with Dukcapil, Dapodik and DTKS. */
export function biodataRoutes(router: IRouter, ctx: RouteContext): void {
  const { config, repo, metrics, ministry, reject } = ctx;

  router.put(
    '/api/v1/me/biodata',
    ctx.step('biodata_verified', { json: true }),
    asyncRoute(async (req, res) => {
      const a = ctx.account(req);
      const body = parseBody(biodataBody, req.body);
      if (a.biodata_at !== null)
        throw reject('biodata_verified', new ApiError(409, 'already_verified', 'biodata already verified'));
      const nik = checkNik(body.nik, body.dateOfBirth, body.gender);
      if (!nik.ok) {
        const field =
          nik.problem === 'impossible_date' && nik.message.startsWith('dateOfBirth') ? 'dateOfBirth' : 'nik';
        throw reject(
          'biodata_verified',
          new ApiError(400, 'invalid_nik', nik.message, field, { problem: nik.problem }),
        );
      }
      if (ageOn(body.dateOfBirth, new Date()) < 18) {
        throw reject(
          'biodata_verified',
          new ApiError(422, 'too_young', 'registrants must be 18 or older', 'dateOfBirth'),
        );
      }
      if (repo.nikTaken(body.nik, a.id))
        throw reject(
          'biodata_verified',
          new ApiError(409, 'duplicate_nik', 'this NIK is registered to another account', 'nik'),
        );

      const ask = {
        dukcapil: () =>
          ministry.verifyNik({ nik: body.nik, fullName: body.fullName, dateOfBirth: body.dateOfBirth }),
        dapodik: () => ministry.enrolment(body.nik),
        dtks: () => ministry.recipient(body.nik),
      };
      let answers: [
        Awaited<ReturnType<typeof ask.dukcapil>>,
        Awaited<ReturnType<typeof ask.dapodik>>,
        Awaited<ReturnType<typeof ask.dtks>>,
      ];
      try {
        if (config.MINISTRY_CALLS === 'parallel') {
          answers = await Promise.all([ask.dukcapil(), ask.dapodik(), ask.dtks()]);
        } else {
          // 2020: one after another, and Dapodik/DTKS are not asked about a NIK Dukcapil rejects.
          const dukcapil = await ask.dukcapil();
          if (dukcapilRefusal(dukcapil)) {
            // Never asked: placeholders that decide() does not reach past the Dukcapil refusal.
            answers = [
              dukcapil,
              { nik: body.nik, enrolled: false, level: null },
              { nik: body.nik, recipient: false, programmes: [] },
            ];
          } else {
            answers = [dukcapil, await ask.dapodik(), await ask.dtks()];
          }
        }
      } catch (err) {
        return ctx.dependencyFailure('biodata_verified', err);
      }
      const [dukcapil, dapodik, dtks] = answers;
      const decision = decide({ dukcapil, dapodik, dtks }, body.occupationStatus);
      if (!decision.eligible) {
        const { code, message } = decision;
        const details = 'details' in decision ? decision.details : undefined;
        throw reject('biodata_verified', new ApiError(422, code, message, 'nik', details));
      }
      const { priority } = decision;
      let saved: boolean;
      try {
        saved = repo.saveBiodata(a.id, { ...body, priority });
      } catch (err) {
        // Another account may have claimed the NIK while the ministries were being asked.
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw reject(
            'biodata_verified',
            new ApiError(409, 'duplicate_nik', 'this NIK is registered to another account', 'nik'),
          );
        }
        throw err;
      }
      if (!saved)
        throw reject('biodata_verified', new ApiError(409, 'already_verified', 'biodata already verified'));
      metrics.stageReached.inc({ stage: 'biodata_verified' });
      res.json({
        eligible: true,
        priority,
        dtksRecipient: decision.dtksRecipient,
        stage: 'biodata_verified',
      });
    }),
  );
}
