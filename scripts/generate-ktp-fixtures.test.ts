import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES_DIR, KTP_FIXTURES, ktpFixture } from './generate-ktp-fixtures.ts';

describe('the KTP photo fixtures', () => {
  it('are what the generator makes (the JPEGs are not edited by hand)', () => {
    for (const f of KTP_FIXTURES) {
      const committed = readFileSync(join(FIXTURES_DIR, f.file));
      expect(Buffer.from(ktpFixture(f)).equals(committed), f.file).toBe(true);
    }
  });
});
