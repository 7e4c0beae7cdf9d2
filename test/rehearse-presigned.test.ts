import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCapacityFile } from '../mock-services/capacity.ts';
import { readRunRecord } from '../reports/record.ts';
import { gelombangAsync, tinyRehearsal } from './support/gelombang-cli.ts';

/** `rehearse` with the presigned-upload switch: the scenario is told, so the design is exercised. */

const results = mkdtempSync(join(tmpdir(), 'gelombang-rehearse-presigned-'));
const LAPTOP = 'mock-services/capacity.default.json';

describe('gelombang rehearse --service-profile 2020+presigned-upload', () => {
  it("passes the service's PHOTO_UPLOAD to the scenario, whose registrants then upload with signed URLs", async () => {
    const r = await gelombangAsync(
      // The laptop's stations as they are: registrants must get past the ministries to the photo.
      tinyRehearsal(results, 'presigned', [
        '--service-profile',
        '2020+presigned-upload',
        '--capacity',
        LAPTOP,
        '--absolute-capacity',
        // The same 70 arrivals over 12 s instead of 3: a registrant whose photo would come after the
        // window's end is counted in progress, and on a loaded machine (a CI run beside other
        // tests, 2026-12-07) all 22 who got past the ministries came to it after a 3 s window.
        '--compress',
        '300',
      ]),
    );
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const { manifest } = readRunRecord(join(results, 'presigned'));
    expect(manifest.stack.knobs).toMatchObject({ PHOTO_UPLOAD: 'presigned' });
    expect(manifest.stack.capacity).toEqual(loadCapacityFile(LAPTOP).capacity);
    expect(manifest.similitude).toMatchObject({ scaled: false, capacityFile: resolve(LAPTOP) });
    expect(manifest.similitude?.notes[0]).toMatch(/^--absolute-capacity: /);
    expect(manifest.similitude?.cpu).toBeUndefined();
    expect(readFileSync(join(results, 'presigned', 'report.md'), 'utf8')).toContain(
      'The dependencies’ capacities were absolute',
    );
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
