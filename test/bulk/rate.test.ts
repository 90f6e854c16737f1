import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter, type RateClock } from '../../src/bulk/rate.js';
import { CseError, ErrorCode } from '../../src/errors.js';

/** Fake time: sleep() advances the clock instantly, or (manual mode) waits until advance() passes its deadline. */
class FakeClock implements RateClock {
  time = 0;
  sleeps = 0;
  readonly #waiting: { until: number; resolve: () => void; reject: (e: unknown) => void }[] = [];
  constructor(private readonly manual = false) {}
  now(): number {
    return this.time;
  }
  async sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
    this.sleeps++;
    if (!this.manual) {
      this.time += ms;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const entry = { until: this.time + ms, resolve, reject };
      this.#waiting.push(entry);
      signal?.addEventListener('abort', () => reject(new CseError(ErrorCode.ABORTED, 'fake sleep aborted')), { once: true });
    });
  }
  advance(ms: number): void {
    this.time += ms;
    for (const w of this.#waiting.splice(0)) {
      if (w.until <= this.time) w.resolve();
      else this.#waiting.push(w);
    }
  }
}

test('N sequential takes at rate R need (N - burst) / R seconds of fake time', async () => {
  for (const [rate, n] of [
    [10, 31], // burst 1: 30 waits of 100 ms
    [100, 110], // burst 10: 100 more tokens at 10 ms each
    [4, 9], // burst 1: 8 waits of 250 ms
  ] as const) {
    const clock = new FakeClock();
    const limiter = new RateLimiter(rate, clock);
    for (let i = 0; i < n; i++) await limiter.take();
    const burst = Math.max(1, rate / 10);
    assert.equal(clock.time, ((n - burst) / rate) * 1000, `rate ${rate}, ${n} takes`);
  }
});

test('concurrent takes are paced the same way as sequential ones', async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter(50, clock); // burst 5
  await Promise.all(Array.from({ length: 55 }, async () => limiter.take()));
  assert.equal(clock.time, 1000);
});

test('the first burst takes need no time at all', async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter(200, clock); // burst 20
  for (let i = 0; i < 20; i++) await limiter.take();
  assert.equal(clock.time, 0);
  assert.equal(clock.sleeps, 0);
});

test('constructor refuses a rate that is not finite and > 0', () => {
  for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => new RateLimiter(rate), (e: unknown) => e instanceof CseError && e.cseCode === ErrorCode.INVALID_ARGUMENT);
  }
});

test('an aborted take rejects with ERR_CSE_ABORTED and consumes no token', async () => {
  const clock = new FakeClock(true);
  const limiter = new RateLimiter(1, clock); // burst 1
  await limiter.take(); // bucket now empty
  const controller = new AbortController();
  const waiting = limiter.take(controller.signal);
  controller.abort();
  await assert.rejects(waiting, (e: unknown) => e instanceof CseError && e.cseCode === ErrorCode.ABORTED);
  // One second later exactly one token is back; had the aborted take consumed it, this take would wait again.
  clock.advance(1000);
  const sleepsBefore = clock.sleeps;
  await limiter.take();
  assert.equal(clock.sleeps, sleepsBefore);
});

test('a take with an already-aborted signal rejects at once', async () => {
  const limiter = new RateLimiter(1, new FakeClock());
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(limiter.take(controller.signal), (e: unknown) => e instanceof CseError && e.cseCode === ErrorCode.ABORTED);
  await limiter.take(); // the token is still there
});

test('a take queued behind another waiter rejects promptly when aborted, and the queue goes on', async () => {
  const clock = new FakeClock(true);
  const limiter = new RateLimiter(1, clock);
  await limiter.take();
  const first = limiter.take();
  const controller = new AbortController();
  const second = limiter.take(controller.signal);
  controller.abort();
  await assert.rejects(second, (e: unknown) => e instanceof CseError && e.cseCode === ErrorCode.ABORTED);
  const third = limiter.take();
  let thirdDone = false;
  void third.then(() => {
    thirdDone = true;
  });
  clock.advance(1000);
  await first;
  await new Promise((resolve) => setImmediate(resolve));
  // The aborted waiter left the queue without a token, so the third waits for the next one only.
  assert.equal(thirdDone, false);
  clock.advance(1000);
  await third;
  assert.equal(clock.time, 2000);
});

test('the real clock sleeps longer than setTimeout allows (very low rates) without a timer overflow', async () => {
  const { systemClock } = await import('../../src/bulk/rate.js');
  const warnings: string[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w.name);
  };
  process.on('warning', onWarning);
  const controller = new AbortController();
  let settled = 'pending';
  // 2^32 ms: Node turns such a timeout into 1 ms (TimeoutOverflowWarning), which would end the sleep almost at once.
  const sleeping = systemClock.sleep(2 ** 32, controller.signal).then(
    () => {
      settled = 'resolved';
    },
    () => {
      settled = 'rejected';
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 5));
  const before = settled;
  controller.abort();
  await sleeping;
  process.off('warning', onWarning);
  assert.deepEqual(warnings.filter((n) => n === 'TimeoutOverflowWarning'), []);
  assert.equal(before, 'pending');
  assert.equal(settled, 'rejected');
});
