import type { Command } from 'commander';
import { bundleCommand } from './bundle.ts';
import { calibrateCommand } from './calibrate.ts';
import { compareCommand } from './compare.ts';
import { demoCommand } from './demo.ts';
import { k8sCommand } from './k8s.ts';
import { recordCommand } from './record.ts';
import { rehearseCommand } from './rehearse.ts';
import { reportCommand } from './report.ts';
import { runCommand } from './run.ts';
import { simulateCommand } from './simulate.ts';
import { stackCommand } from './stack.ts';
import { validateCommand } from './validate.ts';

/** Every `gelombang` sub-command, in the order `--help` lists them. Each lives in its own module. */
export function registerCommands(program: Command): void {
  program.addCommand(rehearseCommand());
  program.addCommand(simulateCommand());
  program.addCommand(calibrateCommand());
  program.addCommand(validateCommand());
  program.addCommand(reportCommand());
  program.addCommand(compareCommand());
  program.addCommand(recordCommand());
  program.addCommand(stackCommand());
  program.addCommand(demoCommand());
  program.addCommand(runCommand());
  program.addCommand(bundleCommand());
  program.addCommand(k8sCommand());
}
