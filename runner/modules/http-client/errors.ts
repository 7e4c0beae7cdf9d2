/**
 * Why a request failed, in the client's terms (Node's errno codes where there is one), and the
 * k6 error code and message each maps to (https://grafana.com/docs/k6/latest/javascript-api/error-codes/).
 */

export type ClientErrorCode =
  | 'REQUEST_TIMEOUT'
  | 'DIAL_TIMEOUT'
  | 'SOCKET_CLOSED'
  | 'PARSE_ERROR'
  | 'INVALID_HEADER'
  | 'UNSUPPORTED_PROTOCOL'
  | 'INVALID_URL'
  | 'INVALID_BODY'
  | 'ECONNREFUSED'
  | 'ECONNRESET'
  | 'EPIPE'
  | 'ENOTFOUND'
  | 'TLS_UNKNOWN_AUTHORITY'
  | 'TLS_HOSTNAME'
  | 'TLS'
  | 'OTHER';

export class ClientError extends Error {
  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const UNKNOWN_AUTHORITY = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** A socket's 'error' in the client's terms. */
export function fromSocketError(err: Error): ClientError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ENOTFOUND':
      return new ClientError(code, err.message);
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return new ClientError('TLS_HOSTNAME', err.message);
  }
  if (UNKNOWN_AUTHORITY.has(code)) return new ClientError('TLS_UNKNOWN_AUTHORITY', err.message);
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return new ClientError('TLS', err.message);
  return new ClientError('OTHER', err.message);
}

export interface K6Error {
  code: number;
  /** k6's words, which k6 also puts in the samples' `error` tag */
  message: string;
  /** what Node said, added to the Response's `error` after k6's words */
  detail?: string;
}

export function k6Error(e: ClientError): K6Error {
  switch (e.code) {
    case 'REQUEST_TIMEOUT':
      return { code: 1050, message: 'request timeout' };
    case 'INVALID_URL':
      return { code: 1020, message: e.message };
    case 'DIAL_TIMEOUT':
      return { code: 1211, message: 'dial: i/o timeout' };
    case 'ECONNREFUSED':
      return { code: 1212, message: 'dial: connection refused', detail: e.message };
    case 'ECONNRESET':
    case 'SOCKET_CLOSED':
      return { code: 1220, message: 'read: connection reset by peer', detail: e.message };
    case 'ENOTFOUND':
      return { code: 1101, message: 'lookup: no such host', detail: e.message };
    case 'EPIPE':
      return { code: 1201, message: 'write: broken pipe' };
    case 'TLS_UNKNOWN_AUTHORITY':
      return { code: 1310, message: 'x509: certificate signed by unknown authority', detail: e.message };
    case 'TLS_HOSTNAME':
      return { code: 1311, message: 'x509: certificate is not valid for this host', detail: e.message };
    case 'TLS':
      return { code: 1300, message: `tls: ${e.message}` };
    default:
      return { code: 1000, message: e.message };
  }
}
