import { describe, expect, it } from 'vitest';
import { parseConfig } from '../mock-services/registration/config.ts';
import { checkNik } from '../mock-services/registration/nik.ts';
import { STAGES as SERVICE_STAGES } from '../mock-services/registration/stages.ts';
import { STAGES } from '../model/funnel.ts';
import { personAt } from '../model/population.ts';
import { serviceKnobsSchema } from '../model/service-design.ts';

/**
 * The reference service stands for a real system and imports nothing of the harness, so it keeps
 * its own list of funnel stages and its own NIK rules. The harness reads the service by the model's
 * words and registers the model's population, so the two sides must agree: checked here.
 */
describe('the reference service and the model agree', () => {
  it("the service's funnel stages are the model's, in journey order", () => {
    expect([...SERVICE_STAGES]).toEqual([...STAGES]);
  });

  it('accepts every NIK the synthetic population generates', () => {
    for (let i = 0; i < 2000; i++) {
      const p = personAt(7, i * 7919);
      expect(checkNik(p.nik, p.dateOfBirth, p.gender)).toMatchObject({ ok: true });
    }
  });

  it("reads every knob of the model's service design, with the model's default", () => {
    const model: Record<string, unknown> = serviceKnobsSchema.parse({});
    const service: Record<string, unknown> = parseConfig({});
    for (const [knob, value] of Object.entries(model)) expect([knob, service[knob]]).toEqual([knob, value]);
  });

  it("reads a knob set away from its default as the model's schema reads it", () => {
    const defaults: Record<string, unknown> = serviceKnobsSchema.parse({});
    for (const [knob, value] of Object.entries(defaults)) {
      // Another value the model accepts: the enum's other option, or the number doubled (or halved).
      const shape = serviceKnobsSchema.shape[knob as keyof typeof serviceKnobsSchema.shape];
      const options = 'options' in shape.unwrap() ? (shape.unwrap() as { options: string[] }).options : null;
      const candidates = options
        ? options.filter((o) => o !== value)
        : [Number(value) * 2, Math.floor(Number(value) / 2), Number(value) + 1].map(String);
      const other = candidates.find((c) => serviceKnobsSchema.safeParse({ [knob]: String(c) }).success);
      expect(other, `${knob}: no other value the model accepts`).toBeDefined();
      const expected = (serviceKnobsSchema.parse({ [knob]: String(other) }) as Record<string, unknown>)[knob];
      expect([knob, (parseConfig({ [knob]: String(other) }) as Record<string, unknown>)[knob]]).toEqual([
        knob,
        expected,
      ]);
    }
  });
});
