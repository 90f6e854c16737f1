/**
 * What every CLI command looks like. Commands are thin: parse arguments, call the library, print.
 *
 * @packageDocumentation
 */

/** Where a command writes. Tests substitute these. */
export interface CliIo {
  /** Standard output. */
  readonly stdout: NodeJS.WritableStream;
  /** Standard error. */
  readonly stderr: NodeJS.WritableStream;
  /** Environment variables. */
  readonly env: NodeJS.ProcessEnv;
}

/** A CLI sub-command. */
export interface Command {
  /** The word after `oss-cse`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /**
   * Runs the command.
   * @returns the process exit code
   */
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/**
 * A bad command line: printed with the command's help hint, exit code 2. Lives here, not in main.ts, so that command
 * modules can import it without an import cycle through the dispatcher.
 */
export class UsageError extends Error {
  /** @param message - what is wrong with the command line */
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Exit codes, documented in `oss-cse --help`. */
export const ExitCode = {
  OK: 0,
  /** Any failure reported as a CseError (or an unexpected error). */
  FAILURE: 1,
  /** Bad command line (unknown flag, missing argument). */
  USAGE: 2,
} as const;

/**
 * Reads a whole-number flag value (`serve`/`gateway` limits).
 * @param flag - the flag's name, for the message
 * @param text - its value as given, or undefined when absent
 * @param max - the largest value allowed
 * @returns the number, or undefined when the flag was not given
 * @throws UsageError when the value is not a whole number from 1 to `max`
 */
export function parsePositive(flag: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got ${JSON.stringify(text)}`);
  }
  return Number(text);
}
