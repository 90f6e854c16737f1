/**
 * A token-bucket rate limiter for bulk jobs (`--rate OPS_PER_S`).
 *
 * @packageDocumentation
 */
import { CseError, ErrorCode } from '../errors.js';

/** Time source of a {@link RateLimiter}; injectable so tests run on fake time instead of timed assertions. */
export interface RateClock {
  /** Milliseconds on a monotonic scale. */
  now(): number;
  /**
   * Waits `ms` milliseconds.
   * @throws CseError ERR_CSE_ABORTED (or any rejection) when `signal` fires first
   */
  sleep(ms: number, signal: AbortSignal | undefined): Promise<void>;
}

function abortedError(signal: AbortSignal): CseError {
  return new CseError(ErrorCode.ABORTED, 'rate limiter wait aborted', { cause: signal.reason });
}

/** The longest delay setTimeout honours. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The real clock: `performance.now()` and a timer that is cleared when the signal fires. */
export const systemClock: RateClock = {
  now: () => performance.now(),
  sleep: async (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(abortedError(signal));
        return;
      }
      // setTimeout turns a delay above 2^31 - 1 ms into 1 ms (a very low --rate would then spin), so long waits are
      // taken in steps.
      let remaining = ms;
      let timer: NodeJS.Timeout | undefined;
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(abortedError(signal as AbortSignal));
      };
      const arm = (): void => {
        const step = Math.min(remaining, MAX_TIMEOUT_MS);
        remaining -= step;
        timer = setTimeout(() => {
          if (remaining > 0) {
            arm();
            return;
          }
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, step);
      };
      arm();
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * Token bucket: at most `opsPerSecond` {@link RateLimiter.take}s per second on average, bursts of at most
 * `max(1, opsPerSecond / 10)`. The bucket starts full. Waiters are served in call order.
 */
export class RateLimiter {
  readonly #rate: number; // tokens per millisecond
  readonly #burst: number;
  readonly #clock: RateClock;
  #tokens: number;
  #last: number;
  // Serialises waiters: each take() waits for the previous one so tokens go out in call order and an aborted
  // waiter never consumes a token (it simply leaves the chain).
  #tail: Promise<void> = Promise.resolve();

  /**
   * @param opsPerSecond - average operations per second (finite, > 0)
   * @param clock - time source; defaults to the real clock
   * @throws CseError ERR_CSE_INVALID_ARGUMENT unless `opsPerSecond` is finite and > 0
   */
  constructor(opsPerSecond: number, clock: RateClock = systemClock) {
    if (typeof opsPerSecond !== 'number' || !Number.isFinite(opsPerSecond) || opsPerSecond <= 0) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, `rate ${String(opsPerSecond)} is not a finite number of operations per second > 0`);
    }
    this.#rate = opsPerSecond / 1000;
    this.#burst = Math.max(1, opsPerSecond / 10);
    this.#clock = clock;
    this.#tokens = this.#burst;
    this.#last = clock.now();
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate);
    this.#last = now;
  }

  /**
   * Resolves when the caller may start one operation (one token taken).
   *
   * @param signal - aborts the wait; an aborted take() consumes no token
   * @throws CseError ERR_CSE_ABORTED when the signal fires before a token is available
   */
  async take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) throw abortedError(signal);
    const previous = this.#tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#tail = mine;
    try {
      await waitOrAbort(previous, signal);
      for (;;) {
        if (signal !== undefined && isAborted(signal)) throw abortedError(signal);
        this.#refill();
        // A tiny epsilon absorbs floating-point residue so a wait of exactly the computed time suffices.
        if (this.#tokens >= 1 - 1e-9) {
          this.#tokens = Math.max(0, this.#tokens - 1);
          return;
        }
        await this.#clock.sleep(Math.ceil((1 - this.#tokens) / this.#rate), signal);
      }
    } catch (e) {
      if (signal !== undefined && isAborted(signal) && !(e instanceof CseError && e.cseCode === ErrorCode.ABORTED)) throw abortedError(signal);
      throw e;
    } finally {
      // The next waiter may start once the previous one finished too; chaining keeps the order even when we abort.
      void previous.then(release, release);
    }
  }
}

// A function call, so TypeScript does not narrow `aborted` to false after the first check (it changes over time).
function isAborted(signal: AbortSignal): boolean {
  return signal.aborted;
}

/** Waits for `p`, or rejects with ERR_CSE_ABORTED as soon as `signal` fires. */
async function waitOrAbort(p: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return p;
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { reject(abortedError(signal)); };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
    );
  });
}
