import { format, inspect } from 'node:util';

/**
 * Personal data kept out of logs: a NIK shows its region code and its last four digits
 * (3201********0001), an email its first character and its domain (e***@example.com). `redact`
 * masks every NIK- or email-shaped run in a line, whatever printed it (an error message quoting
 * a request, a URL of a mailbox), so a log line needs no care at the place it is written. It errs
 * on the side of masking: any run of exactly 16 digits is taken for a NIK.
 */

export function maskNik(nik: string): string {
  return nik.length === 16 ? `${nik.slice(0, 4)}********${nik.slice(12)}` : '*'.repeat(nik.length);
}

export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  return `${email[0]}***${email.slice(at)}`;
}

/** an address's local part, without '/' so that a path before it is not taken for one */
const LOCAL = "[A-Za-z0-9.!#$&'*+=?^_`{|}~-]+";
const DOMAIN = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*';
/** `%40` too: an address inside a URL (a mailbox path) is percent-encoded. */
const EMAIL = new RegExp(`(${LOCAL})(@|%40)(${DOMAIN})`, 'gi');
const NIK = /(?<!\d)\d{16}(?!\d)/g;

export function redact(text: string): string {
  return text
    .replace(EMAIL, (_m, local: string, at: string, domain: string) => `${local[0]}***${at}${domain}`)
    .replace(NIK, maskNik);
}

/** util.format's output (errors with their stack) with personal data masked. */
export function redactFormat(...args: unknown[]): string {
  return redact(format(...args.map((a) => (a instanceof Error ? inspect(a) : a))));
}

/** A log line on stdout / stderr, masked. The services print through these, never console directly. */
export const log = {
  info: (...args: unknown[]): void => {
    process.stdout.write(`${redactFormat(...args)}\n`);
  },
  error: (...args: unknown[]): void => {
    process.stderr.write(`${redactFormat(...args)}\n`);
  },
};

/**
 * Node prints an uncaught error (its message may quote a request) before the process dies: print
 * it masked instead, and die as Node would (exit code 1; 7 would mean the handler itself failed).
 */
export function maskCrashes(service: string): void {
  process.on('uncaughtException', (err) => {
    try {
      log.error(`${service}: uncaught error:`, err);
    } finally {
      process.exit(1);
    }
  });
}
