import { describe, expect, it } from 'vitest';
import { ANSWER_CACHE_DEFAULTS } from '../mock-services/registration/answer-cache.ts';
import { BREAKER_DEFAULTS } from '../mock-services/registration/breaker.ts';
import { parseConfig } from '../mock-services/registration/config.ts';
import { BUSY_TIMEOUT_MS } from '../mock-services/registration/db.ts';
import { RETRYABLE_STATUSES } from '../mock-services/registration/dependency-error.ts';
import { ABANDONED_MS, isFinal } from '../mock-services/registration/idempotency.ts';
import { OUTBOX_SENDER_DEFAULTS, outboxBackoffMs } from '../mock-services/registration/mailer.ts';
import { HASH_BUCKETS_S } from '../mock-services/registration/metrics.ts';
import { RETRY_BASE_S, RETRY_CAP_S, retryDelayS } from '../mock-services/registration/ministry-client.ts';
import { checkNik } from '../mock-services/registration/nik.ts';
import { STAGES as SERVICE_STAGES } from '../mock-services/registration/stages.ts';
import { TICKET_TTL_MS } from '../mock-services/registration/waiting-room.ts';
import { STAGES } from '../model/funnel.ts';
import { personAt } from '../model/population.ts';
import { serviceKnobsSchema } from '../model/service-design.ts';
import { BREAKER } from '../simulator/breaker.ts';
import { HASH_BUCKETS_S as SIMULATED_HASH_BUCKETS_S } from '../simulator/interval-times.ts';
import { OUTBOX_SENDER, outboxBackoffMs as simulatedOutboxBackoffMs } from '../simulator/outbox.ts';
import { ministryRetryDelayS, SERVICE_SETTINGS, isFinal as simulatedIsFinal } from '../simulator/service.ts';

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

/**
 * The capacity simulator models the reference service without importing it (it stands for a real
 * system), so it copies the service's fixed settings: checked here, so that a change to one side
 * that forgets the other fails.
 */
describe("the simulator's copies of the service's settings", () => {
  it("the breaker's, the answer cache's, the outbox senders', the write lock's, the ticket's, the keys' and the hashes' buckets", () => {
    expect(BREAKER).toEqual(BREAKER_DEFAULTS);
    expect(SERVICE_SETTINGS.answerCache).toEqual(ANSWER_CACHE_DEFAULTS);
    expect(OUTBOX_SENDER).toEqual(OUTBOX_SENDER_DEFAULTS);
    expect(SIMULATED_HASH_BUCKETS_S).toEqual(HASH_BUCKETS_S);
    expect(SERVICE_SETTINGS.busyTimeoutMs).toBe(BUSY_TIMEOUT_MS);
    expect(SERVICE_SETTINGS.ticketTtlMs).toBe(TICKET_TTL_MS);
    expect([...SERVICE_SETTINGS.ministryRetryable].sort()).toEqual([...RETRYABLE_STATUSES].sort());
    expect(SERVICE_SETTINGS.ministryRetry).toEqual({ baseS: RETRY_BASE_S, capS: RETRY_CAP_S });
    expect(SERVICE_SETTINGS.keyAbandonedMs).toBe(ABANDONED_MS);
  });

  it('keeps the answers an idempotency key stores, and frees the key on the others, as the service does', () => {
    for (let status = 100; status < 600; status++)
      expect([status, simulatedIsFinal(status)]).toEqual([status, isFinal(status)]);
  });

  it("waits before a ministry retry and an outbox mail's next attempt as the service does", () => {
    for (const draw of [0, 0.13, 0.5, 0.87, 0.999]) {
      const random = () => draw;
      for (let retry = 1; retry <= 6; retry++) {
        for (const retryAfterS of [undefined, 0, 0.3, 1, 5]) {
          expect([retry, retryAfterS, ministryRetryDelayS(retry, retryAfterS, random)]).toEqual([
            retry,
            retryAfterS,
            retryDelayS(retry, retryAfterS, random),
          ]);
        }
      }
      for (let attempts = 1; attempts <= 20; attempts++) {
        expect([attempts, simulatedOutboxBackoffMs(attempts, random)]).toEqual([
          attempts,
          outboxBackoffMs(attempts, OUTBOX_SENDER_DEFAULTS.backoffBaseMs, random),
        ]);
      }
    }
  });
});
