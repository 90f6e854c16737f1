// Issue 14 item 2: integrity data written by default. `put` of bytes, a file path or a stream of known length stores
// `…-unencrypted-content-length` (so every whole read checks the length: an object truncated in storage is an
// integrity error, not a short answer), multipart uploads store it on Initiate, and `contentMd5: true` also stores
// the plaintext MD5 for sources that can be read twice (bytes, files), refusing one-shot streams with a typed error.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EncryptionClient } from '../../src/client.js';
import { V2Header } from '../../src/format/headers.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { AliOssStore } from '../../src/transfer/ali-oss-store.js';
import { writeEncrypted } from '../../src/transfer/write.js';
import { KeyRing } from '../../src/keys/key-ring.js';
import { MaterialCache } from '../../src/transfer/multipart.js';
import { multipartUpload } from '../../src/transfer/multipart-upload.js';
import { vectorKeys } from '../helpers/vectors.js';
import { BUCKET, startHarness, type Harness } from './support.js';

let h: Harness;
let key: RsaMasterKey;
let client: EncryptionClient;
let dir: string;

before(async () => {
  h = await startHarness();
  key = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() });
  client = new EncryptionClient(h.oss, { masterKey: key });
  dir = mkdtempSync(join(tmpdir(), 'oss-cse-integrity-'));
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await h.close();
});

async function storedHeaders(name: string): Promise<Record<string, string>> {
  return (await h.oss.head(name)).res.headers as Record<string, string>;
}

const md5 = (b: Uint8Array): string => createHash('md5').update(b).digest('base64');

async function* chunks(data: Buffer): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < data.length; at += 70_000) yield data.subarray(at, at + 70_000);
}

async function exists(name: string): Promise<boolean> {
  try {
    await h.oss.head(name);
    return true;
  } catch {
    return false;
  }
}

describe('the plaintext length is stored by default', () => {
  test('bytes (small and streamed in views), a file path, a stream with contentLength; not a chunked stream of unknown length', async () => {
    const small = randomBytes(1000);
    const large = randomBytes(300_001);
    const path = join(dir, 'source.bin');
    writeFileSync(path, large);
    await client.put('len/small', small);
    await client.put('len/large', large);
    await client.put('len/file', path);
    await client.putStream('len/stream', chunks(large), { contentLength: large.length });
    await client.putStream('len/chunked', Readable.from(chunks(large)));
    assert.equal((await storedHeaders('len/small'))[V2Header.UNENCRYPTED_CONTENT_LENGTH], '1000');
    assert.equal((await storedHeaders('len/large'))[V2Header.UNENCRYPTED_CONTENT_LENGTH], '300001');
    assert.equal((await storedHeaders('len/file'))[V2Header.UNENCRYPTED_CONTENT_LENGTH], '300001');
    assert.equal((await storedHeaders('len/stream'))[V2Header.UNENCRYPTED_CONTENT_LENGTH], '300001');
    assert.equal((await storedHeaders('len/chunked'))[V2Header.UNENCRYPTED_CONTENT_LENGTH], undefined, 'unknown up front');
    // No MD5 unless asked for.
    assert.equal((await storedHeaders('len/file'))[V2Header.UNENCRYPTED_CONTENT_MD5], undefined);
    const head = await client.head('len/file');
    assert.equal(head.envelope?.unencryptedContentLength, 300_001);
    assert.equal(head.size, 300_001);
  });

  test('an object truncated in storage (headers kept, OSS CRC-64 of the short body) fails a whole read with ERR_CSE_INTEGRITY', async () => {
    const plaintext = randomBytes(5000);
    await client.put('len/victim', plaintext);
    const raw = await h.oss.get('len/victim');
    const crypto = Object.fromEntries(Object.entries(raw.res.headers as Record<string, string>).filter(([k]) => k.startsWith('x-oss-meta-')));
    // Whoever can write the bucket (or a broken copy) stores a prefix of the ciphertext under the same envelope. The
    // store computes the CRC-64 of what it holds, so only the declared length can tell.
    await h.oss.put('len/victim', (raw.content as Buffer).subarray(0, 4000), { headers: crypto });
    await assert.rejects(client.get('len/victim'), { code: 'ERR_CSE_INTEGRITY', header: V2Header.UNENCRYPTED_CONTENT_LENGTH });
    await assert.rejects(client.get('len/victim', join(dir, 'victim.out')), { code: 'ERR_CSE_INTEGRITY' });
  });

  test('multipartUpload (file, bytes, stream with contentLength) stores it on Initiate, and the completed object keeps it', async () => {
    const plaintext = randomBytes(350_000);
    const path = join(dir, 'multi.bin');
    writeFileSync(path, plaintext);
    const options = { partSize: 102_400 };
    const fromFile = await client.multipartUpload('len/multi-file', path, options);
    const fromBytes = await client.multipartUpload('len/multi-bytes', plaintext, options);
    const fromStream = await client.multipartUpload('len/multi-stream', Readable.from(chunks(plaintext)), { ...options, contentLength: plaintext.length });
    for (const r of [fromFile, fromBytes, fromStream]) {
      assert.equal(r.method, 'multipart');
      assert.equal(r.envelope.unencryptedContentLength, 350_000);
      const headers = await storedHeaders(r.name);
      assert.equal(headers[V2Header.UNENCRYPTED_CONTENT_LENGTH], '350000');
      assert.equal(headers[V2Header.DATA_SIZE], '350000');
      assert.ok((await client.get(r.name)).content.equals(plaintext));
    }
    const init = await client.initMultipartUpload('len/low-level', { dataSize: 250_000 });
    assert.equal(init.context.envelope[V2Header.UNENCRYPTED_CONTENT_LENGTH], '250000');
    await client.abortMultipartUpload('len/low-level', init.context);
  });
});

describe('contentMd5: true', () => {
  test('bytes and a file path: the plaintext MD5 is stored and checked by whole reads', async () => {
    const plaintext = randomBytes(200_000);
    const path = join(dir, 'md5.bin');
    writeFileSync(path, plaintext);
    await client.put('md5/bytes', plaintext, { contentMd5: true });
    await client.put('md5/file', path, { contentMd5: true });
    await client.multipartUpload('md5/multi', path, { contentMd5: true, partSize: 102_400 });
    for (const name of ['md5/bytes', 'md5/file', 'md5/multi']) {
      const headers = await storedHeaders(name);
      assert.equal(headers[V2Header.UNENCRYPTED_CONTENT_MD5], md5(plaintext), name);
      assert.equal(headers[V2Header.UNENCRYPTED_CONTENT_LENGTH], '200000', name);
      assert.ok((await client.get(name)).content.equals(plaintext));
    }
    // Same length, one bit changed in storage, CRC-64 recomputed by the store: only the MD5 can tell.
    const raw = await h.oss.get('md5/bytes');
    const crypto = Object.fromEntries(Object.entries(raw.res.headers as Record<string, string>).filter(([k]) => k.startsWith('x-oss-meta-')));
    const flipped = Buffer.from(raw.content as Buffer);
    flipped[1234] = (flipped[1234] ?? 0) ^ 1;
    await h.oss.put('md5/bytes', flipped, { headers: crypto });
    await assert.rejects(client.get('md5/bytes'), { code: 'ERR_CSE_INTEGRITY', header: V2Header.UNENCRYPTED_CONTENT_MD5 });
  });

  test('a one-shot stream is refused with ERR_CSE_INVALID_ARGUMENT before anything is sent', async () => {
    const plaintext = randomBytes(1000);
    await assert.rejects(client.putStream('md5/stream', Readable.from([plaintext]), { contentMd5: true, contentLength: 1000 }), {
      code: 'ERR_CSE_INVALID_ARGUMENT',
      message: /contentMd5: true needs a source that can be read twice/,
    });
    await assert.rejects(client.put('md5/stream', chunks(plaintext), { contentMd5: true }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    await assert.rejects(client.multipartUpload('md5/stream', chunks(plaintext), { contentMd5: true, contentLength: 1000 }), {
      code: 'ERR_CSE_INVALID_ARGUMENT',
    });
    assert.equal(await exists('md5/stream'), false);
  });

  test('a Content-MD5 header that differs from the computed MD5 is refused; an equal one is accepted', async () => {
    const plaintext = randomBytes(1000);
    await assert.rejects(client.put('md5/conflict', plaintext, { contentMd5: true, headers: { 'Content-MD5': md5(Buffer.from('other')) } }), {
      code: 'ERR_CSE_INVALID_ARGUMENT',
      header: 'content-md5',
    });
    await assert.rejects(
      client.multipartUpload('md5/conflict', plaintext, { contentMd5: true, headers: { 'Content-MD5': md5(Buffer.from('other')) } }),
      { code: 'ERR_CSE_INVALID_ARGUMENT', header: 'content-md5' },
    );
    assert.equal(await exists('md5/conflict'), false);
    await client.put('md5/agree', plaintext, { contentMd5: true, headers: { 'Content-MD5': md5(plaintext) } });
    assert.equal((await storedHeaders('md5/agree'))[V2Header.UNENCRYPTED_CONTENT_MD5], md5(plaintext));
  });

  test('a non-boolean contentMd5 is refused', async () => {
    await assert.rejects(client.put('md5/bad', Buffer.from('x'), { contentMd5: 'yes' as unknown as boolean }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  });

  test('a source that changed after its MD5 was computed: ERR_CSE_IO, the PUT never completes, nothing is stored', async () => {
    // writeEncrypted is handed the MD5 of other bytes of the same length: what `put(path, { contentMd5: true })`
    // sees when the file is rewritten between its MD5 pass and its upload.
    const plaintext = randomBytes(300_000);
    const store = new AliOssStore(h.oss);
    await assert.rejects(
      writeEncrypted(store, { bucket: BUCKET, key: 'md5/changed' }, { kind: 'stream', stream: chunks(plaintext), length: plaintext.length }, {
        masterKey: key,
        headers: {},
        plaintextMd5: md5(randomBytes(300_000)),
      }),
      { code: 'ERR_CSE_IO', message: /changed while it was uploaded/ },
    );
    assert.equal(await exists('md5/changed'), false);
    // And an existing object is left as it was.
    await client.put('md5/changed', Buffer.from('old'));
    await assert.rejects(
      writeEncrypted(store, { bucket: BUCKET, key: 'md5/changed' }, { kind: 'stream', stream: chunks(plaintext), length: plaintext.length }, {
        masterKey: key,
        headers: {},
        plaintextMd5: md5(Buffer.from('something else')),
      }),
      { code: 'ERR_CSE_IO' },
    );
    assert.equal((await client.get('md5/changed')).content.toString(), 'old');
  });

  test('multipartUpload of a file that fits one part, changed after its MD5 was computed: ERR_CSE_IO, nothing is stored', async () => {
    // The one-part path is a PUT: it must re-hash the streamed file as `put` does, not only send the Content-MD5
    // header. The transfer is handed the MD5 of other bytes of the same length (the file rewritten in between).
    const plaintext = randomBytes(300_000);
    const path = join(dir, 'md5-one-part.bin');
    writeFileSync(path, plaintext);
    const store = new AliOssStore(h.oss);
    const other = md5(randomBytes(300_000));
    const options = { masterKey: key, keys: new KeyRing([key]), cache: new MaterialCache(), partSize: 409_600, plaintextMd5: other, headers: { 'Content-MD5': other } };
    await assert.rejects(multipartUpload(store, { bucket: BUCKET, key: 'md5/one-part' }, { kind: 'file', path }, options), {
      code: 'ERR_CSE_IO',
      message: /changed while it was uploaded/,
    });
    assert.equal(await exists('md5/one-part'), false);
    // The control: the file's own MD5 passes, and is stored.
    const own = md5(plaintext);
    const r = await multipartUpload(store, { bucket: BUCKET, key: 'md5/one-part' }, { kind: 'file', path }, { ...options, plaintextMd5: own, headers: { 'Content-MD5': own } });
    assert.equal(r.method, 'put');
    assert.equal((await storedHeaders('md5/one-part'))[V2Header.UNENCRYPTED_CONTENT_MD5], own);
    assert.ok((await client.get('md5/one-part')).content.equals(plaintext));
  });
});
