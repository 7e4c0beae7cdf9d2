import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { personAt } from '../../model/population.ts';
import { biodataOf } from '../../scripts/registrant-client.ts';
import { startInProcessService } from '../../test/support/in-process-service.ts';
import { serve } from '../../test/support/listen.ts';
import { loopbackRequest } from '../../test/support/loopback-request.ts';
import { MINISTRY_PATHS } from '../ministry/api.ts';
import { hashPassword, newToken, tokenHash } from './auth.ts';

/**
 * The ministry guard seen from a registrant: the real app in-process over loopback HTTP, a
 * Dukcapil that answers only 500, and MINISTRY_BREAKER=on. Once the breaker opens, the biodata
 * step answers 503 naming Dukcapil, with the breaker's Retry-After, without asking Dukcapil.
 */

let url: string;
let session = '';
let dukcapilCalls = 0;
let closeAll: () => Promise<void>;

beforeAll(async () => {
  const failing = express();
  failing.post(MINISTRY_PATHS.dukcapil, (_req, res) => {
    dukcapilCalls++;
    res.status(500).json({ error: { code: 'fault', message: 'injected fault' } });
  });
  const ministryServer = await serve(failing);
  const service = await startInProcessService({
    env: {
      SCRYPT_N: '1024',
      EMAIL_DELIVERY: 'outbox',
      MINISTRY_URL: ministryServer.url,
      MINISTRY_BREAKER: 'on',
    },
    quota: 10,
    // The breaker's clock stands still: however slow the machine, it is still open at the 11th request.
    ministry: { now: () => 0 },
  });
  const { repo } = service;
  url = service.url;
  closeAll = async () => {
    await service.close();
    await ministryServer.close();
  };
  // A verified account with a session, written straight into the database.
  const now = Date.now();
  const id = repo.createAccount(
    'guard@example.test',
    await hashPassword('Rahasia-2020!', 1024),
    tokenHash(newToken()),
    now + 60_000,
  );
  repo.db.prepare('UPDATE accounts SET email_verified_at = ? WHERE id = ?').run(now, id);
  session = newToken();
  repo.createSession(tokenHash(session), id, now + 3_600_000);
});

afterAll(async () => {
  await closeAll?.();
});

describe('the biodata step behind an open breaker', () => {
  it('answers 503 naming the ministry, with the time until the probe, without asking it', async () => {
    const put = () =>
      loopbackRequest(url, 'PUT', '/api/v1/me/biodata', {
        headers: { authorization: `Bearer ${session}` },
        json: biodataOf(personAt(2020, 7)),
      });
    for (let i = 0; i < 10; i++) {
      const answer = await put();
      expect(answer.status).toBe(503);
      expect(answer.json.error).toMatchObject({ code: 'dependency_unavailable', dependency: 'dukcapil' });
      expect(answer.json.error?.message).toContain('HTTP 500');
    }
    expect(dukcapilCalls).toBe(10);

    const shed = await put();
    expect(shed.status).toBe(503);
    expect(shed.json.error).toMatchObject({ code: 'dependency_unavailable', dependency: 'dukcapil' });
    expect(shed.json.error?.message).toContain('circuit open');
    // the whole 5 s open time, since the breaker's clock has not moved since it opened
    expect(shed.headers['retry-after']).toBe('5');
    expect(dukcapilCalls).toBe(10);

    const metrics = await loopbackRequest(url, 'GET', '/metrics');
    expect(metrics.text).toMatch(/gelombang_ministry_breaker_state\{dependency="dukcapil"\} 2/);
    expect(metrics.text).toMatch(
      /gelombang_ministry_calls_shed_total\{dependency="dukcapil",reason="breaker"\} 1/,
    );
  });
});
