// Bugs the hardening suites found, each pinned by the smallest test that shows it (issue 9).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProcessTrap, runClient, seededBytes, startFaultHarness, type FaultHarness, type RunClient } from './support.js';

let h: FaultHarness;
let c: RunClient;

before(async () => {
  h = await startFaultHarness();
  c = runClient(h.server);
});

after(async () => {
  c.close();
  await h.close();
});

test('a transient 5xx or reset on the HEAD of a resumable download is retried (it used to end the download)', async () => {
  const data = seededBytes(50_000, 3);
  await c.client.put('head-retry', data);
  for (const kind of ['service-unavailable', 'internal-error', 'lost-response'] as const) {
    h.faults.resetLog();
    h.faults.set({ rules: [{ fault: kind, operations: ['HeadObject'], key: 'head-retry', nth: [1, 2] }] });
    const target = join(h.dir, `head-retry-${kind}.bin`);
    try {
      const r = await c.client.resumableDownload('head-retry', target, { partSize: 20_000, retries: 2 });
      assert.equal(r.size, data.length);
    } finally {
      h.faults.clear();
    }
    assert.ok((await readFile(target)).equals(data), kind);
    assert.equal(h.faults.log().filter((e) => e.applied).length, 2, `${kind}: both HEAD faults were injected`);
  }
  // Retries stay bounded: with retries 1, two failing HEADs end the download with the HEAD's own error.
  h.faults.set({ rules: [{ fault: 'service-unavailable', operations: ['HeadObject'], key: 'head-retry', nth: [1, 2] }] });
  try {
    await assert.rejects(c.client.resumableDownload('head-retry', join(h.dir, 'never.bin'), { retries: 1 }), { cseCode: 'ERR_CSE_TRANSFER', status: 503 });
  } finally {
    h.faults.clear();
  }
});

test('the process trap of the fault suites records uncaught exceptions as well as unhandled rejections (it used to see only rejections), and disarming restores the listeners', () => {
  const listeners = (): [readonly unknown[], readonly unknown[]] => [process.listeners('uncaughtException'), process.listeners('unhandledRejection')];
  const prior = listeners();
  const trap = new ProcessTrap();
  trap.arm();
  trap.arm(); // idempotent: one listener per event
  const [onException, onRejection] = listeners().map((now, i) => now.filter((l) => !(prior[i] ?? []).includes(l)));
  assert.deepEqual([onException?.length, onRejection?.length], [1, 1]);
  trap.assertClean('nothing happened yet');
  // Called directly: a real uncaught exception would also reach node:test's own handler and fail this test.
  (onException?.[0] as (e: Error) => void)(new Error('thrown in a callback'));
  (onRejection?.[0] as (r: unknown, p: Promise<unknown>) => void)('rejected', Promise.resolve());
  assert.equal(trap.problems.length, 2);
  assert.match(trap.problems[0] ?? '', /^uncaught exception: Error: thrown in a callback/);
  assert.match(trap.problems[1] ?? '', /^unhandled rejection: rejected$/);
  assert.throws(() => {
    trap.assertClean('the suite');
  }, /the suite: 2 unhandled rejection\(s\) \/ uncaught exception\(s\)/);
  trap.disarm();
  assert.deepEqual(listeners(), prior, 'the listeners are as before arm()');
});
