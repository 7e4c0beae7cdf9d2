import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../../scripts/registrant-client.ts';
import { checkImage } from './images.ts';

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length, 0);
  // The check reads the structure, not the CRC: any four bytes do.
  return Buffer.concat([length, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]);
}

function png(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8);
  const rows = Buffer.alloc((width + 1) * height);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('checkImage: a whole JPEG or PNG, by its structure', () => {
  it('accepts the KTP fixtures and an encoder-made JPEG, with their dimensions', () => {
    expect(checkImage(readFileSync(join(FIXTURES, 'ktp-small.jpg')))).toEqual({
      ok: true,
      type: 'jpeg',
      width: 640,
      height: 400,
    });
    const encoded = jpeg.encode({ data: Buffer.alloc(16 * 8 * 4, 200), width: 16, height: 8 }, 80).data;
    expect(checkImage(encoded)).toEqual({ ok: true, type: 'jpeg', width: 16, height: 8 });
    expect(checkImage(png(3, 2))).toEqual({ ok: true, type: 'png', width: 3, height: 2 });
  });

  it('refuses a JPEG cut anywhere, without a frame, or with bytes after its end', () => {
    const photo = readFileSync(join(FIXTURES, 'ktp-small.jpg'));
    for (const at of [4, 20, 200, 1000, photo.length >> 1, photo.length - 1]) {
      const r = checkImage(photo.subarray(0, at));
      expect(r, `cut at ${at}`).toMatchObject({ ok: false, type: 'jpeg' });
    }
    expect(checkImage(Buffer.from([0xff, 0xd8, 0xff, 0xd9]))).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/no frame header/),
    });
    expect(checkImage(Buffer.concat([photo, Buffer.from([0])]))).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/1 bytes after the end-of-image marker/),
    });
  });

  it('refuses a PNG cut short, of zero pixels, or not starting with IHDR, and what is neither', () => {
    const whole = png(3, 2);
    expect(checkImage(whole.subarray(0, whole.length - 5))).toMatchObject({ ok: false, type: 'png' });
    expect(checkImage(png(0, 2))).toMatchObject({ ok: false, problem: expect.stringMatching(/0x2 pixels/) });
    const noHeader = Buffer.concat([whole.subarray(0, 8), chunk('IEND', Buffer.alloc(0))]);
    expect(checkImage(noHeader)).toMatchObject({ ok: false, problem: expect.stringMatching(/not IHDR/) });
    expect(checkImage(Buffer.from('GIF89a'))).toEqual({
      ok: false,
      problem: 'not a JPEG or PNG image (by its first bytes)',
    });
  });
});
