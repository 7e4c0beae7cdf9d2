import type { Command } from 'commander';
import { bundleCommand } from './bundle.ts';
import { demoCommand } from './demo.ts';
import { runCommand } from './run.ts';
import { stackCommand } from './stack.ts';

/** Every `gelombang` sub-command, in the order `--help` lists them. Each lives in its own module. */
export function registerCommands(program: Command): void {
  program.addCommand(stackCommand());
  program.addCommand(demoCommand());
  program.addCommand(runCommand());
  program.addCommand(bundleCommand());
}
