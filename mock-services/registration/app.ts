import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { score } from './assessment.ts';
import { hashPassword, newToken, tokenHash, verifyPassword } from './auth.ts';
import type { Config } from './config.ts';
import type { Repository } from './db.ts';
import { DependencyError } from './dependency-error.ts';
import { decide, dukcapilRefusal } from './eligibility.ts';
import { ApiError, errorHandler, parseBody } from './errors.ts';
import { type Mailer, verificationMail } from './mailer.ts';
import type { ServiceMetrics } from './metrics.ts';
import { redMiddleware } from './metrics.ts';
import type { MinistryClient } from './ministry-client.ts';
import { ageOn, checkNik } from './nik.ts';
import { imageType, readPhoto, type UploadClient } from './uploads.ts';

/** The funnel stages, in order; the status endpoint reports the furthest one reached. */
export const STAGES = [
  'registered',
  'email_verified',
  'biodata_verified',
  'photo_uploaded',
  'assessment_done',
  'joined_wave',
] as const;
export type Stage = (typeof STAGES)[number];

export interface AppDeps {
  config: Config;
  repo: Repository;
  metrics: ServiceMetrics;
  ministry: MinistryClient;
  mailer: Mailer;
  uploads: UploadClient;
  /** base URL of the links in mails (known once the server listens) */
  publicUrl: () => string;
  /** serves /metrics (aggregated across cluster processes when there are several) */
  metricsText: () => Promise<{ contentType: string; body: string }>;
}

const email = z.email().max(254);
const accountBody = z
  .object({ email, password: z.string().min(8, 'expected at least 8 characters').max(128) })
  .strict();
const tokenBody = z.object({ token: z.string().min(1).max(200) }).strict();
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD');
const text = (max: number) => z.string().trim().min(1).max(max);
const biodataBody = z
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
const assessmentBody = z
  .object({
    motivation: z.string().trim().min(50, 'expected at least 50 characters').max(2000),
    answers: z.array(z.int().min(0).max(3)).length(20, 'expected exactly 20 answers'),
  })
  .strict();
const uploadUrlBody = z
  .object({ contentType: z.enum(['image/jpeg', 'image/png']), size: z.int().min(1) })
  .strict();
const waveBody = z
  .object({
    number: z.int().min(1),
    quota: z.int().min(0),
    status: z.enum(['open', 'closed']).default('open'),
    opensAt: z.iso.datetime().optional(),
    closesAt: z.iso.datetime().optional(),
  })
  .strict();
const wavePatch = z
  .object({ status: z.enum(['open', 'closed']).optional(), quota: z.int().min(0).optional() })
  .strict();
const waveNumber = z.coerce.number().int().min(1);

const asyncRoute =
  (fn: (req: Request, res: Response) => Promise<void> | void) =>
  (req: Request, res: Response, next: NextFunction) => {
    Promise.resolve(fn(req, res)).catch(next);
  };

export function stageOf(
  a: {
    email_verified_at: number | null;
    biodata_at: number | null;
    photo_at: number | null;
    assessment_at: number | null;
  },
  joined: boolean,
): Stage {
  if (joined) return 'joined_wave';
  if (a.assessment_at !== null) return 'assessment_done';
  if (a.photo_at !== null) return 'photo_uploaded';
  if (a.biodata_at !== null) return 'biodata_verified';
  if (a.email_verified_at !== null) return 'email_verified';
  return 'registered';
}

export function createApp(d: AppDeps): Express {
  const { config, repo, metrics } = d;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (config.METRICS === 'on') app.use(redMiddleware(metrics));
  app.use(express.json({ limit: '32kb' }));

  const reject = (stage: Stage, err: ApiError): ApiError => {
    metrics.rejections.inc({ stage, code: err.code });
    return err;
  };

  const dependencyFailure = (stage: Stage, err: unknown): never => {
    if (err instanceof DependencyError) {
      throw reject(
        stage,
        new ApiError(
          503,
          'dependency_unavailable',
          err.message,
          undefined,
          { dependency: err.dependency, outcome: err.outcome },
          err.retryAfterS ?? 1,
        ),
      );
    }
    throw err;
  };

  /** The account of the bearer token, or 401. */
  const account = (req: Request) => {
    const header = req.get('authorization') ?? '';
    if (!header.startsWith('Bearer '))
      throw new ApiError(401, 'unauthorized', 'expected Authorization: Bearer <session token>');
    const s = repo.session(tokenHash(header.slice(7)));
    if (!s) throw new ApiError(401, 'unauthorized', 'unknown session token');
    if (s.expires_at < Date.now()) throw new ApiError(401, 'unauthorized', 'session expired: log in again');
    const a = repo.accountById(s.account_id);
    if (!a) throw new ApiError(401, 'unauthorized', 'account no longer exists');
    return a;
  };

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', pid: process.pid });
  });
  app.get('/readyz', (_req, res) => {
    try {
      repo.db.prepare('SELECT 1').get();
      res.json({ status: 'ready' });
    } catch (err) {
      res.status(503).json({ error: { code: 'not_ready', message: `database: ${(err as Error).message}` } });
    }
  });
  app.get(
    '/metrics',
    asyncRoute(async (_req, res) => {
      const m = await d.metricsText();
      res.type(m.contentType).send(m.body);
    }),
  );

  // 1. create an account
  app.post(
    '/api/v1/accounts',
    asyncRoute(async (req, res) => {
      const body = parseBody(accountBody, req.body);
      if (repo.accountByEmail(body.email))
        throw reject(
          'registered',
          new ApiError(409, 'duplicate_email', 'an account with this email exists', 'email'),
        );
      const end = metrics.scryptDuration.startTimer({ operation: 'hash' });
      const hash = await hashPassword(body.password, config.SCRYPT_N);
      end();
      const token = newToken();
      const mail = verificationMail(d.publicUrl(), token);
      const outbox = config.EMAIL_DELIVERY === 'outbox';
      if (!outbox) {
        // Inline delivery: no mail, no account. The mail goes first and the row is written only once
        // SMTP accepted it, so a crash or a failure in between can never leave an account whose
        // registrant was told nothing (at worst a mail whose link is refused as invalid_token).
        try {
          await d.mailer.send(body.email, mail);
        } catch (err) {
          dependencyFailure('registered', err);
        }
      }
      let id: number;
      try {
        id = repo.createAccount(
          body.email,
          hash,
          tokenHash(token),
          Date.now() + config.EMAIL_TOKEN_TTL_S * 1000,
          outbox ? mail : undefined,
        );
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
          throw reject(
            'registered',
            new ApiError(409, 'duplicate_email', 'an account with this email exists', 'email'),
          );
        }
        throw err;
      }
      metrics.stageReached.inc({ stage: 'registered' });
      res
        .status(201)
        .json({ accountId: id, email: body.email, emailVerification: outbox ? 'queued' : 'sent' });
    }),
  );

  // 2. verify the email
  app.post('/api/v1/email-verifications', (req, res) => {
    const body = parseBody(tokenBody, req.body);
    const r = repo.useEmailToken(tokenHash(body.token), Date.now());
    if (r.result === 'invalid')
      throw reject(
        'email_verified',
        new ApiError(400, 'invalid_token', 'unknown verification token', 'token'),
      );
    if (r.result === 'used')
      throw reject(
        'email_verified',
        new ApiError(409, 'token_used', 'this verification link was already used', 'token'),
      );
    if (r.result === 'expired')
      throw reject(
        'email_verified',
        new ApiError(410, 'token_expired', 'this verification link has expired', 'token'),
      );
    metrics.stageReached.inc({ stage: 'email_verified' });
    res.json({ email: r.email, verified: true });
  });

  // 3. log in
  app.post(
    '/api/v1/sessions',
    asyncRoute(async (req, res) => {
      const body = parseBody(accountBody, req.body);
      const a = repo.accountByEmail(body.email);
      const end = metrics.scryptDuration.startTimer({ operation: 'verify' });
      const ok = a ? await verifyPassword(body.password, a.password_hash) : false;
      end();
      if (!a || !ok) throw new ApiError(401, 'bad_credentials', 'wrong email or password');
      if (a.email_verified_at === null)
        throw new ApiError(403, 'email_not_verified', 'verify your email first', 'email');
      const token = newToken();
      const expiresAt = Date.now() + config.SESSION_TTL_S * 1000;
      repo.createSession(tokenHash(token), a.id, expiresAt);
      res.status(201).json({ token, expiresAt: new Date(expiresAt).toISOString() });
    }),
  );

  // 4. biodata, checked with Dukcapil, Dapodik and DTKS
  app.put(
    '/api/v1/me/biodata',
    asyncRoute(async (req, res) => {
      const a = account(req);
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
          d.ministry.verifyNik({ nik: body.nik, fullName: body.fullName, dateOfBirth: body.dateOfBirth }),
        dapodik: () => d.ministry.enrolment(body.nik),
        dtks: () => d.ministry.recipient(body.nik),
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
        return dependencyFailure('biodata_verified', err);
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

  const requireStage = (ok: boolean, missing: string) => {
    if (!ok) throw new ApiError(409, 'stage_incomplete', `complete the ${missing} step first`, missing);
  };

  // 5. the KTP photo, through the service
  app.put(
    '/api/v1/me/ktp-photo',
    asyncRoute(async (req, res) => {
      const a = account(req);
      requireStage(a.biodata_at !== null, 'biodata');
      if (a.photo_at !== null)
        throw reject(
          'photo_uploaded',
          new ApiError(409, 'already_uploaded', 'the KTP photo was already uploaded'),
        );
      let photo: Awaited<ReturnType<typeof readPhoto>>;
      try {
        photo = await readPhoto(req, config.PHOTO_MAX_BYTES);
      } catch (err) {
        if (err instanceof ApiError) throw reject('photo_uploaded', err);
        throw err;
      }
      const key = `${a.id}.${photo.type === 'jpeg' ? 'jpg' : 'png'}`;
      try {
        await d.uploads.put('ktp', key, photo.bytes, `image/${photo.type}`);
      } catch (err) {
        return dependencyFailure('photo_uploaded', err);
      }
      repo.savePhoto(a.id, key, photo.bytes.length);
      metrics.stageReached.inc({ stage: 'photo_uploaded' });
      res.status(201).json({ key, size: photo.bytes.length, stage: 'photo_uploaded' });
    }),
  );

  // 5b. the KTP photo, straight to the store with a presigned URL, then confirmed
  app.post('/api/v1/me/ktp-photo/upload-url', (req, res) => {
    const a = account(req);
    requireStage(a.biodata_at !== null, 'biodata');
    const body = parseBody(uploadUrlBody, req.body);
    if (body.size > config.PHOTO_MAX_BYTES) {
      throw reject(
        'photo_uploaded',
        new ApiError(413, 'photo_too_large', `the photo exceeds ${config.PHOTO_MAX_BYTES} bytes`, 'size'),
      );
    }
    const key = `${a.id}.${body.contentType === 'image/png' ? 'png' : 'jpg'}`;
    res.status(201).json({ method: 'PUT', ...d.uploads.presignedPutUrl('ktp', key, 900), key });
  });
  app.post(
    '/api/v1/me/ktp-photo/confirm',
    asyncRoute(async (req, res) => {
      const a = account(req);
      requireStage(a.biodata_at !== null, 'biodata');
      if (a.photo_at !== null)
        throw reject(
          'photo_uploaded',
          new ApiError(409, 'already_uploaded', 'the KTP photo was already uploaded'),
        );
      let found: { key: string; size: number } | undefined;
      try {
        for (const key of [`${a.id}.jpg`, `${a.id}.png`]) {
          const obj = await d.uploads.head('ktp', key);
          if (!obj) continue;
          if (!imageType(obj.head))
            throw reject(
              'photo_uploaded',
              new ApiError(415, 'not_an_image', 'the uploaded object is not a JPEG or PNG image', 'photo'),
            );
          if (obj.size > config.PHOTO_MAX_BYTES)
            throw reject(
              'photo_uploaded',
              new ApiError(413, 'photo_too_large', 'the uploaded photo is too large', 'photo'),
            );
          found = { key, size: obj.size };
          break;
        }
      } catch (err) {
        if (err instanceof ApiError) throw err;
        return dependencyFailure('photo_uploaded', err);
      }
      if (!found)
        throw reject(
          'photo_uploaded',
          new ApiError(409, 'photo_missing', 'no photo was uploaded to the presigned URL', 'photo'),
        );
      repo.savePhoto(a.id, found.key, found.size);
      metrics.stageReached.inc({ stage: 'photo_uploaded' });
      res.status(201).json({ ...found, stage: 'photo_uploaded' });
    }),
  );

  // 6. motivation and basic-skills test
  app.post('/api/v1/me/assessment', (req, res) => {
    const a = account(req);
    requireStage(a.photo_at !== null, 'photo');
    const body = parseBody(assessmentBody, req.body);
    const result = score(body.answers);
    if (!repo.saveAssessment(a.id, result.score, result.passed)) {
      throw reject(
        'assessment_done',
        new ApiError(409, 'already_assessed', 'the test was already submitted'),
      );
    }
    metrics.stageReached.inc({ stage: 'assessment_done' });
    res.json({ ...result, stage: 'assessment_done' });
  });

  // 7. join the open wave
  app.post('/api/v1/waves/:waveNumber/join', (req, res) => {
    const a = account(req);
    const n = waveNumber.safeParse(req.params.waveNumber);
    if (!n.success) throw new ApiError(400, 'invalid_field', 'expected a wave number >= 1', 'waveNumber');
    requireStage(a.assessment_at !== null, 'assessment');
    const now = Date.now();
    const r = repo.joinWave(a.id, n.data, now);
    const refusals: Record<Exclude<typeof r, 'joined'>, ApiError> = {
      wave_not_found: new ApiError(404, 'wave_not_found', `there is no wave ${n.data}`, 'waveNumber'),
      wave_closed: new ApiError(409, 'wave_closed', `wave ${n.data} is not open for joining`, 'waveNumber'),
      wave_full: new ApiError(
        409,
        'wave_full',
        `wave ${n.data} is full; you will be considered for the next wave`,
        'waveNumber',
      ),
      already_joined: new ApiError(409, 'already_joined', 'you have already joined a wave'),
    };
    if (r !== 'joined') throw reject('joined_wave', refusals[r]);
    metrics.stageReached.inc({ stage: 'joined_wave' });
    res.status(201).json({ wave: n.data, joinedAt: new Date(now).toISOString(), stage: 'joined_wave' });
  });

  app.get('/api/v1/waves', (_req, res) => {
    res.json(
      repo.waves().map((w) => ({
        number: w.number,
        quota: w.quota,
        joined: w.joined,
        remaining: Math.max(0, w.quota - w.joined),
        status: w.status,
        opensAt: w.opens_at ? new Date(w.opens_at).toISOString() : null,
        closesAt: w.closes_at ? new Date(w.closes_at).toISOString() : null,
      })),
    );
  });

  // 8. one's own status
  app.get('/api/v1/me/status', (req, res) => {
    const a = account(req);
    const m = repo.membership(a.id);
    res.json({
      stage: stageOf(a, m !== undefined),
      email: a.email,
      emailVerified: a.email_verified_at !== null,
      eligible: a.biodata_at !== null ? true : null,
      priority: a.priority,
      wave: m ? { number: m.wave_number, joinedAt: new Date(m.joined_at).toISOString() } : null,
    });
  });

  // Admin: waves.
  const admin = (req: Request) => {
    const header = req.get('authorization') ?? '';
    if (!header.startsWith('Bearer '))
      throw new ApiError(401, 'unauthorized', 'expected Authorization: Bearer <admin token>');
    if (header.slice(7) !== config.GELOMBANG_ADMIN_TOKEN)
      throw new ApiError(403, 'forbidden', 'wrong admin token');
  };
  app.post('/admin/waves', (req, res) => {
    admin(req);
    const body = parseBody(waveBody, req.body);
    if (repo.wave(body.number))
      throw new ApiError(409, 'duplicate_wave', `wave ${body.number} exists`, 'number');
    repo.createWave({
      number: body.number,
      quota: body.quota,
      status: body.status,
      opensAt: body.opensAt ? Date.parse(body.opensAt) : undefined,
      closesAt: body.closesAt ? Date.parse(body.closesAt) : undefined,
    });
    res.status(201).json(repo.wave(body.number));
  });
  app.patch('/admin/waves/:waveNumber', (req, res) => {
    admin(req);
    const n = waveNumber.safeParse(req.params.waveNumber);
    if (!n.success) throw new ApiError(400, 'invalid_field', 'expected a wave number >= 1', 'waveNumber');
    const body = parseBody(wavePatch, req.body);
    const r = repo.updateWave(n.data, body);
    if (r === 'not_found')
      throw new ApiError(404, 'wave_not_found', `there is no wave ${n.data}`, 'waveNumber');
    if (r === 'quota_below_joined')
      throw new ApiError(
        409,
        'quota_below_joined',
        'the quota cannot go below the places already taken',
        'quota',
      );
    res.json(r);
  });

  app.use((_req, _res) => {
    throw new ApiError(404, 'not_found', 'no such endpoint');
  });
  app.use(errorHandler);
  return app;
}
