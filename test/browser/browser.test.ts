// oss-cse/browser in headless Chromium against the embedded server (cross-origin, through its CORS rule): put, get,
// ranges, streams, multipart with abort and resume, the key broker; objects cross between the page, the Node library
// and the CLI in both directions; the shared vectors decrypt in the page.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EncryptionClient, RsaMasterKey, encryptObject } from '../../src/index.js';
import { parseRangeHeader, resolveRange } from '../../src/format/range.js';
import { runCli } from '../helpers/cli.js';
import { boundaryOffsets, putVectors, vectorKeys } from '../helpers/vectors.js';
import { BUCKET, SKIP, seededBytes, startHarness, type Harness } from './support.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('oss-cse/browser in headless Chromium', { skip: SKIP, timeout: 600_000 }, () => {
  let h: Harness;
  let node: EncryptionClient;
  let nodeOaep: EncryptionClient;
  const home = mkdtempSync(join(tmpdir(), 'oss-cse-browser-'));

  before(async () => {
    h = await startHarness();
    node = new EncryptionClient(h.oss, { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() }) });
    nodeOaep = new EncryptionClient(h.oss, { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), wrap: 'oaep' }) });
  });
  after(async () => {
    await h.close();
    rmSync(home, { recursive: true, force: true });
  });

  it('the bundle exports the contract names', async () => {
    const names: string[] = await h.call('exportsOf');
    for (const n of ['EncryptionClient', 'RsaMasterKey', 'KeyBrokerMasterKey', 'CseError', 'ErrorCode', 'LocalStorageCheckpointStore']) assert.ok(names.includes(n), n);
  });

  it('misuse of the constructors gives typed errors', async () => {
    assert.deepEqual(await h.call('constructorErrors'), {
      'no client': 'ERR_CSE_INVALID_ARGUMENT',
      'no key': 'ERR_CSE_INVALID_ARGUMENT',
      'both pems': 'ERR_CSE_INVALID_ARGUMENT',
      'bad pem': 'ERR_CSE_INVALID_KEY',
      'bad wrap': 'ERR_CSE_INVALID_ARGUMENT',
      'no url': 'ERR_CSE_INVALID_ARGUMENT',
    });
  });

  for (const size of [0, 1, 15, 16, 17, 100_003]) {
    it(`a ${size}-byte object put in the page (PKCS#1 v1.5 wrap with the public key) decrypts with the Node library`, async () => {
      const name = `page/pkcs1-${size}.bin`;
      const put = await h.call('put', { name, size, seed: size + 1 });
      assert.equal(put.error, undefined, JSON.stringify(put.error));
      assert.equal(put.envelope.wrapAlgorithm, 'RSA/NONE/PKCS1Padding');
      const got = await node.get(name);
      assert.ok(got.content.equals(seededBytes(size + 1, size)));
      assert.equal(got.res.headers['x-oss-meta-client-side-encryption-unencrypted-content-length'], String(size));
      // The page's CRC-64 is the one OSS computed over the ciphertext.
      assert.equal((await h.oss.head(name)).res.headers['x-oss-hash-crc64ecma' as never], put.crc64);
    });
  }

  it('an object put in the page decrypts with the CLI', async () => {
    const put = await h.call('put', { name: 'page/cli.txt', text: 'written in a browser, read by oss-cse cat' });
    assert.equal(put.error, undefined);
    const r = await runCli(['cat', `oss://${BUCKET}/page/cli.txt`, '--endpoint', h.server.endpoint, '--private-key', vectorKeys.privatePath()], {
      OSS_CSE_HOME: home,
      OSS_ACCESS_KEY_ID: h.server.credentials.accessKeyId,
      OSS_ACCESS_KEY_SECRET: h.server.credentials.accessKeySecret,
      OSS_ENDPOINT: '',
      OSS_REGION: '',
      OSS_CSE_PUBLIC_KEY: '',
      OSS_CSE_PRIVATE_KEY: '',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'written in a browser, read by oss-cse cat');
  });

  it('PKCS#1 v1.5 objects are opened through the broker, never with the private key in the page', async () => {
    await h.call('put', { name: 'page/via-broker.bin', size: 5000, seed: 7 });
    // Only the OAEP private key: it refuses the PKCS#1 envelope with the reason, and no broker is asked.
    const refused = await h.call('get', { name: 'page/via-broker.bin', read: ['oaep'] });
    assert.equal(refused.error.code, 'ERR_CSE_NO_MATCHING_KEY');
    assert.match(refused.error.message, /Marvin/);
    const before = h.brokerLog.length;
    const got = await h.call('get', { name: 'page/via-broker.bin', read: ['broker'] });
    assert.equal(got.sha256, sha(seededBytes(7, 5000)));
    assert.deepEqual(h.brokerLog.slice(before), [{ operation: 'unwrap', object: 'page/via-broker.bin', user: 'alice' }]);
  });

  it('OAEP: the page wraps with a PKCS#1-PEM private key, reads back without the broker; Node reads it too', async () => {
    const put = await h.call('put', { name: 'page/oaep.bin', size: 4097, seed: 9, write: 'oaep-pkcs1pem' });
    assert.equal(put.envelope.wrapAlgorithm, 'RSA/NONE/OAEPWithSHA-1AndMGF1Padding');
    const before = h.brokerLog.length;
    const got = await h.call('get', { name: 'page/oaep.bin', read: ['oaep'] });
    assert.equal(got.sha256, sha(seededBytes(9, 4097)));
    assert.equal(h.brokerLog.length, before);
    assert.ok((await node.get('page/oaep.bin')).content.equals(seededBytes(9, 4097)));
  });

  it('a PKCS#1-PEM public key wraps too (wrapped into SPKI in the page)', async () => {
    const put = await h.call('put', { name: 'page/pkcs1pem.bin', size: 33, seed: 3, write: 'rsa-public-pkcs1pem' });
    assert.equal(put.error, undefined);
    assert.ok((await node.get('page/pkcs1pem.bin')).content.equals(seededBytes(3, 33)));
  });

  it('Node-written objects (PKCS#1 and OAEP, single and multipart) decrypt in the page', async () => {
    const data = seededBytes(21, 300_001);
    await node.put('node/pkcs1.bin', data);
    await nodeOaep.put('node/oaep.bin', data);
    await node.multipartUpload('node/multi.bin', data, { partSize: 102_400 });
    for (const [name, read] of [['node/pkcs1.bin', ['broker']], ['node/oaep.bin', ['oaep']], ['node/multi.bin', ['broker']]] as const) {
      const got = await h.call('get', { name, read });
      assert.equal(got.sha256, sha(data), name);
      const part = await h.call('get', { name, read, range: { start: 102_399, end: 204_800 } });
      assert.equal(part.sha256, sha(data.subarray(102_399, 204_801)), `${name} range`);
    }
  });

  it('the shared vectors (Go and oss2, RSA) decrypt in the page, whole and from every boundary offset', async () => {
    let checked = 0;
    for (const v of putVectors()) {
      // KMS-wrapped vectors need a KMS (the broker here holds RSA keys only).
      if (v.wrap === 'kms' || /^kms/i.test(v.headers['x-oss-meta-client-side-encryption-wrap-alg'] ?? '')) continue;
      const name = `vectors/${v.source}/${v.name}`;
      const headers = Object.fromEntries(Object.entries(v.headers).filter(([n]) => n.startsWith('x-oss-meta-')));
      await h.oss.put(name, v.ciphertext, { headers });
      const whole = await h.call('get', { name, read: ['broker', 'oaep'] });
      assert.equal(whole.error, undefined, `${name}: ${JSON.stringify(whole.error)}`);
      assert.equal(whole.sha256, sha(v.plaintext), name);
      for (const start of boundaryOffsets(v.plaintext.length).slice(0, 6)) {
        const r = await h.call('get', { name, read: ['broker', 'oaep'], range: { start } });
        assert.equal(r.sha256, sha(v.plaintext.subarray(start)), `${name} from ${start}`);
      }
      checked++;
    }
    assert.ok(checked >= 10, `only ${checked} RSA vectors`);
  });

  it('counters carry through all 128 bits (IV ff…fe): whole and ranged reads across the wrap match Node', async () => {
    const iv = Buffer.alloc(16, 0xff);
    iv[15] = 0xfe;
    const plain = seededBytes(33, 100);
    const sealed = await encryptObject(plain, {
      masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), wrap: 'oaep' }),
      contentMaterial: { key: Buffer.alloc(32, 7), iv },
    });
    await h.oss.put('node/carry.bin', sealed.body, { headers: sealed.headers });
    assert.equal((await h.call('get', { name: 'node/carry.bin', read: ['oaep'] })).sha256, sha(plain));
    const r = await h.call('get', { name: 'node/carry.bin', read: ['oaep'], range: { start: 20, end: 70 } });
    assert.equal(r.sha256, sha(plain.subarray(20, 71)));
  });

  describe('range reads return what a plain client gets', () => {
    const size = 1000;
    const plain = seededBytes(44, size);
    before(async () => {
      await h.call('put', { name: 'page/range.bin', size, seed: 44 });
    });
    for (const value of ['bytes=0-0', 'bytes=1-16', 'bytes=17-999', 'bytes=990-', 'bytes=-7', 'bytes=995-2000', 'bytes=1000-', 'bytes=-2000', 'bytes=5-3']) {
      it(value, async () => {
        const got = await h.call('get', { name: 'page/range.bin', headers: { Range: value } });
        assert.equal(got.error, undefined, JSON.stringify(got.error));
        const expected = resolveRange(parseRangeHeader(value), size, false);
        if (expected.status === 206) {
          assert.equal(got.status, 206);
          assert.equal(got.contentRange, `bytes ${expected.start}-${expected.end}/${size}`);
          assert.equal(got.sha256, sha(plain.subarray(expected.start, expected.end + 1)));
        } else {
          // OSS answers 200 with the whole object; Chromium's HTTP cache may answer the same request itself with a
          // 206 covering the whole object (assembled from cached ranges), which is what a plain page gets too.
          assert.ok(got.status === 200 || got.contentRange === `bytes 0-${size - 1}/${size}`, `${got.status} ${got.contentRange}`);
          assert.equal(got.sha256, sha(plain));
        }
      });
    }
    it('with x-oss-range-behavior: standard a start past the end is ERR_CSE_RANGE_NOT_SATISFIABLE', async () => {
      const got = await h.call('get', { name: 'page/range.bin', headers: { Range: 'bytes=1000-', 'x-oss-range-behavior': 'standard' } });
      assert.equal(got.error.code, 'ERR_CSE_RANGE_NOT_SATISFIABLE');
    });
    it('getStream yields the whole object and ranges, in chunks, each checked against its Content-Range', async () => {
      const whole = await h.call('getStream', { name: 'page/range.bin', chunkSize: 160 });
      assert.equal(whole.sha256, sha(plain));
      assert.equal(whole.chunks, 7);
      const part = await h.call('getStream', { name: 'page/range.bin', chunkSize: 96, range: { start: 33, end: 777 } });
      assert.equal(part.sha256, sha(plain.subarray(33, 778)));
    });
  });

  it('the envelope MD5 is checked: a tampered body is ERR_CSE_INTEGRITY in the page', async () => {
    const plain = seededBytes(55, 2048);
    await node.put('node/md5.bin', plain, { headers: { 'Content-MD5': createHash('md5').update(plain).digest('base64') } });
    const stored = await h.oss.get('node/md5.bin');
    const body = Buffer.from(stored.content as Buffer);
    body[100] = (body[100] ?? 0) ^ 1;
    const headers = Object.fromEntries(Object.entries(stored.res.headers as Record<string, string>).filter(([n]) => n.startsWith('x-oss-meta-')));
    await h.oss.put('node/md5-tampered.bin', body, { headers });
    assert.equal((await h.call('get', { name: 'node/md5.bin', read: ['broker'] })).sha256, sha(plain));
    const bad = await h.call('get', { name: 'node/md5-tampered.bin', read: ['broker'] });
    assert.equal(bad.error.code, 'ERR_CSE_INTEGRITY');
  });

  describe('multipart', () => {
    it('parallel parts with progress; Node reads the object and its part boundaries', async () => {
      const size = 5 * 102_400 + 3;
      const r = await h.call('multipart', { name: 'page/multi.bin', size, seed: 66, partSize: 102_400, parallel: 3 });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.parts, 6);
      assert.equal(r.envelope.partSize, 102_400);
      assert.equal(r.envelope.dataSize, size);
      assert.equal(r.events.length, 6);
      assert.equal(r.events.at(-1).fraction, 1);
      const got = await node.get('page/multi.bin');
      assert.ok(got.content.equals(seededBytes(66, size)));
      assert.equal((await h.oss.head('page/multi.bin')).res.headers['x-oss-hash-crc64ecma' as never], r.crc64);
    });

    it('parts go through fetch on URLs ali-oss presigns (host-name endpoint), aborted for real by the signal; resume works there too', async () => {
      const size = 6 * 102_400 + 5;
      const first = await h.call('multipart', { name: 'page/presigned.bin', size, seed: 69, partSize: 102_400, parallel: 2, abortAfterParts: 2, checkpoint: true, byName: true });
      assert.equal(first.error.code, 'ERR_CSE_ABORTED');
      const second = await h.call('multipart', { name: 'page/presigned.bin', size, seed: 69, partSize: 102_400, parallel: 2, checkpoint: true, byName: true });
      assert.equal(second.error, undefined, JSON.stringify(second.error));
      assert.ok(second.resumedParts >= 2);
      assert.ok((await node.get('page/presigned.bin')).content.equals(seededBytes(69, size)));
    });

    it('a ReadableStream source with its size uploads in order; a stream shorter or longer than its size is refused', async () => {
      const size = 7 * 102_400 + 9;
      const r = await h.call('multipart', { name: 'page/stream.bin', size, seed: 70, partSize: 102_400, parallel: 3, stream: true, byName: true });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.parts, 8);
      assert.ok((await node.get('page/stream.bin')).content.equals(seededBytes(70, size)));
      const short = await h.call('multipart', { name: 'page/stream-short.bin', size, seed: 70, partSize: 102_400, stream: true, declaredSize: size + 1 });
      assert.equal(short.error.causeCode, 'ERR_CSE_INVALID_ARGUMENT');
      const long = await h.call('multipart', { name: 'page/stream-long.bin', size, seed: 70, partSize: 102_400, stream: true, declaredSize: size - 1 });
      assert.equal(long.error.causeCode, 'ERR_CSE_INVALID_ARGUMENT');
      await assert.rejects(h.oss.head('page/stream-short.bin'));
      await assert.rejects(h.oss.head('page/stream-long.bin'));
    });

    it('an abort without a checkpoint rejects with ERR_CSE_ABORTED and aborts the upload on OSS', async () => {
      const r = await h.call('multipart', { name: 'page/aborted.bin', size: 8 * 102_400, seed: 67, partSize: 102_400, parallel: 1, abortAfterParts: 2 });
      assert.equal(r.error.code, 'ERR_CSE_ABORTED');
      const uploads = await h.oss.listUploads({ prefix: 'page/aborted.bin' });
      assert.equal(uploads.uploads.length, 0);
      await assert.rejects(h.oss.head('page/aborted.bin'));
    });

    it('an aborted upload with a checkpoint resumes: finished parts are skipped, the object is whole, the checkpoint is removed', async () => {
      const size = 8 * 102_400 + 77;
      const first = await h.call('multipart', { name: 'page/resume.bin', size, seed: 68, partSize: 102_400, parallel: 1, abortAfterParts: 3, checkpoint: true });
      assert.equal(first.error.code, 'ERR_CSE_ABORTED');
      assert.equal(first.checkpoints.length, 1);
      // The checkpoint holds the wrapped envelope (what OSS stores anyway), never a data key.
      const saved = JSON.parse(String(await h.page.evaluate(`localStorage.getItem(${JSON.stringify(first.checkpoints[0])})`)));
      assert.deepEqual(Object.keys(saved).sort(), ['dataSize', 'envelope', 'object', 'partSize', 'parts', 'source', 'uploadId', 'version']);
      assert.ok(Object.keys(saved.envelope).every((k: string) => k.startsWith('x-oss-meta-client-side-encryption-')));
      assert.ok(saved.parts.length >= 3);
      const second = await h.call('multipart', { name: 'page/resume.bin', size, seed: 68, partSize: 102_400, parallel: 2, checkpoint: true });
      assert.equal(second.error, undefined, JSON.stringify(second.error));
      assert.equal(second.uploadId, first.error ? saved.uploadId : undefined);
      assert.ok(second.resumedParts >= 3);
      assert.equal(second.parts, 9);
      assert.ok((await node.get('page/resume.bin')).content.equals(seededBytes(68, size)));
      assert.equal(await h.page.evaluate(`Object.keys(localStorage).length`), 0);
    });
  });

  describe('key broker', () => {
    it('wraps new objects: the page gets material, the object carries the broker key\'s matdesc, Node reads it', async () => {
      const before = h.brokerLog.length;
      const put = await h.call('put', { name: 'page/broker-wrapped.bin', size: 1234, seed: 77, write: 'broker' });
      assert.equal(put.error, undefined, JSON.stringify(put.error));
      assert.deepEqual(put.envelope.matdesc, { owner: 'broker' });
      assert.deepEqual(h.brokerLog.slice(before), [{ operation: 'wrap', object: 'page/broker-wrapped.bin', user: 'alice' }]);
      const nodeReader = new EncryptionClient(h.oss, { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { owner: 'broker' } }) });
      assert.ok((await nodeReader.get('page/broker-wrapped.bin')).content.equals(seededBytes(77, 1234)));
    });

    it('a refusal (authorize returns false) is ERR_CSE_KEY_BROKER_REFUSED in the page, for writes and reads', async () => {
      const put = await h.call('put', { name: 'forbidden/new.bin', size: 10, seed: 1, write: 'broker' });
      assert.equal(put.error.code, 'ERR_CSE_KEY_BROKER_REFUSED');
      assert.equal(put.error.name, 'CseError');
      await assert.rejects(h.oss.head('forbidden/new.bin'));
      await node.put('forbidden/old.bin', Buffer.from('secret'));
      const got = await h.call('get', { name: 'forbidden/old.bin', read: ['broker'] });
      assert.equal(got.error.code, 'ERR_CSE_KEY_BROKER_REFUSED');
    });
  });

  it('head reports the envelope facts and user metadata without unwrapping', async () => {
    const before = h.brokerLog.length;
    const r = await h.call('head', { name: 'page/multi.bin' });
    assert.equal(r.encrypted, true);
    assert.equal(r.size, 5 * 102_400 + 3);
    assert.equal(r.envelope.wrapAlgorithm, 'RSA/NONE/PKCS1Padding');
    assert.equal(h.brokerLog.length, before);
  });
});
