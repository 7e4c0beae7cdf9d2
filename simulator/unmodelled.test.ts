import { describe, expect, it } from 'vitest';
import { parseServiceKnobs, SERVICE_SWITCHES, serviceProfileKnobs } from '../model/service-design.ts';
import { unmodelledKnobs, unmodelledNote } from './unmodelled.ts';

describe('the switches the simulator leaves out', () => {
  it('says nothing for the 2020 design and names each switch it ignores', () => {
    expect(unmodelledNote(parseServiceKnobs(serviceProfileKnobs('2020'), 't'))).toBeUndefined();
    const hardened = unmodelledKnobs(parseServiceKnobs(serviceProfileKnobs('hardened'), 't'));
    // the waiting room is modelled
    expect(hardened.some((h) => h.includes('ADMISSION_RATE'))).toBe(false);
    expect(hardened.length).toBeGreaterThan(0);
    expect(hardened).toContain('the presigned upload (PHOTO_UPLOAD=presigned)');
    // the outbox is modelled, its send rate too, and the ministries' breaker
    expect(
      hardened.some(
        (h) => h.includes('EMAIL_DELIVERY') || h.includes('EMAIL_SEND_RATE') || h.includes('BREAKER'),
      ),
    ).toBe(false);
  });

  it('names every switch that has a knob the model does not read, and not those it models', () => {
    expect(unmodelledKnobs(parseServiceKnobs(serviceProfileKnobs('2020+waiting-room'), 'w'))).toEqual([]);
    const modelled = ['waiting-room', 'email-outbox', 'ministry-guard', 'idempotency-keys'];
    for (const name of modelled)
      expect(unmodelledKnobs(parseServiceKnobs(serviceProfileKnobs(`2020+${name}`), name))).toEqual([]);
    for (const name of Object.keys(SERVICE_SWITCHES)) {
      if (modelled.includes(name)) continue;
      const knobs = parseServiceKnobs(serviceProfileKnobs(`2020+${name}`), name);
      expect(unmodelledKnobs(knobs).length, name).toBeGreaterThan(0);
    }
  });
});
