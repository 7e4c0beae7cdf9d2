import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';

/**
 * Argument parsers the commands share, each refusing bad input with the flag named and what was
 * expected (commander prints the message and exits).
 */

export function numberIn(name: string, min: number, max: number, exclusiveMin = false) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || (exclusiveMin ? n <= min : n < min) || n > max) {
      throw new InvalidArgumentError(
        `${name}: expected a number ${exclusiveMin ? '>' : '>='} ${min} and <= ${max}, got '${v}'`,
      );
    }
    return n;
  };
}

/** A repeatable KEY=VALUE flag, collected into one record. */
export function keyValue(flag: string) {
  return (v: string, previous: Record<string, string>): Record<string, string> => {
    const i = v.indexOf('=');
    if (i <= 0) throw new InvalidArgumentError(`${flag}: expected KEY=VALUE, got '${v}'`);
    return { ...previous, [v.slice(0, i)]: v.slice(i + 1) };
  };
}

export function existingFile(flag: string) {
  return (v: string): string => {
    if (!existsSync(v)) throw new InvalidArgumentError(`${flag}: no such file '${v}'`);
    return resolve(v);
  };
}

/** An http(s) URL, without its trailing slash. */
export function httpUrl(flag: string) {
  return (v: string): string => {
    try {
      const u = new URL(v);
      if (u.protocol === 'http:' || u.protocol === 'https:') return v.replace(/\/$/, '');
    } catch {
      // not a URL at all
    }
    throw new InvalidArgumentError(`${flag}: expected an http(s) URL, got '${v}'`);
  };
}

/** The name of a run directory: undefined when it is one, else the message. */
export function runIdProblem(id: string): string | undefined {
  return /^[A-Za-z0-9._-]{1,100}$/.test(id)
    ? undefined
    : `--run-id: expected letters, digits, '.', '_' or '-', got '${id}'`;
}
