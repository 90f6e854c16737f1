// Server faults (the embedded server's test-only fault switch) during multipart uploads and parallel downloads:
// transient faults are retried and the bytes come out right; a permanently failing part aborts the upload and is
// reported in one error, and no object appears; an object replaced mid-download fails with a typed error and leaves
// nothing behind.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaultPlan } from '../../server/src/index.js';
import { ErrorCode } from '../../src/errors.js';
import { MultipartUploadError } from '../../src/transfer/multipart-upload.js';
import { ObjectChangedError } from '../../src/transfer/resumable-download.js';
import { KIB100, exists, startTransferHarness, testBytes, type TransferHarness } from './support.js';

let h: TransferHarness;
const SIZE = 5 * KIB100 + 77;
const data = testBytes(SIZE, 9);
let source: string;

before(async () => {
  h = await startTransferHarness();
  source = join(h.dir, 'source.bin');
  await writeFile(source, data);
});

afterEach(() => {
  h.server.faults?.clear();
  h.server.faults?.resetLog();
});

after(async () => {
  await h.close();
});

function faults(plan: FaultPlan): void {
  assert.ok(h.server.faults, 'the harness arms fault injection');
  h.server.faults.set(plan);
}

function applied(kind: string): number {
  return (h.server.faults?.log() ?? []).filter((e) => e.kind === kind && e.applied).length;
}

test('a part failing permanently aborts the upload, one error lists the failure, and no object appears', async () => {
  const key = 'faults/permanent';
  // Parallel 1: parts go in order, so matches 3..5 are part 3's three attempts (retries: 2).
  faults({ rules: [{ fault: 'internal-error', operations: ['UploadPart'], key, nth: [3, 4, 5] }] });
  let error: unknown;
  try {
    await h.client.multipartUpload(key, source, { partSize: KIB100, parallel: 1, retries: 2 });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof MultipartUploadError, String(error));
  assert.equal(error.code, ErrorCode.MULTIPART);
  assert.deepEqual(error.failures.map((f) => f.partNumber), [3]);
  assert.equal(error.uploadAborted, true);
  assert.match(error.message, /part 3: .*InternalError/);
  assert.equal(applied('internal-error'), 3);
  assert.equal(await exists(h.oss, key), false);
  assert.deepEqual((await h.client.listUploads({ prefix: key })).uploads, []);
});

test('every failing part is listed in the one error', async () => {
  const key = 'faults/all-parts';
  faults({ rules: [{ fault: 'service-unavailable', operations: ['UploadPart'], key }] });
  let error: unknown;
  try {
    await h.client.multipartUpload(key, source, { partSize: KIB100, parallel: 3, retries: 1 });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof MultipartUploadError);
  // The three parts in flight all failed; no part started after the first failure.
  assert.deepEqual(error.failures.map((f) => f.partNumber), [1, 2, 3]);
  for (const f of error.failures) assert.match(String(f.error), /ServiceUnavailable/);
  assert.equal(await exists(h.oss, key), false);
  assert.deepEqual((await h.client.listUploads({ prefix: key })).uploads, []);
});

test('transient UploadPart faults (5xx, a reset upload, a wrong CRC) are retried and the object is right', async () => {
  const key = 'faults/transient';
  faults({
    rules: [
      { fault: 'internal-error', operations: ['UploadPart'], key, nth: 1 },
      { fault: 'reset-request', operations: ['UploadPart'], key, nth: 2 },
      { fault: 'wrong-crc', operations: ['UploadPart'], key, nth: 3 },
    ],
  });
  const r = await h.client.multipartUpload(key, source, { partSize: KIB100, parallel: 2 });
  assert.equal(r.partCount, 6);
  assert.equal(applied('internal-error') + applied('reset-request') + applied('wrong-crc'), 3);
  h.server.faults?.clear();
  assert.ok((await h.client.get(key)).content.equals(data));
});

test('a CompleteMultipartUpload whose answer is lost is confirmed by the object itself', async () => {
  const key = 'faults/lost-complete';
  faults({ rules: [{ fault: 'lost-response', operations: ['CompleteMultipartUpload'], key, nth: 1 }] });
  const r = await h.client.multipartUpload(key, source, { partSize: KIB100 });
  assert.equal(applied('lost-response'), 1);
  assert.equal(r.size, SIZE);
  h.server.faults?.clear();
  assert.ok((await h.client.get(key)).content.equals(data));
});

test('transient GET faults during a parallel download (resets, truncation, lying ranges, extra bytes, 5xx) are retried', async () => {
  const key = 'faults/download';
  await h.client.multipartUpload(key, source, { partSize: KIB100 });
  for (const kind of ['reset-response', 'truncate', 'lying-range', 'extra-bytes', 'internal-error'] as const) {
    h.server.faults?.resetLog();
    faults({ rules: [{ fault: kind, operations: ['GetObject'], key, nth: [1, 3] }] });
    const file = join(h.dir, `download-${kind}.bin`);
    const r = await h.client.resumableDownload(key, file, { partSize: 100_003, parallel: 3 });
    assert.ok((await readFile(file)).equals(data), kind);
    assert.ok(applied(kind) >= 1, `${kind} was injected`);
    assert.equal(r.partsFetched, r.partCount);
  }
});

test('a wrong object CRC-64 fails the download with ERR_CSE_INTEGRITY and writes nothing', async () => {
  const key = 'faults/download-crc';
  await h.client.multipartUpload(key, source, { partSize: KIB100 });
  faults({ rules: [{ fault: 'wrong-crc', operations: ['HeadObject'], key }] });
  const dir = join(h.dir, 'crc');
  await mkdir(dir);
  const file = join(dir, 'out.bin');
  await assert.rejects(h.client.resumableDownload(key, file, { partSize: KIB100 }), (e: unknown) => {
    assert.equal((e as { code?: string }).code, ErrorCode.INTEGRITY);
    return true;
  });
  assert.deepEqual(await readdir(dir), []);
});

test('an object replaced mid-download fails with ObjectChangedError and leaves no file behind', async () => {
  const key = 'faults/replaced';
  await h.client.multipartUpload(key, source, { partSize: KIB100 });
  faults({ rules: [{ fault: 'replace-object', operations: ['GetObject'], key, nth: 3 }] });
  const dir = join(h.dir, 'replaced');
  await mkdir(dir);
  const file = join(dir, 'out.bin');
  let error: unknown;
  try {
    await h.client.resumableDownload(key, file, { partSize: KIB100, parallel: 1, checkpoint: join(h.dir, 'replaced.json') });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof ObjectChangedError, String(error));
  assert.equal(error.code, ErrorCode.INTEGRITY);
  assert.equal(applied('replace-object'), 1);
  assert.deepEqual(await readdir(dir), []);
  assert.equal(await exists(h.oss, key), true);
});
