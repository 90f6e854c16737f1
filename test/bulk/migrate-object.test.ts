// EncryptionClient.migrateObject / migratePrefix against the embedded server: every state an object can be in, the
// verify-then-copy guard against a concurrent writer, and that a finished migration writes nothing when run again.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OSS from 'ali-oss';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { EncryptionClient } from '../../src/client.js';
import { stagingKey } from '../../src/bulk/migrate-object.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeInventory } from '../helpers/inventory.js';
import { AliOssStore } from '../../src/transfer/ali-oss-store.js';
import type { ObjectStore } from '../../src/transfer/store.js';
import { V2Header } from '../../src/format/headers.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { bytesFor, putV1, tagsOf } from '../helpers/migrate.js';
import { vectorKeys } from '../helpers/vectors.js';

const BUCKET = 'migrate-lib';

interface Logged {
  readonly method: string;
  readonly operation: string;
  readonly key: string | undefined;
  readonly status: number;
}

let server: RunningServer;
let oss: OSS;
let oldKey: RsaMasterKey;
let target: RsaMasterKey;
/** Opens old objects (V1, V2 under the old key) and writes under the target. */
let client: EncryptionClient;
/** Writes V2 objects under the old key. */
let oldClient: EncryptionClient;
const requests: Logged[] = [];

function writesTo(key: string): Logged[] {
  return requests.filter((r) => r.key === key && r.status < 300 && ['PutObject', 'CopyObject', 'CompleteMultipartUpload', 'InitiateMultipartUpload'].includes(r.operation));
}

before(async () => {
  server = await startServer({
    memory: true,
    buckets: [BUCKET],
    kms: false,
    faults: { rules: [] },
    onRequest: (e: Logged) => requests.push(e),
  });
  oss = new OSS({
    endpoint: server.endpoint,
    region: 'oss-cn-hangzhou',
    bucket: BUCKET,
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
    secure: false,
    authorizationV4: true,
  });
  oldKey = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() });
  const pair = await generateRsaKeyPair(2048);
  target = new RsaMasterKey({ privateKey: pair.privateKeyPem, description: { gen: '2' } });
  client = new EncryptionClient(oss, { masterKey: target, decryptionKeys: [oldKey], allowLegacy: true });
  oldClient = new EncryptionClient(oss, { masterKey: oldKey });
});

after(async () => {
  await server.close();
});

async function assertTarget(key: string, plaintext: Buffer): Promise<void> {
  const head = await client.head(key);
  assert.equal(head.envelope?.version, 'v2', `${key} is V2`);
  const raw = await oss.head(key);
  const headers = raw.res.headers as Record<string, string>;
  assert.equal(headers[V2Header.MATDESC], JSON.stringify({ gen: '2' }), `${key} is under the target key`);
  const strict = new EncryptionClient(oss, { masterKey: target });
  assert.ok(Buffer.from((await strict.get(key)).content).equals(plaintext), `${key} decrypts under the target key to its original bytes`);
}

describe('migrateObject', () => {
  test('a plaintext object becomes V2 under the target key, keeping metadata, Content-Type and standard headers', async () => {
    const body = bytesFor('plain/a', 5000);
    await oss.put('plain/a', body, {
      headers: {
        'Content-Type': 'text/csv',
        'Cache-Control': 'max-age=60',
        'Content-Disposition': 'attachment; filename="a.csv"',
        'x-oss-meta-owner': 'ann',
        'x-oss-storage-class': 'IA',
        'x-oss-tagging': 'project=blue%20sky&tier=2',
      },
    });
    const r = await client.migrateObject('plain/a');
    assert.equal(r.result, 'migrated');
    assert.equal(r.from, 'plaintext');
    assert.equal(r.kind, 'plaintext');
    assert.equal(r.method, 'put');
    assert.equal(r.bytes, body.length);
    await assertTarget('plain/a', body);
    const headers = (await oss.head('plain/a')).res.headers as Record<string, string>;
    assert.equal(headers['content-type'], 'text/csv');
    assert.equal(headers['cache-control'], 'max-age=60');
    assert.equal(headers['content-disposition'], 'attachment; filename="a.csv"');
    assert.equal(headers['x-oss-meta-owner'], 'ann');
    assert.equal(headers['x-oss-storage-class'], 'IA', 'the storage class is kept');
    assert.deepEqual(await tagsOf(oss, 'plain/a'), { project: 'blue sky', tier: '2' }, 'the tags are kept');
    assert.equal(writesTo('plain/a').filter((w) => w.operation === 'CopyObject').length, 1, 'the original is written once, by the copy');
    assert.equal(writesTo('plain/a').filter((w) => w.operation === 'PutObject').length, 1, 'only the test put it before');
    assert.equal(headers[V2Header.UNENCRYPTED_CONTENT_LENGTH], String(body.length));
    await assert.rejects(oss.head(stagingKey('plain/a')), { status: 404 }, 'the staging object is removed');
  });

  test('a legacy V1 object needs allowLegacy, then becomes V2 under a fresh data key with its metadata', async () => {
    const body = bytesFor('v1/a', 3000);
    await putV1(oss, 'v1/a', body, { 'Content-Type': 'image/png', 'x-oss-meta-camera': 'x100' });
    const refused = await client.migratePrefix('v1/', { allowLegacy: false });
    assert.equal(refused.failed, 1);
    assert.equal(refused.failures[0]?.error?.cseCode, 'ERR_CSE_LEGACY_NOT_ALLOWED');
    const r = await client.migrateObject('v1/a', { allowLegacy: true });
    assert.equal(r.result, 'migrated');
    assert.equal(r.from, 'v1');
    await assertTarget('v1/a', body);
    const headers = (await oss.head('v1/a')).res.headers as Record<string, string>;
    assert.equal(headers['content-type'], 'image/png');
    assert.equal(headers['x-oss-meta-camera'], 'x100');
    assert.ok(!Object.keys(headers).some((h) => h.startsWith('x-oss-meta-oss-crypto')), 'no V1 envelope header is left');
  });

  test('a V2 object under an old key is re-wrapped; one under the target is skipped; a re-run writes nothing', async () => {
    const body = bytesFor('v2/a', 2000);
    await oldClient.put('v2/a', body, { mime: 'application/json', meta: { team: 'b' } });
    const r = await client.migrateObject('v2/a');
    assert.equal(r.result, 'migrated');
    assert.equal(r.kind, 'rewrap');
    assert.equal(r.method, 'rewrap');
    await assertTarget('v2/a', body);
    const before = requests.length;
    const again = await client.migrateObject('v2/a');
    assert.equal(again.result, 'skipped');
    assert.equal(again.kind, 'target');
    assert.equal(again.skipped, 'already-migrated');
    assert.ok(requests.length > before, 'the server logs every request');
    assert.deepEqual(requests.slice(before).filter((e) => e.method !== 'GET' && e.method !== 'HEAD'), [], 'a skipped object costs reads only');
  });

  test('an object above the multipart threshold goes through an encrypted multipart upload', async () => {
    const body = bytesFor('big/a', 350 * 1024);
    await oss.put('big/a', body, { headers: { 'x-oss-meta-size': 'big', 'x-oss-tagging': 'k=v', 'x-oss-storage-class': 'IA', 'Content-Type': 'video/mp4' } });
    const r = await client.migrateObject('big/a', { multipartThreshold: 200 * 1024, partSize: 100 * 1024 });
    assert.equal(r.result, 'migrated');
    assert.equal(r.method, 'multipart');
    await assertTarget('big/a', body);
    const headers = (await oss.head('big/a')).res.headers as Record<string, string>;
    assert.equal(headers['x-oss-meta-size'], 'big');
    assert.equal(headers['x-oss-storage-class'], 'IA');
    assert.equal(headers['content-type'], 'video/mp4');
    assert.deepEqual(await tagsOf(oss, 'big/a'), { k: 'v' });
  });

  test('an Archive object fails with the OSS error and is left as it was', async () => {
    await oss.put('cold/a', Buffer.from('frozen'), { headers: { 'x-oss-storage-class': 'Archive' } });
    const r = await client.migratePrefix('cold/');
    assert.equal(r.failed, 1);
    assert.equal(r.failures[0]?.error?.cseCode, 'ERR_CSE_TRANSFER');
    assert.equal((await client.head('cold/a')).envelope, undefined);
    await assert.rejects(oss.head(stagingKey('cold/a')), { status: 404 });
  });

  test('a symlink is skipped as unsupported-type, never followed', async () => {
    await oss.put('links/target', Buffer.from('t'));
    const inner = new AliOssStore(oss);
    // The embedded server has no symlinks: the store reports the object type OSS gives a symlink's HEAD.
    const store: ObjectStore = Object.assign(Object.create(inner) as ObjectStore, {
      head: async (...args: Parameters<ObjectStore['head']>) => {
        const r = await inner.head(...args);
        return { ...r, headers: { ...r.headers, 'x-oss-object-type': 'Symlink' } };
      },
    });
    const viaSymlinks = EncryptionClient.fromStore(store, { masterKey: target, decryptionKeys: [oldKey] });
    const r = await viaSymlinks.migrateObject('links/target', { bucket: BUCKET });
    assert.equal(r.result, 'skipped');
    assert.equal(r.skipped, 'unsupported-type');
    assert.equal((await client.head('links/target')).envelope, undefined);
  });

  test('folder markers are skipped; only excludes kinds; a dry run writes nothing', async () => {
    await oss.put('mixed/', Buffer.alloc(0));
    await oss.put('mixed/p', Buffer.from('plain'));
    await oldClient.put('mixed/r', Buffer.from('old key'));
    const folder = await client.migrateObject('mixed/');
    assert.equal(folder.result, 'skipped');
    assert.equal(folder.skipped, 'folder-marker');
    const before = requests.length;
    const dry = await client.migratePrefix('mixed/', { dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.equal(dry.migrated, 2);
    assert.equal(dry.skipped, 1);
    assert.deepEqual(requests.slice(before).filter((e) => e.method !== 'GET' && e.method !== 'HEAD'), [], 'a dry run only reads');
    const seen: string[] = [];
    const onlyRewrap = await client.migratePrefix('mixed/', { only: ['rewrap'], onObject: (o) => seen.push(`${o.key} ${o.result} ${o.skipped ?? ''}`) });
    assert.equal(onlyRewrap.migrated, 1);
    assert.deepEqual(seen.sort(), ['mixed/ skipped folder-marker', 'mixed/p skipped excluded', 'mixed/r migrated ']);
    assert.equal(onlyRewrap.byKind.plaintext, 1);
  });

  test('a concurrent writer between the read and the guard keeps its object: ERR_CSE_CONCURRENT_MODIFICATION', async () => {
    const body = bytesFor('race/a', 4000);
    await oss.put('race/a', body);
    // The 2nd HEAD of the key is the guard (the 1st classifies): another writer replaces the object just before it.
    server.faults?.set({ rules: [{ operations: ['HeadObject'], key: 'race/a', nth: 2, fault: 'replace-object' }] });
    const r = await client.migratePrefix('race/');
    server.faults?.clear();
    assert.equal(r.failed, 1);
    const error = r.failures[0]?.error;
    assert.equal(error?.cseCode, 'ERR_CSE_CONCURRENT_MODIFICATION');
    assert.equal(error.retryable, false);
    const now = Buffer.from((await oss.get('race/a')).content as Uint8Array);
    assert.ok(now.equals(Buffer.from(body.map((b) => b ^ 0xff))), "the other writer's bytes survive");
    assert.equal((await client.head('race/a')).envelope, undefined, 'nothing was written over it');
    assert.equal(writesTo('race/a').filter((w) => w.operation === 'CopyObject').length, 0);
    await assert.rejects(oss.head(stagingKey('race/a')), { status: 404 }, 'the staging object is removed');
  });

  test("a run removes the staging objects and aborts the staging uploads a killed run of its shard left", async () => {
    await oss.put('left/a', Buffer.from('left'));
    // A killed run's staging object: encrypted under the target, as the migration writes them.
    await client.put(stagingKey('left/a'), Buffer.from('half-done'));
    const upload = await oss.initMultipartUpload(stagingKey('left/b'));
    await new Promise((r) => setTimeout(r, 20));
    const r = await client.migratePrefix('left/');
    assert.equal(r.stagingRemoved, 1);
    assert.equal(r.migrated, 1);
    assert.deepEqual((await oss.listV2({ prefix: '.oss-cse-migrate/' }, {})).objects, []);
    const uploads = (await oss.listUploads({ prefix: '.oss-cse-migrate/' }, {})).uploads;
    assert.ok(!uploads.some((u) => u.uploadId === upload.uploadId), 'the leftover upload is aborted');
  });

  test('a re-run over a finished prefix writes nothing', async () => {
    await oss.put('done/a', Buffer.from('a'));
    await putV1(oss, 'done/b', Buffer.from('b'));
    await oldClient.put('done/c', Buffer.from('c'));
    const first = await client.migratePrefix('done/', { allowLegacy: true });
    assert.equal(first.migrated, 3);
    const before = requests.length;
    const second = await client.migratePrefix('done/', { allowLegacy: true });
    assert.equal(second.migrated, 0);
    assert.equal(second.skipped, 3);
    assert.equal(second.byKind.target, 3);
    assert.ok(requests.length > before, 'the server logs every request');
    const writes = requests.slice(before).filter((e) => ['PutObject', 'CopyObject', 'CompleteMultipartUpload', 'DeleteObject'].includes(e.operation));
    assert.deepEqual(writes, []);
  });

  test('an inventory of another bucket is refused (ERR_CSE_INVENTORY); a journal of another migration too (ERR_CSE_JOURNAL)', async () => {
    const manifest = await writeInventory(oss, { sourceBucket: 'another-bucket', prefix: 'inv', inventoryId: 'x', entries: [{ key: 'plain/a', size: 1, etag: '"0"' }] });
    await assert.rejects(client.migratePrefix('plain/', { inventory: `oss://${BUCKET}/${manifest}` }), { cseCode: 'ERR_CSE_INVENTORY' });
    const dir = mkdtempSync(join(tmpdir(), 'oss-cse-migrate-journal-'));
    try {
      const journal = join(dir, 'journal');
      const first = await client.migratePrefix('done/', { journal });
      const second = await client.migratePrefix('done/', { journal });
      assert.equal(second.resumed, first.total, 'keys the journal records are not looked at again');
      assert.equal(second.total, 0);
      await assert.rejects(client.migratePrefix('plain/', { journal }), { cseCode: 'ERR_CSE_JOURNAL' });
      await assert.rejects(client.migratePrefix('done/', { journal, only: ['v1'] }), { cseCode: 'ERR_CSE_JOURNAL' });
      await assert.rejects(client.migratePrefix('done/', { journal, dryRun: true }), { cseCode: 'ERR_CSE_INVALID_ARGUMENT' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an object the inventory names but that has been deleted is skipped as not-found (exit 0), while migrateObject of it throws NoSuchKey and a dry run on a missing bucket fails', async () => {
    await oss.put('gone/kept', Buffer.from('still here'));
    const manifest = await writeInventory(oss, {
      sourceBucket: BUCKET,
      prefix: 'inv-gone',
      inventoryId: 'daily',
      entries: [
        { key: 'gone/kept', size: 10, etag: '"0"' },
        { key: 'gone/deleted-since', size: 5, etag: '"1"' },
      ],
    });
    const inventory = `oss://${BUCKET}/${manifest}`;
    const seen: string[] = [];
    const summary = await client.migratePrefix('gone/', { inventory, onObject: (r) => seen.push(`${r.key} ${r.result} ${r.skipped ?? ''}`) });
    assert.deepEqual(seen.sort(), ['gone/deleted-since skipped not-found', 'gone/kept migrated ']);
    assert.deepEqual([summary.total, summary.migrated, summary.skipped, summary.failed], [2, 1, 1, 0]);
    await assertTarget('gone/kept', Buffer.from('still here'));

    await assert.rejects(client.migrateObject('gone/deleted-since'), { code: 'NoSuchKey', status: 404 });
    // A HEAD cannot tell a missing bucket from a missing object: a dry run from an inventory checks the bucket first.
    const elsewhere = await writeInventory(oss, { sourceBucket: 'no-such-bucket-here', prefix: 'inv-gone', inventoryId: 'other', entries: [{ key: 'gone/kept', size: 10, etag: '"0"' }] });
    await assert.rejects(client.migratePrefix('gone/', { inventory: `oss://${BUCKET}/${elsewhere}`, dryRun: true, bucket: 'no-such-bucket-here' }), { code: 'NoSuchBucket' });
  });
});
