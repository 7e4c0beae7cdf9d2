import { join } from 'node:path';
import fc from 'fast-check';
import { newToken, tokenHash } from '../../mock-services/registration/auth.ts';
import { openDb, Repository } from '../../mock-services/registration/db.ts';
import type { RunningStack } from '../../scripts/stack.ts';
import { loopbackRequest } from './loopback-request.ts';

/**
 * The quota property, shared by the suite (a few cases) and the bench (a thousand): whatever the
 * interleaving of simultaneous joins, some of them repeated by one registrant, a wave is never
 * oversold, nobody joins twice, every 201 is a row and every refusal is wave_full (the wave is
 * full) or already_joined (that registrant has a place). Registrants who passed steps 1-6 are
 * written straight into the database (the journey is tested elsewhere); the joins go over HTTP,
 * each on a connection of its own so that the service's processes race for the places.
 */

export interface QuotaCase {
  quota: number;
  registrants: number;
  /** the registrant of each join request, in the order they are sent */
  requests: number[];
  /** sizes of the groups sent at once, one group after the other (used cyclically) */
  batches: number[];
}

export function quotaCase(maxRegistrants: number): fc.Arbitrary<QuotaCase> {
  return fc.integer({ min: 1, max: maxRegistrants }).chain((n) =>
    fc
      .record({
        quota: fc.integer({ min: 0, max: n + 2 }),
        // every registrant once, some again; the sort keys interleave them
        once: fc.array(fc.nat(), { minLength: n, maxLength: n }),
        again: fc.array(fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.nat()), { maxLength: n }),
        batches: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 }),
      })
      .map(({ quota, once, again, batches }) => ({
        quota,
        registrants: n,
        requests: [...once.map((key, r) => [r, key] as const), ...again]
          .sort((a, b) => a[1] - b[1])
          .map(([r]) => r),
        batches,
      })),
  );
}

interface JoinAnswer {
  registrant: number;
  status: number;
  code: string | undefined;
}

/** Runs cases against a running stack; each case gets a wave and registrants of its own. */
export class QuotaProperty {
  private readonly repo: Repository;
  private wave: number;
  private made = 0;

  constructor(
    private readonly stack: RunningStack,
    firstWave = 1000,
  ) {
    this.repo = new Repository(openDb(join(stack.dataDir, 'registration.db')));
    this.wave = firstWave;
  }

  close(): void {
    this.repo.db.close();
  }

  /** Registrants at assessment_done with a live session each: their bearer tokens. */
  private registrants(n: number): string[] {
    const now = Date.now();
    return this.repo.db
      .transaction(() =>
        Array.from({ length: n }, () => {
          const id = this.repo.createAccount(
            `quota.${process.pid}.${++this.made}.${now}@example.test`,
            'scrypt$1024$8$1$unused$unused',
            tokenHash(newToken()),
            now + 3_600_000,
          );
          this.repo.db
            .prepare(
              `UPDATE accounts SET email_verified_at = ?, biodata_at = ?, photo_at = ?, photo_key = 'seeded',
               assessment_at = ?, assessment_score = 20, assessment_passed = 1 WHERE id = ?`,
            )
            .run(now, now, now, now, id);
          const token = newToken();
          this.repo.createSession(tokenHash(token), id, now + 3_600_000);
          return token;
        }),
      )
      .immediate();
  }

  /** The violations of one case (none: the property holds). */
  async check(c: QuotaCase): Promise<string[]> {
    const wave = ++this.wave;
    const created = await loopbackRequest(this.stack.urls.registration, 'POST', '/admin/waves', {
      json: { number: wave, quota: c.quota },
      headers: { authorization: `Bearer ${this.stack.adminToken}` },
    });
    if (created.status !== 201) return [`wave ${wave} not created: ${created.status} ${created.text}`];
    const tokens = this.registrants(c.registrants);
    const answers: JoinAnswer[] = [];
    let next = 0;
    for (let b = 0; next < c.requests.length; b++) {
      const size = c.batches[b % c.batches.length] as number;
      const group = c.requests.slice(next, next + size);
      next += size;
      answers.push(
        ...(await Promise.all(
          group.map(async (registrant) => {
            const r = await loopbackRequest(
              this.stack.urls.registration,
              'POST',
              `/api/v1/waves/${wave}/join`,
              {
                headers: { authorization: `Bearer ${tokens[registrant]}` },
              },
            );
            return { registrant, status: r.status, code: r.json.error?.code };
          }),
        )),
      );
    }
    return this.violations(c, wave, tokens, answers);
  }

  private violations(c: QuotaCase, wave: number, tokens: string[], answers: JoinAnswer[]): string[] {
    const problems: string[] = [];
    const ids = tokens.map(
      (t) =>
        (
          this.repo.db.prepare('SELECT account_id FROM sessions WHERE token_hash = ?').get(tokenHash(t)) as {
            account_id: number;
          }
        ).account_id,
    );
    const members = new Set(
      (
        this.repo.db.prepare('SELECT account_id FROM wave_members WHERE wave_number = ?').all(wave) as Array<{
          account_id: number;
        }>
      ).map((m) => m.account_id),
    );
    const joinedColumn = (
      this.repo.db.prepare('SELECT joined FROM waves WHERE number = ?').get(wave) as {
        joined: number;
      }
    ).joined;
    const full = members.size === c.quota;
    if (members.size > c.quota) problems.push(`oversold: ${members.size} members for a quota of ${c.quota}`);
    if (joinedColumn !== members.size)
      problems.push(`waves.joined is ${joinedColumn}, members ${members.size}`);
    const expected = Math.min(c.quota, c.registrants);
    if (members.size !== expected)
      problems.push(`${members.size} joined, expected min(quota ${c.quota}, registrants ${c.registrants})`);
    const wins = new Map<number, number>();
    for (const a of answers) {
      const id = ids[a.registrant] as number;
      if (a.status === 201) {
        wins.set(a.registrant, (wins.get(a.registrant) ?? 0) + 1);
        if (!members.has(id)) problems.push(`registrant ${a.registrant} got 201 but has no row`);
      } else if (a.status === 409 && a.code === 'wave_full') {
        if (!full) problems.push(`registrant ${a.registrant} refused wave_full with places left`);
        if (members.has(id)) problems.push(`registrant ${a.registrant} refused wave_full yet has a row`);
      } else if (a.status === 409 && a.code === 'already_joined') {
        if (!members.has(id)) problems.push(`registrant ${a.registrant} told already_joined but has no row`);
      } else {
        problems.push(`registrant ${a.registrant}: unexpected answer ${a.status} ${a.code ?? ''}`);
      }
    }
    for (const [r, n] of wins) if (n > 1) problems.push(`registrant ${r} got ${n} answers 201`);
    const wonTotal = [...wins.values()].reduce((s, n) => s + n, 0);
    if (wonTotal !== members.size) problems.push(`${wonTotal} answers 201 for ${members.size} rows`);
    return problems;
  }
}
