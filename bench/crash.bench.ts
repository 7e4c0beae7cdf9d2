import {
  type CrashRoundResult,
  crashEnv,
  describeRound,
  runCrashRound,
} from '../test/support/crash-round.ts';
import type { Bench, BenchRow } from './types.ts';

/**
 * The crash rounds of test/crash-rounds.test.ts at the bench's scale: BENCH_CRASH_ROUNDS rounds
 * (20) of BENCH_CRASH_REGISTRANTS registrants (40) racing for three quarters as many places, each
 * round a fresh stack whose registration service is killed with SIGKILL mid-load and restarted.
 * The goals are zeros: nothing acknowledged lost, no place oversold or given twice, every account
 * shown its mail once. GELOMBANG_CRASH_SEED replays a run's kill moments.
 */

const bench: Bench = {
  name: 'crash',
  async run(): Promise<BenchRow[]> {
    const env = crashEnv(process.env);
    const rounds = env.BENCH_CRASH_ROUNDS;
    const registrants = env.BENCH_CRASH_REGISTRANTS;
    const quota = Math.floor((registrants * 3) / 4);
    const results: CrashRoundResult[] = [];
    const failed: string[] = [];
    for (let round = 1; round <= rounds; round++) {
      try {
        const r = await runCrashRound({
          round,
          seed: env.GELOMBANG_CRASH_SEED,
          registrants,
          quota,
          workers: round % 2 === 0 ? 2 : 1,
          deadlineMs: 60_000,
          mail: 'exactly-once',
        });
        results.push(r);
        console.error(describeRound(r));
        for (const p of r.problems) console.error(`  ${p}`);
      } catch (err) {
        // A round that ran out of time or whose service died on its own proves nothing: counted, shown.
        failed.push((err as Error).message);
        console.error(`round ${round} failed: ${(err as Error).message}`);
      }
    }
    const sum = (f: (r: CrashRoundResult) => number) => results.reduce((s, r) => s + f(r), 0);
    const downs = results.map((r) => r.downMs).sort((a, b) => a - b);
    const medianDown = downs.length ? downs[Math.floor(downs.length / 2)] : undefined;
    const withProblems = results.filter((r) => r.problems.length > 0).length;
    const shape = `${registrants} registrants, quota ${quota}, 1 and 2 processes alternating`;
    return [
      {
        bench: 'crash',
        metric: 'rounds run to the end (SIGKILL mid-load, restart)',
        value: results.length,
        unit: 'rounds',
        reference: rounds,
        ratio: results.length / rounds,
        note: `${shape}; ${withProblems} with a violation${failed.length ? `; first failure: ${failed[0]?.slice(0, 160)}` : ''}`,
      },
      {
        bench: 'crash',
        metric: 'steps acknowledged (2xx)',
        value: sum((r) => r.acknowledged),
        unit: 'steps',
        note: `${sum((r) => r.alreadyDone)} more found done by a retry (committed, answer lost in the kill)`,
      },
      {
        bench: 'crash',
        metric: 'acknowledged steps lost',
        value: sum((r) => r.lost),
        unit: 'steps',
        note: 'goal 0: every 2xx (and every "already done") is in the database after the restart',
      },
      {
        bench: 'crash',
        metric: 'places oversold',
        value: sum((r) => r.oversold),
        unit: 'places',
        note: `goal 0; ${sum((r) => r.joined)} joined, ${sum((r) => r.toldWaveFull)} told wave_full`,
      },
      {
        bench: 'crash',
        metric: 'duplicate joins',
        value: sum((r) => r.duplicateJoins),
        unit: 'rows',
        note: 'goal 0: join rows beyond one per account',
      },
      {
        bench: 'crash',
        metric: 'accounts not shown their mail exactly once',
        value: sum((r) => r.accountsWithoutMail + r.accountsWithSeveralMails),
        unit: 'accounts',
        note: `goal 0 of ${sum((r) => r.accounts)}; ${sum((r) => r.mailsDeliveredAgain)} copies delivered again, folded by Message-ID`,
      },
      {
        bench: 'crash',
        metric: 'requests refused while the service was down',
        value: sum((r) => r.refusedWhileDown),
        unit: 'requests',
        note: `retried by the registrants; ${sum((r) => r.cutByCrash)} cut by the kill, ${sum((r) => r.serverErrors)} 5xx; median downtime ${medianDown ?? '-'} ms`,
      },
    ];
  },
};

export default bench;
