import type { Command } from 'commander';

/**
 * Every `gelombang` sub-command, in the order `--help` lists them. Each lives in its own module,
 * loaded only when it runs (or for `--help`): a command's start-up does not pay for the others'
 * imports (the simulator, the runner, esbuild, Chromium's driver).
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  rehearse: async () => (await import('./rehearse.ts')).rehearseCommand(),
  simulate: async () => (await import('./simulate.ts')).simulateCommand(),
  plan: async () => (await import('./plan.ts')).planCommand(),
  calibrate: async () => (await import('./calibrate.ts')).calibrateCommand(),
  validate: async () => (await import('./validate.ts')).validateCommand(),
  report: async () => (await import('./report.ts')).reportCommand(),
  compare: async () => (await import('./compare.ts')).compareCommand(),
  record: async () => (await import('./record.ts')).recordCommand(),
  stack: async () => (await import('./stack.ts')).stackCommand(),
  demo: async () => (await import('./demo.ts')).demoCommand(),
  run: async () => (await import('./run.ts')).runCommand(),
  bundle: async () => (await import('./bundle.ts')).bundleCommand(),
  k8s: async () => (await import('./k8s.ts')).k8sCommand(),
};

/** Registers the command `name` if it is one, else every command (for help and for commander's "unknown command"). */
export async function registerCommands(program: Command, name?: string): Promise<void> {
  const load = name !== undefined ? COMMANDS[name] : undefined;
  if (load) {
    program.addCommand(await load());
    return;
  }
  for (const one of Object.values(COMMANDS)) program.addCommand(await one());
}
