import { describe, expect, it } from 'vitest';
import {
  parseServiceKnobs,
  SERVICE_PROFILES,
  SERVICE_SWITCHES,
  ServiceKnobError,
  serviceProfileKnobs,
} from './service-design.ts';

describe('service designs', () => {
  it('the hardened profile is every switch, and each switch is valid knobs', () => {
    const hardened = serviceProfileKnobs('hardened');
    for (const [name, knobs] of Object.entries(SERVICE_SWITCHES)) {
      expect(() => parseServiceKnobs(knobs, name)).not.toThrow();
      for (const [k, v] of Object.entries(knobs)) expect(hardened[k], `${name} ${k}`).toBe(v);
    }
  });

  it('a switch added to a profile changes only its own knobs', () => {
    const base = serviceProfileKnobs('2020');
    const withRoom = serviceProfileKnobs('2020+waiting-room');
    expect(withRoom).toEqual({ ...SERVICE_PROFILES['2020'], ...SERVICE_SWITCHES['waiting-room'] });
    expect(withRoom.EMAIL_DELIVERY).toBe(base.EMAIL_DELIVERY);
    // the 2020 defaults stay off
    expect(parseServiceKnobs(base, '2020').ADMISSION_RATE).toBe(0);
    expect(parseServiceKnobs(withRoom, 'x').ADMISSION_RATE).toBeGreaterThan(0);
  });

  it('refuses an unknown profile, an unknown switch and a repeated one, naming the choices', () => {
    expect(() => serviceProfileKnobs('fast')).toThrow(
      /'fast' is not a service profile: expected one of 2020/,
    );
    expect(() => serviceProfileKnobs('2020+turbo')).toThrow(ServiceKnobError);
    expect(() => serviceProfileKnobs('2020+turbo')).toThrow(/expected one of email-outbox/);
    expect(() => serviceProfileKnobs('2020+idempotency-keys+idempotency-keys')).toThrow(/appears twice/);
    expect(() => serviceProfileKnobs('')).toThrow(/'' is not a service profile/);
  });
});
