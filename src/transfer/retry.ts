/**
 * Retrying one step of a parallel transfer (a part upload, a ranged GET) with exponential backoff, and the policy of
 * which failures are worth retrying.
 *
 * Only transient failures are retried: those marked `retryable`: network errors and 5xx/429 answers (set by the
 * store), and a CRC-64 mismatch or a truncated body (set by the transfers: bytes damaged or lost on the way).
 * Everything else (a 4xx, a bad argument, an abort, an object that changed) fails at once: retrying would only repeat
 * it.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';
import { abortedError } from './abort.js';

/** How to retry. */
export interface RetryPolicy {
  /** Retries after the first attempt (default {@link DEFAULT_RETRIES}). */
  readonly retries: number;
  /** First backoff in milliseconds (default 200); doubled each time, with ±50 % jitter. */
  readonly baseDelayMs: number;
  /** Largest backoff (default 5 s). */
  readonly maxDelayMs: number;
}

/** Retries per part by default. */
export const DEFAULT_RETRIES = 3;

/** The default policy. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: DEFAULT_RETRIES, baseDelayMs: 200, maxDelayMs: 5000 };

/**
 * Builds a policy from the caller's `retries` option.
 * @throws CseError ERR_CSE_INVALID_ARGUMENT unless `retries` is an integer from 0 to 100
 */
export function retryPolicy(retries: number | undefined): RetryPolicy {
  if (retries === undefined) return DEFAULT_RETRY_POLICY;
  if (!Number.isSafeInteger(retries) || retries < 0 || retries > 100) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `options.retries must be an integer from 0 to 100, got ${String(retries)}`);
  }
  return { ...DEFAULT_RETRY_POLICY, retries };
}

/** True when retrying the failed step may succeed. */
export function isTransient(e: unknown): boolean {
  if (!(e instanceof CseError)) return false;
  // The store marks network errors and 5xx/429 answers retryable; the transfers mark a CRC mismatch or a short body
  // (bytes damaged or lost on the way) retryable too, but never "the object changed".
  return e.cseCode !== ErrorCode.ABORTED && e.retryable;
}

/** Sleeps `ms`, or fails with ERR_CSE_ABORTED as soon as `signal` fires. */
export async function sleep(ms: number, signal: AbortSignal | undefined, what: string): Promise<void> {
  if (signal?.aborted === true) throw abortedError(what, signal);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }
    function onAbort(): void {
      clearTimeout(timer);
      reject(abortedError(what, signal));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Runs `step` until it succeeds, a failure is not transient, the retries are used up, or `signal` fires.
 *
 * @param step - the attempt; receives the attempt number (0 first)
 * @param policy - retries and backoff
 * @param signal - stops waiting and retrying
 * @param what - for the abort error
 * @returns the step's result
 * @throws the last failure (a non-transient one at once); CseError ERR_CSE_ABORTED when the signal fires
 */
export async function withRetries<T>(
  step: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  what: string,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step(attempt);
    } catch (e) {
      if (signal?.aborted === true) throw abortedError(what, signal);
      if (attempt >= policy.retries || !isTransient(e)) throw e;
      const base = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
      await sleep(base * (0.5 + Math.random()), signal, what);
    }
  }
}

/**
 * Checks a `parallel` option.
 * @throws CseError ERR_CSE_INVALID_ARGUMENT unless it is an integer from 1 to 64
 */
export function checkParallel(parallel: number | undefined, fallback: number): number {
  if (parallel === undefined) return fallback;
  if (!Number.isSafeInteger(parallel) || parallel < 1 || parallel > 64) {
    throw new CseError(ErrorCode.INVALID_ARGUMENT, `options.parallel must be an integer from 1 to 64, got ${String(parallel)}`);
  }
  return parallel;
}
