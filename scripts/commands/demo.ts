import { Command } from 'commander';
import { CapacityFileError } from '../../model/capacity.ts';
import { MAX_POPULATION } from '../../model/population.ts';
import { StackStartError, startStack } from '../stack.ts';
import { walkOneRegistrant } from '../walkthrough.ts';
import { wholeNumberIn } from './flags.ts';

/**
 * `gelombang demo`: one registrant through the whole stack. Exit codes: 0 it reached joined_wave,
 * 1 it did not (or the stack did not start: the message says why), 2 a bad flag.
 */

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'start the whole stack on loopback (free ports) and walk one registrant through all eight steps',
    )
    .option(
      '--index <n>',
      'which person of the synthetic population registers (default: the first eligible one)',
      wholeNumberIn('--index', 0, MAX_POPULATION - 1),
    )
    .option('-v, --verbose', "print the services' own log lines")
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (o: { index?: number; verbose?: boolean }) => {
      console.log('starting registration, ministry, email and upload services on 127.0.0.1 ...');
      let stack: Awaited<ReturnType<typeof startStack>>;
      try {
        stack = await startStack({
          ports: 'auto',
          log: o.verbose ? (svc, line) => console.log(`  [${svc}] ${line}`) : undefined,
        });
      } catch (err) {
        if (!(err instanceof StackStartError || err instanceof CapacityFileError)) throw err;
        console.error(`error: the stack did not start: ${err.message}`);
        process.exitCode = 1;
        return;
      }
      let failed = false;
      const stop = async () => {
        await stack.stop();
      };
      process.once('SIGINT', () => {
        void stop().then(() => process.exit(130));
      });
      try {
        console.log(`registration ${stack.urls.registration}  ministry ${stack.urls.ministry}`);
        console.log(`email ${stack.urls.email} (${stack.urls.smtp})  upload ${stack.urls.upload}\n`);
        await walkOneRegistrant(stack.urls, {
          index: o.index,
          onStep: (s) =>
            console.log(
              `  ${s.status >= 400 ? '✗' : '✓'} ${s.step.padEnd(18)} ${String(s.status).padEnd(4)} ${String(s.ms).padStart(6)} ms  ${s.detail}`,
            ),
        });
        console.log('\nthe registrant reached joined_wave: the stack works end to end');
      } catch (err) {
        failed = true;
        console.error(`\nwalkthrough failed: ${(err as Error).message}`);
      } finally {
        await stop();
      }
      process.exitCode = failed ? 1 : 0;
    });
}
