import { Command } from 'commander';
import { CapacityFileError } from '../../model/capacity.ts';
import {
  capacitiesLines,
  enforcedCapacityFile,
  type SimilarRun,
  similarRun,
} from '../rehearsal-similitude.ts';
import { SERVICE_NAMES, type StackPorts, StackStartError, startStack } from '../stack.ts';
import {
  existingFile,
  keyValue,
  knobsProblem,
  nonEmpty,
  numberIn,
  outputDir,
  port,
  wholeNumberIn,
} from './flags.ts';

/**
 * `gelombang stack`: the reference service and its mocks on loopback until Ctrl-C. Exit codes: 0
 * stopped by Ctrl-C, 2 bad input (a flag, the capacity file, a port in use), 1 a service that
 * failed to start for another reason (its own words are in the message), or that died while the
 * stack ran (reported on stderr when it happens: which, how, its last lines).
 */

const EXIT_BAD_INPUT = 2;

/** The flag that sets each port, to name it when the port cannot be used. */
const PORT_FLAGS: Record<keyof StackPorts, string> = {
  registration: '--registration-port',
  ministry: '--ministry-port',
  emailHttp: '--email-port',
  emailSmtp: '--smtp-port',
  upload: '--upload-port',
};

interface StackFlags {
  capacity?: string;
  scale?: number;
  compress?: number;
  dataDir?: string;
  registrationPort?: number;
  ministryPort?: number;
  emailPort?: number;
  smtpPort?: number;
  uploadPort?: number;
  workers?: number;
  knob: Record<string, string>;
  adminToken?: string;
  verbose?: boolean;
}

export function stackCommand(): Command {
  return new Command('stack')
    .description('start the reference service and its mock dependencies on loopback until Ctrl-C')
    .option(
      '--capacity <file>',
      'capacity file: the stations (concurrency, queue, service time, faults) of every dependency',
      existingFile('--capacity'),
    )
    .option(
      '--scale <share>',
      "with --compress: the replay this stack is for (k6's -e SCALE), to scale the --capacity file (at full size; default mock-services/capacity.2020.json) and the service's hash cost and SMTP pool by its share of the day's arrival rate, as rehearse does",
      numberIn('--scale', 0, 1, true),
    )
    .option(
      '--compress <factor>',
      "with --scale: the replay's time compression (k6's -e COMPRESS)",
      numberIn('--compress', 1, 1e6),
    )
    .option(
      '--data-dir <dir>',
      'where the SQLite database and uploaded objects live (default: a temp dir)',
      outputDir('--data-dir'),
    )
    .option('--registration-port <port>', 'port of the registration service', port('--registration-port'))
    .option('--ministry-port <port>', 'port of the ministry identity API mock', port('--ministry-port'))
    .option('--email-port <port>', 'HTTP port of the email mock (mailboxes)', port('--email-port'))
    .option('--smtp-port <port>', 'SMTP port of the email mock', port('--smtp-port'))
    .option('--upload-port <port>', 'port of the upload store mock', port('--upload-port'))
    .option(
      '--workers <n>',
      'processes of the registration service (node:cluster), the WORKERS knob',
      wholeNumberIn('--workers', 1, 64),
    )
    .option(
      '--knob <KEY=VALUE>',
      'a registration service knob, e.g. SCRYPT_N=16384 (repeatable)',
      keyValue('--knob', 'env'),
      {},
    )
    .option('--admin-token <token>', "token for the mocks' admin endpoints", nonEmpty('--admin-token'))
    .option('-v, --verbose', 'print every line the services log')
    .exitOverride((err) => {
      process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_INPUT);
    })
    .action(async (o: StackFlags) => {
      const fail = (message: string, code = EXIT_BAD_INPUT) => {
        console.error(`error: ${message}`);
        process.exitCode = code;
      };
      let knobs: Record<string, string> = {
        ...o.knob,
        ...(o.workers !== undefined ? { WORKERS: String(o.workers) } : {}),
      };
      const badKnob = knobsProblem(knobs, '--knob');
      if (badKnob) return fail(badKnob);
      if ((o.scale === undefined) !== (o.compress === undefined))
        return fail(
          `${o.scale === undefined ? '--compress' : '--scale'} without ${o.scale === undefined ? '--scale' : '--compress'}: the stack's capacities are scaled by the replay's scale x compress, so give both (rehearse's defaults: --scale 0.001 --compress 90), or neither to enforce --capacity as it is`,
        );
      // By similitude, as rehearse starts its stack: the mocks get the scaled stations from a file
      // of their own, the service the hash cost and pool the rule chose.
      let similar: SimilarRun | undefined;
      let scaled: { file: string; remove: () => void } | undefined;
      if (o.scale !== undefined && o.compress !== undefined) {
        try {
          const s = similarRun({
            scenario: 'registration-day',
            scale: o.scale,
            compress: o.compress,
            env: {},
            flags: { scale: '--scale', compress: '--compress', asIs: 'leave out --scale and --compress' },
            capacityFile: o.capacity,
            knobs,
          });
          if ('problem' in s) return fail(s.problem);
          similar = s;
        } catch (err) {
          if (err instanceof CapacityFileError) return fail(`--capacity: ${err.message}`);
          throw err;
        }
        knobs = similar.knobs;
        scaled = enforcedCapacityFile(
          similar.run,
          `${similar.run.file} x ${similar.similitude.factor} (gelombang stack --scale ${o.scale} --compress ${o.compress})`,
        );
      }
      let stack: Awaited<ReturnType<typeof startStack>>;
      let died = false;
      try {
        stack = await startStack({
          capacityFile: scaled?.file ?? o.capacity,
          dataDir: o.dataDir,
          adminToken: o.adminToken,
          ports: {
            ...(o.registrationPort !== undefined && { registration: o.registrationPort }),
            ...(o.ministryPort !== undefined && { ministry: o.ministryPort }),
            ...(o.emailPort !== undefined && { emailHttp: o.emailPort }),
            ...(o.smtpPort !== undefined && { emailSmtp: o.smtpPort }),
            ...(o.uploadPort !== undefined && { upload: o.uploadPort }),
          },
          env: { registration: knobs },
          log: o.verbose ? (svc, line) => console.log(`[${svc}] ${line}`) : undefined,
          // A service that dies while the stack runs is news at once, not at the next request.
          onExit: (exit) => {
            if (exit.expected) return;
            died = true;
            console.error(`error: ${exit.message}`);
            console.error('the other services keep running; Ctrl-C to stop');
          },
        });
      } catch (err) {
        scaled?.remove();
        if (err instanceof CapacityFileError)
          return fail(`${o.capacity ? '--capacity' : 'GELOMBANG_CAPACITY_FILE'}: ${err.message}`);
        if (!(err instanceof StackStartError)) throw err;
        if (err.port) return fail(`${PORT_FLAGS[err.port.service]}: ${err.message}`);
        return fail(err.message, 1);
      }
      for (const name of SERVICE_NAMES) {
        const url = name === 'email' ? stack.urls.email : stack.urls[name];
        console.log(`${name.padEnd(13)} ${url}`);
      }
      console.log(`${'smtp'.padEnd(13)} ${stack.urls.smtp}`);
      if (similar) {
        for (const line of capacitiesLines(similar.similitude)) console.log(line);
        const { SCRYPT_N, EMAIL_CONNECTIONS } = similar.knobs;
        const cpu = similar.similitude.cpu;
        const pool = similar.similitude.smtpPool;
        if (cpu && SCRYPT_N !== o.knob.SCRYPT_N)
          console.log(
            `service: SCRYPT_N=${SCRYPT_N} instead of the design's ${cpu.fullSizeScryptN}: this machine's ${cpu.cores} cores stand for ${Number(cpu.standsForCores.toPrecision(3))} cores of the full-size service`,
          );
        if (pool && EMAIL_CONNECTIONS !== o.knob.EMAIL_CONNECTIONS)
          console.log(
            `service: EMAIL_CONNECTIONS=${EMAIL_CONNECTIONS} a process, its share of the full-size pool (${pool.fullSizeWorkers} workers x ${pool.fullSizeConnections})`,
          );
        console.log(`replay with -e SCALE=${o.scale} -e COMPRESS=${o.compress}`);
      }
      console.log(`data in ${stack.dataDir}; Ctrl-C to stop`);
      const shutdown = async () => {
        console.log('stopping...');
        await stack.stop();
        scaled?.remove();
        process.exit(died ? 1 : 0);
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
}
