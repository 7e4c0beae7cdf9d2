import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readRunRecord } from '../reports/record.ts';
import { gelombangAsync, tinyRehearsal } from './support/gelombang-cli.ts';

/** `rehearse` with the presigned-upload switch: the scenario is told, so the design is exercised. */

const results = mkdtempSync(join(tmpdir(), 'gelombang-rehearse-presigned-'));

describe('gelombang rehearse --service-profile 2020+presigned-upload', () => {
  it("passes the service's PHOTO_UPLOAD to the scenario, whose registrants then upload with signed URLs", async () => {
    const r = await gelombangAsync(
      tinyRehearsal(results, 'presigned', ['--service-profile', '2020+presigned-upload']),
    );
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const { manifest } = readRunRecord(join(results, 'presigned'));
    expect(manifest.stack.knobs).toMatchObject({ PHOTO_UPLOAD: 'presigned' });
    expect(manifest.scenario.env).toMatchObject({ PHOTO_UPLOAD: 'presigned' });
    const uploaded = manifest.totals.funnel
      .filter((f) => f.stage === 'photo_uploaded' && f.outcome === 'continued')
      .reduce((a, f) => a + f.count, 0);
    expect(uploaded).toBeGreaterThan(0);
    // Through the service a photo is one request; presigned it is three (URL, PUT, confirmation).
    const requests = manifest.totals.steps.find((s) => s.step === 'upload_photo')?.requests ?? 0;
    expect(requests).toBeGreaterThanOrEqual(3 * uploaded);
  }, 180_000);
});
