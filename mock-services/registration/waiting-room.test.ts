import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDb } from './db.ts';
import { LEASE_MS, TICKET_TTL_MS, WaitingRoom } from './waiting-room.ts';

/**
 * The waiting room against a real SQLite file, with two handles on it standing for two processes:
 * tickets come in one order with turns 1/rate apart whichever process issues them, and a ticket
 * keeps its place, admits once, and expires.
 */

let dir: string;
let handles: Database.Database[];
let a: WaitingRoom;
let b: WaitingRoom;
const RATE = 4; // a turn every 250 ms

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'gelombang-room-'));
  const path = join(dir, 'registration.db');
  handles = [openDb(path, 'NORMAL'), openDb(path, 'NORMAL')];
  a = new WaitingRoom(handles[0] as Database.Database, RATE);
  b = new WaitingRoom(handles[1] as Database.Database, RATE);
});

afterEach(() => {
  for (const h of handles) h.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('issuing tickets across processes', () => {
  it('gives turns 1/rate apart in arrival order, positions counting up, whichever process issues', () => {
    const t0 = 1_000_000;
    const tickets = Array.from({ length: 10 }, (_, i) => (i % 2 ? b : a).issue(t0));
    expect(tickets.map((t) => t.admitAt)).toEqual(tickets.map((_, i) => t0 + i * 250));
    // The first ticket's turn is now: it is not waiting, and the next in line is number 1.
    expect(tickets.map((t) => t.position)).toEqual([1, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(new Set(tickets.map((t) => t.ticket)).size).toBe(10);
    expect(tickets.every((t) => /^[A-Za-z0-9_-]{43}$/.test(t.ticket))).toBe(true);
    expect(a.queueLength(t0)).toBe(9);
    expect(b.queueLength(t0 + 1000)).toBe(5);
  });

  it('a quiet room admits at once, and the next turn counts from now, not from an old ticket', () => {
    const first = a.issue(0);
    expect(first.admitAt).toBe(0);
    const later = b.issue(60_000);
    expect(later.admitAt).toBe(60_000);
    expect(a.issue(60_000).admitAt).toBe(60_250);
  });

  it('stores tickets hashed', () => {
    const t = a.issue(0);
    const rows = (handles[1] as Database.Database)
      .prepare('SELECT ticket_hash FROM waiting_room_tickets')
      .all() as Array<{ ticket_hash: string }>;
    expect(rows).toHaveLength(1);
    expect(rows[0]?.ticket_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]?.ticket_hash).not.toContain(t.ticket);
  });

  it('refuses a rate that admits nobody', () => {
    expect(() => new WaitingRoom(handles[0] as Database.Database, 0)).toThrow(/admission rate/);
  });
});

describe('coming back with a ticket', () => {
  it('keeps its place while early, then admits once; a second request meanwhile is told it is running', () => {
    const t0 = 5_000_000;
    a.issue(t0);
    const mine = b.issue(t0);
    a.issue(t0);
    expect(a.enter(mine.ticket, t0 + 100)).toEqual({ kind: 'wait', position: 1, admitAt: t0 + 250 });
    expect(b.enter(mine.ticket, t0 + 249)).toMatchObject({ kind: 'wait', admitAt: t0 + 250 });
    expect(a.enter(mine.ticket, t0 + 250)).toEqual({ kind: 'admitted' });
    expect(b.enter(mine.ticket, t0 + 251)).toEqual({ kind: 'busy' });
    expect(b.settle(mine.ticket, true, t0 + 300)).toBe(true);
    expect(a.enter(mine.ticket, t0 + 400)).toEqual({ kind: 'used' });
  });

  it('a failed sign-up gives the ticket back for the retry', () => {
    const t = a.issue(0);
    expect(a.enter(t.ticket, 0)).toEqual({ kind: 'admitted' });
    expect(a.settle(t.ticket, false)).toBe(true);
    expect(b.enter(t.ticket, 10)).toEqual({ kind: 'admitted' });
  });

  it('a lease left by a process that died lapses', () => {
    const t = a.issue(0);
    expect(a.enter(t.ticket, 0).kind).toBe('admitted');
    expect(b.enter(t.ticket, LEASE_MS - 1).kind).toBe('busy');
    expect(b.enter(t.ticket, LEASE_MS).kind).toBe('admitted');
  });

  it('expires its ticket-lifetime after its turn; an unknown ticket is unknown', () => {
    const t = a.issue(0);
    expect(b.enter(t.ticket, TICKET_TTL_MS - 1).kind).toBe('admitted');
    b.settle(t.ticket, false);
    expect(b.enter(t.ticket, TICKET_TTL_MS).kind).toBe('expired');
    expect(a.enter('A'.repeat(43), 0).kind).toBe('unknown');
  });
});
