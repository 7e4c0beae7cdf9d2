import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseServiceKnobs,
  SERVICE_SWITCHES,
  serviceKnobsSchema,
  serviceProfileKnobs,
} from '../model/service-design.ts';
import { UNMODELLED, unmodelledKnobs, unmodelledNote } from './unmodelled.ts';

/** The simulator's own code, its tests left out. */
const sources = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'unmodelled.ts')
  .map((f) => readFileSync(new URL(f, import.meta.url), 'utf8'))
  .join('\n');

describe('the switches the simulator leaves out', () => {
  it('every knob of the service design is read by the simulator, or listed as left out', () => {
    const listed = new Set(UNMODELLED.map((u) => u.knob));
    // Read: a property access (knobs.X), not a mention in a comment.
    for (const knob of Object.keys(serviceKnobsSchema.shape))
      expect([
        knob,
        listed.has(knob as keyof typeof serviceKnobsSchema.shape) ||
          new RegExp(`\\.${knob}\\b`).test(sources),
      ]).toEqual([knob, true]);
  });

  it('says nothing for any design: every switch is modelled', () => {
    for (const name of ['2020', 'hardened', ...Object.keys(SERVICE_SWITCHES).map((s) => `2020+${s}`)]) {
      const knobs = parseServiceKnobs(serviceProfileKnobs(name), name);
      expect([name, unmodelledKnobs(knobs)]).toEqual([name, []]);
      expect(unmodelledNote(knobs)).toBeUndefined();
    }
  });
});
