import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../../runner/index.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';

/**
 * The journey's side of the waiting room and the idempotency keys (scenarios/lib/journey.ts), on
 * the embedded runner against a service with both switches on: registrants who arrive together
 * are queued, wait their turn without spending their retries, and all get through.
 */

let stack: RunningStack;
const RATE = 5;
const REGISTRANTS = 15;

beforeAll(async () => {
  stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: {
      registration: { SCRYPT_N: '1024', WORKERS: '2', ADMISSION_RATE: String(RATE), IDEMPOTENCY: 'on' },
    },
  });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

function metric(text: string, line: RegExp): number {
  const m = line.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('a registrant behind a waiting room', () => {
  it(`${REGISTRANTS} registrants arriving at once at ${RATE}/s all sign up, none retrying an error`, async () => {
    const r = await runTest({
      script: 'scenarios/smoke.ts',
      env: {
        BASE_URL: stack.urls.registration,
        EMAIL_URL: stack.urls.email,
        ADMIN_TOKEN: stack.adminToken,
      },
      vus: REGISTRANTS,
      quiet: true,
      progress: 'none',
      workers: 1,
    });
    expect(r.error).toBeUndefined();
    // smoke never retries (one attempt per step) and holds http_req_failed at 0: the waiting room's
    // 429s are neither spent attempts nor errors.
    expect(r.exitCode).toBe(EXIT.ok);
    expect(r.summary?.root_group.checks.find((c) => c.name === 'create_account succeeded')).toMatchObject({
      passes: REGISTRANTS,
      fails: 0,
    });
    expect(r.summary?.root_group.checks.find((c) => c.name === 'status is joined_wave')).toMatchObject({
      passes: REGISTRANTS,
      fails: 0,
    });

    const text = await (await fetch(`${stack.urls.registration}/metrics`)).text();
    expect(metric(text, /^gelombang_waiting_room_admissions_total (\d+)$/m)).toBe(REGISTRANTS);
    // Everyone but the first (admitted at once into an empty room) was told to wait at least
    // once: the room really held them.
    const waited = metric(
      text,
      /^gelombang_http_requests_total\{method="POST",route="\/api\/v1\/accounts",status="429"\} (\d+)$/m,
    );
    expect(waited).toBeGreaterThanOrEqual(REGISTRANTS - 1);
    // Every journey request carried a key, and each ran once (nothing was lost to replay).
    expect(metric(text, /^gelombang_idempotency_keys_total\{outcome="first"\} (\d+)$/m)).toBeGreaterThan(
      REGISTRANTS * 4,
    );
    // The answers kept for a retry: the photo (multipart) and the join (no body) included.
    const db = new Database(join(stack.dataDir, 'registration.db'), { readonly: true, fileMustExist: true });
    try {
      const stored = (method: string, path: string) =>
        (
          db
            .prepare(
              'SELECT COUNT(*) AS n FROM idempotency_keys WHERE method = ? AND path LIKE ? AND status BETWEEN 200 AND 299',
            )
            .get(method, path) as { n: number }
        ).n;
      expect(stored('POST', '/api/v1/accounts')).toBe(REGISTRANTS);
      expect(stored('PUT', '/api/v1/me/ktp-photo')).toBe(REGISTRANTS);
      expect(stored('POST', '/api/v1/waves/%/join')).toBe(REGISTRANTS);
    } finally {
      db.close();
    }
  }, 120_000);
});
