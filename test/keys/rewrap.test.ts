// Key rotation (issue 7 §3) against the embedded server and its KMS emulator, through the real ali-oss and
// @alicloud/kms20160120 clients: a prefix of mixed objects (RSA, KMS, multipart, with user metadata and standard
// headers) is rewrapped with metadata-only copies (no object body reaches the server: counted with the server's
// fault-injection statistics), every object then reads with the new key only, byte for byte, with its metadata; runs
// are idempotent and resume after an interruption; an object changed between HEAD and copy is not rewrapped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Kms from '@alicloud/kms20160120';
import OSS from 'ali-oss';
import { startServer, type FaultOperation, type RunningServer } from '../../server/src/index.js';
import { createOssClient, EncryptionClient } from '../../src/client.js';
import { isCseError } from '../../src/errors.js';
import { V1Header, V2Header } from '../../src/format/headers.js';
import { KmsMasterKey } from '../../src/keys/kms.js';
import type { MasterKey } from '../../src/keys/master-key.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { encryptObject } from '../../src/object-crypto.js';
import { AliOssStore } from '../../src/transfer/ali-oss-store.js';
import type { ObjectStore } from '../../src/transfer/store.js';
import type { RewrapObjectResult } from '../../src/transfer/rewrap.js';
import { vectorKeys } from '../helpers/vectors.js';

const BUCKET = 'rewrap';
const REGION = 'cn-hangzhou';
/** Operations that carry an object body one way or the other: none may happen during a rewrap. */
const BODY_OPERATIONS: readonly FaultOperation[] = ['PutObject', 'UploadPart', 'GetObject', 'CompleteMultipartUpload', 'InitiateMultipartUpload', 'Other'];

let server: RunningServer;
let oss: OSS;
let kmsOld: KmsMasterKey;
let kmsNew: KmsMasterKey;
let rsaOld: RsaMasterKey;
let rsaNewPem: { privateKeyPem: string; publicKeyPem: string };
let rsaNew: RsaMasterKey;

async function createKmsKey(): Promise<string> {
  const raw = new Kms.default({
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
    endpoint: `${server.host}:${server.port}`,
    protocol: 'http',
    regionId: REGION,
  } as any);
  const answer = await raw.createKey(new Kms.CreateKeyRequest({ description: 'rewrap test' }));
  const id = answer.keyMetadata.keyId;
  assert.ok(typeof id === 'string' && id !== '');
  return id;
}

function kmsKey(keyId: string, description: Record<string, string>): KmsMasterKey {
  return new KmsMasterKey({
    keyId,
    region: REGION,
    endpoint: server.endpoint,
    credentials: { accessKeyId: server.credentials.accessKeyId, accessKeySecret: server.credentials.accessKeySecret },
    description,
  });
}

function client(masterKey: MasterKey, decryptionKeys: MasterKey[] = [], store?: ObjectStore): EncryptionClient {
  return store === undefined
    ? new EncryptionClient(oss, { masterKey, decryptionKeys })
    : EncryptionClient.fromStore(store, { masterKey, decryptionKeys });
}

function opsSince(before: Readonly<Partial<Record<FaultOperation, number>>>): Partial<Record<FaultOperation, number>> {
  const now = server.faults?.stats().byOperation ?? {};
  const out: Partial<Record<FaultOperation, number>> = {};
  for (const [op, n] of Object.entries(now) as [FaultOperation, number][]) {
    const d = n - (before[op] ?? 0);
    if (d !== 0) out[op] = d;
  }
  return out;
}

function snapshot(): Readonly<Partial<Record<FaultOperation, number>>> {
  return { ...(server.faults?.stats().byOperation ?? {}) };
}

before(async () => {
  server = await startServer({ memory: true, buckets: [BUCKET], faults: {}, log: () => undefined });
  oss = createOssClient({
    endpoint: server.endpoint,
    region: REGION,
    bucket: BUCKET,
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
  });
  kmsOld = kmsKey(await createKmsKey(), { gen: '2024', kind: 'kms' });
  kmsNew = kmsKey(await createKmsKey(), { gen: '2025' });
  rsaOld = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { gen: '2024' } });
  rsaNewPem = await generateRsaKeyPair(2048);
  rsaNew = new RsaMasterKey({ privateKey: rsaNewPem.privateKeyPem, description: { gen: '2025-rsa' } });
});

after(async () => {
  await server.close();
});

interface Written {
  readonly name: string;
  readonly data: Buffer;
  readonly meta: Record<string, string>;
  readonly type: string;
}

/** RSA, KMS and multipart objects with user metadata and standard headers, plus one unencrypted object. */
async function writeMixed(prefix: string): Promise<Written[]> {
  const out: Written[] = [];
  const rsa = client(rsaOld);
  const kms = client(kmsOld);
  let data = randomBytes(3000);
  await rsa.put(`${prefix}rsa.csv`, data, { meta: { owner: 'ops', 'x-note': 'a b' }, mime: 'text/csv', headers: { 'Cache-Control': 'no-cache' } });
  out.push({ name: `${prefix}rsa.csv`, data, meta: { owner: 'ops', 'x-note': 'a b' }, type: 'text/csv' });
  data = randomBytes(1);
  await kms.put(`${prefix}kms.json`, data, { meta: { team: 'kms' }, mime: 'application/json', headers: { 'Content-Disposition': 'attachment' } });
  out.push({ name: `${prefix}kms.json`, data, meta: { team: 'kms' }, type: 'application/json' });
  data = randomBytes(0);
  await rsa.put(`${prefix}empty.bin`, data, { mime: 'application/octet-stream' });
  out.push({ name: `${prefix}empty.bin`, data, meta: {}, type: 'application/octet-stream' });
  data = randomBytes(250 * 1024 + 7);
  const mp = await kms.multipartUpload(`${prefix}multi.bin`, data, { partSize: 100 * 1024, meta: { parts: '3' }, mime: 'application/x-big' });
  assert.equal(mp.method, 'multipart');
  out.push({ name: `${prefix}multi.bin`, data, meta: { parts: '3' }, type: 'application/x-big' });
  return out;
}

async function checkReadable(objects: readonly Written[], key: MasterKey): Promise<void> {
  const reader = client(key);
  for (const o of objects) {
    const got = await reader.get(o.name);
    assert.ok(got.content.equals(o.data), `${o.name}: bytes`);
    const head = await reader.head(o.name);
    assert.deepEqual(head.meta ?? {}, o.meta, `${o.name}: user metadata`);
    assert.equal(head.res.headers['content-type'], o.type, `${o.name}: content type`);
    assert.deepEqual(head.envelope?.matdesc, key.description, `${o.name}: matdesc`);
  }
}

describe('rewrap of a prefix of mixed objects', () => {
  test('every object reads with the new key only, bytes/metadata/content type unchanged, no body sent or fetched', async () => {
    const objects = await writeMixed('mixed/');
    await oss.put('mixed/plain.txt', Buffer.from('not encrypted'), { headers: { 'x-oss-meta-plain': 'yes' } });
    const before = snapshot();
    const seen: RewrapObjectResult[] = [];
    const result = await client(rsaOld, [kmsOld]).rewrapPrefix('mixed/', { to: kmsNew, parallel: 3, onObject: (r) => seen.push(r) });
    assert.deepEqual(result.failures, []);
    assert.equal(result.rewrapped, 4);
    assert.equal(result.skipped, 1);
    assert.equal(result.total, 5);
    assert.equal(seen.length, 5);
    assert.deepEqual(seen.find((r) => r.name === 'mixed/plain.txt')?.skipped, 'not-encrypted');
    for (const r of seen.filter((s) => s.status === 'rewrapped')) {
      assert.equal(r.verified, 'unwrap');
      assert.equal(r.to?.key, kmsNew.name);
      assert.ok(r.from?.key === rsaOld.name || r.from?.key === kmsOld.name);
    }
    const ops = opsSince(before);
    for (const op of BODY_OPERATIONS) assert.equal(ops[op], undefined, `no ${op} during the rewrap: ${JSON.stringify(ops)}`);
    assert.equal(ops.CopyObject, 4, 'one metadata copy per rewrapped object');
    assert.equal(ops.HeadObject, 4 * 2 + 1, 'a HEAD before and a verification HEAD after each copy');

    await checkReadable(objects, kmsNew);
    for (const old of [rsaOld, kmsOld]) {
      for (const o of objects) {
        await assert.rejects(client(old).get(o.name), (e) => isCseError(e, 'ERR_CSE_NO_MATCHING_KEY'), `${o.name} must not open with ${old.name}`);
      }
    }
    const plain = await oss.get('mixed/plain.txt');
    assert.equal(plain.content.toString(), 'not encrypted');
  });

  test('a second run skips everything (already under the target key) and writes nothing', async () => {
    const objects = await writeMixed('again/');
    const c = client(rsaOld, [kmsOld]);
    assert.equal((await c.rewrapPrefix('again/', { to: rsaNew })).rewrapped, objects.length);
    const before = snapshot();
    const second = await c.rewrapPrefix('again/', { to: rsaNew });
    assert.equal(second.skipped, objects.length);
    assert.equal(second.rewrapped, 0);
    assert.equal(opsSince(before).CopyObject, undefined);
    await checkReadable(objects, rsaNew);
    // A new description alone (same key) is a rewrap too.
    const relabelled = new RsaMasterKey({ privateKey: rsaNewPem.privateKeyPem, description: { gen: '2025-rsa', site: 'b' } });
    const third = await client(rsaNew).rewrapPrefix('again/', { to: relabelled });
    assert.equal(third.rewrapped, objects.length);
    await checkReadable(objects, relabelled);
  });

  test('a dry run reports what would be rewrapped and writes nothing', async () => {
    const objects = await writeMixed('dry/');
    const before = snapshot();
    const seen: RewrapObjectResult[] = [];
    const result = await client(rsaOld, [kmsOld]).rewrapPrefix('dry/', { to: kmsNew, dryRun: true, onObject: (r) => seen.push(r) });
    assert.equal(result.dryRun, true);
    assert.equal(result.rewrapped, objects.length);
    assert.ok(seen.every((r) => r.dryRun && r.verified === undefined));
    assert.equal(opsSince(before).CopyObject, undefined);
    await checkReadable(objects.filter((o) => !o.name.includes('kms') && !o.name.includes('multi')), rsaOld);
  });

  test('an interrupted run resumes: the rewrapped objects are skipped, the rest rewrapped', async () => {
    const c = client(rsaOld);
    const objects: Written[] = [];
    for (let i = 0; i < 6; i++) {
      const data = randomBytes(100 + i);
      await c.put(`resume/${i}.bin`, data, { meta: { i: String(i) }, mime: 'application/x-test' });
      objects.push({ name: `resume/${i}.bin`, data, meta: { i: String(i) }, type: 'application/x-test' });
    }
    const controller = new AbortController();
    const done: string[] = [];
    await assert.rejects(
      c.rewrapPrefix('resume/', {
        to: kmsNew,
        parallel: 1,
        signal: controller.signal,
        onObject: (r) => {
          done.push(r.name);
          if (done.length === 2) controller.abort();
        },
      }),
      (e) => isCseError(e, 'ERR_CSE_ABORTED'),
    );
    assert.equal(done.length, 2);
    // A copy that committed but whose answer was lost, and a copy that failed, in the second run.
    server.faults?.set({
      rules: [
        { operations: ['CopyObject'], key: 'resume/3.bin', fault: 'lost-response', times: 1 },
        { operations: ['CopyObject'], key: 'resume/4.bin', fault: 'internal-error', times: 1 },
      ],
    });
    const seen: RewrapObjectResult[] = [];
    let second;
    try {
      second = await c.rewrapPrefix('resume/', { to: kmsNew, parallel: 2, onObject: (r) => seen.push(r) });
    } finally {
      server.faults?.clear();
    }
    assert.deepEqual(seen.filter((r) => r.status === 'skipped').map((r) => r.name).sort(), done.sort());
    assert.equal(second.failed, 1);
    assert.equal(second.failures.at(0)?.name, 'resume/4.bin');
    assert.match(String(second.failures.at(0)?.reason), /ERR_CSE_TRANSFER/);
    assert.equal(seen.find((r) => r.name === 'resume/3.bin')?.status, 'rewrapped', 'the lost answer is resolved by looking');
    await checkReadable(objects.filter((o) => o.name !== 'resume/4.bin'), kmsNew);
    await checkReadable(objects.filter((o) => o.name === 'resume/4.bin'), rsaOld);
    const third = await c.rewrapPrefix('resume/', { to: kmsNew });
    assert.deepEqual([third.rewrapped, third.skipped, third.failed], [1, 5, 0]);
    await checkReadable(objects, kmsNew);
  });
});

describe('rewrap of one object', () => {
  test('an object replaced between HEAD and copy is not rewrapped (copy-source-if-match): 412, still readable', async () => {
    const c = client(rsaOld);
    await c.put('race/a.bin', randomBytes(500));
    const replacement = randomBytes(600);
    const store = new AliOssStore(oss);
    // A concurrent writer replaces the object right before the copy.
    const racing: ObjectStore = {
      defaultBucket: store.defaultBucket,
      objectUrl: (l) => store.objectUrl(l),
      put: async (...a) => store.put(...a),
      get: async (...a) => store.get(...a),
      head: async (...a) => store.head(...a),
      delete: async (...a) => store.delete(...a),
      listV2: async (...a) => store.listV2(...a),
      listV1: async (...a) => store.listV1(...a),
      putBucket: async (...a) => store.putBucket(...a),
      copy: async (...a) => {
        await c.put('race/a.bin', replacement, { meta: { by: 'writer' } });
        return store.copy(...a);
      },
    };
    await assert.rejects(client(rsaOld, [], racing).rewrap('race/a.bin', { to: kmsNew }), (e: any) => {
      assert.equal(e.cseCode, 'ERR_CSE_TRANSFER');
      assert.equal(e.status, 412);
      assert.match(e.message, /changed after it was read/);
      return true;
    });
    const got = await c.get('race/a.bin');
    assert.ok(got.content.equals(replacement));
    assert.deepEqual((await c.head('race/a.bin')).meta, { by: 'writer' });
  });

  test('a stored envelope that does not verify is written back: the object still opens with the old key', async () => {
    const c = client(rsaOld);
    const data = randomBytes(321);
    await c.put('damaged/a.bin', data, { meta: { keep: 'me' } });
    const store = new AliOssStore(oss);
    const other = await encryptObject(Buffer.alloc(0), { masterKey: kmsNew });
    let copies = 0;
    // The first copy (the rewrap) stores another object's wrapped key, as a faulty proxy might; the second (the
    // restore) goes through untouched.
    const damaging: ObjectStore = {
      defaultBucket: store.defaultBucket,
      objectUrl: (l) => store.objectUrl(l),
      put: async (...a) => store.put(...a),
      get: async (...a) => store.get(...a),
      head: async (...a) => store.head(...a),
      delete: async (...a) => store.delete(...a),
      listV2: async (...a) => store.listV2(...a),
      listV1: async (...a) => store.listV1(...a),
      putBucket: async (...a) => store.putBucket(...a),
      copy: async (target, source, request, options) => {
        copies++;
        const headers = copies === 1 ? { ...request.headers, [V2Header.KEY]: other.headers[V2Header.KEY] ?? '' } : request.headers;
        return store.copy(target, source, { headers }, options);
      },
    };
    await assert.rejects(client(rsaOld, [], damaging).rewrap('damaged/a.bin', { to: kmsNew }), (e: any) => {
      assert.equal(e.code, 'ERR_CSE_INTEGRITY');
      assert.match(e.message, /stored envelope differs .*client-side-encryption-key.*written back/);
      return true;
    });
    assert.equal(copies, 2);
    assert.ok((await c.get('damaged/a.bin')).content.equals(data));
    assert.deepEqual((await c.head('damaged/a.bin')).meta, { keep: 'me' });
  });

  test('a target key that does not give the data key back is caught before anything is written', async () => {
    const c = client(rsaOld);
    await c.put('broken/a.bin', randomBytes(10));
    // Wraps fine, but unwraps to other bytes (e.g. a KMS key whose Decrypt is not allowed would fail the same way).
    const broken: MasterKey = {
      kind: kmsNew.kind,
      name: 'broken',
      description: { gen: 'broken' },
      wrap: async (m) => kmsNew.wrap(m),
      unwrap: async (e, ctx) => {
        const m = await kmsNew.unwrap(e, ctx);
        return m === null ? null : { key: m.key.map((b) => b ^ 1), iv: m.iv };
      },
    };
    const before = snapshot();
    await assert.rejects(c.rewrap('broken/a.bin', { to: broken }), (e: any) => {
      assert.equal(e.code, 'ERR_CSE_INTEGRITY');
      assert.match(e.message, /broken does not unwrap the new envelope before writing it .*; nothing was written/);
      return true;
    });
    assert.equal(opsSince(before).CopyObject, undefined);
    assert.equal((await c.get('broken/a.bin')).content.length, 10);
  });

  test('to a public-only RSA key: verified by headers; a re-run presumes the rewrapped objects done', async () => {
    const c = client(rsaOld);
    const data = randomBytes(777);
    await c.put('public/a.bin', data, { meta: { k: 'v' } });
    const publicOnly = new RsaMasterKey({ publicKey: rsaNewPem.publicKeyPem, description: { gen: 'pub' } });
    const r = await c.rewrap('public/a.bin', { to: publicOnly });
    assert.equal(r.status, 'rewrapped');
    assert.equal(r.verified, 'headers');
    const again = await c.rewrap('public/a.bin', { to: publicOnly });
    assert.equal(again.status, 'skipped');
    assert.equal(again.presumed, true);
    // With the new private key among the old keys, the same re-run is decided by unwrapping.
    const withPrivate = new RsaMasterKey({ privateKey: rsaNewPem.privateKeyPem, description: { gen: 'pub' } });
    const checked = await client(rsaOld, [withPrivate]).rewrap('public/a.bin', { to: publicOnly });
    assert.equal(checked.status, 'skipped');
    assert.equal(checked.presumed, undefined);
    const read = await client(withPrivate).get('public/a.bin');
    assert.ok(read.content.equals(data));
  });

  test('unencrypted objects are skipped; legacy V1 objects and objects no key opens fail with typed errors', async () => {
    await oss.put('one/plain', Buffer.from('p'));
    const c = client(rsaOld);
    assert.deepEqual(
      (({ status, skipped }) => ({ status, skipped }))(await c.rewrap('one/plain', { to: kmsNew })),
      { status: 'skipped', skipped: 'not-encrypted' },
    );
    const enc = await encryptObject(Buffer.from('legacy'), { masterKey: rsaOld });
    const v1 = {
      [V1Header.KEY]: enc.headers[V2Header.KEY] ?? '',
      [V1Header.START]: enc.headers[V2Header.START] ?? '',
      [V1Header.WRAP_ALG]: 'rsa',
      [V1Header.CEK_ALG]: 'AES/GCM/NoPadding',
    };
    await oss.put('one/v1', enc.body, { headers: v1 });
    await assert.rejects(c.rewrap('one/v1', { to: kmsNew }), (e) => isCseError(e, 'ERR_CSE_UNSUPPORTED_OPERATION'));
    await client(kmsOld).put('one/kms', Buffer.from('k'));
    await assert.rejects(c.rewrap('one/kms', { to: rsaNew }), (e) => isCseError(e, 'ERR_CSE_NO_MATCHING_KEY'));
    await assert.rejects(c.rewrap('one/missing', { to: rsaNew }), (e: any) => e.cseCode === 'ERR_CSE_TRANSFER' && e.code === 'NoSuchKey' && e.status === 404);
    // User metadata spelled like a V1 envelope field is metadata on a V2 object: carried over, not compared.
    // (written raw: our own client refuses such a name on put.)
    const odd = await encryptObject(Buffer.from('odd'), { masterKey: rsaOld });
    await oss.put('one/odd-meta', odd.body, { headers: { ...odd.headers, [V1Header.UNENCRYPTED_CONTENT_LENGTH]: '99' } });
    assert.equal((await c.rewrap('one/odd-meta', { to: kmsNew })).status, 'rewrapped');
    const raw = await oss.head('one/odd-meta');
    assert.equal((raw.res.headers as Record<string, string>)[V1Header.UNENCRYPTED_CONTENT_LENGTH], '99');
    assert.equal((await client(kmsNew).get('one/odd-meta')).content.toString(), 'odd');
  });
});
