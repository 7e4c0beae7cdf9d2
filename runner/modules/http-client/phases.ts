import type { Connection, Exchange } from './connection.ts';

/**
 * k6's request phases (ms) from the marks a request left: blocked (until a connection is there,
 * DNS included, as Go's httptrace counts it), connecting (TCP), tls_handshaking, sending, waiting
 * (to the first response byte), receiving; duration = sending + waiting + receiving. A phase a
 * failure interrupted runs to the end; the phases after it are 0.
 */

export interface Phases {
  blocked: number;
  connecting: number;
  tlsHandshaking: number;
  sending: number;
  waiting: number;
  receiving: number;
  duration: number;
}

const span = (from: number, to: number) => (to > from ? to - from : 0);

/**
 * @param t0 when the request started
 * @param opened the connection when this request opened it (its set-up counts), else undefined
 */
export function phases(t0: number, opened: Connection | undefined, ex: Exchange): Phases {
  const end = ex.end;
  const at = (t: number) => (t === 0 ? end : t);
  const sendStart = at(ex.sendStart);
  let blocked: number;
  let connecting = 0;
  let tlsHandshaking = 0;
  if (opened !== undefined) {
    const connected = at(opened.connected);
    const secured = opened.secure ? at(opened.secured) : connected;
    connecting = span(opened.connectStart, connected);
    tlsHandshaking = span(connected, secured);
    blocked = span(t0, opened.connectStart) + span(secured, sendStart);
  } else blocked = span(t0, sendStart);
  const sent = at(ex.sent);
  const firstByte = at(ex.firstByte);
  const sending = span(sendStart, sent);
  const waiting = span(sent, firstByte);
  const receiving = span(firstByte, end);
  return {
    blocked,
    connecting,
    tlsHandshaking,
    sending,
    waiting,
    receiving,
    duration: sending + waiting + receiving,
  };
}
