// Objects EncryptionClient writes, as a plain ali-oss client and the offline reader see them: ciphertext, exactly
// the header set the peers write (oss-go-java.md §1, the Go vectors' request headers), the caller's metadata and
// type kept, Content-MD5/Content-Length moved to the unencrypted-* headers; and head, copy, list, delete, buckets.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createCipheriv, createHash, publicEncrypt, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { EncryptionClient } from '../../src/client.js';
import { V1Header, V2Header } from '../../src/format/headers.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { decryptObject, openEnvelope } from '../../src/object-crypto.js';
import { putVectors, vectorKeys } from '../helpers/vectors.js';
import { BUCKET, startHarness, type Harness } from './support.js';

let h: Harness;
let key: RsaMasterKey;
let client: EncryptionClient;
let dir: string;

before(async () => {
  h = await startHarness();
  key = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() });
  client = new EncryptionClient(h.oss, { masterKey: key });
  dir = mkdtempSync(join(tmpdir(), 'oss-cse-objects-'));
});

after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await h.close();
});

function metaHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => k.startsWith('x-oss-meta-')));
}

/** The crypto header names a Go vector's PUT carried. */
function goHeaderNames(name: string): string[] {
  const v = putVectors().find((x) => x.source === 'go' && x.name === name);
  assert.ok(v !== undefined);
  return Object.keys(v.headers).filter((k) => k.startsWith('x-oss-meta-')).sort();
}

describe('what a plain client sees', () => {
  test('ciphertext, and exactly the headers the Go SDK writes for a plain PUT (put-17), plus the plaintext length', async () => {
    const plaintext = Buffer.from('seventeen bytes!!');
    const r = await client.put('ours/17.bin', plaintext);
    assert.equal(r.res.status, 200);
    assert.equal(r.encrypted, true);
    assert.equal(r.size, 17);
    const raw = await h.oss.get('ours/17.bin');
    const stored = raw.content as Buffer;
    assert.equal(stored.length, 17);
    assert.ok(!stored.equals(plaintext));
    const headers = raw.res.headers as Record<string, string>;
    // Go writes no unencrypted length unless asked; we always store it when the length is known, as Java does
    // (issue 14 item 2), so that every whole read checks it.
    assert.deepEqual(Object.keys(metaHeaders(headers)).sort(), [...goHeaderNames('put-17'), V2Header.UNENCRYPTED_CONTENT_LENGTH].sort());
    assert.equal(headers[V2Header.UNENCRYPTED_CONTENT_LENGTH], '17');
    assert.equal(headers[V2Header.CEK_ALG], 'AES/CTR/NoPadding');
    assert.equal(headers[V2Header.WRAP_ALG], 'RSA/NONE/PKCS1Padding');
    assert.equal(r.crc64, headers['x-oss-hash-crc64ecma']);
    // A peer-style reader (the offline API over the raw headers and bytes) decrypts it, and the IV has the SDK shape.
    const { material } = await openEnvelope(headers, { masterKeys: [key] });
    assert.deepEqual([...material.iv.subarray(8, 12)], [0, 0, 0, 0]);
    assert.ok((await decryptObject({ headers, body: stored }, { masterKeys: [key] })).equals(plaintext));
  });

  test('a key with a description adds the matdesc header, as Go does (put-17-matdesc)', async () => {
    const described = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { desc: 'test' } });
    const c = new EncryptionClient(h.oss, { masterKey: described });
    await c.put('ours/17-matdesc.bin', Buffer.from('seventeen bytes!!'));
    const raw = await h.oss.head('ours/17-matdesc.bin');
    const headers = raw.res.headers as Record<string, string>;
    assert.deepEqual(Object.keys(metaHeaders(headers)).sort(), [...goHeaderNames('put-17-matdesc'), V2Header.UNENCRYPTED_CONTENT_LENGTH].sort());
    assert.equal(headers[V2Header.MATDESC], '{"desc":"test"}');
  });

  test('a caller Content-MD5 and Content-Length move to the unencrypted-* headers (put-1023-md5-length)', async () => {
    const plaintext = randomBytes(1023);
    const md5 = createHash('md5').update(plaintext).digest('base64');
    await client.put('ours/1023.bin', plaintext, { headers: { 'Content-MD5': md5, 'Content-Length': '1023' } });
    const raw = await h.oss.head('ours/1023.bin');
    const headers = raw.res.headers as Record<string, string>;
    assert.deepEqual(Object.keys(metaHeaders(headers)).sort(), goHeaderNames('put-1023-md5-length'));
    assert.equal(headers[V2Header.UNENCRYPTED_CONTENT_MD5], md5);
    assert.equal(headers[V2Header.UNENCRYPTED_CONTENT_LENGTH], '1023');
    // The whole-object read verifies them.
    assert.ok((await client.get('ours/1023.bin')).content.equals(plaintext));
  });

  test('every request carries the peers\' User-Agent suffix /OssEncryptionClient', async () => {
    const from = h.agent.userAgents.length;
    await client.put('ours/ua.bin', Buffer.from('x'));
    await client.get('ours/ua.bin');
    const agents = h.agent.userAgents.slice(from);
    assert.equal(agents.length, 2);
    for (const ua of agents) assert.match(ua, /^aliyun-sdk-nodejs\/.*\/OssEncryptionClient$/);
  });

  test('user metadata, mime and other headers are kept; Content-Type follows the key\'s extension like a plain put', async () => {
    await client.put('ours/meta.json', Buffer.from('{}'), { meta: { owner: 'ops', build: 7 }, headers: { 'Cache-Control': 'no-cache' } });
    const raw = await h.oss.head('ours/meta.json');
    const headers = raw.res.headers as Record<string, string>;
    assert.equal(headers['x-oss-meta-owner'], 'ops');
    assert.equal(headers['x-oss-meta-build'], '7');
    assert.equal(headers['cache-control'], 'no-cache');
    await h.oss.put('ours/meta-plain.json', Buffer.from('{}'));
    assert.equal(headers['content-type'], (await h.oss.head('ours/meta-plain.json')).res.headers['content-type' as never]);
    await client.put('ours/typed', Buffer.from('x'), { mime: 'text/x-custom' });
    assert.equal((await h.oss.head('ours/typed')).res.headers['content-type' as never], 'text/x-custom');
  });
});

describe('put sources', () => {
  test('a file path: streamed, Content-Type from the file\'s extension', async () => {
    const plaintext = randomBytes(300_000);
    const path = join(dir, 'report.csv');
    writeFileSync(path, plaintext);
    const r = await client.put('ours/from-file', path);
    assert.equal(r.size, plaintext.length);
    assert.equal((await h.oss.head('ours/from-file')).res.headers['content-type' as never], 'text/csv');
    assert.ok((await client.get('ours/from-file')).content.equals(plaintext));
  });

  test('a Readable of unknown length (chunked) and an async iterable with contentLength, via putStream', async () => {
    const plaintext = randomBytes(200_001);
    const parts = [plaintext.subarray(0, 7), plaintext.subarray(7, 100_000), plaintext.subarray(100_000)];
    await client.putStream('ours/stream-a', Readable.from(parts));
    assert.ok((await client.get('ours/stream-a')).content.equals(plaintext));
    async function* gen(): AsyncGenerator<Uint8Array> {
      for (const p of parts) yield p;
    }
    await client.putStream('ours/stream-b', gen(), { contentLength: plaintext.length });
    const headers = (await h.oss.head('ours/stream-b')).res.headers as Record<string, string>;
    assert.equal(headers[V2Header.UNENCRYPTED_CONTENT_LENGTH], String(plaintext.length));
    assert.ok((await client.get('ours/stream-b')).content.equals(plaintext));
  });

  test('get(name, null, options) is get(name, options), as in ali-oss', async () => {
    await client.put('ours/null-file', Buffer.from('0123456789'));
    assert.equal((await client.get('ours/null-file', null, { range: { start: 2, end: 4 } })).content.toString(), '234');
  });

  test('an empty object', async () => {
    await client.put('ours/empty', Buffer.alloc(0));
    const r = await client.get('ours/empty');
    assert.equal(r.content.length, 0);
    assert.equal(r.encrypted, true);
  });

  test('a stream shorter or longer than its declared length fails with ERR_CSE_INVALID_ARGUMENT and stores nothing', async () => {
    for (const [declared, actual] of [[10, 9], [10, 11]] as const) {
      await assert.rejects(
        client.putStream(`ours/bad-length-${actual}`, Readable.from([randomBytes(actual)]), { contentLength: declared }),
        { code: 'ERR_CSE_INVALID_ARGUMENT' },
      );
      await assert.rejects(h.oss.head(`ours/bad-length-${actual}`), { status: 404 });
    }
    await assert.rejects(client.put('ours/bad-length-bytes', randomBytes(5), { contentLength: 6 }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  });

  test('caller-supplied crypto headers or metadata are refused', async () => {
    await assert.rejects(client.put('ours/x', Buffer.from('x'), { headers: { [V2Header.KEY]: 'AAAA' } }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    await assert.rejects(client.put('ours/x', Buffer.from('x'), { meta: { 'client-side-encryption-start': 'AAAA' } }), {
      code: 'ERR_CSE_INVALID_ARGUMENT',
    });
  });
});

describe('head, unencrypted objects, copy, list, delete, buckets', () => {
  test('head reports the plaintext size, the envelope\'s public facts and the user metadata only', async () => {
    await client.put('ours/head.bin', randomBytes(4242), { meta: { owner: 'ops' } });
    const r = await client.head('ours/head.bin');
    assert.equal(r.status, 200);
    assert.equal(r.encrypted, true);
    assert.equal(r.size, 4242);
    assert.deepEqual(r.meta, { owner: 'ops' });
    assert.equal(r.envelope?.wrapAlgorithm, 'RSA/NONE/PKCS1Padding');
    assert.equal(r.envelope.version, 'v2');
    assert.ok(!JSON.stringify(r.envelope).includes((r.res.headers as Record<string, string>)[V2Header.KEY]!));
  });

  test('an unencrypted object comes back as stored, flagged encrypted: false; requireEncrypted refuses it', async () => {
    const plaintext = randomBytes(100);
    await h.oss.put('plain/obj', plaintext);
    const r = await client.get('plain/obj');
    assert.equal(r.encrypted, false);
    assert.ok(r.content.equals(plaintext));
    const ranged = await client.get('plain/obj', { headers: { Range: 'bytes=3-20' } });
    assert.ok(ranged.content.equals(plaintext.subarray(3, 21)));
    assert.equal((await client.head('plain/obj')).encrypted, false);
    await assert.rejects(client.get('plain/obj', { requireEncrypted: true }), { code: 'ERR_CSE_NOT_ENCRYPTED' });
    const strict = new EncryptionClient(h.oss, { masterKey: key, requireEncrypted: true });
    await assert.rejects(strict.get('plain/obj'), { code: 'ERR_CSE_NOT_ENCRYPTED' });
    await assert.rejects(strict.head('plain/obj'), { code: 'ERR_CSE_NOT_ENCRYPTED' });
  });

  test('copy keeps the envelope; a metadata REPLACE is refused unless it carries the envelope over', async () => {
    const plaintext = randomBytes(5000);
    await client.put('copy/src', plaintext, { meta: { a: '1' } });
    await client.copy('copy/same', 'copy/src');
    assert.ok((await client.get('copy/same')).content.equals(plaintext));
    await client.copy('copy/abs', `/${BUCKET}/copy/src`);
    assert.ok((await client.get('copy/abs')).content.equals(plaintext));

    await assert.rejects(client.copy('copy/replaced', 'copy/src', { meta: { b: '2' } }), { code: 'ERR_CSE_UNSUPPORTED_OPERATION' });
    await assert.rejects(client.copy('copy/replaced', 'copy/src', { headers: { 'Content-Type': 'text/plain' } }), {
      code: 'ERR_CSE_UNSUPPORTED_OPERATION',
    });
    await assert.rejects(h.oss.head('copy/replaced'), { status: 404 });

    await client.copy('copy/replaced', 'copy/src', { meta: { b: '2' }, keepEncryptionMetadata: true });
    const copied = await client.head('copy/replaced');
    assert.deepEqual(copied.meta, { b: '2' });
    assert.ok((await client.get('copy/replaced')).content.equals(plaintext));

    // Re-supplying the envelope by hand works; another object's envelope does not.
    const srcHeaders = (await h.oss.head('copy/src')).res.headers as Record<string, string>;
    const crypto = Object.fromEntries(Object.entries(srcHeaders).filter(([k]) => k.startsWith('x-oss-meta-client-side-encryption-')));
    await client.copy('copy/resupplied', 'copy/src', { headers: crypto, meta: { c: '3' } });
    assert.ok((await client.get('copy/resupplied')).content.equals(plaintext));
    await client.put('copy/other', randomBytes(10));
    const otherHeaders = (await h.oss.head('copy/other')).res.headers as Record<string, string>;
    const foreign = Object.fromEntries(Object.entries(otherHeaders).filter(([k]) => k.startsWith('x-oss-meta-client-side-encryption-')));
    await assert.rejects(client.copy('copy/foreign', 'copy/src', { headers: foreign, meta: {} }), { code: 'ERR_CSE_INVALID_ARGUMENT' });

    // Crypto headers onto an unencrypted object would turn its bytes into garbage on read.
    await h.oss.put('copy/plain', Buffer.from('plain'));
    await assert.rejects(client.copy('copy/plain2', 'copy/plain', { headers: crypto, meta: {} }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    await client.copy('copy/plain3', 'copy/plain', { meta: { d: '4' } });
    assert.equal((await client.get('copy/plain3')).content.toString(), 'plain');
  });

  test('a legacy V1 object (oss2 2.5-2.10: OAEP, decimal start, mislabelled cek-alg) reads only with allowLegacy', async () => {
    const dataKey = randomBytes(32);
    const start = 8;
    const counter = Buffer.alloc(16);
    counter[15] = start;
    const plaintext = randomBytes(3000);
    const cipher = createCipheriv('aes-256-ctr', dataKey, counter);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const oaep = (data: Buffer): string =>
      publicEncrypt({ key: vectorKeys.publicSpki(), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, data).toString('base64');
    await h.oss.put('legacy/v1', ciphertext, {
      headers: {
        [V1Header.KEY]: oaep(dataKey),
        [V1Header.START]: oaep(Buffer.from(String(start))),
        [V1Header.CEK_ALG]: 'AES/GCM/NoPadding',
        [V1Header.WRAP_ALG]: 'rsa',
      },
    });
    await assert.rejects(client.get('legacy/v1'), { code: 'ERR_CSE_LEGACY_NOT_ALLOWED' });
    const legacy = new EncryptionClient(h.oss, { masterKey: key, allowLegacy: true });
    assert.ok((await legacy.get('legacy/v1')).content.equals(plaintext));
    assert.ok((await legacy.get('legacy/v1', { range: { start: 1001, end: 2047 } })).content.equals(plaintext.subarray(1001, 2048)));
    const head = await legacy.head('legacy/v1');
    assert.equal(head.envelope?.version, 'v1');
    assert.equal(head.envelope.legacy, true);
  });

  test('list, listV2 and delete', async () => {
    for (const n of ['a', 'b', 'c']) await client.put(`list/${n}`, Buffer.from(n.repeat(10)));
    const v2 = await client.listV2({ prefix: 'list/', 'max-keys': 2 });
    assert.deepEqual(v2.objects.map((o) => o.name), ['list/a', 'list/b']);
    assert.equal(v2.isTruncated, true);
    const next = await client.listV2({ prefix: 'list/', continuationToken: v2.nextContinuationToken! });
    assert.deepEqual(next.objects.map((o) => [o.name, o.size]), [['list/c', 10]]);
    const v1 = await client.list({ prefix: 'list/', delimiter: '/' });
    assert.equal(v1.objects.length, 3);
    const top = await client.list({ prefix: 'list', delimiter: '/' });
    assert.deepEqual(top.prefixes, ['list/']);
    await client.delete('list/b');
    assert.deepEqual((await client.listV2({ prefix: 'list/' })).objects.map((o) => o.name), ['list/a', 'list/c']);
  });

  test('per-call bucket, putBucket, and V1 signatures', async () => {
    await client.putBucket('second-bucket');
    await client.put('x', Buffer.from('in the second bucket'), { bucket: 'second-bucket' });
    assert.equal((await client.get('x', { bucket: 'second-bucket' })).content.toString(), 'in the second bucket');
    await assert.rejects(client.get('x'), { cseCode: 'ERR_CSE_TRANSFER', code: 'NoSuchKey', status: 404, ossCode: 'NoSuchKey' });
    const v1 = new EncryptionClient(h.ossV1, { masterKey: key });
    await v1.put('v1/obj', Buffer.from('signed with V1'));
    assert.equal((await v1.get('v1/obj', { range: { start: 3, end: 8 } })).content.toString(), 'ned wi');
  });
});
