// Kill-and-resume: uploads and downloads interrupted at random points (a test hook throwing, an AbortSignal firing, the
// whole process killed with SIGKILL) resume from their checkpoint and give identical bytes, sending or fetching only
// what is missing; checkpoints never hold the data key or IV; an upload resumes from ListParts' ClientEncryption*
// fields without any checkpoint; parts OSS has but the checkpoint lacks are verified by CRC-64, not re-sent.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { ctrXor } from '../../src/cipher/aes-ctr.js';
import { CseError, ErrorCode } from '../../src/errors.js';
import {
  FileCheckpointStore,
  MemoryCheckpointStore,
  parseDownloadCheckpoint,
  parseUploadCheckpoint,
  type UploadCheckpoint,
} from '../../src/transfer/checkpoint.js';
import { multipartUpload, MultipartUploadError } from '../../src/transfer/multipart-upload.js';
import { DownloadError, resumableDownload } from '../../src/transfer/resumable-download.js';
import { BUCKET, KIB100, rawObject, secretForms, startTransferHarness, testBytes, type TransferHarness } from './support.js';

const RUNS = process.env.SLOW ? 40 : 3;
const CHILD = new URL('./fixtures/transfer-child.ts', import.meta.url).pathname;
let h: TransferHarness;
const SIZE = 8 * KIB100 + 33; // 9 parts
const data = testBytes(SIZE, 5);
const KEY = Buffer.from('6c1e0a7f2d3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5', 'hex');
const IV = Buffer.from('0102030405060708000000007ffffff0', 'hex');
const expectedCiphertext = ctrXor(KEY, IV, data);
let source: string;
let n = 0;

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

/** The checkpoint file's bytes hold neither the data key nor the IV in any text form. */
async function assertNoSecrets(path: string): Promise<void> {
  const text = (await readFile(path)).toString('latin1');
  for (const [what, bytes] of [['data key', KEY], ['IV', IV]] as const) {
    for (const form of secretForms(bytes)) assert.equal(text.includes(form), false, `the checkpoint holds the ${what} (${form})`);
  }
}

function uploadOptions(checkpoint: string, extra: object = {}): Parameters<typeof multipartUpload>[3] {
  return {
    masterKey: h.masterKey,
    keys: h.keys,
    cache: h.cache,
    partSize: KIB100,
    parallel: 3,
    checkpoint: new FileCheckpointStore(checkpoint, parseUploadCheckpoint),
    checkpointIntervalMs: 0,
    contentMaterial: { key: KEY, iv: IV },
    ...extra,
  };
}

test('an upload stopped by a hook throwing at a random part resumes from its checkpoint to identical bytes', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 3 }), async (failAt, parallel) => {
      const key = `resume/hook/${n++}`;
      const checkpoint = join(h.dir, `${key.replace(/\//g, '_')}.json`);
      let error: unknown;
      try {
        await multipartUpload(
          h.store,
          location(key),
          { kind: 'file', path: source },
          uploadOptions(checkpoint, {
            parallel,
            hooks: {
              onPartChunk: (part: number) => {
                if (part === failAt) throw new Error(`test hook: stop at part ${part}`);
              },
            },
          }),
        );
      } catch (e) {
        error = e;
      }
      assert.ok(error instanceof MultipartUploadError, String(error));
      assert.equal(error.uploadAborted, false);
      assert.deepEqual(error.failures.map((f) => f.partNumber), [failAt]);
      await assertNoSecrets(checkpoint);
      const recorded = parseUploadCheckpoint(JSON.parse(await readFile(checkpoint, 'utf8')));
      assert.ok(!recorded.parts.some((p) => p.partNumber === failAt));
      const resumed = await multipartUpload(h.store, location(key), { kind: 'file', path: source }, uploadOptions(checkpoint));
      assert.equal(resumed.resumed, true);
      assert.equal(resumed.partsSent, 9 - recorded.parts.length);
      assert.ok((await rawObject(h.oss, key)).equals(expectedCiphertext));
      assert.ok((await h.client.get(key)).content.equals(data));
      await assert.rejects(stat(checkpoint), 'the checkpoint is removed when the upload completes');
    }),
    { numRuns: RUNS },
  );
});

test('an upload aborted through its signal keeps the upload and resumes (client API, checkpoint path)', async () => {
  const key = 'resume/signal';
  const checkpoint = join(h.dir, 'signal.json');
  const controller = new AbortController();
  const stopAfter = 1 + Math.floor(Math.random() * 6);
  let error: unknown;
  try {
    await h.client.multipartUpload(key, source, {
      partSize: KIB100,
      parallel: 2,
      checkpoint,
      signal: controller.signal,
      progress: (_f, info) => {
        if (info?.part !== undefined && info.bytes >= stopAfter * KIB100) controller.abort(new Error('test stop'));
      },
    });
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof CseError && error.code === ErrorCode.ABORTED, String(error));
  const recorded = parseUploadCheckpoint(JSON.parse(await readFile(checkpoint, 'utf8')));
  assert.ok(recorded.parts.length >= 1 && recorded.parts.length < 9, `${recorded.parts.length} parts recorded`);
  assert.equal((await h.client.listUploads({ prefix: key })).uploads.length, 1, 'the upload is kept');
  const resumed = await h.client.multipartUpload(key, source, { partSize: KIB100, checkpoint });
  assert.equal(resumed.resumed, true);
  assert.ok(resumed.partsSent <= 9 - recorded.parts.length);
  assert.ok((await h.client.get(key)).content.equals(data));
});

/** Runs the child transfer until `ready()` says so, then kills it with SIGKILL. */
async function killChildWhen(args: object, ready: () => Promise<boolean>): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (await ready()) break;
      if (output.includes('done')) assert.fail('the child finished before it could be killed');
      if (child.exitCode !== null) assert.fail(`the child exited early with ${child.exitCode}`);
      if (Date.now() > deadline) assert.fail('the child made no progress');
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}

async function recordedParts(path: string): Promise<number> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8')) as { parts?: unknown[] };
    return value.parts?.length ?? 0;
  } catch {
    return 0;
  }
}

test('an upload whose process is killed (SIGKILL) resumes from its checkpoint file to identical bytes', async () => {
  const key = 'resume/killed-upload';
  const checkpoint = join(h.dir, 'killed-upload.json');
  // Slow parts give the test time to kill the child half-way.
  h.server.faults?.set({ rules: [{ fault: { kind: 'slow', delayMs: 150 }, operations: ['UploadPart'], key }] });
  await killChildWhen(
    {
      mode: 'upload',
      endpoint: h.server.endpoint,
      ...h.server.credentials,
      bucket: BUCKET,
      key,
      file: source,
      checkpoint,
      partSize: KIB100,
      keyHex: KEY.toString('hex'),
      ivHex: IV.toString('hex'),
    },
    async () => (await recordedParts(checkpoint)) >= 3,
  );
  h.server.faults?.clear();
  await assertNoSecrets(checkpoint);
  const recorded = await recordedParts(checkpoint);
  assert.ok(recorded >= 3 && recorded < 9);
  const resumed = await multipartUpload(h.store, location(key), { kind: 'file', path: source }, uploadOptions(checkpoint));
  assert.equal(resumed.resumed, true);
  assert.ok(resumed.partsSent <= 9 - recorded, `${resumed.partsSent} parts sent after ${recorded} recorded`);
  assert.ok((await rawObject(h.oss, key)).equals(expectedCiphertext));
});

test('parts OSS has but the checkpoint lacks are verified by their CRC-64, not sent again', async () => {
  const key = 'resume/reconcile';
  const memory = new MemoryCheckpointStore<UploadCheckpoint>();
  await assert.rejects(
    multipartUpload(h.store, location(key), { kind: 'file', path: source }, {
      ...uploadOptions(''),
      checkpoint: memory,
      parallel: 1,
      hooks: {
        onPartChunk: (part: number) => {
          if (part === 6) throw new Error('test hook');
        },
      },
    }),
    MultipartUploadError,
  );
  const saved = memory.value;
  assert.ok(saved);
  assert.equal(saved.parts.length, 5);
  // Forget parts 2 and 4 (as if the process died before recording them); corrupt part 5's ETag record.
  memory.value = {
    ...saved,
    parts: saved.parts.filter((p) => p.partNumber !== 2 && p.partNumber !== 4).map((p) => (p.partNumber === 5 ? { ...p, etag: '"0"' } : p)),
  };
  const before = h.agent.log.length;
  const resumed = await multipartUpload(h.store, location(key), { kind: 'file', path: source }, { ...uploadOptions(''), checkpoint: memory });
  const sentParts = h.agent.log
    .slice(before)
    .filter((r) => r.method === 'PUT' && /partNumber=/.test(r.path))
    .map((r) => Number(/partNumber=(\d+)/.exec(r.path)?.[1]))
    .sort((a, b) => a - b);
  assert.deepEqual(sentParts, [6, 7, 8, 9]);
  assert.equal(resumed.partsSent, 4);
  assert.ok((await rawObject(h.oss, key)).equals(expectedCiphertext));
});

test('an upload resumes from ListParts ClientEncryption* fields without any checkpoint; a wrong part is re-sent', async () => {
  const key = 'resume/listparts';
  const { context } = await h.client.initMultipartUpload(key, { dataSize: SIZE, partSize: KIB100 });
  await h.client.uploadPart(key, context, 1, data.subarray(0, KIB100));
  await h.client.uploadPart(key, context, 3, data.subarray(2 * KIB100, 3 * KIB100));
  // Part 2 with other bytes: its CRC-64 will not match ours, so it is sent again.
  await h.client.uploadPart(key, context, 2, testBytes(KIB100, 99));
  const listed = await h.client.listParts(key, context.uploadId);
  assert.ok(listed.context, 'ListParts reports the encryption context');
  assert.equal(listed.context.envelope['x-oss-meta-client-side-encryption-start'], context.envelope['x-oss-meta-client-side-encryption-start']);
  const resumed = await h.client.multipartUpload(key, source, { uploadId: context.uploadId, partSize: KIB100 });
  assert.equal(resumed.resumed, true);
  assert.equal(resumed.uploadId, context.uploadId);
  assert.equal(resumed.partsSent, 9 - 2);
  assert.ok((await h.client.get(key)).content.equals(data));
});

test('a source changed since the checkpoint starts a new upload and discards the old one', async () => {
  const key = 'resume/changed';
  const path = join(h.dir, 'changing.bin');
  await writeFile(path, data);
  const checkpoint = join(h.dir, 'changed.json');
  await assert.rejects(
    h.client.multipartUpload(key, path, {
      partSize: KIB100,
      checkpoint,
      progress: (_f, info) => {
        if (info?.part !== undefined) throw new Error('test stop');
      },
    }),
    /test stop/,
  );
  const old = parseUploadCheckpoint(JSON.parse(await readFile(checkpoint, 'utf8')));
  const changed = testBytes(SIZE + 1000, 77);
  await writeFile(path, changed);
  const r = await h.client.multipartUpload(key, path, { partSize: KIB100, checkpoint });
  assert.equal(r.resumed, false);
  assert.notEqual(r.uploadId, old.uploadId);
  assert.ok((await h.client.get(key)).content.equals(changed));
  assert.deepEqual((await h.client.listUploads({ prefix: key })).uploads, []);
});

test('a download stopped by a hook throwing at a random range resumes, fetching only the missing ranges', async () => {
  const key = 'resume/download-hook';
  await h.client.multipartUpload(key, source, { partSize: KIB100 });
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 12 }), fc.constantFrom(KIB100, 77_777, 65_536), async (failAt, partSize) => {
      const target = join(h.dir, `download-hook-${n++}.bin`);
      const checkpoint = join(h.dir, `download-hook-${n}.json`);
      const count = Math.ceil(SIZE / partSize);
      const stopAt = Math.min(failAt, count);
      const common = {
        keys: h.keys,
        allowLegacy: false,
        requireEncrypted: true,
        partSize,
        parallel: 2,
        checkpoint: new FileCheckpointStore(checkpoint, parseDownloadCheckpoint),
        checkpointIntervalMs: 0,
      };
      await assert.rejects(
        resumableDownload(h.store, location(key), target, {
          ...common,
          hooks: {
            onRange: (part: number) => {
              if (part === stopAt) throw new Error('test hook');
            },
          },
        }),
        DownloadError,
      );
      await assert.rejects(stat(target), 'nothing at the target yet');
      const recorded = await recordedParts(checkpoint);
      const before = h.agent.log.length;
      const r = await resumableDownload(h.store, location(key), target, common);
      const gets = h.agent.log.slice(before).filter((x) => x.method === 'GET').length;
      assert.equal(r.resumed, true);
      assert.equal(r.partsFetched, count - recorded);
      assert.equal(gets, count - recorded, 'only the missing ranges are fetched');
      assert.ok((await readFile(target)).equals(data));
      assert.deepEqual((await readdir(h.dir)).filter((f) => f.endsWith('.oss-cse-download')), [], 'no temporary file left');
    }),
    { numRuns: RUNS },
  );
});

test('a download aborted through its signal resumes (client API); its checkpoint holds no key or IV', async () => {
  const key = 'resume/download-signal';
  // Our fixed material, so that the checkpoint can be searched for it.
  await multipartUpload(h.store, location(key), { kind: 'bytes', bytes: data }, { ...uploadOptions(''), checkpoint: undefined });
  const target = join(h.dir, 'download-signal.bin');
  const checkpoint = join(h.dir, 'download-signal.json');
  const controller = new AbortController();
  await assert.rejects(
    h.client.resumableDownload(key, target, {
      partSize: KIB100,
      parallel: 1,
      checkpoint,
      signal: controller.signal,
      progress: (_f, info) => {
        if (info.part === 3) controller.abort();
      },
    }),
    (e: unknown) => e instanceof CseError && e.code === ErrorCode.ABORTED,
  );
  await assertNoSecrets(checkpoint);
  assert.ok((await recordedParts(checkpoint)) >= 3);
  const r = await h.client.resumableDownload(key, target, { partSize: KIB100, checkpoint });
  assert.equal(r.resumed, true);
  assert.ok(r.partsFetched <= 6);
  assert.ok((await readFile(target)).equals(data));
});

test('a download whose process is killed (SIGKILL) resumes from its checkpoint file to identical bytes', async () => {
  const key = 'resume/killed-download';
  await h.client.multipartUpload(key, source, { partSize: KIB100 });
  const target = join(h.dir, 'killed-download.bin');
  const checkpoint = join(h.dir, 'killed-download.json');
  h.server.faults?.set({ rules: [{ fault: { kind: 'slow', delayMs: 150 }, operations: ['GetObject'], key }] });
  await killChildWhen(
    { mode: 'download', endpoint: h.server.endpoint, ...h.server.credentials, bucket: BUCKET, key, file: target, checkpoint, partSize: 65_536 },
    async () => (await recordedParts(checkpoint)) >= 3,
  );
  h.server.faults?.clear();
  const recorded = await recordedParts(checkpoint);
  const count = Math.ceil(SIZE / 65_536);
  assert.ok(recorded >= 3 && recorded < count);
  const r = await h.client.resumableDownload(key, target, { partSize: 65_536, checkpoint });
  assert.equal(r.resumed, true);
  assert.ok(r.partsFetched <= count - recorded);
  assert.ok((await readFile(target)).equals(data));
});

test('a stream resumes an upload by id: parts OSS has are verified as the stream is read, not sent again', async () => {
  const key = 'resume/stream';
  const { context } = await h.client.initMultipartUpload(key, { dataSize: SIZE, partSize: KIB100 });
  for (const n of [1, 2, 5]) await h.client.uploadPart(key, context, n, data.subarray((n - 1) * KIB100, n * KIB100));
  const before = h.agent.log.length;
  const stream = (async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let i = 0; i < SIZE; i += 30_000) yield data.subarray(i, i + 30_000);
  })();
  const r = await h.client.multipartUpload(key, stream, { uploadId: context.uploadId, contentLength: SIZE, parallel: 2 });
  assert.equal(r.resumed, true);
  assert.equal(r.partsSent, 6);
  const sent = h.agent.log.slice(before).filter((x) => x.method === 'PUT').map((x) => Number(/partNumber=(\d+)/.exec(x.path)?.[1]));
  assert.deepEqual(sent.sort((a, b) => a - b), [3, 4, 6, 7, 8, 9]);
  assert.ok((await h.client.get(key)).content.equals(data));
});

test('a checkpoint whose upload no longer exists, with no object at the key, starts a new upload and names the lost one', async () => {
  const key = 'resume/gone';
  const checkpoint = join(h.dir, 'gone.json');
  await assert.rejects(
    h.client.multipartUpload(key, source, {
      partSize: KIB100,
      checkpoint,
      progress: (_f, info) => {
        if (info?.part !== undefined) throw new Error('test stop');
      },
    }),
    /test stop/,
  );
  const old = parseUploadCheckpoint(JSON.parse(await readFile(checkpoint, 'utf8')));
  await h.client.abortMultipartUpload(key, old.uploadId);
  const r = await h.client.multipartUpload(key, source, { partSize: KIB100, checkpoint });
  assert.equal(r.resumed, false);
  assert.notEqual(r.uploadId, old.uploadId);
  assert.equal(r.restartedFrom, old.uploadId, 'the lost upload is named, not silently replaced');
  assert.equal(r.alreadyComplete, false);
  assert.ok((await h.client.get(key)).content.equals(data));
  await assert.rejects(
    h.client.multipartUpload(key, source, { partSize: KIB100, uploadId: old.uploadId }),
    (e: unknown) => e instanceof CseError && e.code === ErrorCode.MULTIPART,
  );
});
