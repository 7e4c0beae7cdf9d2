import { subscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

/**
 * k6's request phases from undici's diagnostics channels: blocked (waiting for a connection),
 * connecting (a new TCP connection), sending (headers and body written), waiting (to the first
 * response byte), receiving (the body). undici publishes `request:create` synchronously inside
 * `request()`, so the record armed just before the call is the one that request gets.
 */

export interface PhaseMarks {
  created: number;
  sent: number;
  bodySent: number;
  headers: number;
  connectingMs: number;
}

let armed: PhaseMarks | undefined;
const byRequest = new WeakMap<object, PhaseMarks>();
const connectStarted = new Map<string, number>();
const connectMs = new WeakMap<Socket, number>();
let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  subscribe('undici:request:create', (m) => {
    const { request } = m as { request: object };
    if (!armed) return;
    armed.created = performance.now();
    byRequest.set(request, armed);
    armed = undefined;
  });
  subscribe('undici:client:beforeConnect', (m) => {
    const { connectParams } = m as { connectParams: { host: string; port: string | number } };
    connectStarted.set(`${connectParams.host}:${connectParams.port}`, performance.now());
  });
  subscribe('undici:client:connected', (m) => {
    const { connectParams, socket } = m as {
      connectParams: { host: string; port: string | number };
      socket: Socket;
    };
    const key = `${connectParams.host}:${connectParams.port}`;
    const t = connectStarted.get(key);
    if (t !== undefined) {
      connectMs.set(socket, performance.now() - t);
      connectStarted.delete(key);
    }
  });
  subscribe('undici:client:sendHeaders', (m) => {
    const { request, socket } = m as { request: object; socket: Socket };
    const marks = byRequest.get(request);
    if (!marks) return;
    marks.sent = performance.now();
    const c = connectMs.get(socket);
    if (c !== undefined) {
      // The first request on a new connection carries its connect time.
      marks.connectingMs = c;
      connectMs.delete(socket);
    }
  });
  subscribe('undici:request:bodySent', (m) => {
    const marks = byRequest.get((m as { request: object }).request);
    if (marks) marks.bodySent = performance.now();
  });
  subscribe('undici:request:headers', (m) => {
    const marks = byRequest.get((m as { request: object }).request);
    if (marks) marks.headers = performance.now();
  });
}

/** Call right before undici's `request()`; read the marks after the response ended. */
export function armPhases(): PhaseMarks {
  install();
  armed = { created: 0, sent: 0, bodySent: 0, headers: 0, connectingMs: 0 };
  return armed;
}

export interface Phases {
  blocked: number;
  connecting: number;
  sending: number;
  waiting: number;
  receiving: number;
}

/** Phases in ms; when a mark is missing (an error before it), the time falls in the phase before. */
export function phases(m: PhaseMarks, start: number, end: number): Phases {
  const created = m.created || start;
  const sent = m.sent || created;
  const bodySent = m.bodySent || sent;
  const headers = m.headers || Math.max(bodySent, end);
  const beforeSend = Math.max(0, sent - created);
  const connecting = Math.min(m.connectingMs, beforeSend);
  return {
    blocked: beforeSend - connecting,
    connecting,
    sending: Math.max(0, bodySent - sent),
    waiting: Math.max(0, headers - bodySent),
    receiving: Math.max(0, end - headers),
  };
}
