import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_PORTS, LOOPBACK } from '../../mock-services/ports.ts';
import { FaultScheduleError, parseChaos } from '../../model/faults.ts';
import {
  parseServiceKnobs,
  SERVICE_PROFILES,
  SERVICE_SWITCHES,
  ServiceKnobError,
  serviceKnobsSchema,
  serviceProfileKnobs,
} from '../../model/service-design.ts';
import { SUMMARY_TIME_UNITS, type SummaryTimeUnit, trendStatProblem } from '../../runner/index.ts';
import { DurationError, parseGoDuration } from '../../runner/options/duration.ts';

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

/** A whole number in [min, max]. */
export function wholeNumberIn(name: string, min: number, max = Number.POSITIVE_INFINITY) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        `${name}: expected a whole number >= ${min}${max < Number.POSITIVE_INFINITY ? ` and <= ${max}` : ''}, got '${v}'`,
      );
    return n;
  };
}

/** k6's --summary-trend-stats: a comma-separated list of avg, min, med, max, count and p(N). */
export function trendStats(name: string) {
  return (v: string): string[] => {
    const stats = v.split(',');
    for (const stat of stats) {
      const problem = trendStatProblem(stat);
      if (problem) throw new InvalidArgumentError(`${name}: ${problem}`);
    }
    return stats;
  };
}

/** k6's --summary-time-unit, in k6's words when it is not one. */
export function timeUnit(name: string) {
  return (v: string): SummaryTimeUnit => {
    if ((SUMMARY_TIME_UNITS as readonly string[]).includes(v)) return v as SummaryTimeUnit;
    throw new InvalidArgumentError(`${name}: invalid summary time unit '${v}', use 's', 'ms' or 'us'`);
  };
}

/** A share in [0, 1) or (0, 1): a confidence, an effect. */
export function share(name: string, o: { exclusiveLow: boolean; example: string }) {
  return (v: string): number => {
    const n = Number(v);
    const low = o.exclusiveLow ? n > 0 : n >= 0;
    if (v.trim() === '' || !Number.isFinite(n) || !low || n >= 1)
      throw new InvalidArgumentError(
        `${name}: expected a number ${o.exclusiveLow ? 'between 0 and 1 (exclusive)' : 'from 0 up to (not including) 1'}, e.g. ${o.example}, got '${v}'`,
      );
    return n;
  };
}

/** A TCP port to listen on; 0 takes any free one. */
export function port(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535)
      throw new InvalidArgumentError(
        `${flag}: expected a TCP port number 1-65535 (0: any free port), got '${v}'`,
      );
    return n;
  };
}

/** A duration as k6's CLI flags read it (Go's grammar: 30s, 1m30s, 1.5h), not negative; kept as written. */
export function duration(flag: string) {
  return (v: string): string => {
    let ms: number;
    try {
      ms = parseGoDuration(v, flag);
    } catch (err) {
      if (err instanceof DurationError) throw new InvalidArgumentError(err.message);
      throw err;
    }
    if (ms < 0) throw new InvalidArgumentError(`${flag}: expected a duration >= 0, got '${v}'`);
    return v;
  };
}

/** An instant: ISO 8601 with a zone (2026-11-23T10:00:00Z) or seconds since the epoch; in seconds. */
export function instant(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() !== '' && Number.isFinite(n) && n > 1e9) return n;
    const t = Date.parse(v);
    if (!Number.isNaN(t) && /^\d{4}-\d{2}-\d{2}T.*(Z|[+-]\d{2}:?\d{2})$/.test(v)) return t / 1000;
    throw new InvalidArgumentError(
      `${flag}: expected an ISO 8601 time with a zone (2026-11-23T10:00:00Z) or seconds since the epoch, got '${v}'`,
    );
  };
}

/** FROM-TO in profile minutes, FROM < TO. */
export function profileWindow(flag: string) {
  return (v: string): [number, number] => {
    const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(v);
    if (!m || Number(m[1]) >= Number(m[2]))
      throw new InvalidArgumentError(
        `${flag}: expected FROM-TO in profile minutes with FROM < TO, e.g. 0-120, got '${v}'`,
      );
    return [Number(m[1]), Number(m[2])];
  };
}

/**
 * The replay `gelombang rehearse` runs when not told otherwise: a thousandth of the 2020 population,
 * 90 times faster (21 hours in 14 minutes). `gelombang plan` checks its capacity file at it.
 */
export const REHEARSAL_DEFAULTS = { scale: 0.001, compress: 90 } as const;

export interface RehearsalAt {
  scale: number;
  compress: number;
}

/** SCALExCOMPRESS (a rehearsal's --scale and --compress), or 'none'. */
export function rehearsalAt(flag: string) {
  return (v: string): RehearsalAt | null => {
    if (v.trim() === 'none') return null;
    const m = /^(\d*\.?\d+(?:e-?\d+)?)x(\d*\.?\d+)$/i.exec(v.trim());
    const scale = Number(m?.[1]);
    const compress = Number(m?.[2]);
    if (!m || !(scale > 0 && scale <= 1) || !(compress >= 1 && compress <= 1e6))
      throw new InvalidArgumentError(
        `${flag}: expected SCALExCOMPRESS, a rehearsal's --scale in (0, 1] and --compress in [1, 1000000], e.g. 0.001x90, or 'none'; got '${v}'`,
      );
    if (scale * compress > 1)
      throw new InvalidArgumentError(
        `${flag}: scale x compress is the rehearsal's share of the day's arrival rate, at most 1; got ${scale} x ${compress} = ${Number((scale * compress).toPrecision(3))}`,
      );
    return { scale, compress };
  };
}

/** A value that must not be empty (a token, a version). */
export function nonEmpty(flag: string) {
  return (v: string): string => {
    if (v.trim() === '') throw new InvalidArgumentError(`${flag}: expected a value, got ''`);
    return v;
  };
}

/**
 * How a KEY=VALUE flag names its keys: anything but '=' (plain); an environment variable name
 * (env); k6's own -e (a name alone sets it to '', as k6 does) and --tag rules, in k6's words.
 */
type KeyValueStyle = 'plain' | 'env' | 'k6-env' | 'k6-tag';
const ENV_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A repeatable KEY=VALUE flag, collected into one record. */
export function keyValue(flag: string, style: KeyValueStyle = 'plain') {
  return (v: string, previous: Record<string, string>): Record<string, string> => {
    const i = v.indexOf('=');
    const [key, value] = i < 0 ? [v, ''] : [v.slice(0, i), v.slice(i + 1)];
    if (style === 'k6-env') {
      if (!ENV_NAME.test(key)) throw new InvalidArgumentError(`invalid environment variable name '${key}'`);
    } else if (style === 'k6-tag') {
      if (v === '') throw new InvalidArgumentError('invalid tag, empty string');
      if (key === '') throw new InvalidArgumentError('invalid tag, empty name');
      if (i < 0 || value === '') throw new InvalidArgumentError('invalid tag, empty value');
    } else if (i <= 0) {
      throw new InvalidArgumentError(`${flag}: expected KEY=VALUE, got '${v}'`);
    } else if (style === 'env' && !ENV_NAME.test(key)) {
      throw new InvalidArgumentError(
        `${flag}: expected a variable name (letters, digits and '_', not a digit first) before '=', got '${key}'`,
      );
    }
    return { ...previous, [key]: value };
  };
}

/** `--chaos kill-service@MINUTE`, repeatable, each checked as it is given. */
export function chaosOption(): Option {
  return new Option(
    '--chaos <kill-service@MINUTE>',
    'kill the registration service (SIGKILL, then restart) at this profile minute (repeatable)',
  )
    .argParser((v: string, previous: string[]) => {
      try {
        parseChaos(v);
      } catch (err) {
        if (err instanceof FaultScheduleError) throw new InvalidArgumentError(err.message);
        throw err;
      }
      return [...previous, v];
    })
    .default([] as string[]);
}

export function existingFile(flag: string) {
  return (v: string): string => {
    if (!existsSync(v)) throw new InvalidArgumentError(`${flag}: no such file '${v}'`);
    if (statSync(v).isDirectory())
      throw new InvalidArgumentError(`${flag}: '${v}' is a directory, expected a file`);
    return resolve(v);
  };
}

/** A k6 script to run: a .ts or .js file that is there. */
export function k6Script(name: string) {
  return (v: string): string => {
    existingFile(name)(v);
    if (!/\.[cm]?[jt]s$/.test(v))
      throw new InvalidArgumentError(`${name}: expected a .ts or .js k6 script, got '${v}'`);
    return v;
  };
}

/** Why nothing can be written at `path` (made with its missing parents), or undefined. */
function unwritable(path: string, what: 'directory' | 'file'): string | undefined {
  if (existsSync(path)) {
    const isDir = statSync(path).isDirectory();
    if (what === 'directory' && !isDir) return `'${path}' is a file, expected a directory`;
    if (what === 'file' && isDir) return `'${path}' is a directory, expected a file`;
    try {
      accessSync(path, constants.W_OK);
      return undefined;
    } catch {
      return `'${path}' is not writable`;
    }
  }
  // A file is written into a directory that exists; a directory is made with its parents.
  let up = dirname(resolve(path));
  if (what === 'directory') while (!existsSync(up) && dirname(up) !== up) up = dirname(up);
  if (!existsSync(up)) return `no directory '${up}' to write '${path}' in`;
  if (!statSync(up).isDirectory()) return `'${up}' is a file, so '${path}' cannot be made`;
  try {
    accessSync(up, constants.W_OK);
    return undefined;
  } catch {
    return `'${up}' is not writable, so '${path}' cannot be made`;
  }
}

/** A directory to write into: existing, or one that can be made. */
export function outputDir(flag: string) {
  return (v: string): string => {
    const problem = unwritable(v, 'directory');
    if (problem) throw new InvalidArgumentError(`${flag}: ${problem}`);
    return v;
  };
}

/** A file to write: not a directory, in a directory that exists. */
export function outputFile(flag: string) {
  return (v: string): string => {
    const problem = unwritable(v, 'file');
    if (problem) throw new InvalidArgumentError(`${flag}: ${problem}`);
    return v;
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

/** k6's outputs the runner has: -o json=FILE, -o prometheus[=HOST:PORT]. */
export type K6Output = { json: string } | { prometheus: { host: string; port: number } };

/** -o json=FILE's file, checked as any output file; undefined when `v` is not json=FILE. */
const jsonFile = (flag: string, v: string): string | undefined =>
  v.startsWith('json=') && v.length > 5 ? outputFile(`${flag} json`)(v.slice(5)) : undefined;

export function k6Output(flag: string) {
  return (v: string, previous: K6Output[]): K6Output[] => {
    const json = jsonFile(flag, v);
    if (json !== undefined) return [...previous, { json }];
    if (v === 'prometheus' || v.startsWith('prometheus=')) {
      const addr = v === 'prometheus' ? `${LOOPBACK}:${DEFAULT_PORTS.runnerMetrics}` : v.slice(11);
      const i = addr.lastIndexOf(':');
      const n = Number(addr.slice(i + 1));
      if (i <= 0 || addr.slice(i + 1) === '' || !Number.isInteger(n) || n < 0 || n > 65535)
        throw new InvalidArgumentError(`${flag} prometheus: expected HOST:PORT, got '${addr}'`);
      return [...previous, { prometheus: { host: addr.slice(0, i), port: n } }];
    }
    throw new InvalidArgumentError(`${flag}: expected json=FILE or prometheus[=HOST:PORT], got '${v}'`);
  };
}

/** rehearse's -o: json=FILE only (its Prometheus is --prometheus). */
export function jsonOutput(flag: string) {
  return (v: string): string => {
    const json = jsonFile(flag, v);
    if (json !== undefined) return json;
    throw new InvalidArgumentError(
      `${flag}: expected json=FILE (a rehearsal's Prometheus is --prometheus), got '${v}'`,
    );
  };
}

const KNOBS = Object.keys(serviceKnobsSchema.shape);

/** The knob meant by a misspelt name: the same letters, or one or two edits away. */
function nearestKnob(name: string): string | undefined {
  const plain = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]/g, '');
  const distance = (a: string, b: string) => {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const next = [i];
      for (let j = 1; j <= b.length; j++)
        next[j] = Math.min(
          (row[j] as number) + 1,
          (next[j - 1] as number) + 1,
          (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
        );
      row = next;
    }
    return row[b.length] as number;
  };
  return (
    KNOBS.find((k) => plain(k) === plain(name)) ?? KNOBS.find((k) => distance(k, name.toUpperCase()) <= 2)
  );
}

/**
 * Why these registration service knobs (a profile's, then --knob's) would not configure it, or
 * undefined: an unknown name (the service ignores it, so a run would be recorded with a knob that
 * never applied) or a value the service refuses. The knobs are model/service-design.ts's.
 */
export function knobsProblem(knobs: Record<string, string>, flag: string): string | undefined {
  for (const name of Object.keys(knobs)) {
    if (KNOBS.includes(name)) continue;
    const near = nearestKnob(name);
    return `${flag} ${name}: not a knob of the registration service${near ? ` (did you mean ${near}?)` : ''}; the knobs are ${KNOBS.join(', ')}`;
  }
  try {
    parseServiceKnobs(knobs, flag);
    return undefined;
  } catch (err) {
    if (err instanceof ServiceKnobError) return err.message;
    throw err;
  }
}

/**
 * --service-profile: the registration service's design, one of model/service-design.ts's profiles,
 * optionally with switches added (`2020+waiting-room`).
 */
export function serviceProfileOption(): Option {
  return new Option(
    '--service-profile <name>',
    `the registration service's design: ${Object.keys(SERVICE_PROFILES).join(', ')}, optionally +switch (${Object.keys(SERVICE_SWITCHES).join(', ')})`,
  )
    .argParser((v: string) => {
      try {
        serviceProfileKnobs(v);
      } catch (err) {
        if (err instanceof ServiceKnobError) throw new InvalidArgumentError(err.message);
        throw err;
      }
      return v;
    })
    .default('2020');
}

/** --calibration of the commands that simulate: the service's costs and the fitted stations. */
export function calibrationOption(): Option {
  return new Option(
    '--calibration <file>',
    'costs of the service and fitted stations (default simulator/calibration.default.json)',
  ).argParser(existingFile('--calibration'));
}
