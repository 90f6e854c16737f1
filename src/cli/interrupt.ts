/**
 * Ctrl-C for long-running commands (put, get, rewrap): the first SIGINT or SIGTERM aborts the command's client calls
 * through an `AbortSignal`, so they stop cleanly; the second one kills. Commands that run until stopped (serve,
 * gateway) wait with {@link untilStopSignal}: for them the signal is the normal end, exit code 0.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';
import type { CliIo } from './command.js';

/** The signals that stop a transfer cleanly. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** The first stop signal this process received, if any (main turns it into exit code 130 or 143). */
let receivedSignal: string | undefined;
/** How many {@link interruptible}s are listening (the process-wide fallback leaves signals to them). */
let listening = 0;

/** The stop signal received so far (`SIGINT`, `SIGTERM`), if any. */
export function stopSignal(): string | undefined {
  return receivedSignal;
}

/** The exit code for a stop signal: 128 + its number (SIGINT 130, SIGTERM 143). */
export function signalExitCode(signal: string): number {
  return signal === 'SIGTERM' ? 143 : 130;
}

/**
 * Installs the process-wide fallback: a stop signal that arrives while no {@link interruptible} listens (a listing, a
 * `cat`, or a second Ctrl-C) ends the process at once with 130 (SIGINT) or 143 (SIGTERM) and no stack trace.
 */
export function exitOnStopSignals(): void {
  for (const s of STOP_SIGNALS) {
    process.on(s, (name: string) => {
      receivedSignal ??= name;
      if (listening === 0) process.exit(signalExitCode(name));
    });
  }
}

/** A transfer that Ctrl-C (SIGINT) or SIGTERM stops through an `AbortSignal`; see {@link interruptible}. */
export interface Interruptible {
  /** Passed to every client call of the command. */
  readonly signal: AbortSignal;
  /**
   * Awaits the command's work and removes the handlers. An ERR_CSE_ABORTED caused by the interrupt is rethrown as one
   * saying so (with the hint, when given); any other outcome is passed on unchanged.
   */
  readonly run: <T>(work: Promise<T>) => Promise<T>;
}

/**
 * Turns the first SIGINT or SIGTERM into an abort of the command's client calls, so that the work stops the way the
 * library stops it (an upload aborted on OSS, or kept resumable with a checkpoint; a download's temporary file
 * removed or kept; a rewrap finishing the objects in flight) instead of the process dying mid-request. The handlers
 * are removed at the first signal: a second one kills the process as usual.
 *
 * @param hint - how to continue, added to the error (e.g. when a checkpoint keeps the transfer resumable)
 * @param notice - called with the signal's name when it arrives (e.g. to say on stderr what happens next)
 */
export function interruptible(hint?: string, notice?: (signal: string) => void): Interruptible {
  const controller = new AbortController();
  let received: string | undefined;
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    listening--;
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  };
  const onSignal = (name: string): void => {
    received = name;
    receivedSignal ??= name;
    release();
    notice?.(name);
    controller.abort(new Error(`interrupted by ${name}`));
  };
  listening++;
  for (const s of STOP_SIGNALS) process.once(s, onSignal);
  return {
    signal: controller.signal,
    run: async (work) => {
      try {
        return await work;
      } catch (e) {
        if (received === undefined || !(e instanceof CseError) || e.cseCode !== ErrorCode.ABORTED) throw e;
        throw new CseError(ErrorCode.ABORTED, `interrupted by ${received}${hint === undefined ? '' : ` (${hint})`}: ${e.message}`, { cause: e });
      } finally {
        release();
      }
    },
  };
}

/**
 * Resolves at the first SIGINT or SIGTERM, for a command that runs until stopped (`serve`, `gateway`). The signal is
 * that command's normal end: the process-wide fallback neither exits nor turns it into exit code 130/143, so the
 * command shuts down cleanly and exits 0 (its help says so). A second signal during the shutdown kills as usual.
 * @returns the signal's name
 */
export async function untilStopSignal(): Promise<NodeJS.Signals> {
  listening++;
  return new Promise((resolveSignal) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
      listening--;
      // The fallback (installed first, so it ran first) recorded it; for this command it is no interruption.
      receivedSignal = undefined;
      resolveSignal(signal);
    };
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
  });
}

/**
 * The end of a run-until-stopped command (`serve`, `gateway`): prints where it listens, and the access key it
 * generated when none was given (the caller needs it to sign), then waits for the stop signal, closes and exits 0.
 * @param io - the command's streams
 * @param name - `server` or `gateway`, as printed (`oss-cse server listening on …`)
 * @param running - what was started: its endpoint, credentials and close
 * @param generated - whether the credentials were generated (then they are printed on stdout)
 * @param signal - from {@link untilStopSignal}, taken before starting so no signal is missed
 * @returns 0
 */
export async function serveUntilStopped(
  io: CliIo,
  name: string,
  running: { readonly endpoint: string; readonly credentials: { readonly accessKeyId: string; readonly accessKeySecret: string }; close(): Promise<void> },
  generated: boolean,
  signal: Promise<NodeJS.Signals>,
): Promise<number> {
  io.stdout.write(`oss-cse ${name} listening on ${running.endpoint}\n`);
  if (generated) {
    io.stdout.write(`OSS_ACCESS_KEY_ID=${running.credentials.accessKeyId}\n`);
    io.stdout.write(`OSS_ACCESS_KEY_SECRET=${running.credentials.accessKeySecret}\n`);
  }
  const received = await signal;
  io.stderr.write(`oss-cse ${name}: ${received}, shutting down\n`);
  await running.close();
  return 0;
}
