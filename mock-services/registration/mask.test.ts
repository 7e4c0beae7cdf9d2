import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Request } from 'express';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { capacitySchema } from '../../model/capacity.ts';
import { tsNodeArgs } from '../../scripts/node-ts.ts';
import { serve } from '../../test/support/listen.ts';
import { createMockApp } from '../admin.ts';
import { loadCapacity } from '../capacity.ts';
import { toApiError } from './errors.ts';
import { log, maskEmail, maskNik, redact } from './mask.ts';

/** NIKs and emails never reach a log line whole, whichever service writes it and however. */

const NIK = '3201014508900001';
const EMAIL = 'eka.saputra@example.com';
const MOCK_SERVICES = fileURLToPath(new URL('..', import.meta.url));

function captureStderr(): { text: () => string } {
  let text = '';
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  return { text: () => text };
}

afterEach(() => {
  vi.restoreAllMocks();
});

function expectMasked(text: string): void {
  expect(text).not.toContain(NIK);
  expect(text).not.toContain(EMAIL);
  expect(text).not.toContain(EMAIL.replace('@', '%40'));
  expect(text).toContain('3201********0001');
  expect(text).toContain('e***@example.com');
}

describe('masking', () => {
  it('shows a NIK by its region and last four digits, an email by its first character and domain', () => {
    expect(maskNik(NIK)).toBe('3201********0001');
    expect(maskEmail(EMAIL)).toBe('e***@example.com');
    expect(maskEmail('not-an-email')).toBe('***');
  });

  it('masks every NIK and email in a line: quoted, percent-encoded in a URL, a NIK inside an address', () => {
    const line = redact(
      `duplicate "${EMAIL}" nik=${NIK}; GET /api/v1/mailboxes/${encodeURIComponent(EMAIL)}/messages; r.${NIK}.7.3@example.test`,
    );
    expectMasked(line);
    expect(line).toContain('/api/v1/mailboxes/e***%40example.com/messages');
    expect(line).toContain('r***@example.test');
    // Numbers that are not NIKs stay: ports, pids, 17-digit ids.
    expect(redact('listening on http://127.0.0.1:3000 pid 4242 id 12345678901234567')).toBe(
      'listening on http://127.0.0.1:3000 pid 4242 id 12345678901234567',
    );
  });

  it("the service's log of an unexpected error is masked, its message and its stack", () => {
    const stderr = captureStderr();
    const err = new Error(`lookup of ${NIK} for ${EMAIL} failed`);
    const answer = toApiError(err, { get: () => undefined } as unknown as Request);
    expect(answer.status).toBe(500);
    expect(stderr.text()).toContain('registration: unexpected error');
    expectMasked(stderr.text());
    log.error('direct', { email: EMAIL, nik: NIK });
    expectMasked(stderr.text());
  });

  it("a mock's unexpected error is answered as JSON 500 and logged masked", async () => {
    const capacity = loadCapacity(new URL('../capacity.unlimited.json', import.meta.url));
    const { app, finish } = createMockApp(new Registry(), {
      token: 't',
      schema: capacitySchema.pick({ dukcapil: true }),
      get: () => ({ dukcapil: capacity.dukcapil }),
      apply: () => {},
    });
    app.get('/boom/:nik', (req) => {
      throw new Error(`no person ${req.params.nik} (${EMAIL})`);
    });
    finish();
    const s = await serve(app);
    try {
      const stderr = captureStderr();
      const res = await fetch(`${s.url}/boom/${NIK}`);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: { code: 'internal_error', message: 'internal error' } });
      expectMasked(stderr.text());
    } finally {
      await s.close();
    }
  });

  it('a process that dies of an uncaught error prints it masked and exits 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gelombang-mask-'));
    const script = join(dir, 'crash.mts');
    writeFileSync(
      script,
      `import { maskCrashes } from ${JSON.stringify(pathToFileURL(join(MOCK_SERVICES, 'registration', 'mask.ts')).href)};
maskCrashes('crasher');
setTimeout(() => { throw new Error('bad row for ${NIK} ${EMAIL}'); }, 0);
`,
    );
    const r = spawnSync(process.execPath, [...tsNodeArgs(), script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('crasher: uncaught error: Error: bad row for');
    expectMasked(r.stderr);
  });

  it('no service writes to the console directly: every line goes through the masking log', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) {
          readFileSync(path, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              if (/\bconsole\.(log|error|warn|info|debug)\(/.test(line))
                offenders.push(`${relative(MOCK_SERVICES, path)}:${i + 1}`);
            });
        }
      }
    };
    walk(MOCK_SERVICES);
    expect(offenders).toEqual([]);
  });
});
