/**
 * Is a photo a whole image? The first bytes say which format it claims to be; the structure must
 * then hold to the end: a JPEG's markers from SOI through a frame header with its dimensions to EOI,
 * a PNG's chunks from IHDR to IEND. A truncated upload (the first bytes of a JPEG) or bytes that
 * merely start like one are refused. Decoding the pixels is not needed for that, and not done.
 */

export type ImageType = 'jpeg' | 'png';

export type ImageCheck =
  | { ok: true; type: ImageType; width: number; height: number }
  | { ok: false; type?: ImageType; problem: string };

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** What the photo claims to be, by its first bytes: the declared Content-Type is not trusted. */
export function imageType(head: Uint8Array): ImageType | undefined {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 8 && PNG_SIGNATURE.every((b, i) => head[i] === b)) return 'png';
  return undefined;
}

export function checkImage(bytes: Uint8Array): ImageCheck {
  const type = imageType(bytes);
  if (type === 'jpeg') return checkJpeg(bytes);
  if (type === 'png') return checkPng(bytes);
  return { ok: false, problem: 'not a JPEG or PNG image (by its first bytes)' };
}

const u16 = (b: Uint8Array, i: number) => ((b[i] as number) << 8) | (b[i + 1] as number);
const u32 = (b: Uint8Array, i: number) =>
  (((b[i] as number) << 24) >>> 0) +
  (((b[i + 1] as number) << 16) | ((b[i + 2] as number) << 8) | (b[i + 3] as number));

/** SOF0-SOF15 carry the frame's dimensions; C4 (DHT), C8 (JPG) and CC (DAC) share the range but do not. */
const isFrameHeader = (m: number) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
/** markers without a length: TEM and RST0-7 (SOI and EOI are handled on their own) */
const isStandalone = (m: number) => m === 0x01 || (m >= 0xd0 && m <= 0xd7);

function checkJpeg(b: Uint8Array): ImageCheck {
  const bad = (problem: string): ImageCheck => ({ ok: false, type: 'jpeg', problem: `JPEG: ${problem}` });
  let frame: { width: number; height: number } | undefined;
  let i = 2; // after SOI
  while (i < b.length) {
    if (b[i] !== 0xff) return bad(`expected a marker at byte ${i}`);
    while (b[i] === 0xff) i++; // fill bytes
    if (i >= b.length) break;
    const marker = b[i] as number;
    i++;
    if (marker === 0xd9) {
      if (!frame) return bad('no frame header (SOF) with the image dimensions before the end');
      if (i !== b.length) return bad(`${b.length - i} bytes after the end-of-image marker`);
      return { ok: true, type: 'jpeg', ...frame };
    }
    if (marker === 0xd8 || marker === 0x00)
      return bad(`unexpected marker 0x${marker.toString(16)} at byte ${i - 1}`);
    if (isStandalone(marker)) continue;
    if (i + 2 > b.length) break;
    const length = u16(b, i);
    if (length < 2) return bad(`segment length ${length} at byte ${i}`);
    if (i + length > b.length) break;
    if (isFrameHeader(marker)) {
      if (length < 8) return bad('frame header too short');
      const height = u16(b, i + 3);
      const width = u16(b, i + 5);
      if (width === 0 || height === 0) return bad(`frame of ${width}x${height} pixels`);
      frame = { width, height };
    }
    i += length;
    if (marker === 0xda) {
      // Entropy-coded data follows the scan header, up to the next marker that is neither a stuffed
      // 0xFF00 nor a restart marker.
      while (i < b.length) {
        const ff = b.indexOf(0xff, i);
        if (ff < 0 || ff + 1 >= b.length) {
          i = b.length;
          break;
        }
        const next = b[ff + 1] as number;
        if (next !== 0x00 && !(next >= 0xd0 && next <= 0xd7) && next !== 0xff) {
          i = ff;
          break;
        }
        i = ff + 1;
      }
      if (!frame) return bad('scan before any frame header');
    }
  }
  return bad('no end-of-image marker: the file is truncated');
}

function checkPng(b: Uint8Array): ImageCheck {
  const bad = (problem: string): ImageCheck => ({ ok: false, type: 'png', problem: `PNG: ${problem}` });
  let i = 8;
  let header: { width: number; height: number } | undefined;
  while (i + 8 <= b.length) {
    const length = u32(b, i);
    const type = String.fromCharCode(...b.subarray(i + 4, i + 8));
    const end = i + 12 + length;
    if (end > b.length) break;
    if (!header) {
      if (type !== 'IHDR' || length !== 13) return bad('the first chunk is not IHDR');
      const width = u32(b, i + 8);
      const height = u32(b, i + 12);
      if (width === 0 || height === 0) return bad(`image of ${width}x${height} pixels`);
      header = { width, height };
    }
    if (type === 'IEND') {
      if (end !== b.length) return bad(`${b.length - end} bytes after the IEND chunk`);
      return { ok: true, type: 'png', ...header };
    }
    i = end;
  }
  return bad('no IEND chunk: the file is truncated');
}
