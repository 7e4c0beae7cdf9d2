/** k6's exit codes, so that CI jobs written for k6 read ours the same way. */
export const EXIT = {
  ok: 0,
  thresholdsFailed: 99,
  setupTimeout: 100,
  teardownTimeout: 101,
  genericTimeout: 102,
  genericEngine: 103,
  invalidConfig: 104,
  externalAbort: 105,
  cannotStartRestAPI: 106,
  scriptException: 107,
  scriptAborted: 108,
  /**
   * k6 exits -1 (255 to the shell) for an error that carries no code of its own: an async setup()
   * or teardown() whose promise rejects ("Uncaught (in promise)"), where a throw exits 107.
   */
  uncaught: 255,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error that ends the run with a given exit code and message (no stack for the user). */
export class RunError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
  }
}

export const configError = (message: string) => new RunError(EXIT.invalidConfig, message);
