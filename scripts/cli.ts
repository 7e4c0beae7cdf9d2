import { Command } from 'commander';
import { registerCommands } from './commands/index.ts';

const program = new Command()
  .name('gelombang')
  .description('Rehearse a national-scale registration surge on loopback before it happens.')
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: false });

await registerCommands(program, process.argv[2]);

await program.parseAsync(process.argv);
