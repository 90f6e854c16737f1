/**
 * Ctrl-C for long-running commands (put, get, rewrap): the first SIGINT or SIGTERM aborts the command's client calls
 * through an `AbortSignal`, so they stop cleanly; the second one kills.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';

/** The signals that stop a transfer cleanly. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

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
  const release = (): void => {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  };
  const onSignal = (name: string): void => {
    received = name;
    release();
    notice?.(name);
    controller.abort(new Error(`interrupted by ${name}`));
  };
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
