// resumableDownload's range size and checkpoint failures: a range size that is not a positive integer, or that would
// cut the object into more than 10,000 ranges, is refused before any range is fetched (the message names the least
// size for that object); a checkpoint save that fails stops the download as an ERR_CSE_IO naming the checkpoint
// (never as a failure of the range just written) and keeps it resumable; a failing last save never hides the range
// failure.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CseError, ErrorCode } from '../../src/errors.js';
import type { DownloadCheckpoint } from '../../src/transfer/checkpoint.js';
import { DownloadError, MAX_DOWNLOAD_RANGES, resumableDownload } from '../../src/transfer/resumable-download.js';
import { BUCKET, FailingCheckpointStore, failure, startTransferHarness, testBytes, type TransferHarness } from './support.js';

let h: TransferHarness;
const SIZE = 20_001;
const data = testBytes(SIZE, 31);
const KEY = 'limits/object';

before(async () => {
  h = await startTransferHarness();
  await h.client.put(KEY, data);
});

afterEach(() => {
  h.server.faults?.clear();
});

after(async () => {
  await h.close();
});

let n = 0;
/** A fresh empty directory for one download's target (and its temporary file). */
async function targetDir(): Promise<string> {
  const dir = join(h.dir, `t${n++}`);
  await mkdir(dir);
  return dir;
}

function options(extra: object = {}): Parameters<typeof resumableDownload>[3] {
  return { keys: h.keys, allowLegacy: false, requireEncrypted: true, ...extra };
}

test('a range size that is not a positive integer is refused', async () => {
  const dir = await targetDir();
  for (const partSize of [0, -1, 1.5, Number.NaN]) {
    const e = await failure(async () => resumableDownload(h.store, { bucket: BUCKET, key: KEY }, join(dir, 'out'), options({ partSize })));
    assert.ok(e instanceof CseError && e.code === ErrorCode.INVALID_ARGUMENT, `${partSize}: ${String(e)}`);
  }
  assert.deepEqual(readdirSync(dir), []);
});

test(`a range size giving more than ${MAX_DOWNLOAD_RANGES} ranges is refused before any GET, naming the least size`, async () => {
  const dir = await targetDir();
  const before = h.agent.log.length;
  for (const partSize of [1, 2]) {
    const e = await failure(async () => resumableDownload(h.store, { bucket: BUCKET, key: KEY }, join(dir, 'out'), options({ partSize })));
    assert.ok(e instanceof CseError && e.code === ErrorCode.INVALID_ARGUMENT, String(e));
    assert.match(e.message, new RegExp(`into ${Math.ceil(SIZE / partSize)} ranges, more than 10000: the least range size for it is 3`));
  }
  assert.deepEqual(h.agent.log.slice(before).filter((r) => r.method === 'GET'), [], 'no range was fetched');
  assert.deepEqual(readdirSync(dir), []);
  // The least size itself is accepted (the limit is inclusive): 6,667 ranges would be slow here, so only its check is
  // exercised through a progress callback that stops the download at once.
  const e = await failure(async () =>
    resumableDownload(h.store, { bucket: BUCKET, key: KEY }, join(dir, 'out'), options({
      partSize: 3,
      progress: () => {
        throw new Error('stop (test)');
      },
    })),
  );
  assert.match(String(e), /stop \(test\)/);
});

test('a checkpoint save failing mid-way stops the download as ERR_CSE_IO, no range is blamed, and it resumes', async () => {
  const dir = await targetDir();
  const target = join(dir, 'out');
  // Save 1 is made before any range; save 3 (after the second range) fails.
  const store = new FailingCheckpointStore<DownloadCheckpoint>(3, 'test-store:dl');
  const e = await failure(async () =>
    resumableDownload(h.store, { bucket: BUCKET, key: KEY }, target, options({ partSize: 4096, parallel: 1, checkpoint: store, checkpointIntervalMs: 0 })),
  );
  assert.ok(!(e instanceof DownloadError), `a range was blamed: ${String(e)}`);
  assert.ok(e instanceof CseError && e.code === ErrorCode.IO, String(e));
  assert.match(e.message, /^checkpoint test-store:dl: cannot save it: disk full \(test\).*resume it with the checkpoint test-store:dl \(as last saved\)/);
  assert.equal(store.attempts, 3, 'no save is tried after the failing one');
  assert.equal(existsSync(target), false);
  assert.equal(store.inner.value?.parts.length, 1);
  const r = await resumableDownload(h.store, { bucket: BUCKET, key: KEY }, target, options({ checkpoint: store.inner }));
  assert.equal(r.resumed, true);
  assert.equal(r.partsFetched, r.partCount - 1);
});

test('a failing last checkpoint save is attached to the range failure, never instead of it', async () => {
  const dir = await targetDir();
  const target = join(dir, 'out');
  // Only the first save happens before the failure (the interval keeps the others back); the closing one fails.
  const store = new FailingCheckpointStore<DownloadCheckpoint>(2, 'test-store:dl');
  h.server.faults?.set({ rules: [{ fault: 'internal-error', operations: ['GetObject'], key: KEY, nth: 3 }] });
  const e = await failure(async () =>
    resumableDownload(
      h.store,
      { bucket: BUCKET, key: KEY },
      target,
      options({ partSize: 4096, parallel: 1, retries: 0, checkpoint: store, checkpointIntervalMs: 3_600_000 }),
    ),
  );
  assert.ok(e instanceof DownloadError, String(e));
  assert.deepEqual(e.failures.map((f) => f.partNumber), [3]);
  assert.match(e.message, /range 3: .*InternalError.*; saving the checkpoint failed too, it holds an earlier state: checkpoint test-store:dl: cannot save it/);
  assert.equal(existsSync(target), false);
  h.server.faults?.clear();
  const r = await resumableDownload(h.store, { bucket: BUCKET, key: KEY }, target, options({ checkpoint: store.inner }));
  assert.equal(r.resumed, true);
});
