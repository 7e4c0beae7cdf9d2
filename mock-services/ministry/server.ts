import express, { type Express, type Request, type Response } from 'express';
import { type Capacity, capacitySchema } from '../../model/capacity.ts';
import { DEFAULT_SHARES, findByNik, type PopulationShares } from '../../model/population.ts';
import { createMockApp } from '../admin.ts';
import { createStationMetrics } from '../station/metrics.ts';
import { StationRuntime, sendError, stationMiddleware } from '../station/station.ts';
import {
  type DapodikResponse,
  type DtksResponse,
  type DukcapilResponse,
  dukcapilRequestSchema,
  MINISTRIES,
  MINISTRY_PATHS,
  type Ministry,
} from './api.ts';

/**
 * Dukcapil, Dapodik and DTKS on one server, each behind its own station so that each saturates on
 * its own, answering from the deterministic synthetic population.
 */

export interface MinistryOptions {
  capacity: Pick<Capacity, Ministry>;
  adminToken: string;
  seed: number;
  shares?: PopulationShares;
  log?: (line: string) => void;
  random?: () => number;
}

const NIK = /^\d{16}$/;

export function createMinistryApp(opts: MinistryOptions): {
  app: Express;
  stations: Record<Ministry, StationRuntime>;
} {
  const metrics = createStationMetrics();
  const shares = opts.shares ?? DEFAULT_SHARES;
  // Only this mock's slice: the admin schema is strict, and a full capacity file has the others too.
  let capacity: Pick<Capacity, Ministry> = {
    dukcapil: opts.capacity.dukcapil,
    dapodik: opts.capacity.dapodik,
    dtks: opts.capacity.dtks,
  };
  const stations = Object.fromEntries(
    MINISTRIES.map((m) => [m, new StationRuntime(m, capacity[m], metrics, opts.random)]),
  ) as Record<Ministry, StationRuntime>;

  const { app, finish } = createMockApp(metrics.registry, {
    token: opts.adminToken,
    schema: capacitySchema.pick({ dukcapil: true, dapodik: true, dtks: true }),
    get: () => capacity,
    apply: (next) => {
      capacity = next;
      for (const m of MINISTRIES) stations[m].reconfigure(next[m]);
    },
    log: opts.log,
  });

  const nikParam = (req: Request, res: Response): string | undefined => {
    const nik = String(req.params.nik ?? '');
    if (!NIK.test(nik)) {
      sendError(res, 400, 'invalid_field', 'expected a NIK of 16 digits', 'nik');
      return undefined;
    }
    return nik;
  };

  app.post(
    MINISTRY_PATHS.dukcapil,
    express.json({ limit: '8kb' }),
    stationMiddleware(stations.dukcapil),
    (req, res) => {
      const parsed = dukcapilRequestSchema.safeParse(req.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        return sendError(
          res,
          400,
          'invalid_field',
          issue?.message ?? 'invalid body',
          issue?.path.join('.') || undefined,
        );
      }
      const { nik, fullName, dateOfBirth } = parsed.data;
      const person = findByNik(opts.seed, nik, shares);
      const known = person?.inDukcapil === true;
      const body: DukcapilResponse = {
        nik,
        found: known,
        match: {
          fullName: known && normaliseName(person.registeredName) === normaliseName(fullName),
          dateOfBirth: known && person.dateOfBirth === dateOfBirth,
        },
        citizen: known && person.citizen,
      };
      res.json(body);
    },
  );

  app.get(MINISTRY_PATHS.dapodik, stationMiddleware(stations.dapodik), (req, res) => {
    const nik = nikParam(req, res);
    if (!nik) return;
    const person = findByNik(opts.seed, nik, shares);
    const body: DapodikResponse = {
      nik,
      enrolled: person?.enrolledInEducation === true,
      level: person?.enrolledInEducation ? person.educationLevel : null,
    };
    res.json(body);
  });

  app.get(MINISTRY_PATHS.dtks, stationMiddleware(stations.dtks), (req, res) => {
    const nik = nikParam(req, res);
    if (!nik) return;
    const person = findByNik(opts.seed, nik, shares);
    const body: DtksResponse = {
      nik,
      recipient: person?.dtksRecipient === true,
      programmes: person?.dtksProgrammes ?? [],
    };
    res.json(body);
  });

  finish();
  return { app, stations };
}

/** Registries compare names case- and space-insensitively; spelling variants still mismatch. */
function normaliseName(name: string): string {
  return name.trim().replace(/\s+/g, ' ').toUpperCase();
}
