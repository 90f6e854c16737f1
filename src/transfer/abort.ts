/**
 * `AbortSignal` plumbing: every transfer operation takes a signal and fails with `ERR_CSE_ABORTED` when it fires.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';

/**
 * The error an aborted operation fails with. The signal's reason, when it has one, becomes the cause.
 * @param what - the operation, e.g. `GET "a/b"`
 * @param signal - the signal that fired
 */
export function abortedError(what: string, signal?: AbortSignal): CseError {
  const reason: unknown = signal?.reason;
  return new CseError(ErrorCode.ABORTED, `${what} was aborted`, reason === undefined ? {} : { cause: reason });
}

/**
 * Throws {@link abortedError} when `signal` has fired.
 * @throws CseError ERR_CSE_ABORTED
 */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted === true) throw abortedError(what, signal);
}

/**
 * Runs `onAbort` once when `signal` fires (at once if it already has). Returns the function that detaches the
 * listener; call it when the operation is over.
 */
export function onAbort(signal: AbortSignal | undefined, onAbortFn: () => void): () => void {
  if (signal === undefined) return () => undefined;
  if (signal.aborted) {
    onAbortFn();
    return () => undefined;
  }
  signal.addEventListener('abort', onAbortFn, { once: true });
  return () => {
    signal.removeEventListener('abort', onAbortFn);
  };
}

/** Checks that `signal` is an `AbortSignal` (or absent). @throws CseError ERR_CSE_INVALID_ARGUMENT */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, 'options.signal: expected an AbortSignal');
  }
  return signal;
}
