import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Capacity } from '../../model/capacity.ts';
import { serve } from '../../test/support/listen.ts';
import { loadCapacity } from '../capacity.ts';
import { presignPath } from './presign.ts';
import { createUploadApp } from './server.ts';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (closers.length) await closers.pop()?.();
});

async function store(upload: Partial<Capacity['upload']> = {}) {
  const base = loadCapacity(new URL('../capacity.unlimited.json', import.meta.url));
  const { app } = createUploadApp({
    capacity: { upload: { ...base.upload, ...upload } },
    dir: mkdtempSync(join(tmpdir(), 'gelombang-upload-test-')),
    adminToken: 'a',
    accessToken: 'access',
    signingSecret: 'secret-secret',
  });
  const s = await serve(app);
  closers.push(s.close);
  return s.url;
}

const bytes = (n: number) => new Uint8Array(n).fill(7);

describe('the upload store', () => {
  it('stores and returns an object with the access token, and refuses anonymous writes', async () => {
    const url = await store();
    const put = await fetch(`${url}/buckets/ktp/objects/1.jpg`, {
      method: 'PUT',
      headers: { authorization: 'Bearer access', 'content-type': 'image/jpeg' },
      body: bytes(1000),
    });
    expect(put.status).toBe(201);
    const get = await fetch(`${url}/buckets/ktp/objects/1.jpg`, {
      headers: { authorization: 'Bearer access' },
    });
    expect(get.headers.get('content-type')).toBe('image/jpeg');
    expect((await get.arrayBuffer()).byteLength).toBe(1000);
    expect((await fetch(`${url}/buckets/ktp/objects/2.jpg`, { method: 'PUT', body: bytes(10) })).status).toBe(
      401,
    );
    expect(
      (await fetch(`${url}/buckets/ktp/objects/missing.jpg`, { headers: { authorization: 'Bearer access' } }))
        .status,
    ).toBe(404);
  });

  it('accepts a presigned PUT, and refuses an expired or tampered one', async () => {
    const url = await store();
    const now = Math.floor(Date.now() / 1000);
    const good = presignPath('secret-secret', 'PUT', 'ktp', 'p.jpg', now + 60);
    expect((await fetch(`${url}${good}`, { method: 'PUT', body: bytes(100) })).status).toBe(201);
    const expired = presignPath('secret-secret', 'PUT', 'ktp', 'p.jpg', now - 1);
    const r1 = await fetch(`${url}${expired}`, { method: 'PUT', body: bytes(100) });
    expect(r1.status).toBe(403);
    expect(await r1.json()).toMatchObject({ error: { code: 'presign_expired' } });
    const tampered = good.replace('/p.jpg', '/q.jpg');
    const r2 = await fetch(`${url}${tampered}`, { method: 'PUT', body: bytes(100) });
    expect(await r2.json()).toMatchObject({ error: { code: 'presign_bad_signature' } });
  });

  it('refuses an object over the size limit, declared or streamed', async () => {
    const url = await store({ maxObjectBytes: 1000 });
    const r = await fetch(`${url}/buckets/ktp/objects/big.jpg`, {
      method: 'PUT',
      headers: { authorization: 'Bearer access' },
      body: bytes(5000),
    });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ error: { code: 'too_large' } });
    expect(
      (await fetch(`${url}/buckets/ktp/objects/big.jpg`, { headers: { authorization: 'Bearer access' } }))
        .status,
    ).toBe(404);
  });

  it('shares one bandwidth limit among uploads', async () => {
    // 256 KiB/s shared; two concurrent 128 KiB uploads need about 1 s together.
    const url = await store({ bandwidthBytesPerSecond: 256 * 1024 });
    const t0 = performance.now();
    const put = (k: string) =>
      fetch(`${url}/buckets/ktp/objects/${k}`, {
        method: 'PUT',
        headers: { authorization: 'Bearer access' },
        body: bytes(128 * 1024),
      });
    const [a, b] = await Promise.all([put('a'), put('b')]);
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(performance.now() - t0).toBeGreaterThan(600);
  });
});
