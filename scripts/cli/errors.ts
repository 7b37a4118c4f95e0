/**
 * The CLI's one error type: a message meant for the operator and the exit code to leave with.
 * Exit codes: 1 a run or the Worker failed, 2 the command or its setup is wrong (bad arguments,
 * missing or wrong secret, unknown job), 3 skipped because another run holds the job's lock.
 */
export const EXIT = { failed: 1, usage: 2, skipped: 3 } as const;

export class CliError extends Error {
  exitCode: number;

  constructor(message: string, exitCode: number = EXIT.failed) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
