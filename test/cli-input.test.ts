import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { makeRecord } from '../reports/fixtures/make-record.ts';
import { writeRunRecord } from '../reports/record.ts';
import { bundleCommand } from '../scripts/commands/bundle.ts';
import { compareCommand } from '../scripts/commands/compare.ts';
import { demoCommand } from '../scripts/commands/demo.ts';
import { recordCommand } from '../scripts/commands/record.ts';
import { rehearseCommand } from '../scripts/commands/rehearse.ts';
import { reportCommand } from '../scripts/commands/report.ts';
import { runCommand } from '../scripts/commands/run.ts';
import { stackCommand } from '../scripts/commands/stack.ts';
import { invoke, snapshot } from './support/in-process-cli.ts';

/**
 * Bad input on every command, class by class: each refused with the exit code the command
 * documents and a message naming the flag or the file, without a stack trace, and before
 * anything starts or is written. The commands run in this process, as the CLI parses them;
 * starting a child process (a service, Prometheus), running a test or querying Prometheus fails
 * the case, so a check that came too late cannot pass.
 */

class Started extends Error {}

vi.mock('node:child_process', async (original) => ({
  ...(await original<typeof import('node:child_process')>()),
  spawn: () => {
    throw new Started('a child process was started');
  },
}));
vi.mock('../runner/index.ts', async (original) => ({
  ...(await original<typeof import('../runner/index.ts')>()),
  runTest: () => {
    throw new Started('a test was run');
  },
}));
vi.mock('../scripts/series/import-k6.ts', async (original) => ({
  ...(await original<typeof import('../scripts/series/import-k6.ts')>()),
  importK6Run: () => {
    throw new Started('Prometheus was queried');
  },
}));

const root = mkdtempSync(join(tmpdir(), 'gelombang-cli-input-'));
const at = (...p: string[]) => join(root, ...p);
const file = (name: string, text: string) => {
  writeFileSync(at(name), text);
  return at(name);
};

// Fixtures: good and bad files, a results folder with one run, a port that is in use.
const results = at('results');
const good = at('results', 'good');
writeRunRecord(good, makeRecord({ seed: 1, runId: 'good' }));
const other = at('results', 'other');
writeRunRecord(other, makeRecord({ seed: 2, runId: 'other' }));
/** A copy of the good record with one file's JSON changed. */
function brokenRecord(
  name: string,
  which: string,
  edit: (j: { t?: number[]; totals?: { steps?: unknown } }) => void,
): string {
  const dir = at('broken', name);
  writeRunRecord(dir, makeRecord({ seed: 1, runId: name }));
  const json = JSON.parse(readFileSync(join(dir, which), 'utf8'));
  edit(json);
  writeFileSync(join(dir, which), JSON.stringify(json));
  return dir;
}
const tornSeries = brokenRecord('torn', 'timeseries.json', (j) => {
  j.t = j.t?.slice(0, 10) ?? [];
});
const backwards = brokenRecord('backwards', 'timeseries.json', (j) => {
  j.t = j.t?.reverse() ?? [];
});
const notRecord = brokenRecord('not-record', 'run.json', (j) => {
  delete j.totals?.steps;
});
const badSummary = at('broken', 'bad-summary');
writeRunRecord(badSummary, makeRecord({ seed: 1, runId: 'bad-summary' }));
writeFileSync(join(badSummary, 'summary.json'), '{"metrics": ');
const summary = join(good, 'summary.json');
const aFile = file('a-file.txt', 'not a directory');
const aDir = at('a-dir');
mkdirSync(aDir);
const notJson = file('capacity-not-json.json', '{ dukcapil: ');
const badCapacity = file('capacity-bad.json', '{"dukcapil":{}}');
const badProfile = file('profile-bad.csv', 'minute,arrivals\n0,12\n1,many\n');
const notSummary = file('not-summary.json', '{"metrics": 3}');
const script = file('script.ts', 'export default async function () {}\n');
const badEnvScript = file('script.txt', 'export default async function () {}\n');
const missing = at('no-such.json');
let busy: Server;
let busyPort = 0;

beforeAll(async () => {
  busy = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => busy.once('listening', r));
  busyPort = (busy.address() as { port: number }).port;
});
afterAll(() => {
  busy.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

type Case = [what: string, args: () => string[], code: number, names: string | RegExp];

const r = (...args: string[]) => [...args, '--results', results];

/** Per command: [the class of bad input, its arguments, the exit code, what the message must name]. */
const CASES: Record<string, { command: () => Command; cases: Case[] }> = {
  run: {
    command: runCommand,
    cases: [
      [
        '--vus not a number',
        () => ['--vus', 'abc', script],
        104,
        "--vus: expected a whole number >= 1, got 'abc'",
      ],
      ['--vus 0', () => ['--vus', '0', script], 104, '--vus'],
      ['--iterations not whole', () => ['--iterations', '1.5', script], 104, '--iterations'],
      [
        '--duration not a duration',
        () => ['-d', '5 parsecs', script],
        104,
        '--duration: "5 parsecs" is not a duration',
      ],
      [
        '--duration without a unit',
        () => ['-d', '10', script],
        104,
        '--duration: "10" is not a duration: missing unit',
      ],
      ['--duration negative', () => ['-d', '-1s', script], 104, '--duration: expected a duration >= 0'],
      [
        '-e with a bad name',
        () => ['-e', '1BAD=x', script],
        104,
        /--env .*invalid environment variable name '1BAD'/,
      ],
      ['--tag without a name', () => ['--tag', '=x', script], 104, /--tag .*invalid tag, empty name/],
      ['--tag without a value', () => ['--tag', 'k=', script], 104, /--tag .*invalid tag, empty value/],
      [
        '--out of an unknown kind',
        () => ['--out', 'csv=x.csv', script],
        104,
        '--out: expected json=FILE or prometheus',
      ],
      [
        '--out prometheus without a port',
        () => ['-o', 'prometheus=nohost', script],
        104,
        '--out prometheus: expected HOST:PORT',
      ],
      [
        '--out json in no directory',
        () => ['-o', `json=${at('nowhere', 'x.json')}`, script],
        104,
        '--out json: no directory',
      ],
      [
        '--out json twice',
        () => ['-o', `json=${at('a.json')}`, '-o', `json=${at('b.json')}`, script],
        104,
        '--out',
      ],
      ['--summary-export a directory', () => ['--summary-export', aDir, script], 104, '--summary-export: '],
      ['--workers 0', () => ['--workers', '0', script], 104, '--workers'],
      ['--progress unknown', () => ['--progress', 'fancy', script], 104, /--progress .*fancy/],
      ['an unknown flag', () => ['--bogus', script], 104, "unknown option '--bogus'"],
      ['a script that is not there', () => [missing], 104, `script: no such file '${missing}'`],
      ['a script that is a directory', () => [aDir], 104, 'is a directory, expected a file'],
      ['a script that is not JavaScript', () => [badEnvScript], 104, 'expected a .ts or .js k6 script'],
      ['no script', () => [], 104, "missing required argument 'script'"],
    ],
  },
  stack: {
    command: stackCommand,
    cases: [
      [
        'a port out of range',
        () => ['--registration-port', '99999'],
        2,
        '--registration-port: expected a TCP port number',
      ],
      ['a negative port', () => ['--ministry-port', '-1'], 2, '--ministry-port'],
      ['a port not a number', () => ['--email-port', 'abc'], 2, '--email-port'],
      [
        '--workers 0',
        () => ['--workers', '0'],
        2,
        "--workers: expected a whole number >= 1 and <= 64, got '0'",
      ],
      ['--workers too many', () => ['--workers', '65'], 2, '--workers'],
      ['--capacity not there', () => ['--capacity', missing], 2, `--capacity: no such file '${missing}'`],
      ['--capacity a directory', () => ['--capacity', aDir], 2, '--capacity: '],
      ['--capacity not JSON', () => ['--capacity', notJson], 2, `--capacity: ${notJson}: not valid JSON`],
      [
        '--capacity against its schema',
        () => ['--capacity', badCapacity],
        2,
        `${badCapacity}: dukcapil.concurrency`,
      ],
      ['--data-dir a file', () => ['--data-dir', aFile], 2, `--data-dir: '${aFile}' is a file`],
      [
        '--knob misspelt',
        () => ['--knob', 'SCRYPTN=1024'],
        2,
        '--knob SCRYPTN: not a knob of the registration service (did you mean SCRYPT_N?)',
      ],
      ['--knob value refused', () => ['--knob', 'SCRYPT_N=3'], 2, '--knob: SCRYPT_N: '],
      ['--knob set by the stack', () => ['--knob', 'PORT=1'], 2, '--knob PORT: not a knob'],
      ['--knob without =', () => ['--knob', 'SCRYPT_N'], 2, "--knob: expected KEY=VALUE, got 'SCRYPT_N'"],
      ['--admin-token empty', () => ['--admin-token', ''], 2, '--admin-token: expected a value'],
      [
        'a port in use',
        () => ['--registration-port', String(busyPort)],
        2,
        /--registration-port: port [1-9]\d* on 127\.0\.0\.1 \(the registration service\) is in use/,
      ],
      [
        'one port for two services',
        () => ['--ministry-port', '4567', '--upload-port', '4567'],
        2,
        /--upload-port: port 4567 is given to both the ministry mock and the upload mock/,
      ],
      ['an unknown flag', () => ['--bogus'], 2, "unknown option '--bogus'"],
    ],
  },
  compare: {
    command: compareCommand,
    cases: [
      [
        '--confidence out of range',
        () => [good, other, '--confidence', '95'],
        2,
        '--confidence: expected a number between 0 and 1',
      ],
      ['--min-effect negative', () => [good, other, '--min-effect', '-0.1'], 2, '--min-effect'],
      ['--fail-on unknown', () => [good, other, '--fail-on', 'sometimes'], 2, /--fail-on .*sometimes/],
      [
        '--out a file',
        () => [good, other, '--out', aFile],
        2,
        `--out: '${aFile}' is a file, expected a directory`,
      ],
      [
        'a baseline that is not there',
        () => [at('nowhere'), other],
        2,
        `${at('nowhere', 'run.json')}: cannot read the run record`,
      ],
      [
        'a candidate that is not a record',
        () => [good, notRecord],
        2,
        `${join(notRecord, 'run.json')}: not a gelombang run record v1: totals.steps`,
      ],
      [
        'series longer than the intervals',
        () => [good, tornSeries],
        2,
        `${join(tornSeries, 'timeseries.json')}: series.0.values`,
      ],
      [
        'intervals out of order',
        () => [backwards, good],
        2,
        `${join(backwards, 'timeseries.json')}: t.1: expected the intervals' ends in increasing order`,
      ],
      [
        'a summary that is not JSON',
        () => [good, badSummary],
        2,
        `${join(badSummary, 'summary.json')}: not JSON`,
      ],
      [
        'no candidate',
        () => [good],
        2,
        'expected two run directories, <baseline-dir> <candidate-dir> (got 1)',
      ],
      [
        'repeats: one baseline run against two',
        () => ['--baseline', good, '--candidate', other, tornSeries],
        2,
        '--baseline: 1 run; a comparison over repeats needs at least 2 a side',
      ],
      [
        'repeats: a candidate run that is not a record',
        () => ['--baseline', good, other, '--candidate', notRecord, tornSeries],
        2,
        `${join(notRecord, 'run.json')}: not a gelombang run record v1: totals.steps`,
      ],
      ['an unknown flag', () => [good, other, '--bogus'], 2, "unknown option '--bogus'"],
    ],
  },
  report: {
    command: reportCommand,
    cases: [
      [
        'a directory that is not there',
        () => [at('nowhere')],
        2,
        `${at('nowhere', 'run.json')}: cannot read the run record`,
      ],
      [
        'run.json not a record',
        () => [notRecord],
        2,
        `${join(notRecord, 'run.json')}: not a gelombang run record v1`,
      ],
      [
        'series longer than the intervals',
        () => [tornSeries],
        2,
        `${join(tornSeries, 'timeseries.json')}: series.0.values (arrivals): expected one value per interval (10, as t has)`,
      ],
      ['intervals out of order', () => [backwards], 2, `${join(backwards, 'timeseries.json')}: t.1`],
      ['summary.json not JSON', () => [badSummary], 2, `${join(badSummary, 'summary.json')}: not JSON`],
      ['no run directory', () => [], 2, "missing required argument 'run-dir'"],
      ['an unknown flag', () => [good, '--bogus'], 2, "unknown option '--bogus'"],
    ],
  },
  record: {
    command: recordCommand,
    cases: (() => {
      const base = (...extra: string[]) =>
        r('--k6-summary', summary, '--prometheus', 'http://127.0.0.1:9', ...extra);
      return [
        [
          '--k6-summary not there',
          () => r('--k6-summary', missing, '--prometheus', 'http://127.0.0.1:9'),
          2,
          `--k6-summary: no such file '${missing}'`,
        ],
        [
          '--k6-summary a directory',
          () => r('--k6-summary', aDir, '--prometheus', 'http://127.0.0.1:9'),
          2,
          '--k6-summary: ',
        ],
        [
          '--k6-summary not a summary',
          () => r('--k6-summary', notSummary, '--prometheus', 'http://127.0.0.1:9'),
          2,
          `${notSummary}: neither k6's handleSummary data nor its --summary-export`,
        ],
        [
          '--prometheus not http',
          () => r('--k6-summary', summary, '--prometheus', 'ftp://x'),
          2,
          "--prometheus: expected an http(s) URL, got 'ftp://x'",
        ],
        [
          '--prometheus missing',
          () => r('--k6-summary', summary),
          2,
          "required option '--prometheus <url>' not specified",
        ],
        [
          '--start not a time',
          () => base('--start', 'yesterday'),
          2,
          '--start: expected an ISO 8601 time with a zone',
        ],
        [
          '--end without a zone',
          () => base('--end', '2026-11-23T10:00:00'),
          2,
          '--end: expected an ISO 8601 time with a zone',
        ],
        [
          '--start after --end',
          () => base('--start', '2026-11-23T11:00:00Z', '--end', '2026-11-23T10:00:00Z'),
          2,
          '--start: expected a time before --end',
        ],
        ['--interval 0', () => base('--interval', '0'), 2, '--interval'],
        ['--exit-code out of range', () => base('--exit-code', '300'), 2, '--exit-code'],
        ['--scenario unknown', () => base('--scenario', 'nope'), 2, /--scenario .*nope/],
        ['-e SCALE not a number', () => base('-e', 'SCALE=abc'), 2, "-e SCALE: expected a number, got 'abc'"],
        [
          '-e COMPRESS the replay refuses',
          () => base('-e', 'COMPRESS=1000000'),
          2,
          '-e COMPRESS: 1000000 makes a 60s bucket',
        ],
        [
          '-e PROFILE not there',
          () => base('-e', `PROFILE=${missing}`),
          2,
          `-e PROFILE: no such file '${missing}'`,
        ],
        [
          '-e PROFILE not a profile',
          () => base('-e', `PROFILE=${badProfile}`),
          2,
          `-e PROFILE: ${badProfile}`,
        ],
        ['-e with a bad name', () => base('-e', 'NOT A NAME=1'), 2, '--env: expected a variable name'],
        ['--knob misspelt', () => base('--knob', 'SCRYPTN=1024'), 2, '(did you mean SCRYPT_N?)'],
        [
          '--scaled beyond the day',
          () => base('--scaled', '-e', 'SCALE=0.5', '-e', 'COMPRESS=90'),
          2,
          "--scaled: -e SCALE x -e COMPRESS (0.5 x 90) = 45: more than the day's own arrival rate, and a capacity file at full size is not scaled up (model/similitude.ts); lower them, or leave out --scaled to enforce the file as it is",
        ],
        [
          '--scaled for a scenario with no rate',
          () => base('--scaled', '--scenario', 'smoke'),
          2,
          '--scaled: the smoke scenario brings no arrival rate tied to the 2020 day',
        ],
        [
          '--capacity against its schema',
          () => base('--capacity', badCapacity),
          2,
          `--capacity: ${badCapacity}: dukcapil.concurrency`,
        ],
        [
          '--results a file',
          () => ['--k6-summary', summary, '--prometheus', 'http://127.0.0.1:9', '--results', aFile],
          2,
          `--results: '${aFile}' is a file`,
        ],
        [
          '--run-id with a slash',
          () => base('--run-id', 'a/b'),
          2,
          "--run-id: expected letters, digits, '.', '_' or '-', got 'a/b'",
        ],
        [
          '--run-id of an existing run',
          () => base('--run-id', 'good'),
          2,
          `--run-id: ${good} already holds a run`,
        ],
        [
          '--select with a bad label',
          () => base('--select', 'test id=x'),
          2,
          '--select: expected a variable name',
        ],
      ] as Case[];
    })(),
  },
  rehearse: {
    command: rehearseCommand,
    cases: [
      ['--scale 0', () => r('--scale', '0'), 104, "--scale: expected a number > 0 and <= 1, got '0'"],
      [
        '-o not json=FILE',
        () => r('-o', 'prometheus'),
        104,
        "--out: expected json=FILE (a rehearsal's Prometheus is --prometheus), got 'prometheus'",
      ],
      ['--compress not a number', () => r('--compress', 'fast'), 104, '--compress: expected a number >= 1'],
      [
        '--compress the replay refuses',
        () => r('--scale', '0.0000005', '--compress', '1000000'),
        104,
        '--compress: 1000000 makes a 60s bucket',
      ],
      [
        '--window reversed',
        () => r('--window', '120-60'),
        104,
        "--window: expected FROM-TO in profile minutes with FROM < TO, e.g. 0-120, got '120-60'",
      ],
      [
        '--window past the profile',
        () => r('--window', '0-2000'),
        104,
        /--window: the profile \S+ has 1260 minutes, got 0-2000/,
      ],
      [
        '--scenario unknown',
        () => r('--scenario', 'nope'),
        104,
        "argument 'nope' is invalid. Allowed choices are registration-day",
      ],
      ['--capacity not there', () => r('--capacity', missing), 104, `--capacity: no such file '${missing}'`],
      [
        '--capacity against its schema',
        () => r('--capacity', badCapacity),
        104,
        `--capacity: ${badCapacity}: dukcapil.concurrency`,
      ],
      ['--knob without =', () => r('--knob', 'SCRYPT_N'), 104, "--knob: expected KEY=VALUE, got 'SCRYPT_N'"],
      ['--knob value refused', () => r('--knob', 'SCRYPT_N=3'), 104, '--knob: SCRYPT_N: Too small'],
      [
        '--knob misspelt',
        () => r('--knob', 'SCRYPTN=1024'),
        104,
        '--knob SCRYPTN: not a knob of the registration service (did you mean SCRYPT_N?)',
      ],
      ['--knob WORKERS=0', () => r('--knob', 'WORKERS=0'), 104, '--knob: WORKERS'],
      ['--service-profile unknown', () => r('--service-profile', 'fast'), 104, /--service-profile .*fast/],
      [
        '--service-profile unknown switch',
        () => r('--service-profile', '2020+turbo'),
        104,
        /--service-profile .*'turbo' in '2020\+turbo' is not a switch: expected one of email-outbox/,
      ],
      [
        '--service-profile switch twice',
        () => r('--service-profile', 'hardened+waiting-room+waiting-room'),
        104,
        /'waiting-room' appears twice/,
      ],
      [
        '--results a file',
        () => ['--results', aFile],
        104,
        `--results: '${aFile}' is a file, expected a directory`,
      ],
      [
        '--results under a file',
        () => ['--results', join(aFile, 'runs')],
        104,
        `--results: '${aFile}' is a file`,
      ],
      ['--run-id with a slash', () => r('--run-id', 'x/y'), 104, '--run-id: expected letters'],
      [
        '--run-id of an existing run',
        () => r('--run-id', 'good'),
        104,
        `--run-id: ${good} already holds a run`,
      ],
      ['--profile not there', () => r('--profile', missing), 104, `--profile: no such file '${missing}'`],
      ['--profile not a profile', () => r('--profile', badProfile), 104, `--profile: ${badProfile}`],
      [
        'a replay flag with a scenario that replays none',
        () => r('--scenario', 'smoke', '--window', '0-60'),
        104,
        '--window: only registration-day replays a profile, not smoke',
      ],
      [
        '--knob with --target',
        () => r('--target', 'http://127.0.0.1:3000', '--knob', 'SCRYPT_N=1024'),
        104,
        '--knob: the service behind --target is not started here',
      ],
      [
        '--email-url without --target',
        () => r('--email-url', 'http://127.0.0.1:3102'),
        104,
        '--email-url: only with --target',
      ],
      ['--target not http', () => r('--target', 'ftp://x'), 104, '--target: expected an http(s) URL'],
      ['--workers not whole', () => r('--workers', '1.5'), 104, '--workers: expected a whole number'],
      ['--interval too short', () => r('--interval', '0.1'), 104, '--interval'],
      ['-e with a bad name', () => r('-e', 'LOSS SPLIT=x'), 104, '--env: expected a variable name'],
      [
        '-e a scenario knob the scenario refuses',
        () => r('-e', 'THINK_COMPRESS=0'),
        107,
        'environment variable THINK_COMPRESS: expected a number >= 1',
      ],
      ['an unknown flag', () => r('--bogus'), 104, "unknown option '--bogus'"],
    ],
  },
  bundle: {
    command: bundleCommand,
    cases: [
      ['--out a file', () => ['--out', aFile, script], 2, `--out: '${aFile}' is a file`],
      [
        'a scenario that is not there',
        () => ['--out', at('bundles'), missing],
        104,
        `${missing}: no such scenario file`,
      ],
      ['an unknown flag', () => ['--bogus'], 2, "unknown option '--bogus'"],
    ],
  },
  demo: {
    command: demoCommand,
    cases: [
      ['--index negative', () => ['--index', '-1'], 2, '--index: expected a whole number >= 0'],
      ['--index not a number', () => ['--index', 'abc'], 2, '--index'],
      [
        '--index past the population',
        () => ['--index', '99999999999'],
        2,
        '--index: expected a whole number >= 0 and <= ',
      ],
      ['an unknown flag', () => ['--bogus'], 2, "unknown option '--bogus'"],
    ],
  },
};

describe.each(Object.entries(CASES))('gelombang %s refuses bad input', (_name, { command, cases }) => {
  it.each(cases)('%s', async (_what, args, code, names) => {
    const before = snapshot(root);
    const out = await invoke(command, args());
    expect(out.output).not.toMatch(/^\s+at /m);
    expect(out.output).not.toContain('Started');
    if (typeof names === 'string') expect(out.output).toContain(names);
    else expect(out.output).toMatch(names);
    expect(out.code).toBe(code);
    expect(snapshot(root)).toEqual(before);
  });
});

it('covers many classes of bad input on every command', () => {
  const counts = Object.values(CASES).map((c) => c.cases.length);
  expect(counts.every((n) => n >= 3)).toBe(true);
  expect(counts.reduce((a, n) => a + n, 0)).toBeGreaterThanOrEqual(60);
});
