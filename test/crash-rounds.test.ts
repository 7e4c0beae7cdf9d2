import { afterAll, describe, expect, it } from 'vitest';
import {
  type CrashRoundOptions,
  type CrashRoundResult,
  type CrashStack,
  crashEnv,
  describeRound,
  runCrashRound,
  startCrashStack,
} from './support/crash-round.ts';

/**
 * The crash test: twenty rounds, each a fresh stack whose registration service is killed with
 * SIGKILL in the middle of a burst of registrants and restarted while they retry. Nothing
 * acknowledged may be lost, no place given twice or beyond the quota, and every account gets its
 * verification mail. Rounds are small (the restart is the story, not the load) so that twenty fit
 * in a few minutes on a loaded 2-core machine; the bench (bench/crash.bench.ts) runs larger ones.
 * GELOMBANG_CRASH_SEED replays the rounds of a failure message.
 */

const ROUNDS = 20;
const REGISTRANTS = 16;
const QUOTA = 12;
const { GELOMBANG_CRASH_SEED: SEED } = crashEnv(process.env);

const roundOptions = (round: number): CrashRoundOptions => ({
  round,
  seed: SEED,
  registrants: REGISTRANTS,
  quota: QUOTA,
  // Both shapes: one process, and a cluster whose primary is the one killed.
  workers: round % 2 === 0 ? 2 : 1,
  deadlineMs: 30_000,
  mail: 'exactly-once',
});

/** A stack started ahead, marked handled so that a failed start is reported by its round only. */
function startAhead(round: number): Promise<CrashStack> {
  const started = startCrashStack(roundOptions(round));
  started.catch(() => {});
  return started;
}

describe('SIGKILL of the registration service under load, then a restart', () => {
  const results: CrashRoundResult[] = [];
  const t0 = Date.now();
  // Starting a stack is most of a round: the next round's starts while this one runs.
  let next: Promise<CrashStack> | undefined = startAhead(1);

  afterAll(async () => {
    // A stack started for a round that never ran (an earlier one failed the run) is stopped too.
    await next?.then(
      (s) => s.stack.stop(),
      () => {},
    );
    if (results.length === 0) return;
    const sum = (f: (r: CrashRoundResult) => number) => results.reduce((s, r) => s + f(r), 0);
    console.log(
      `${results.length} crash rounds in ${Math.round((Date.now() - t0) / 1000)} s: ` +
        `${sum((r) => r.acknowledged)} steps acknowledged, ${sum((r) => r.alreadyDone)} found done by a retry, ` +
        `${sum((r) => r.lost)} lost; ${sum((r) => r.refusedWhileDown)} requests refused while the service was down, ` +
        `${sum((r) => r.cutByCrash)} cut by the kill; ${sum((r) => r.mailsDeliveredAgain)} mails delivered again`,
    );
  });

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: every acknowledged step survives, the quota holds, every account has its mail once`, async () => {
      const prepared = next ?? startAhead(round);
      next = round < ROUNDS ? startAhead(round + 1) : undefined;
      const r = await runCrashRound(roundOptions(round), prepared);
      results.push(r);
      console.log(describeRound(r));
      expect(r.problems, describeRound(r)).toEqual([]);
      // The round did what it is for: a kill in the middle of acknowledged work, a contended quota.
      expect(r.downMs).toBeGreaterThan(0);
      expect(r.killAfter).toBeLessThan(r.acknowledged);
      expect([r.joined, r.toldWaveFull]).toEqual([QUOTA, REGISTRANTS - QUOTA]);
      // Every registrant's six steps before the join, and the join of those who got a place.
      expect(r.acknowledged + r.alreadyDone).toBe(REGISTRANTS * 6 + r.joined);
    }, 120_000);
  }
});
