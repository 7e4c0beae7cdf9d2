import { Command, InvalidArgumentError } from 'commander';
import { startStack } from '../stack.ts';
import { walkOneRegistrant } from '../walkthrough.ts';

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a whole number >= 0, got '${value}'`);
  return n;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'start the whole stack on loopback (free ports) and walk one registrant through all eight steps',
    )
    .option(
      '--index <n>',
      'which person of the synthetic population registers (default: the first eligible one)',
      nonNegativeInt,
    )
    .option('-v, --verbose', "print the services' own log lines")
    .action(async (o: { index?: number; verbose?: boolean }) => {
      console.log('starting registration, ministry, email and upload services on 127.0.0.1 ...');
      const stack = await startStack({
        ports: 'auto',
        log: o.verbose ? (svc, line) => console.log(`  [${svc}] ${line}`) : undefined,
      });
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
