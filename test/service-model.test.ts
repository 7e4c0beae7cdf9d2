import { describe, expect, it } from 'vitest';
import { checkNik } from '../mock-services/registration/nik.ts';
import { STAGES as SERVICE_STAGES } from '../mock-services/registration/stages.ts';
import { STAGES } from '../model/funnel.ts';
import { personAt } from '../model/population.ts';

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
});
