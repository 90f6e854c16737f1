// What a multipart upload leaves behind when it fails after Initiate: without a stored checkpoint every failure (a
// stream longer than declared, a checkpoint that cannot be written, Complete, the signal) aborts the upload and throws
// the original typed error; a checkpoint save that fails mid-way stops the upload as an ERR_CSE_IO naming the
// checkpoint (never as a failure of a part that succeeded) and keeps the upload resumable; a failing last save never
// hides the part failure. Also: UploadPart carries only the per-part crypto headers, and Complete refuses a part list
// whose CRC-64 disagrees with ListParts'.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CseError, ErrorCode } from '../../src/errors.js';
import { V2Header } from '../../src/format/headers.js';
import type { UploadCheckpoint } from '../../src/transfer/checkpoint.js';
import { completeEncryptedUpload, initiateEncryptedUpload, uploadEncryptedPart } from '../../src/transfer/multipart.js';
import { multipartUpload, MultipartUploadError } from '../../src/transfer/multipart-upload.js';
import { BUCKET, FailingCheckpointStore, KIB100, exists, failure, startTransferHarness, testBytes, type TransferHarness } from './support.js';

let h: TransferHarness;
const SIZE = 5 * KIB100 + 77; // 6 parts
const data = testBytes(SIZE, 21);
let source: string;

before(async () => {
  h = await startTransferHarness();
  source = join(h.dir, 'source.bin');
  await writeFile(source, data);
});

afterEach(() => {
  h.server.faults?.clear();
});

after(async () => {
  await h.close();
});

const location = (key: string): { bucket: string; key: string } => ({ bucket: BUCKET, key });

function baseOptions(extra: object = {}): Parameters<typeof multipartUpload>[3] {
  return { masterKey: h.masterKey, keys: h.keys, cache: h.cache, partSize: KIB100, parallel: 2, ...extra };
}

async function uploadsOf(key: string): Promise<readonly { uploadId: string }[]> {
  return (await h.client.listUploads({ prefix: key })).uploads;
}

test('a stream longer than its declared length fails typed and leaves no upload and no object', async () => {
  const key = 'cleanup/stream-too-long';
  async function* longer(): AsyncGenerator<Uint8Array> {
    yield data;
    yield Buffer.from('extra bytes');
  }
  const e = await failure(async () => multipartUpload(h.store, location(key), { kind: 'stream', stream: longer(), length: SIZE }, baseOptions()));
  assert.ok(e instanceof CseError && e.code === ErrorCode.INVALID_ARGUMENT, String(e));
  assert.match(e.message, /more bytes than its declared length/);
  assert.match(e.message, /upload \S+ was aborted on OSS; no object was written/);
  assert.deepEqual(await uploadsOf(key), []);
  assert.equal(await exists(h.oss, key), false);
});

test('a checkpoint path that cannot be written fails with ERR_CSE_IO naming it and leaves no upload', async () => {
  const key = 'cleanup/checkpoint-unwritable';
  // A name of 240 bytes: it can be looked up (there is no record yet), but the temporary file written next to it
  // (the name plus 18 bytes) exceeds the 255-byte limit, whoever runs the test (root included).
  const checkpoint = join(h.dir, `${'c'.repeat(235)}.json`);
  const e = await failure(async () => h.client.multipartUpload(key, source, { partSize: KIB100, checkpoint }));
  assert.ok(e instanceof CseError && e.code === ErrorCode.IO, String(e));
  assert.ok(e.message.startsWith(`checkpoint ${checkpoint}: cannot `), e.message);
  assert.match(e.message, /was aborted on OSS; no object was written/);
  assert.deepEqual(await uploadsOf(key), []);
  assert.equal(await exists(h.oss, key), false);
});

test('a checkpoint save failing mid-way stops the upload as ERR_CSE_IO, no part is blamed, and it resumes', async () => {
  const key = 'cleanup/checkpoint-mid-way';
  // Save 1 is the record made right after Initiate; save 3 (after the second part) fails.
  const store = new FailingCheckpointStore<UploadCheckpoint>(3, 'test-store:cp');
  const e = await failure(async () =>
    multipartUpload(h.store, location(key), { kind: 'file', path: source }, baseOptions({ parallel: 1, checkpoint: store, checkpointIntervalMs: 0 })),
  );
  assert.ok(!(e instanceof MultipartUploadError), `a part was blamed: ${String(e)}`);
  assert.ok(e instanceof CseError && e.code === ErrorCode.IO, String(e));
  assert.match(e.message, /^checkpoint test-store:cp: cannot save it: disk full \(test\)/);
  assert.match(e.message, /is kept: resume it with the checkpoint test-store:cp \(as last saved\)/);
  assert.equal(store.attempts, 3, 'no save is tried after the failing one');
  assert.equal((await uploadsOf(key)).length, 1, 'the upload is kept');
  assert.equal(store.inner.value?.parts.length, 1);
  const resumed = await multipartUpload(h.store, location(key), { kind: 'file', path: source }, baseOptions({ checkpoint: store.inner }));
  assert.equal(resumed.resumed, true);
  assert.ok((await h.client.get(key)).content.equals(data));
  assert.deepEqual(await uploadsOf(key), []);
});

test('a failing last checkpoint save is attached to the part failure, never instead of it', async () => {
  const key = 'cleanup/checkpoint-after-failure';
  // Only the first save happens before the failure (the interval keeps the others back); the closing one fails.
  const store = new FailingCheckpointStore<UploadCheckpoint>(2, 'test-store:cp');
  h.server.faults?.set({ rules: [{ fault: 'internal-error', operations: ['UploadPart'], key, nth: 3 }] });
  const e = await failure(async () =>
    multipartUpload(
      h.store,
      location(key),
      { kind: 'file', path: source },
      baseOptions({ parallel: 1, retries: 0, checkpoint: store, checkpointIntervalMs: 3_600_000 }),
    ),
  );
  assert.ok(e instanceof MultipartUploadError, String(e));
  assert.deepEqual(e.failures.map((f) => f.partNumber), [3]);
  assert.equal(e.uploadAborted, false);
  assert.equal(e.checkpoint, 'test-store:cp');
  assert.ok(e.checkpointError instanceof CseError && e.checkpointError.code === ErrorCode.IO);
  assert.match(e.message, /saving the checkpoint failed too, it holds an earlier state: checkpoint test-store:cp: cannot save it/);
  assert.equal((await uploadsOf(key)).length, 1, 'kept: the earlier record still resumes it');
  h.server.faults?.clear();
  const resumed = await multipartUpload(h.store, location(key), { kind: 'file', path: source }, baseOptions({ checkpoint: store.inner }));
  assert.equal(resumed.resumed, true);
  assert.ok((await h.client.get(key)).content.equals(data));
});

test('a Complete that fails aborts an upload without checkpoint and keeps the TransferError', async () => {
  const key = 'cleanup/complete';
  h.server.faults?.set({ rules: [{ fault: 'internal-error', operations: ['CompleteMultipartUpload'], key }] });
  const e = await failure(async () => h.client.multipartUpload(key, source, { partSize: KIB100, retries: 0 }));
  assert.ok(e instanceof CseError && e.cseCode === ErrorCode.TRANSFER, String(e));
  assert.match(e.message, /was aborted on OSS; no object was written/);
  assert.deepEqual(await uploadsOf(key), []);
  assert.equal(await exists(h.oss, key), false);
});

test('an upload aborted through its signal without a checkpoint is aborted on OSS', async () => {
  const key = 'cleanup/signal';
  const controller = new AbortController();
  const e = await failure(async () =>
    h.client.multipartUpload(key, source, {
      partSize: KIB100,
      parallel: 1,
      signal: controller.signal,
      progress: (_f, info) => {
        if (info?.part?.partNumber === 2) controller.abort(new Error('test stop'));
      },
    }),
  );
  assert.ok(e instanceof CseError && e.code === ErrorCode.ABORTED, String(e));
  assert.match(e.message, /was stopped by its abort signal after \d of 6 parts; upload \S+ was aborted on OSS; no object was written/);
  assert.deepEqual(await uploadsOf(key), []);
  assert.equal(await exists(h.oss, key), false);
});

test('UploadPart carries only the per-part crypto headers, never the unencrypted MD5 or length given at Initiate', async () => {
  const key = 'cleanup/part-headers';
  const md5 = createHash('md5').update(data).digest('base64');
  const before = h.agent.log.length;
  const r = await h.client.multipartUpload(key, source, { partSize: KIB100, headers: { 'Content-MD5': md5 } });
  assert.equal(r.size, SIZE);
  const sent = h.agent.log.slice(before);
  const crypto = (headers: Record<string, string>): Record<string, string> =>
    Object.fromEntries(Object.entries(headers).filter(([name]) => name.startsWith('x-oss-meta-client-side-encryption-')));
  const initiate = sent.filter((q) => q.method === 'POST' && /[?&]uploads(=?)(&|$)/.test(q.path));
  assert.equal(initiate.length, 1);
  const atInitiate = crypto(initiate[0]?.headers ?? {});
  assert.equal(atInitiate[V2Header.UNENCRYPTED_CONTENT_MD5], md5);
  const perPart = [V2Header.KEY, V2Header.START, V2Header.CEK_ALG, V2Header.WRAP_ALG, V2Header.MATDESC, V2Header.DATA_SIZE, V2Header.PART_SIZE];
  const expected = Object.fromEntries(perPart.filter((name) => atInitiate[name] !== undefined).map((name) => [name, atInitiate[name]]));
  const parts = sent.filter((q) => q.method === 'PUT' && /[?&]partNumber=/.test(q.path));
  assert.equal(parts.length, 6);
  for (const part of parts) {
    assert.deepEqual(crypto(part.headers), expected, `crypto headers of ${part.path}`);
    assert.equal(part.headers[V2Header.UNENCRYPTED_CONTENT_MD5], undefined);
    assert.equal(part.headers[V2Header.UNENCRYPTED_CONTENT_LENGTH], undefined);
  }
  // The stored object keeps Initiate's declared MD5, and a whole read checks it.
  assert.ok((await h.client.get(key)).content.equals(data));
});

test('Complete refuses (ERR_CSE_INTEGRITY) a part list whose CRC-64 differs from the one ListParts reports', async () => {
  const key = 'cleanup/crc-mismatch';
  const loc = location(key);
  const small = testBytes(KIB100 + 5, 3);
  const { context } = await initiateEncryptedUpload(h.store, loc, { masterKey: h.masterKey, dataSize: small.length, partSize: KIB100, cache: h.cache });
  const parts = [];
  for (const n of [1, 2]) {
    parts.push(await uploadEncryptedPart(h.store, loc, context, n, small.subarray((n - 1) * KIB100, n * KIB100), { keys: h.keys, cache: h.cache }));
  }
  const wrong = (BigInt(parts[1]?.crc64 ?? '0') ^ 1n).toString();
  // Sizes left out, so ListParts is consulted; part 2's CRC is not the one OSS holds.
  const entries = [
    { partNumber: 1, etag: parts[0]?.etag ?? '', crc64: parts[0]?.crc64 ?? '' },
    { partNumber: 2, etag: parts[1]?.etag ?? '', crc64: wrong },
  ];
  const e = await failure(async () => completeEncryptedUpload(h.store, loc, context, entries, { cache: h.cache }));
  assert.ok(e instanceof CseError && e.code === ErrorCode.INTEGRITY, String(e));
  assert.match(e.message, new RegExp(`part 2: ${parts[1]?.crc64 ?? ''} on the server, ${wrong} in the part list`));
  assert.equal(await exists(h.oss, key), false);
  // The same list with the right CRC completes.
  entries[1] = { partNumber: 2, etag: parts[1]?.etag ?? '', crc64: parts[1]?.crc64 ?? '' };
  await completeEncryptedUpload(h.store, loc, context, entries, { cache: h.cache });
  assert.ok((await h.client.get(key)).content.equals(small));
});

/** A checkpoint store whose saves work and whose remove() always fails (a read-only directory, a lost mount). */
class UnremovableCheckpointStore extends FailingCheckpointStore<UploadCheckpoint> {
  removeAttempts = 0;
  override async remove(): Promise<void> {
    this.removeAttempts++;
    throw new Error('read-only file system (test)');
  }
}

test('a checkpoint that cannot be removed after Complete (and on the already-complete path) does not fail a finished upload: progress reaches 1, checkpointError names it', async () => {
  const key = 'cleanup/checkpoint-unremovable';
  const store = new UnremovableCheckpointStore(Number.POSITIVE_INFINITY, 'test-store:stuck');
  const fractions: number[] = [];
  const progress = (f: number): void => {
    fractions.push(f);
  };
  const r = await multipartUpload(h.store, location(key), { kind: 'file', path: source }, baseOptions({ checkpoint: store, progress }));
  assert.equal(store.removeAttempts, 1);
  assert.equal(fractions.at(-1), 1, 'progress(1) is reported though the checkpoint stayed');
  assert.equal(r.method, 'multipart');
  assert.ok(r.checkpointError instanceof CseError && r.checkpointError.code === ErrorCode.IO, String(r.checkpointError));
  assert.match(r.checkpointError.message, /the upload is complete, but its checkpoint test-store:stuck could not be removed/);
  assert.match((r.checkpointError.cause as Error).message, /read-only file system/);
  assert.ok((await h.client.get(key)).content.equals(data));
  assert.deepEqual(await uploadsOf(key), []);
  assert.notEqual(store.inner.value, undefined, 'the stale checkpoint is still there');

  // The stale checkpoint's upload is gone and the object complete: alreadyComplete, again with checkpointError.
  fractions.length = 0;
  const again = await multipartUpload(h.store, location(key), { kind: 'file', path: source }, baseOptions({ checkpoint: store, progress }));
  assert.equal(again.alreadyComplete, true);
  assert.equal(again.partsSent, 0);
  assert.equal(store.removeAttempts, 2);
  assert.deepEqual(fractions, [1]);
  assert.ok(again.checkpointError instanceof CseError && again.checkpointError.code === ErrorCode.IO, String(again.checkpointError));

  // A removable checkpoint: no checkpointError.
  const clean = await multipartUpload(h.store, location(`${key}-clean`), { kind: 'file', path: source }, baseOptions({ checkpoint: new FailingCheckpointStore<UploadCheckpoint>(Number.POSITIVE_INFINITY) }));
  assert.equal(clean.checkpointError, undefined);
});
