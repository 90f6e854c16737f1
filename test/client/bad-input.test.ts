// Bad input, each a typed error: wrong key, missing headers, tampered ciphertext (caught by the declared MD5 over
// the real server, and by CRC-64 when bytes change in transit), truncated and broken bodies, key absent, refused
// operations, OSS errors, aborts. A failed download leaves no file at the target path.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import OSS from 'ali-oss';
import { EncryptionClient } from '../../src/client.js';
import { TransferError } from '../../src/errors.js';
import { V2Header } from '../../src/format/headers.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { AliOssStore } from '../../src/transfer/ali-oss-store.js';
import type { CallOptions, GetResponse, ObjectLocation, ObjectStore, PutRequest, ReadRequest, StoreResponse } from '../../src/transfer/store.js';
import { putVectors, vectorKeys } from '../helpers/vectors.js';
import { BUCKET, startHarness, storedHeaders, type Harness } from './support.js';

let h: Harness;
let key: RsaMasterKey;
let otherKey: RsaMasterKey;
let client: EncryptionClient;
let dir: string;

before(async () => {
  h = await startHarness();
  key = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { owner: 'vectors' } });
  const other = await generateRsaKeyPair(2048);
  otherKey = new RsaMasterKey({ privateKey: other.privateKeyPem, description: { owner: 'someone-else' } });
  client = new EncryptionClient(h.oss, { masterKey: key });
  dir = mkdtempSync(join(tmpdir(), 'oss-cse-bad-'));
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await h.close();
});

/** Runs a download to a fresh path that must fail with `code` and leave nothing behind. */
async function failedDownloadLeavesNoFile(c: EncryptionClient, name: string, code: string, options = {}): Promise<void> {
  const sub = mkdtempSync(join(dir, 'dl-'));
  const target = join(sub, 'out.bin');
  await assert.rejects(c.get(name, target, options), { cseCode: code });
  assert.equal(existsSync(target), false);
  assert.deepEqual(readdirSync(sub), [], 'no temporary file left');
}

describe('keys', () => {
  test('an object under another key: ERR_CSE_NO_MATCHING_KEY listing the key and why (fallback and strict)', async () => {
    const writer = new EncryptionClient(h.oss, { masterKey: otherKey });
    await writer.put('keys/other', randomBytes(100));
    await assert.rejects(client.get('keys/other'), (e: any) => {
      assert.equal(e.code, 'ERR_CSE_NO_MATCHING_KEY');
      assert.match(e.message, /someone-else/);
      assert.equal(e.attempts.length, 1);
      return true;
    });
    const strict = new EncryptionClient(h.oss, { masterKey: key, keySelection: 'strict' });
    await assert.rejects(strict.get('keys/other'), (e: any) => e.code === 'ERR_CSE_NO_MATCHING_KEY' && /strict/.test(e.message));
    await failedDownloadLeavesNoFile(client, 'keys/other', 'ERR_CSE_NO_MATCHING_KEY');
    // With the key among the decryption keys it reads, found by matdesc.
    const both = new EncryptionClient(h.oss, { masterKey: key, decryptionKeys: [otherKey], keySelection: 'strict' });
    assert.equal((await both.get('keys/other')).content.length, 100);
  });

  test('a public-key-only client encrypts but cannot decrypt: a typed error, not garbage', async () => {
    const publicOnly = new EncryptionClient(h.oss, { masterKey: new RsaMasterKey({ publicKey: vectorKeys.publicSpki() }) });
    await publicOnly.put('keys/public-only', randomBytes(10));
    await assert.rejects(publicOnly.get('keys/public-only'), { code: 'ERR_CSE_NO_MATCHING_KEY' });
    assert.equal((await client.get('keys/public-only')).content.length, 10);
  });
});

describe('damaged envelopes and bodies', () => {
  const v = putVectors().find((x) => x.source === 'go' && x.name === 'put-1023-md5-length')!;

  test('missing or malformed crypto headers: typed envelope errors; the download leaves no file', async () => {
    const headers = storedHeaders(v.headers);
    const noStart = Object.fromEntries(Object.entries(headers).filter(([k]) => k !== V2Header.START));
    await h.oss.put('env/no-start', v.ciphertext, { headers: noStart });
    await assert.rejects(client.get('env/no-start'), { code: 'ERR_CSE_ENVELOPE_MISSING_HEADER' });
    await failedDownloadLeavesNoFile(client, 'env/no-start', 'ERR_CSE_ENVELOPE_MISSING_HEADER');
    await h.oss.put('env/bad-cek', v.ciphertext, { headers: { ...headers, [V2Header.CEK_ALG]: 'AES/GCM/NoPadding' } });
    await assert.rejects(client.get('env/bad-cek'), { code: 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM' });
    await h.oss.put('env/bad-key', v.ciphertext, { headers: { ...headers, [V2Header.KEY]: 'not base64!' } });
    await assert.rejects(client.get('env/bad-key'), { code: 'ERR_CSE_ENVELOPE_BAD_BASE64' });
  });

  test('tampered ciphertext with the declared MD5 present: whole reads fail with ERR_CSE_INTEGRITY, no file is left', async () => {
    const tampered = Buffer.from(v.ciphertext);
    tampered[500] = (tampered[500] ?? 0) ^ 0x01;
    await h.oss.put('env/tampered', tampered, { headers: storedHeaders(v.headers) });
    const vectorClient = new EncryptionClient(h.oss, { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }) });
    await assert.rejects(vectorClient.get('env/tampered'), { code: 'ERR_CSE_INTEGRITY', header: V2Header.UNENCRYPTED_CONTENT_MD5 });
    await failedDownloadLeavesNoFile(vectorClient, 'env/tampered', 'ERR_CSE_INTEGRITY');
    const { stream } = await vectorClient.getStream('env/tampered');
    await assert.rejects(async () => {
      for await (const _chunk of stream) {
        // read to the end
      }
    }, { code: 'ERR_CSE_INTEGRITY' });
    // CTR has no MAC: a range (no whole-object check possible) returns the flipped byte (SECURITY.md).
    const ranged = await vectorClient.get('env/tampered', { range: { start: 496, end: 503 } });
    assert.notDeepEqual(ranged.content, v.plaintext.subarray(496, 504));
  });

  /** The real store, with some operations replaced. */
  function wrapStore(overrides: Partial<Pick<ObjectStore, 'get' | 'put'>>): ObjectStore {
    const real = new AliOssStore(h.oss);
    return {
      get defaultBucket(): string | undefined {
        return real.defaultBucket;
      },
      objectUrl: (l) => real.objectUrl(l),
      put: overrides.put ?? (async (l, r, o) => real.put(l, r, o)),
      get: overrides.get ?? (async (l, r, o) => real.get(l, r, o)),
      head: async (l, r, o) => real.head(l, r, o),
      delete: async (l, o) => real.delete(l, o),
      copy: async (t, s, r, o) => real.copy(t, s, r, o),
      listV1: async (b, q, o) => real.listV1(b, q, o),
      listV2: async (b, q, o) => real.listV2(b, q, o),
      putBucket: async (b, o) => real.putBucket(b, o),
    };
  }

  /** The real store, with the GET body rewritten on its way to the client. */
  function storeWithBody(rewrite: (body: Readable) => Readable): ObjectStore {
    const real = new AliOssStore(h.oss);
    return wrapStore({
      get: async (l: ObjectLocation, r: ReadRequest, o?: CallOptions): Promise<GetResponse> => {
        const response = await real.get(l, r, o);
        return { ...response, body: rewrite(response.body) };
      },
    });
  }

  test('bytes changed in transit: the whole-object CRC-64 check fails with ERR_CSE_INTEGRITY', async () => {
    await client.put('env/crc', randomBytes(10_000));
    const flipping = EncryptionClient.fromStore(
      storeWithBody((body) =>
        body.pipe(
          new PassThrough({
            transform(chunk: Buffer, _e, done) {
              const copy = Buffer.from(chunk);
              copy[0] = (copy[0] ?? 0) ^ 0x80;
              done(null, copy);
            },
          }),
        ),
      ),
      { masterKey: key },
    );
    await assert.rejects(flipping.get('env/crc'), { code: 'ERR_CSE_INTEGRITY', header: 'x-oss-hash-crc64ecma' });
    await failedDownloadLeavesNoFile(flipping, 'env/crc', 'ERR_CSE_INTEGRITY');
  });

  test('a truncated body fails with ERR_CSE_INTEGRITY; a broken connection with a retryable ERR_CSE_TRANSFER', async () => {
    await client.put('env/trunc', randomBytes(50_000));
    const truncating = EncryptionClient.fromStore(
      storeWithBody((body) => {
        let seen = 0;
        return body.pipe(
          new PassThrough({
            transform(chunk: Buffer, _e, done) {
              const room = Math.max(0, 20_000 - seen);
              seen += chunk.length;
              done(null, chunk.subarray(0, room));
            },
          }),
        );
      }),
      { masterKey: key },
    );
    await assert.rejects(truncating.get('env/trunc'), { code: 'ERR_CSE_INTEGRITY', header: 'content-length' });
    await assert.rejects(truncating.get('env/trunc', { range: { start: 17, end: 40_000 } }), { code: 'ERR_CSE_INTEGRITY' });
    await failedDownloadLeavesNoFile(truncating, 'env/trunc', 'ERR_CSE_INTEGRITY');
    const breaking = EncryptionClient.fromStore(
      storeWithBody((body) => {
        const out = new PassThrough();
        body.once('data', (chunk: Buffer) => {
          out.write(chunk.subarray(0, 10));
          body.destroy();
          out.destroy(new Error('socket hang up'));
        });
        return out;
      }),
      { masterKey: key },
    );
    await assert.rejects(breaking.get('env/trunc'), (e: any) => e.cseCode === 'ERR_CSE_TRANSFER' && e.retryable === true);
    await failedDownloadLeavesNoFile(breaking, 'env/trunc', 'ERR_CSE_TRANSFER');
  });

  test('OSS\'s CRC-64 of a PUT differing from ours fails with ERR_CSE_INTEGRITY', async () => {
    const real = new AliOssStore(h.oss);
    const lying = wrapStore({
      put: async (l: ObjectLocation, r: PutRequest, o?: CallOptions): Promise<StoreResponse> => {
        const response = await real.put(l, r, o);
        return { ...response, headers: { ...response.headers, 'x-oss-hash-crc64ecma': '12345' } };
      },
    });
    await assert.rejects(EncryptionClient.fromStore(lying, { masterKey: key }).put('env/put-crc', randomBytes(100)), {
      code: 'ERR_CSE_INTEGRITY',
    });
  });
});

describe('OSS errors and refused operations', () => {
  test('missing object and bucket: ali-oss\'s name, code, status and request id, cseCode ERR_CSE_TRANSFER; no file is left', async () => {
    await assert.rejects(client.get('nope/missing'), (e: any) => {
      assert.ok(e instanceof TransferError);
      assert.equal(e.cseCode, 'ERR_CSE_TRANSFER');
      assert.equal(e.code, 'NoSuchKey');
      assert.equal(e.name, 'NoSuchKeyError');
      assert.equal(e.status, 404);
      assert.equal(e.ossCode, 'NoSuchKey');
      assert.match(String(e.requestId), /^[0-9A-F]{24}$/);
      assert.equal(e.retryable, false);
      return true;
    });
    await assert.rejects(client.head('nope/missing'), { cseCode: 'ERR_CSE_TRANSFER', code: 'NoSuchKey', name: 'NoSuchKeyError', status: 404 });
    await assert.rejects(client.get('x', { bucket: 'no-such-bucket' }), { cseCode: 'ERR_CSE_TRANSFER', code: 'NoSuchBucket', ossCode: 'NoSuchBucket' });
    await assert.rejects(client.put('x', Buffer.from('x'), { bucket: 'no-such-bucket' }), { cseCode: 'ERR_CSE_TRANSFER', code: 'NoSuchBucket', ossCode: 'NoSuchBucket' });
    await failedDownloadLeavesNoFile(client, 'nope/missing', 'ERR_CSE_TRANSFER');
  });

  test('a range past the end with x-oss-range-behavior: standard: ali-oss\'s 416 InvalidRange, cseCode ERR_CSE_RANGE_NOT_SATISFIABLE', async () => {
    await client.put('range/obj', randomBytes(100));
    for (const range of ['bytes=100-', 'bytes=105-200', 'bytes=97-']) {
      const headers = { Range: range, 'x-oss-range-behavior': 'standard' };
      if (range === 'bytes=97-') {
        assert.equal((await client.get('range/obj', { headers })).content.length, 3);
        continue;
      }
      await assert.rejects(client.get('range/obj', { headers }), {
        cseCode: 'ERR_CSE_RANGE_NOT_SATISFIABLE',
        code: 'InvalidRange',
        name: 'InvalidRangeError',
        status: 416,
      });
    }
    await assert.rejects(client.get('range/obj', { headers: { Range: 'bytes=0-1,5-6' } }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    await assert.rejects(client.get('range/obj', { range: { start: 5, end: 2 } }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    await assert.rejects(client.get('range/obj', { range: { start: 1 }, headers: { range: 'bytes=1-' } }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  });

  test('append, uploadPartCopy, image processing, select and signed URLs are refused with advice', async () => {
    const cases: [string, () => unknown][] = [
      ['append', () => client.append('x', Buffer.from('x'))],
      ['uploadPartCopy', () => client.uploadPartCopy('x', 'id', 1, 'src')],
      ['processObjectSave', () => client.processObjectSave('x', 'y', 'image/resize,w_10')],
      ['selectObject', () => client.selectObject('x', {})],
      ['signatureUrl', () => client.signatureUrl('x')],
      ['signatureUrlV4', () => client.signatureUrlV4('GET', 60)],
      ['asyncSignatureUrl', () => client.asyncSignatureUrl('x')],
    ];
    for (const [name, call] of cases) {
      assert.throws(call, (e: any) => {
        assert.equal(e.code, 'ERR_CSE_UNSUPPORTED_OPERATION', name);
        assert.match(e.message, /;|use /, `${name}: the message says what to do instead`);
        return true;
      });
    }
    await assert.rejects(client.get('range/obj', { process: 'image/resize,w_10' }), { code: 'ERR_CSE_UNSUPPORTED_OPERATION' });
    await assert.rejects(client.getStream('range/obj', { subres: { 'x-oss-process': 'image/info' } }), { code: 'ERR_CSE_UNSUPPORTED_OPERATION' });
  });

  test('bad arguments: empty names, no bucket, a non-client, a non-key', async () => {
    await assert.rejects(client.get(''), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    await assert.rejects(client.put('/', Buffer.from('x')), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    const noBucket = new OSS({ endpoint: h.server.endpoint, region: 'oss-cn-hangzhou', ...h.server.credentials, secure: false });
    await assert.rejects(new EncryptionClient(noBucket, { masterKey: key }).get('x'), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    assert.throws(() => new EncryptionClient({} as unknown as OSS, { masterKey: key }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    assert.throws(() => new EncryptionClient(h.oss, { masterKey: {} as unknown as RsaMasterKey }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    await assert.rejects(client.put('x', 42 as unknown as Buffer), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    await assert.rejects(client.put('x', join(dir, 'does-not-exist')), { code: 'ERR_CSE_IO' });
    await assert.rejects(client.get('x', { signal: 'no' as unknown as AbortSignal }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  });

  test('the exported store refuses an empty key on DELETE: it never becomes a DeleteBucket of an empty bucket', async () => {
    await h.oss.putBucket('store-empty-delete');
    const store = new AliOssStore(h.oss);
    for (const key of ['', '/', '//']) {
      await assert.rejects(store.delete({ bucket: 'store-empty-delete', key }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    }
    const page = await store.listV2('store-empty-delete', {});
    assert.equal(page.objects.length, 0, 'the bucket still exists and answers a listing');
  });
});

describe('AbortSignal', () => {
  let stall: Server;
  let stallClient: EncryptionClient;

  before(async () => {
    // A server that accepts requests and never answers.
    stall = createServer(() => undefined);
    await new Promise<void>((resolve) => stall.listen(0, '127.0.0.1', resolve));
    const port = (stall.address() as AddressInfo).port;
    const oss = new OSS({ endpoint: `http://127.0.0.1:${port}`, region: 'oss-cn-hangzhou', bucket: BUCKET, accessKeyId: 'a', accessKeySecret: 'b', secure: false, timeout: 60_000 });
    stallClient = new EncryptionClient(oss, { masterKey: key });
  });

  after(() => {
    stall.closeAllConnections();
    stall.close();
  });

  test('an already-aborted signal fails at once with ERR_CSE_ABORTED', async () => {
    const signal = AbortSignal.abort();
    for (const run of [
      () => client.get('range/obj', { signal }),
      () => client.put('x', Buffer.from('x'), { signal }),
      () => client.head('range/obj', { signal }),
      () => client.delete('x', { signal }),
      () => client.listV2({}, { signal }),
      () => client.copy('y', 'range/obj', { signal }),
    ]) {
      await assert.rejects(run(), { code: 'ERR_CSE_ABORTED' });
    }
  });

  test('aborting a request in flight fails promptly with ERR_CSE_ABORTED (GET, PUT of a stream, HEAD)', async () => {
    for (const run of [
      (signal: AbortSignal) => stallClient.get('x', { signal }),
      (signal: AbortSignal) => stallClient.putStream('x', Readable.from([randomBytes(1000)]), { signal }),
      (signal: AbortSignal) => stallClient.head('x', { signal }),
    ]) {
      const started = Date.now();
      await assert.rejects(run(AbortSignal.timeout(100)), { code: 'ERR_CSE_ABORTED' });
      assert.ok(Date.now() - started < 5000, 'promptly');
    }
  });

  test('aborting while the body streams fails the stream with ERR_CSE_ABORTED', async () => {
    await client.put('abort/big', randomBytes(4 << 20));
    const controller = new AbortController();
    const { stream } = await client.getStream('abort/big', { signal: controller.signal, headers: { Range: 'bytes=0-' } });
    let read = 0;
    await assert.rejects(async () => {
      for await (const chunk of stream) {
        read += (chunk as Buffer).length;
        if (read > 0) controller.abort();
      }
    }, { code: 'ERR_CSE_ABORTED' });
    assert.ok(read < 4 << 20);
  });
});
