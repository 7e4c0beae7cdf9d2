import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NAMES_PATH, namesModule } from './generate-names.ts';

describe("the population's names", () => {
  it('are what the generator makes from faker (the file is not edited by hand)', () => {
    expect(readFileSync(NAMES_PATH, 'utf8')).toBe(namesModule());
  });
});
