// Bad input to the multipart and resumable APIs: each case fails with a typed error (a CseError with the right code)
// and, where the check is local, before any request is sent.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EncryptionClient } from '../../src/client.js';
import { CseError, ErrorCode, type CseErrorCode } from '../../src/errors.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import {
  CHECKPOINT_VERSION,
  FileCheckpointStore,
  MemoryCheckpointStore,
  downloadTempPath,
  parseDownloadCheckpoint,
  type DownloadCheckpoint,
  type UploadCheckpoint,
} from '../../src/transfer/checkpoint.js';
import type { MultipartContext } from '../../src/transfer/multipart.js';
import { KIB100, exists, startTransferHarness, testBytes, type TransferHarness } from './support.js';

let h: TransferHarness;

before(async () => {
  h = await startTransferHarness();
});

after(async () => {
  await h.close();
});

/** Asserts a typed failure; returns the error. */
async function rejectsWith(code: CseErrorCode, run: () => Promise<unknown>, what: string): Promise<CseError> {
  try {
    await run();
  } catch (e) {
    assert.ok(e instanceof CseError, `${what}: expected a CseError, got ${String(e)}`);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    return e;
  }
  assert.fail(`${what}: expected ${code}, but it succeeded`);
}

/** Asserts a local failure: typed, and no request reached the server. */
async function refusedLocally(code: CseErrorCode, run: () => Promise<unknown>, what: string): Promise<CseError> {
  const before = h.agent.log.length;
  const e = await rejectsWith(code, run, what);
  assert.deepEqual(h.agent.log.slice(before).map((r) => `${r.method} ${r.path}`), [], `${what}: no request`);
  return e;
}

test('part sizes that break the rules are refused before anything is sent', async () => {
  const dataSize = 5 * KIB100;
  await refusedLocally(ErrorCode.INVALID_ARGUMENT, async () => h.client.initMultipartUpload('bad/ps', { dataSize, partSize: KIB100 + 1 }), '100 KiB + 1');
  await refusedLocally(ErrorCode.INVALID_ARGUMENT, async () => h.client.initMultipartUpload('bad/ps', { dataSize, partSize: KIB100 + 8 }), 'not 16-aligned');
  await refusedLocally(ErrorCode.INVALID_ARGUMENT, async () => h.client.initMultipartUpload('bad/ps', { dataSize, partSize: KIB100 - 16 }), 'below 100 KiB');
  await refusedLocally(ErrorCode.INVALID_ARGUMENT, async () => h.client.initMultipartUpload('bad/ps', { dataSize: 10_001 * KIB100, partSize: KIB100 }), '10,001 parts');
  await refusedLocally(ErrorCode.INVALID_ARGUMENT, async () => h.client.initMultipartUpload('bad/ps', { dataSize: -1 }), 'negative data size');
  await refusedLocally(
    ErrorCode.INVALID_ARGUMENT,
    async () => h.client.initMultipartUpload('bad/ps', undefined as unknown as { dataSize: number }),
    'no options',
  );
  const huge = { [Symbol.asyncIterator]: () => ({ next: async () => Promise.resolve({ done: true as const, value: undefined }) }) };
  await refusedLocally(
    ErrorCode.INVALID_ARGUMENT,
    async () => h.client.multipartUpload('bad/ps', huge, { contentLength: 10_001 * KIB100, partSize: KIB100 }),
    'multipartUpload with 10,001 parts',
  );
  await refusedLocally(ErrorCode.INVALID_ARGUMENT, async () => h.client.multipartUpload('bad/ps', testBytes(dataSize), { partSize: KIB100 + 1 }), 'multipartUpload 100 KiB + 1');
  await refusedLocally(ErrorCode.INVALID_ARGUMENT, async () => h.client.multipartUpload('bad/ps', huge), 'a stream without contentLength');
  await refusedLocally(ErrorCode.INVALID_ARGUMENT, async () => h.client.multipartUpload('bad/ps', testBytes(dataSize), { parallel: 0 }), 'parallel 0');
  await refusedLocally(ErrorCode.INVALID_ARGUMENT, async () => h.client.multipartUpload('bad/ps', testBytes(dataSize), { retries: -1 }), 'retries -1');
  await refusedLocally(
    ErrorCode.INVALID_ARGUMENT,
    async () => h.client.multipartUpload('bad/ps', testBytes(dataSize), { checkpoint: true }),
    'a checkpoint for bytes',
  );
});

test('a short or long non-last part, a wrong last part and part numbers out of range are refused', async () => {
  const dataSize = 3 * KIB100 + 5;
  const { context } = await h.client.initMultipartUpload('bad/parts', { dataSize, partSize: KIB100 });
  const up = async (n: number, bytes: Uint8Array): Promise<unknown> => h.client.uploadPart('bad/parts', context, n, bytes);
  await refusedLocally(ErrorCode.MULTIPART, async () => up(1, testBytes(KIB100 - 1)), 'short non-last part');
  await refusedLocally(ErrorCode.MULTIPART, async () => up(2, testBytes(KIB100 + 16)), 'long non-last part');
  await refusedLocally(ErrorCode.MULTIPART, async () => up(4, testBytes(4)), 'short last part');
  for (const n of [0, -1, 1.5, 5, 10_001, Number.NaN]) {
    await refusedLocally(ErrorCode.MULTIPART, async () => up(n, testBytes(KIB100)), `part number ${n}`);
  }
  // A stream that turns out short fails the request with the same typed error, and stores no part.
  const short = (async function* chunks(): AsyncGenerator<Uint8Array> {
    yield testBytes(KIB100 - 10);
  })();
  await rejectsWith(ErrorCode.MULTIPART, async () => h.client.uploadPart('bad/parts', context, 1, short), 'short streamed part');
  assert.equal((await h.client.listParts('bad/parts', context)).parts.length, 0);
  await h.client.abortMultipartUpload('bad/parts', context);
});

test('Complete with a missing, duplicated, wrong-ETag or extra part is refused before Complete is sent', async () => {
  const dataSize = 3 * KIB100 + 5;
  const data = testBytes(dataSize, 3);
  const { context } = await h.client.initMultipartUpload('bad/complete', { dataSize, partSize: KIB100 });
  const parts = [];
  for (let n = 1; n <= 4; n++) parts.push(await h.client.uploadPart('bad/complete', context, n, data.subarray((n - 1) * KIB100, n * KIB100)));
  const [p1, p2, p3, p4] = parts as [(typeof parts)[number], (typeof parts)[number], (typeof parts)[number], (typeof parts)[number]];
  const noComplete = async (run: () => Promise<unknown>, what: string): Promise<void> => {
    const before = h.agent.log.length;
    await rejectsWith(ErrorCode.MULTIPART, run, what);
    const completes = h.agent.log.slice(before).filter((r) => r.method === 'POST');
    assert.equal(completes.length, 0, `${what}: Complete not sent`);
  };
  await noComplete(async () => h.client.completeMultipartUpload('bad/complete', context, [p1, p2, p4]), 'missing part 3');
  await noComplete(async () => h.client.completeMultipartUpload('bad/complete', context, [p1, p2, p2, p3, p4]), 'duplicate part');
  await noComplete(
    async () => h.client.completeMultipartUpload('bad/complete', context, [p1, p2, p3, { number: 4, etag: '"00000000000000000000000000000000"' }]),
    'wrong ETag (checked with ListParts)',
  );
  await noComplete(
    async () => h.client.completeMultipartUpload('bad/complete', context, [p1, p2, p3, p4, { ...p4, partNumber: 5, number: 5 }]),
    'part beyond the last',
  );
  await noComplete(async () => h.client.completeMultipartUpload('bad/complete', context, []), 'no parts');
  assert.equal(await exists(h.oss, 'bad/complete'), false);
  // ali-oss's `{ number, etag }` shape: sizes come from ListParts.
  const done = await h.client.completeMultipartUpload('bad/complete', context, parts.map((p) => ({ number: p.number, etag: p.etag })));
  assert.equal(done.size, dataSize);
  assert.ok((await h.client.get('bad/complete')).content.equals(data));
});

test('a context from another object, bucket or upload, or tampered with, is refused with ERR_CSE_MULTIPART', async () => {
  const dataSize = 2 * KIB100;
  const a = await h.client.initMultipartUpload('bad/ctx-a', { dataSize, partSize: KIB100 });
  const b = await h.client.initMultipartUpload('bad/ctx-a', { dataSize, partSize: KIB100 });
  const part = testBytes(KIB100);
  await refusedLocally(ErrorCode.MULTIPART, async () => h.client.uploadPart('bad/ctx-b', a.context, 1, part), 'another object');
  await refusedLocally(
    ErrorCode.MULTIPART,
    async () => h.client.uploadPart('bad/ctx-a', a.context, 1, part, { bucket: 'other-bucket' }),
    'another bucket',
  );
  // Upload b's id with upload a's envelope: OSS refuses the mismatching crypto headers.
  const crossed: MultipartContext = { ...a.context, uploadId: b.uploadId };
  await rejectsWith(ErrorCode.MULTIPART, async () => h.client.uploadPart('bad/ctx-a', crossed, 1, part), 'another upload');
  const gone: MultipartContext = { ...a.context, uploadId: '0123456789ABCDEF0123456789ABCDEF' };
  await rejectsWith(ErrorCode.MULTIPART, async () => h.client.uploadPart('bad/ctx-a', gone, 1, part), 'unknown upload');
  const tampered: MultipartContext = { ...a.context, partSize: KIB100 * 2 };
  await refusedLocally(ErrorCode.MULTIPART, async () => h.client.uploadPart('bad/ctx-a', tampered, 1, part), 'part size tampered');
  const version = { ...a.context, version: 2 } as unknown as MultipartContext;
  await refusedLocally(ErrorCode.MULTIPART, async () => h.client.uploadPart('bad/ctx-a', version, 1, part), 'unknown version');
  await refusedLocally(ErrorCode.MULTIPART, async () => h.client.uploadPart('bad/ctx-a', null as unknown as MultipartContext, 1, part), 'null');
  // A context wrapped by a master key this client does not hold.
  const other = new EncryptionClient(h.plainOss(), {
    masterKey: new RsaMasterKey({ privateKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey }),
  });
  await rejectsWith(ErrorCode.NO_MATCHING_KEY, async () => other.uploadPart('bad/ctx-a', a.context, 1, part), 'another master key');
  await h.client.abortMultipartUpload('bad/ctx-a', a.context);
  await h.client.abortMultipartUpload('bad/ctx-a', b.uploadId);
  await rejectsWith(ErrorCode.MULTIPART, async () => h.client.uploadPart('bad/ctx-a', a.context, 1, part), 'aborted upload');
});

test('a checkpoint of another object, source or bucket, of another version, or unreadable is refused', async () => {
  const source = join(h.dir, 'cp-source.bin');
  await writeFile(source, testBytes(3 * KIB100));
  const record = (over: Partial<UploadCheckpoint>): UploadCheckpoint => ({
    version: CHECKPOINT_VERSION,
    kind: 'upload',
    bucket: 'transfer-tests',
    key: 'bad/cp',
    uploadId: 'X',
    source: { path: source, size: 3 * KIB100, mtimeMs: 0 },
    envelope: {},
    partSize: KIB100,
    dataSize: 3 * KIB100,
    parts: [],
    updatedAt: '',
    ...over,
  });
  const upload = async (checkpoint: MemoryCheckpointStore<UploadCheckpoint> | string): Promise<unknown> =>
    h.client.multipartUpload('bad/cp', source, { partSize: KIB100, checkpoint });
  await refusedLocally(ErrorCode.MULTIPART, async () => upload(new MemoryCheckpointStore(record({ key: 'bad/other' }))), 'another key');
  await refusedLocally(ErrorCode.MULTIPART, async () => upload(new MemoryCheckpointStore(record({ bucket: 'other-bucket' }))), 'another bucket');
  await refusedLocally(
    ErrorCode.MULTIPART,
    async () => upload(new MemoryCheckpointStore(record({ source: { path: '/elsewhere.bin', size: 3 * KIB100, mtimeMs: 0 } }))),
    'another source',
  );
  const file = join(h.dir, 'cp.json');
  await writeFile(file, JSON.stringify({ ...record({}), version: 99 }));
  await refusedLocally(ErrorCode.MULTIPART, async () => upload(file), 'another version');
  await writeFile(file, '{ not json');
  await refusedLocally(ErrorCode.MULTIPART, async () => upload(file), 'not JSON');
  await writeFile(file, JSON.stringify({ ...record({}), kind: 'download' }));
  await refusedLocally(ErrorCode.MULTIPART, async () => upload(file), 'a download checkpoint');
  assert.equal(await exists(h.oss, 'bad/cp'), false);
});

test('a download checkpoint whose temporary file points outside the target directory is refused', async () => {
  await h.client.put('bad/dl', testBytes(1000));
  const target = join(h.dir, 'dl.bin');
  const base: DownloadCheckpoint = {
    version: CHECKPOINT_VERSION,
    kind: 'download',
    bucket: 'transfer-tests',
    key: 'bad/dl',
    etag: '"X"',
    size: 1000,
    crc64: undefined,
    target,
    tempFile: '.dl.bin.tmp',
    partSize: 100,
    parts: [],
    updatedAt: '',
  };
  for (const tempFile of ['../escape', '/etc/passwd', 'a/b', '..', '.']) {
    await rejectsWith(
      ErrorCode.MULTIPART,
      async () => h.client.resumableDownload('bad/dl', target, { checkpoint: new MemoryCheckpointStore({ ...base, tempFile }) }),
      `tempFile ${tempFile}`,
    );
    assert.throws(() => parseDownloadCheckpoint({ ...base, tempFile }), (e: unknown) => e instanceof CseError && e.code === ErrorCode.MULTIPART);
    assert.throws(() => downloadTempPath({ ...base, tempFile }), (e: unknown) => e instanceof CseError && e.code === ErrorCode.MULTIPART);
  }
  await rejectsWith(
    ErrorCode.MULTIPART,
    async () => h.client.resumableDownload('bad/dl', target, { checkpoint: new MemoryCheckpointStore({ ...base, key: 'bad/other' }) }),
    'another key',
  );
  await rejectsWith(
    ErrorCode.MULTIPART,
    async () => h.client.resumableDownload('bad/dl', target, { checkpoint: new MemoryCheckpointStore({ ...base, target: join(h.dir, 'x.bin') }) }),
    'another target',
  );
  const store = new FileCheckpointStore(join(h.dir, 'dl.json'), parseDownloadCheckpoint);
  await writeFile(store.path, JSON.stringify({ ...base, version: 0 }));
  await rejectsWith(ErrorCode.MULTIPART, async () => h.client.resumableDownload('bad/dl', target, { checkpoint: store.path }), 'another version');
  await rejectsWith(ErrorCode.INVALID_ARGUMENT, async () => h.client.resumableDownload('bad/dl', target, { partSize: 0 }), 'part size 0');
  await rejectsWith(ErrorCode.INVALID_ARGUMENT, async () => h.client.resumableDownload('bad/dl', target, { parallel: 65 }), 'parallel 65');
  assert.equal(await exists(h.oss, 'bad/dl'), true);
});
