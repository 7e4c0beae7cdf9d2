import { Command, InvalidArgumentError } from 'commander';
import { SERVICE_NAMES, startStack } from '../stack.ts';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new InvalidArgumentError(`expected a TCP port number 1-65535 (0: any free port), got '${value}'`);
  }
  return n;
}

export function stackCommand(): Command {
  return new Command('stack')
    .description('start the reference service and its mock dependencies on loopback until Ctrl-C')
    .option(
      '--capacity <file>',
      'capacity file: the stations (concurrency, queue, service time, faults) of every dependency',
    )
    .option('--data-dir <dir>', 'where the SQLite database and uploaded objects live (default: a temp dir)')
    .option('--registration-port <port>', 'port of the registration service', port)
    .option('--ministry-port <port>', 'port of the ministry identity API mock', port)
    .option('--email-port <port>', 'HTTP port of the email mock (mailboxes)', port)
    .option('--smtp-port <port>', 'SMTP port of the email mock', port)
    .option('--upload-port <port>', 'port of the upload store mock', port)
    .option('--workers <n>', 'processes of the registration service (node:cluster)')
    .option('--admin-token <token>', "token for the mocks' admin endpoints")
    .option('-v, --verbose', 'print every line the services log')
    .action(async (o) => {
      const stack = await startStack({
        capacityFile: o.capacity,
        dataDir: o.dataDir,
        adminToken: o.adminToken,
        ports: {
          ...(o.registrationPort !== undefined && { registration: o.registrationPort }),
          ...(o.ministryPort !== undefined && { ministry: o.ministryPort }),
          ...(o.emailPort !== undefined && { emailHttp: o.emailPort }),
          ...(o.smtpPort !== undefined && { emailSmtp: o.smtpPort }),
          ...(o.uploadPort !== undefined && { upload: o.uploadPort }),
        },
        env: o.workers ? { registration: { WORKERS: String(o.workers) } } : {},
        log: o.verbose ? (svc, line) => console.log(`[${svc}] ${line}`) : undefined,
      });
      for (const name of SERVICE_NAMES) {
        const url = name === 'email' ? stack.urls.email : stack.urls[name];
        console.log(`${name.padEnd(13)} ${url}`);
      }
      console.log(`${'smtp'.padEnd(13)} ${stack.urls.smtp}`);
      console.log(`data in ${stack.dataDir}; Ctrl-C to stop`);
      const shutdown = async () => {
        console.log('stopping...');
        await stack.stop();
        process.exit(0);
      };
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    });
}
