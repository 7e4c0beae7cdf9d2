import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `gelombang run` and `gelombang bundle` as a user calls them: k6's exit codes for bad flags, a
 * real run against a local server, and a bundle for real k6.
 */

const cli = ['bin/gelombang.js'];
const fixture = 'runner/test-fixtures/hello.ts';
const dir = mkdtempSync(join(tmpdir(), 'gelombang-run-cmd-'));
let server: Server;
let target = '';
let hits = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":"world"}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('gelombang run', () => {
  it.each([
    [['--vus', 'abc'], /--vus: expected a whole number >= 1, got 'abc'/],
    [['--duration', '5 parsecs'], /"5 parsecs" is not a duration/],
    [['--out', 'csv=x.csv'], /--out: expected json=FILE or prometheus\[=HOST:PORT\]/],
    [['--bogus'], /unknown option '--bogus'/],
    [['--summary-trend-stats', 'avg,foo'], /--summary-trend-stats: invalid trend stat 'foo', unknown format/],
    [
      ['--summary-trend-stats', 'p(101)'],
      /invalid percentile trend stat value 'p\(101\)', provide a number between 0 and 100/,
    ],
    [['--summary-time-unit', 'sec'], /invalid summary time unit 'sec', use 's', 'ms' or 'us'/],
  ])('exits 104 on %j with a precise message, before any request', (flags, message) => {
    const before = hits;
    const r = spawnSync(process.execPath, [...cli, 'run', ...flags, fixture], { encoding: 'utf8' });
    expect(r.stderr).toMatch(message);
    expect(r.status).toBe(104);
    expect(hits).toBe(before);
  });

  it("refuses k6's everyday script (group, http.get) with exit 107 before any request, naming the calls", async () => {
    const everyday = join(dir, 'everyday.js');
    writeFileSync(
      everyday,
      [
        "import { group, check, sleep } from 'k6';",
        "import http from 'k6/http';",
        "export const options = { vus: 2, duration: '5s' };",
        'export default function () {',
        "  group('home', () => {",
        '    const r = http.get(__ENV.TARGET);',
        "    check(r, { 'status is 200': (x) => x.status === 200 });",
        '  });',
        '  sleep(1);',
        '}',
      ].join('\n'),
    );
    const before = hits;
    // async spawn: the server lives in this process and must keep answering, were it asked
    const child = spawn(process.execPath, [...cli, 'run', '-q', '-e', `TARGET=${target}`, everyday], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(stderr).toContain('everyday.js:5:3: group(...) → no equivalent');
    expect(stderr).toContain(
      "everyday.js:6:15: http.get(...) → await http.asyncRequest('GET', url, null, params)",
    );
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(code).toBe(107);
    expect(hits).toBe(before);
  }, 60_000);

  it('runs a scenario, exits 0 and writes the legacy summary export', async () => {
    const exportFile = join(dir, 'summary.json');
    // async spawn: the server lives in this process and must keep answering
    const child = spawn(
      process.execPath,
      [
        ...cli,
        'run',
        '--workers',
        '2',
        '-q',
        '-e',
        `TARGET=${target}`,
        '--summary-export',
        exportFile,
        fixture,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    // -q as k6's: no progress, the summary still printed
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^ {3}✓ http_req_failed\.+: 0\.00%/m);
    expect(stdout).toMatch(/^ {5}iterations\.+: 41 /m);
    expect(code).toBe(0);
    const summary = JSON.parse(readFileSync(exportFile, 'utf8')) as {
      metrics: Record<string, Record<string, unknown>>;
    };
    // constant-arrival-rate 20/s for 2 s: 2 x 20 + 1 iterations, one request each
    expect(summary.metrics.iterations?.count).toBe(41);
    expect(summary.metrics.http_reqs?.count).toBe(41);
    expect(summary.metrics.greeted?.count).toBe(41);
  }, 60_000);

  it("takes k6's --summary-trend-stats and --summary-time-unit over the script's", async () => {
    const child = spawn(
      process.execPath,
      [
        ...cli,
        'run',
        '-q',
        '--workers',
        '1',
        '--summary-trend-stats',
        'avg,p(99.9),count',
        '--summary-time-unit',
        'ms',
        '-e',
        `TARGET=${target}`,
        fixture,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {5}http_req_duration\.+: avg=\d+\.\d\dms +p\(99\.9\)=\d+\.\d\dms +count=41$/m);
  }, 60_000);

  it('shows progress off a terminal as plain lines on stderr, and the summary on stdout', async () => {
    const child = spawn(
      process.execPath,
      [...cli, 'run', '--workers', '1', '--progress', 'plain', '-e', `TARGET=${target}`, fixture],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    // the fixture's one scenario, its planned 2 s, its VUs and rate, and the checks line
    expect(stderr).toMatch(
      /^running: \S+\s+(running|done)\s+[\d.]+m?s\/2s\s+VUs\s+\d+\/\d+\s+[\d.]+ it\/s\s+\d+ done\s+\d+ dropped/m,
    );
    expect(stderr).toMatch(/^running: checks failed: 0 {2}elapsed /m);
    expect(stderr).not.toContain('\u001b[');
    expect(stdout).toMatch(/http_reqs/);
  }, 60_000);

  it('warns "Request Failed" as k6 does, the first three of a kind, then every thousandth with its count', () => {
    const script = join(dir, 'refused.js');
    // 1,001 requests to a loopback port nothing listens on (1), and one to a URL that is not one
    writeFileSync(
      script,
      `import http from 'k6/http';
export const options = { iterations: 1 };
export default async function () {
  for (let i = 0; i < 1001; i++) await http.asyncRequest('GET', 'http://127.0.0.1:1/x');
  await http.asyncRequest('POST', 'http://127.0.0.1:port/', 'a');
}
`,
    );
    const r = spawnSync(process.execPath, [...cli, 'run', '-q', '--workers', '1', script], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('Request Failed'));
    const refused =
      'WARN[scenario default] Request Failed error="Get \\"http://127.0.0.1:1/x\\": dial: connection refused';
    expect(warnings.filter((l) => l.startsWith(refused))).toHaveLength(4);
    expect(warnings.filter((l) => l.startsWith(refused) && l.endsWith(' (1000 times)'))).toHaveLength(1);
    expect(warnings.filter((l) => l.startsWith('WARN[scenario default] Request Failed error="Post'))).toEqual(
      [expect.stringContaining('invalid URL')],
    );
  }, 60_000);
});

describe('gelombang bundle', () => {
  it('writes a k6 script that imports only k6 modules', () => {
    const out = join(dir, 'k6');
    const r = spawnSync(process.execPath, [...cli, 'bundle', '--out', out, fixture], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const file = join(out, 'hello.js');
    expect(existsSync(file)).toBe(true);
    const code = readFileSync(file, 'utf8');
    const imports = [...code.matchAll(/^import\s[^;]*?from\s*["']([^"']+)["']/gm)].map((m) => m[1]);
    expect(imports.sort()).toEqual(['k6', 'k6/http', 'k6/metrics']);
    expect(code).toContain('sourceMappingURL=');
  });

  it('exits 104 naming the file when a scenario does not compile', () => {
    const r = spawnSync(
      process.execPath,
      [...cli, 'bundle', '--out', join(dir, 'bad'), 'no/such/scenario.ts'],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(104);
    expect(r.stderr).toMatch(/scenario\.ts/);
  });
});
