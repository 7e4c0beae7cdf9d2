/**
 * Generates the KTP photo fixtures that scenarios upload (`open()` in the init context).
 * Real JPEGs of the size a phone photo of an ID card has after the site's resize (a few hundred
 * KB): a card-shaped layout with sensor-like noise so that the encoder cannot shrink it to nothing.
 * Run: node --import tsx scripts/generate-ktp-fixtures.ts
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import jpeg from 'jpeg-js';
import { createRng } from '../model/random.ts';

const here = join(dirname(fileURLToPath(import.meta.url)), '..', 'scenarios', 'fixtures');

function ktpPhoto(width: number, height: number, seed: number, noise: number): Uint8Array {
  // Seeded, so that regenerating gives the same bytes.
  const rnd = createRng(seed);
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      // A light-blue card on a darker desk, a photo box on the right, text-like stripes on the left.
      const onCard = x > width * 0.05 && x < width * 0.95 && y > height * 0.08 && y < height * 0.92;
      const inPhoto = x > width * 0.68 && x < width * 0.9 && y > height * 0.25 && y < height * 0.8;
      const onText =
        x > width * 0.1 && x < width * 0.62 && Math.floor(y / (height / 22)) % 2 === 0 && y > height * 0.2;
      let r = 70;
      let g = 60;
      let b = 50;
      if (onCard) [r, g, b] = [170, 205, 230];
      if (onCard && onText) [r, g, b] = [40, 40, 60];
      if (inPhoto) [r, g, b] = [200, 60 + ((x + y) % 90), 60];
      const n = (rnd() - 0.5) * noise;
      data[i] = Math.max(0, Math.min(255, r + n));
      data[i + 1] = Math.max(0, Math.min(255, g + n));
      data[i + 2] = Math.max(0, Math.min(255, b + n));
      data[i + 3] = 255;
    }
  }
  return jpeg.encode({ data, width, height }, 85).data;
}

export const FIXTURES_DIR = here;

export const KTP_FIXTURES = [
  { file: 'ktp-small.jpg', width: 640, height: 400, seed: 1, noise: 40 },
  { file: 'ktp-medium.jpg', width: 1024, height: 640, seed: 2, noise: 60 },
  { file: 'ktp-large.jpg', width: 1280, height: 800, seed: 3, noise: 70 },
] as const;

export function ktpFixture(f: (typeof KTP_FIXTURES)[number]): Uint8Array {
  return ktpPhoto(f.width, f.height, f.seed, f.noise);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const f of KTP_FIXTURES) {
    const bytes = ktpFixture(f);
    writeFileSync(join(here, f.file), bytes);
    console.log(`${f.file}: ${bytes.length} bytes`);
  }
}
