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

  it('keeps metadata out of the keys: a key ending in .meta is an object like any other', async () => {
    const url = await store();
    const access = { authorization: 'Bearer access' };
    const put = (key: string, body: Uint8Array | string, contentType: string) =>
      fetch(`${url}/buckets/ktp/objects/${key}`, {
        method: 'PUT',
        headers: { ...access, 'content-type': contentType },
        body,
      });
    expect((await put('1.jpg', bytes(1000), 'image/jpeg')).status).toBe(201);
    // Before: this overwrote 1.jpg's metadata, so 1.jpg was served as text/html of 1 byte.
    const meta = await put(
      '1.jpg.meta',
      JSON.stringify({ contentType: 'text/html', size: 1 }),
      'application/json',
    );
    expect(meta.status).toBe(201);
    const get = await fetch(`${url}/buckets/ktp/objects/1.jpg`, { headers: access });
    expect(get.headers.get('content-type')).toBe('image/jpeg');
    expect((await get.arrayBuffer()).byteLength).toBe(1000);
    const metaObject = await fetch(`${url}/buckets/ktp/objects/1.jpg.meta`, { headers: access });
    expect(await metaObject.json()).toEqual({ contentType: 'text/html', size: 1 });
  });

  it.each([
    ['a leading dot', '.hidden'],
    ['a trailing dot', 'a.'],
    ['a double dot', 'a..b'],
    ['an encoded slash', 'a%2Fb'],
    ['an encoded leading double dot', '%2E%2Ehidden'],
    ['a space', 'a%20b'],
    ['201 characters', 'k'.repeat(201)],
  ])('refuses a key with %s, naming the field and the grammar', async (_what, key) => {
    const url = await store();
    const r = await fetch(`${url}/buckets/ktp/objects/${key}`, {
      method: 'PUT',
      headers: { authorization: 'Bearer access' },
      body: bytes(10),
    });
    expect(r.status).toBe(400);
    const body = (await r.json()) as { error: { code: string; field: string; message: string } };
    expect(body.error).toMatchObject({ code: 'invalid_field', field: 'key' });
    expect(body.error.message).toMatch(/dot-separated words/);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('holds a presigned PUT to the Content-Type and the largest size it was signed for', async () => {
    const url = await store();
    const now = Math.floor(Date.now() / 1000);
    const path = presignPath('secret-secret', 'PUT', 'ktp', 'd.jpg', now + 60, {
      contentType: 'image/jpeg',
      maxBytes: 1000,
    });
    const put = (body: Uint8Array, contentType = 'image/jpeg', to = path) =>
      fetch(`${url}${to}`, { method: 'PUT', headers: { 'content-type': contentType }, body });
    const answer = async (r: Response) => ({ status: r.status, ...((await r.json()) as object) });
    expect(await answer(await put(bytes(1001)))).toMatchObject({
      status: 413,
      error: { code: 'too_large', field: 'size' },
    });
    // Streamed without a Content-Length, it is refused as soon as it passes the signed size.
    const streamed = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 4; i++) controller.enqueue(bytes(400));
        controller.close();
      },
    });
    const chunked = await fetch(`${url}${path}`, {
      method: 'PUT',
      headers: { 'content-type': 'image/jpeg' },
      body: streamed,
      duplex: 'half',
    } as RequestInit);
    expect(await answer(chunked)).toMatchObject({ status: 413, error: { code: 'too_large' } });
    expect(await answer(await put(bytes(1000), 'image/png'))).toMatchObject({
      status: 415,
      error: { code: 'content_type_mismatch', field: 'content-type' },
    });
    expect(await answer(await put(bytes(1000), 'jpeg'))).toMatchObject({
      status: 400,
      error: { code: 'invalid_field', field: 'content-type' },
    });
    // The conditions are signed: changing them in the query breaks the signature.
    const forged = path.replace('max-bytes=1000', 'max-bytes=2000');
    expect(forged).not.toBe(path);
    expect(await answer(await put(bytes(2000), 'image/jpeg', forged))).toMatchObject({
      status: 403,
      error: { code: 'presign_bad_signature' },
    });
    expect(
      (await fetch(`${url}/buckets/ktp/objects/d.jpg`, { headers: { authorization: 'Bearer access' } }))
        .status,
    ).toBe(404);
    expect((await put(bytes(1000))).status).toBe(201);
    const head = await fetch(`${url}/buckets/ktp/objects/d.jpg`, {
      method: 'HEAD',
      headers: { authorization: 'Bearer access' },
    });
    expect([head.headers.get('content-type'), head.headers.get('content-length')]).toEqual([
      'image/jpeg',
      '1000',
    ]);
  });

  it('deletes an object with the access token only', async () => {
    const url = await store();
    const object = `${url}/buckets/ktp/objects/gone.jpg`;
    const access = { authorization: 'Bearer access' };
    expect((await fetch(object, { method: 'PUT', headers: access, body: bytes(10) })).status).toBe(201);
    expect((await fetch(object, { method: 'DELETE' })).status).toBe(401);
    expect((await fetch(object, { method: 'DELETE', headers: access })).status).toBe(204);
    expect((await fetch(object, { headers: access })).status).toBe(404);
    expect((await fetch(object, { method: 'DELETE', headers: access })).status).toBe(404);
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
