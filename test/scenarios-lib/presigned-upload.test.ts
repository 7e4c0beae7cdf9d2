import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, runTest } from '../../runner/index.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';

/**
 * The registrant of the replaying scenarios with PHOTO_UPLOAD=presigned, on the embedded runner
 * against the real stack (its service also set to presigned, and its mail sent from the outbox at
 * a rate): the photo goes to the object store with a signed URL and the service confirms it.
 */

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// A registrant who never leaves and never waits long: every one of them reaches the photo step.
const SCRIPT = `
import { arrive, registrantSetup } from '${here('../../scenarios/lib/registrant.ts')}';
export const options = {
  scenarios: { presigned: { executor: 'per-vu-iterations', vus: 1, iterations: 2, maxDuration: '120s' } },
};
const photo = open('${here('../../scenarios/fixtures/ktp-small.jpg')}', 'b');
const setup = registrantSetup(__ENV);
const stage = { leave: 0, fail: 0, reject: 0, delay: { minMinutes: 0, median: 0.001, p90: 0.002 } };
const model = {
  email_verified: stage, biodata_verified: stage, photo_uploaded: stage, assessment_done: stage, joined_wave: stage,
};
export default async function () {
  await arrive(setup, { compress: 1, windowEndMs: Date.now() + 3600000, photo, model });
}
`;

let stack: RunningStack;
let script: string;
beforeAll(async () => {
  script = join(mkdtempSync(join(tmpdir(), 'gelombang-presigned-')), 'presigned-registrant.js');
  writeFileSync(script, SCRIPT);
  stack = await startStack({
    ports: 'auto',
    capacityFile: 'mock-services/capacity.unlimited.json',
    env: {
      registration: {
        SCRYPT_N: '1024',
        PHOTO_UPLOAD: 'presigned',
        EMAIL_DELIVERY: 'outbox',
        EMAIL_SEND_RATE: '20',
        EMAIL_MAX_ATTEMPTS: '3',
      },
    },
  });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const env = (extra: Record<string, string> = {}) => ({
  BASE_URL: stack.urls.registration,
  EMAIL_URL: stack.urls.email,
  MINOR_SHARE: '0',
  INELIGIBLE_SHARE: '0',
  ...extra,
});

describe('PHOTO_UPLOAD=presigned in the registrant', () => {
  it('uploads to the store with a signed URL, the service confirms it, and the photo stage counts once each', async () => {
    const r = await runTest({
      script,
      env: env({ PHOTO_UPLOAD: 'presigned' }),
      quiet: true,
      progress: 'none',
      workers: 1,
      // Keeps per-tag series, which this test reads.
      prometheus: { host: '127.0.0.1', port: 0 },
    });
    expect(r.error).toBeUndefined();
    expect(r.exitCode).toBe(EXIT.ok);
    const funnel = r.metrics.counterBy('funnel_stage', ['stage', 'outcome']);
    const photo = funnel.filter((x) => x.tags.stage === 'photo_uploaded');
    expect(photo).toEqual([
      expect.objectContaining({ tags: expect.objectContaining({ outcome: 'continued' }), value: 2 }),
    ]);

    // Three requests of the step upload_photo per registrant: the URL and the confirmation to the
    // service, the PUT (named upload_put) to the store.
    const requests = r.metrics
      .counterBy('http_reqs', ['step', 'name'])
      .filter((x) => x.tags.step === 'upload_photo');
    const byName = Object.fromEntries(requests.map((x) => [x.tags.name, x.value]));
    expect(byName).toEqual({ upload_photo: 4, upload_put: 2 });

    const service = await (await fetch(`${stack.urls.registration}/metrics`)).text();
    const served = (route: string, method: string) =>
      Number(
        new RegExp(
          `^gelombang_http_requests_total\\{method="${method}",route="${route.replace(/\//g, '\\/')}",status="201"\\} (\\d+)`,
          'm',
        ).exec(service)?.[1] ?? 0,
      );
    expect(served('/api/v1/me/ktp-photo/upload-url', 'POST')).toBe(2);
    expect(served('/api/v1/me/ktp-photo/confirm', 'POST')).toBe(2);
    expect(served('/api/v1/me/ktp-photo', 'PUT')).toBe(0);

    const db = new Database(join(stack.dataDir, 'registration.db'), { readonly: true });
    try {
      const rows = db.prepare('SELECT photo_key, photo_at FROM accounts').all() as Array<{
        photo_key: string | null;
        photo_at: number | null;
      }>;
      expect(rows).toHaveLength(2);
      for (const row of rows) {
        expect(row.photo_at).not.toBeNull();
        expect(row.photo_key).toMatch(/^\d+-[0-9a-f]{16}\.jpg$/);
      }
      // The outbox sent each verification mail once and set none aside.
      expect(db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NOT NULL').get()).toEqual({
        n: 2,
      });
      expect(db.prepare('SELECT COUNT(*) AS n FROM outbox WHERE dead_at IS NOT NULL').get()).toEqual({
        n: 0,
      });
    } finally {
      db.close();
    }
  }, 150_000);

  it('a PHOTO_UPLOAD other than service or presigned stops the run in its init, naming the variable', async () => {
    const r = await runTest({
      script,
      env: env({ PHOTO_UPLOAD: 'sideways' }),
      quiet: true,
      progress: 'none',
      workers: 1,
    });
    expect(r.exitCode).not.toBe(EXIT.ok);
    expect(r.error).toContain(
      "environment variable PHOTO_UPLOAD: expected service or presigned, got 'sideways'",
    );
    expect(r.metrics.counter('http_reqs')).toBe(0);
  }, 60_000);
});
