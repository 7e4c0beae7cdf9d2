import type Database from 'better-sqlite3';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Gauge, type Registry } from 'prom-client';
import { newToken, tokenHash } from './auth.ts';
import { beforeAnswer } from './before-answer.ts';
import { ApiError } from './errors.ts';
import type { ServiceMetrics } from './metrics.ts';

/**
 * The virtual waiting room (ADMISSION_RATE > 0): sign-ups are admitted at a set rate, by all
 * processes together, in the order registrants arrived. A sign-up without a ticket gets one, with
 * its turn (admitAt) a 1/rate step after the previous ticket's, and is told to come back then
 * (429 + Retry-After). The ticket keeps its place however often the registrant comes back early.
 * The tickets live in SQLite beside the journey's tables: issuing one is one BEGIN IMMEDIATE
 * transaction, so the processes hand out one sequence of turns.
 *
 * A ticket is a 256-bit random token, stored hashed (auth.ts), good for one successful sign-up. A
 * sign-up that runs holds its ticket for LEASE_MS, so that two requests with one ticket cannot both
 * sign up; an answer other than 2xx gives it back, for the registrant's retry.
 */

type Db = Database.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS waiting_room_tickets (
  position INTEGER PRIMARY KEY,
  ticket_hash TEXT NOT NULL UNIQUE,
  issued_at INTEGER NOT NULL,
  admit_at REAL NOT NULL,
  leased_until INTEGER,
  used_at INTEGER
);
CREATE INDEX IF NOT EXISTS waiting_room_tickets_admit ON waiting_room_tickets (admit_at);
`;

/** How long after its turn a ticket still admits its registrant. */
export const TICKET_TTL_MS = 10 * 60_000;
/** How long a sign-up holds its ticket: longer than any sign-up runs (a process that dies keeps it that long). */
export const LEASE_MS = 60_000;
/** newToken(): 32 random bytes as base64url */
const TICKET = /^[A-Za-z0-9_-]{43}$/;

export interface Ticket {
  ticket: string;
  position: number;
  admitAt: number;
}

export type Entry =
  | { kind: 'admitted' }
  | { kind: 'wait'; position: number; admitAt: number }
  | { kind: 'unknown' }
  | { kind: 'used' }
  | { kind: 'expired' }
  | { kind: 'busy' };

interface Row {
  position: number;
  admit_at: number;
  leased_until: number | null;
  used_at: number | null;
}

export class WaitingRoom {
  private readonly s;
  private readonly stepMs: number;
  private issued = 0;

  constructor(
    private readonly db: Db,
    ratePerSecond: number,
    private readonly opts: { ticketTtlMs?: number; leaseMs?: number } = {},
  ) {
    if (!(ratePerSecond > 0))
      throw new Error(`waiting room: the admission rate must be above 0, got ${ratePerSecond}`);
    this.stepMs = 1000 / ratePerSecond;
    // Immediate: processes starting together never race on CREATE TABLE.
    db.transaction(() => db.exec(SCHEMA)).immediate();
    this.s = {
      last: db.prepare('SELECT position, admit_at FROM waiting_room_tickets ORDER BY position DESC LIMIT 1'),
      insert: db.prepare(
        'INSERT INTO waiting_room_tickets (ticket_hash, issued_at, admit_at) VALUES (?, ?, ?)',
      ),
      byHash: db.prepare(
        'SELECT position, admit_at, leased_until, used_at FROM waiting_room_tickets WHERE ticket_hash = ?',
      ),
      // Turns only grow with position, so the first still waiting is found on the admit_at index.
      firstWaiting: db.prepare(
        'SELECT position FROM waiting_room_tickets WHERE admit_at > ? ORDER BY admit_at LIMIT 1',
      ),
      lease: db.prepare(
        `UPDATE waiting_room_tickets SET leased_until = @until WHERE ticket_hash = @hash AND used_at IS NULL
           AND (leased_until IS NULL OR leased_until <= @now) AND admit_at <= @now AND admit_at + @ttl > @now`,
      ),
      use: db.prepare(
        'UPDATE waiting_room_tickets SET used_at = ?, leased_until = NULL WHERE ticket_hash = ? AND used_at IS NULL',
      ),
      release: db.prepare(
        'UPDATE waiting_room_tickets SET leased_until = NULL WHERE ticket_hash = ? AND used_at IS NULL',
      ),
      // The newest ticket stays: the next turn is counted from it.
      purge: db.prepare(
        `DELETE FROM waiting_room_tickets WHERE admit_at + ? < ?
           AND position < (SELECT MAX(position) FROM waiting_room_tickets)`,
      ),
    };
  }

  get ttlMs(): number {
    return this.opts.ticketTtlMs ?? TICKET_TTL_MS;
  }

  /** A new place at the end of the line. */
  issue(now = Date.now()): Ticket {
    if (++this.issued % 1000 === 0) this.s.purge.run(this.ttlMs, now);
    const ticket = newToken();
    return this.db
      .transaction((): Ticket => {
        const last = this.s.last.get() as { admit_at: number } | undefined;
        const admitAt = last ? Math.max(now, last.admit_at + this.stepMs) : now;
        const position = Number(this.s.insert.run(tokenHash(ticket), now, admitAt).lastInsertRowid);
        return { ticket, position: this.placeInLine(position, now), admitAt };
      })
      .immediate();
  }

  /** Registrants in line up to and including the one at `position` (1: next in line). */
  private placeInLine(position: number, now: number): number {
    const first = this.s.firstWaiting.get(now) as { position: number } | undefined;
    return first ? Math.max(1, position - first.position + 1) : 1;
  }

  /**
   * A registrant back with a ticket: admitted (and holding the ticket until `settle`) when its
   * turn has come, else still waiting, or refused.
   */
  enter(ticket: string, now = Date.now()): Entry {
    const hash = tokenHash(ticket);
    return this.db
      .transaction((): Entry => {
        const leased = this.s.lease.run({
          hash,
          now,
          until: now + (this.opts.leaseMs ?? LEASE_MS),
          ttl: this.ttlMs,
        });
        if (leased.changes === 1) return { kind: 'admitted' };
        const row = this.s.byHash.get(hash) as Row | undefined;
        if (!row) return { kind: 'unknown' };
        if (row.used_at !== null) return { kind: 'used' };
        if (row.admit_at > now)
          return { kind: 'wait', position: this.placeInLine(row.position, now), admitAt: row.admit_at };
        if (row.admit_at + this.ttlMs <= now) return { kind: 'expired' };
        return { kind: 'busy' };
      })
      .immediate();
  }

  /** After the admitted sign-up's answer: a success uses the ticket up, anything else gives it back. */
  settle(ticket: string, succeeded: boolean, now = Date.now()): boolean {
    const hash = tokenHash(ticket);
    return (succeeded ? this.s.use.run(now, hash) : this.s.release.run(hash)).changes === 1;
  }

  /** Registrants whose turn has not come yet. */
  queueLength(now = Date.now()): number {
    const first = this.s.firstWaiting.get(now) as { position: number } | undefined;
    if (!first) return 0;
    const last = this.s.last.get() as { position: number };
    return last.position - first.position + 1;
  }
}

const waitSeconds = (admitAt: number, now: number) => Math.max(1, Math.ceil((admitAt - now) / 1000));

function comeBackLater(ticket: string, position: number, admitAt: number, now: number): ApiError {
  const s = waitSeconds(admitAt, now);
  return new ApiError(
    429,
    'waiting_room',
    `you are number ${position} in the waiting room: come back in ${s} s with the header Waiting-Room-Ticket to sign up`,
    undefined,
    { ticket, position, admitAt: new Date(admitAt).toISOString() },
    s,
  );
}

/** The handler that guards sign-up (POST /api/v1/accounts) when ADMISSION_RATE > 0. */
export function waitingRoomGuard(
  room: WaitingRoom,
  metrics: Pick<ServiceMetrics, 'waitingRoomAdmissions'>,
): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const now = Date.now();
    const ticket = req.get('waiting-room-ticket');
    const admit = (held: string) => {
      beforeAnswer(res, ({ status }) => {
        const succeeded = status >= 200 && status < 300;
        if (room.settle(held, succeeded) && succeeded) metrics.waitingRoomAdmissions.inc();
      });
      next();
    };
    if (ticket === undefined) {
      const t = room.issue(now);
      // Nobody in line: the sign-up runs now. A room that made everyone come back once, however
      // empty, would add a second's wait and a request to every sign-up of a quiet hour.
      if (t.admitAt <= now && room.enter(t.ticket, now).kind === 'admitted') {
        admit(t.ticket);
        return;
      }
      next(comeBackLater(t.ticket, t.position, t.admitAt, now));
      return;
    }
    if (!TICKET.test(ticket)) {
      next(
        new ApiError(
          400,
          'invalid_field',
          'Waiting-Room-Ticket: expected the ticket of a waiting_room answer (43 characters A-Z a-z 0-9 - _)',
          'waiting-room-ticket',
        ),
      );
      return;
    }
    const entry = room.enter(ticket, now);
    switch (entry.kind) {
      case 'admitted':
        admit(ticket);
        return;
      case 'wait':
        next(comeBackLater(ticket, entry.position, entry.admitAt, now));
        return;
      case 'unknown':
        next(
          new ApiError(
            400,
            'invalid_field',
            'Waiting-Room-Ticket: no such ticket: sign up without one to get a place in the waiting room',
            'waiting-room-ticket',
          ),
        );
        return;
      case 'used':
        next(
          new ApiError(
            410,
            'ticket_used',
            'this waiting-room ticket was used for a sign-up already',
            'waiting-room-ticket',
          ),
        );
        return;
      case 'expired':
        next(
          new ApiError(
            410,
            'ticket_expired',
            `this waiting-room ticket expired ${Math.round(room.ttlMs / 1000)} s after its turn: sign up without it to get a new place`,
            'waiting-room-ticket',
          ),
        );
        return;
      case 'busy':
        next(
          new ApiError(
            409,
            'request_in_progress',
            'a sign-up with this ticket is running: retry in a second',
            'waiting-room-ticket',
            undefined,
            1,
          ),
        );
        return;
    }
  };
}

/** The queue's length for Prometheus; every process reads one table, so the cluster takes one value. */
export function waitingRoomGauge(room: WaitingRoom, registry: Registry): Gauge {
  return new Gauge({
    name: 'gelombang_waiting_room_queue_length',
    help: 'Registrants holding a waiting-room ticket whose turn has not come yet (ADMISSION_RATE>0)',
    registers: [registry],
    aggregator: 'max',
    collect() {
      this.set(room.queueLength());
    },
  });
}
