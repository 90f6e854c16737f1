// The migration's guard and copy against the embedded server, with a store that plays the parts the server does not
// (server-side encryption headers, a chunked GET answer, another writer at an exact step): an object is only ever
// replaced by its own content re-encrypted, with everything the object had, and staging clean-up only removes
// staging objects.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OSS from 'ali-oss';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { EncryptionClient } from '../../src/client.js';
import { stagingKey } from '../../src/bulk/migrate-object.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { AliOssStore } from '../../src/transfer/ali-oss-store.js';
import type { ObjectStore } from '../../src/transfer/store.js';
import { bytesFor } from '../helpers/migrate.js';

const BUCKET = 'migrate-guard';
let server: RunningServer;
let oss: OSS;
let target: RsaMasterKey;
let client: EncryptionClient;

before(async () => {
  server = await startServer({ memory: true, buckets: [BUCKET], kms: false, faults: { rules: [] } });
  oss = new OSS({
    endpoint: server.endpoint,
    region: 'oss-cn-hangzhou',
    bucket: BUCKET,
    accessKeyId: server.credentials.accessKeyId,
    accessKeySecret: server.credentials.accessKeySecret,
    secure: false,
    authorizationV4: true,
  });
  const pair = await generateRsaKeyPair(2048);
  target = new RsaMasterKey({ privateKey: pair.privateKeyPem });
  client = new EncryptionClient(oss, { masterKey: target });
});

after(async () => {
  await server.close();
});

/** The AliOssStore over the test bucket with some of its methods replaced. */
function storeWith(overrides: Partial<ObjectStore>): ObjectStore {
  const inner = new AliOssStore(oss);
  // A Proxy, not a prototype copy: the store's methods use private fields, so they must run on the store itself.
  return new Proxy(inner, {
    get(store, name, receiver) {
      const own = (overrides as Record<string | symbol, unknown>)[name];
      if (own !== undefined) return own;
      const value: unknown = Reflect.get(store, name, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(store) : value;
    },
  });
}

function clientOf(store: ObjectStore): EncryptionClient {
  return EncryptionClient.fromStore(store, { masterKey: target });
}

async function content(key: string): Promise<Buffer> {
  return Buffer.from((await oss.get(key)).content as Uint8Array);
}

describe('migration guard and copy', () => {
  test('the copy onto the original carries its server-side encryption, which OSS does not copy by itself', async () => {
    await oss.put('sse/a', bytesFor('sse/a', 1000));
    const inner = new AliOssStore(oss);
    const sse = { 'x-oss-server-side-encryption': 'KMS', 'x-oss-server-side-encryption-key-id': 'cmk-1' };
    const copies: Record<string, string>[] = [];
    const store = storeWith({
      head: async (...args: Parameters<ObjectStore['head']>) => {
        const r = await inner.head(...args);
        return args[0].key === 'sse/a' ? { ...r, headers: { ...r.headers, ...sse } } : r;
      },
      copy: async (...args: Parameters<ObjectStore['copy']>) => {
        if (args[0].key === 'sse/a') copies.push({ ...args[2].headers });
        return inner.copy(...args);
      },
    });
    const r = await clientOf(store).migrateObject('sse/a', { bucket: BUCKET });
    assert.equal(r.result, 'migrated');
    assert.equal(copies.length, 1);
    const sent = copies[0] ?? {};
    assert.equal(sent['x-oss-server-side-encryption'], 'KMS');
    assert.equal(sent['x-oss-server-side-encryption-key-id'], 'cmk-1');
  });

  test('another writer changing only the metadata (same ETag) before the guard keeps its change: ERR_CSE_CONCURRENT_MODIFICATION', async () => {
    const body = bytesFor('meta/a', 2000);
    await oss.put('meta/a', body, { headers: { 'x-oss-meta-owner': 'ann', 'Content-Type': 'text/plain' } });
    const inner = new AliOssStore(oss);
    let heads = 0;
    const store = storeWith({
      head: async (...args: Parameters<ObjectStore['head']>) => {
        // The 2nd HEAD of the key is the guard: just before it, another writer replaces the metadata in place.
        if (args[0].key === 'meta/a' && ++heads === 2) {
          await oss.copy('meta/a', 'meta/a', {
            headers: { 'Content-Type': 'text/x-new', 'x-oss-meta-owner': 'bob', 'x-oss-metadata-directive': 'REPLACE' },
          });
        }
        return inner.head(...args);
      },
    });
    const r = await clientOf(store).migratePrefix('meta/', { bucket: BUCKET });
    assert.equal(r.failed, 1);
    const failure = r.failures[0];
    assert.equal(failure?.error?.cseCode, 'ERR_CSE_CONCURRENT_MODIFICATION');
    assert.equal(failure.from, 'plaintext', 'a failed object is reported as what its HEAD found, not unknown');
    assert.equal(failure.kind, 'plaintext');
    assert.equal(failure.size, body.length);
    assert.equal(r.byFrom.plaintext, 1);
    const headers = (await oss.head('meta/a')).res.headers as Record<string, string>;
    assert.equal(headers['x-oss-meta-owner'], 'bob', "the other writer's metadata survives");
    assert.equal(headers['content-type'], 'text/x-new');
    assert.ok((await content('meta/a')).equals(body), 'the content is as it was, not encrypted');
    await assert.rejects(oss.head(stagingKey('meta/a')), { status: 404 }, 'the staging object is removed');
  });

  test('a staging object replaced by another worker is not copied, and is not deleted: ERR_CSE_CONCURRENT_MODIFICATION', async () => {
    const body = bytesFor('twice/a', 2000);
    await oss.put('twice/a', body);
    const staging = stagingKey('twice/a');
    const inner = new AliOssStore(oss);
    const store = storeWith({
      copy: async (...args: Parameters<ObjectStore['copy']>) => {
        // Another worker given the same key writes the same staging name just before this one's copy.
        if (args[1].key === staging) await oss.put(staging, Buffer.from('the other worker'));
        return inner.copy(...args);
      },
    });
    const r = await clientOf(store).migratePrefix('twice/', { bucket: BUCKET });
    assert.equal(r.failed, 1);
    assert.equal(r.failures[0]?.error?.cseCode, 'ERR_CSE_CONCURRENT_MODIFICATION');
    assert.ok((await content('twice/a')).equals(body), 'the original is untouched');
    assert.equal((await content(staging)).toString(), 'the other worker', "the other worker's staging object is left to it");
    await oss.delete(staging);
  });

  test('a source GET answered without Content-Length (chunked) is migrated with the size of the HEAD, and checked against it', async () => {
    const body = bytesFor('chunked/a', 3000);
    await oss.put('chunked/a', body);
    const inner = new AliOssStore(oss);
    const store = storeWith({
      get: async (...args: Parameters<ObjectStore['get']>) => {
        const r = await inner.get(...args);
        if (args[0].key !== 'chunked/a') return r;
        const { 'content-length': _dropped, ...headers } = r.headers;
        return { ...r, headers };
      },
    });
    const r = await clientOf(store).migrateObject('chunked/a', { bucket: BUCKET });
    assert.equal(r.result, 'migrated');
    assert.equal(r.bytes, body.length);
    assert.ok(Buffer.from((await client.get('chunked/a')).content).equals(body));
  });

  test('staging clean-up removes only objects the migration wrote, never a plain object under a custom staging prefix', async () => {
    const hexName = `blobs/${'ab'.repeat(32)}`;
    await oss.put(hexName, Buffer.from('a content-addressed blob'));
    await oss.put('cleanup/a', Buffer.from('x'));
    await new Promise((r) => setTimeout(r, 20));
    const r = await client.migratePrefix('cleanup/', { stagingPrefix: 'blobs/' });
    assert.equal(r.migrated, 1);
    assert.equal(r.stagingRemoved, 0);
    assert.equal((await content(hexName)).toString(), 'a content-addressed blob', 'the user object is kept');
  });

  test('a restored Archive object is staged in Standard (a cold staging object could not be copied) and keeps its class; IA is staged in IA', async () => {
    const body = bytesFor('thawed/a', 1500);
    await oss.put('thawed/a', body);
    const inner = new AliOssStore(oss);
    const puts: Record<string, string>[] = [];
    const iaPuts: Record<string, string>[] = [];
    await oss.put('thawed/ia', body, { headers: { 'x-oss-storage-class': 'IA' } });
    const store = storeWith({
      // A restored Archive object: its HEAD says Archive, its bytes can be read (the server has no RestoreObject).
      head: async (...args: Parameters<ObjectStore['head']>) => {
        const r = await inner.head(...args);
        return args[0].key === 'thawed/a' ? { ...r, headers: { ...r.headers, 'x-oss-storage-class': 'Archive' } } : r;
      },
      put: async (...args: Parameters<ObjectStore['put']>) => {
        if (args[0].key === stagingKey('thawed/a')) puts.push({ ...args[1].headers });
        if (args[0].key === stagingKey('thawed/ia')) iaPuts.push({ ...args[1].headers });
        return inner.put(...args);
      },
    });
    const r = await clientOf(store).migrateObject('thawed/a', { bucket: BUCKET });
    assert.equal(r.result, 'migrated', r.reason);
    assert.equal(puts.length, 1);
    assert.equal(puts[0]?.['x-oss-storage-class'], 'Standard', 'a cold staging object could not be copied');
    const headers = (await oss.head('thawed/a')).res.headers as Record<string, string>;
    assert.equal(headers['x-oss-storage-class'], 'Archive', 'the copy gives the original its class back');
    assert.equal((await clientOf(store).migrateObject('thawed/ia', { bucket: BUCKET })).result, 'migrated');
    assert.equal(iaPuts[0]?.['x-oss-storage-class'], 'IA', 'a warm class is kept: the copy then changes no class');
  });

  test('with only excluding rewrap, a V2 object no key opens is skipped as excluded, not failed', async () => {
    const other = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem });
    await new EncryptionClient(oss, { masterKey: other }).put('foreign/a', Buffer.from('under a key this run does not hold'));
    await oss.put('foreign/b', Buffer.from('plain'));
    const r = await client.migratePrefix('foreign/', { only: ['plaintext'] });
    assert.equal(r.failed, 0, JSON.stringify(r.failures.map((f) => f.reason)));
    assert.equal(r.migrated, 1);
    assert.equal(r.skipped, 1);
    assert.equal(r.byKind.rewrap, 1);
  });

  test('objects under a custom staging prefix that are not staging objects are reported, not silently left out', async () => {
    await oss.put('scratch/a', Buffer.from('user data'));
    const r = await client.migratePrefix('scratch/', { stagingPrefix: 'scratch/' });
    assert.equal(r.total, 1, 'the object is looked at');
    assert.equal(r.failed, 1);
    assert.equal(r.failures[0]?.error?.cseCode, 'ERR_CSE_INVALID_ARGUMENT');
    assert.equal((await content('scratch/a')).toString(), 'user data');
  });

  test('a gzip-encoded object is migrated as its stored bytes (never decompressed on the way) and keeps Content-Encoding', async () => {
    const { gzipSync } = await import('node:zlib');
    const stored = gzipSync(bytesFor('gz/a', 20000));
    await oss.put('gz/a', stored, { headers: { 'Content-Encoding': 'gzip', 'Content-Type': 'text/plain' } });
    const r = await client.migrateObject('gz/a');
    assert.equal(r.result, 'migrated', r.reason);
    assert.equal(r.bytes, stored.length);
    const headers = (await oss.head('gz/a')).res.headers as Record<string, string>;
    assert.equal(headers['content-encoding'], 'gzip');
    assert.ok(Buffer.from((await client.get('gz/a')).content).equals(stored), 'it decrypts to the stored (compressed) bytes');
  });

  for (const step of ['PutObject', 'HeadObject', 'CopyObject', 'verification HeadObject'] as const) {
    test(`an abort during the ${step} of a migration leaves the original as it was or fully migrated, and no staging object`, async () => {
      const key = `abort-${step.replace(' ', '-')}/a`;
      const body = bytesFor(key, 4000);
      await oss.put(key, body);
      const controller = new AbortController();
      const inner = new AliOssStore(oss);
      let heads = 0;
      const fire = (): void => controller.abort(new Error('stop'));
      const store = storeWith({
        put: async (...args: Parameters<ObjectStore['put']>) => {
          if (step === 'PutObject') fire();
          return inner.put(...args);
        },
        head: async (...args: Parameters<ObjectStore['head']>) => {
          // The key's 2nd HEAD is the guard, its 3rd the check after the copy.
          if (args[0].key === key) heads++;
          if ((step === 'HeadObject' && heads === 2) || (step === 'verification HeadObject' && heads === 3)) fire();
          return inner.head(...args);
        },
        copy: async (...args: Parameters<ObjectStore['copy']>) => {
          if (step === 'CopyObject') fire();
          return inner.copy(...args);
        },
      });
      await assert.rejects(clientOf(store).migratePrefix(`abort-${step.replace(' ', '-')}/`, { bucket: BUCKET, signal: controller.signal }), { cseCode: 'ERR_CSE_ABORTED' });
      const head = await client.head(key);
      if (head.envelope === undefined) assert.ok((await content(key)).equals(body), 'the original is as it was');
      else assert.ok(Buffer.from((await client.get(key)).content).equals(body), 'or fully migrated');
      await assert.rejects(oss.head(stagingKey(key)), { status: 404 }, 'no staging object is left');
    });
  }

  test('an onObject callback that throws stops the run only after the objects in flight settle', async () => {
    await oss.put('cb/a', Buffer.from('a'));
    await oss.put('cb/b', Buffer.from('b'));
    const inner = new AliOssStore(oss);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let bSettled = false;
    const store = storeWith({
      copy: async (...args: Parameters<ObjectStore['copy']>) => {
        if (args[0].key !== 'cb/b') return inner.copy(...args);
        await gate; // cb/b is in flight when the callback for cb/a throws
        try {
          return await inner.copy(...args);
        } finally {
          bSettled = true;
        }
      },
    });
    let calls = 0;
    const onObject = (): void => {
      if (++calls > 1) return;
      open();
      throw new Error('report file full');
    };
    await assert.rejects(clientOf(store).migratePrefix('cb/', { bucket: BUCKET, parallel: 2, onObject }), /report file full/);
    assert.equal(bSettled, true, 'the object in flight finished before the run returned');
  });

  test('a 0-byte object is migrated to a 0-byte V2 object; a non-empty key ending in / is migrated, not taken for a folder', async () => {
    await oss.put('zero/a', Buffer.alloc(0), { headers: { 'x-oss-meta-k': 'v' } });
    await oss.put('zero/dir/', Buffer.from('not a marker'));
    const r = await client.migratePrefix('zero/');
    assert.equal(r.migrated, 2, JSON.stringify(r.failures.map((f) => f.reason)));
    assert.equal((await client.get('zero/a')).content.length, 0);
    assert.equal(((await oss.head('zero/a')).res.headers as Record<string, string>)['x-oss-meta-k'], 'v');
    assert.equal(Buffer.from((await client.get('zero/dir/')).content).toString(), 'not a marker');
  });

  for (const fault of ['wrong-crc', 'truncate', 'reset-response'] as const) {
    for (const multipart of [false, true]) {
      test(`a source GET with ${fault} (${multipart ? 'multipart' : 'single PUT'}) fails the object: original untouched, no staging object`, async () => {
        const key = `fault-${fault}-${String(multipart)}/a`;
        const body = bytesFor(key, 300 * 1024);
        await oss.put(key, body);
        server.faults?.set({ rules: [{ operations: ['GetObject'], key, fault }] });
        try {
          const r = await client.migratePrefix(`fault-${fault}-${String(multipart)}/`, multipart ? { multipartThreshold: 100 * 1024, partSize: 100 * 1024 } : {});
          assert.equal(r.failed, 1);
        } finally {
          server.faults?.clear();
        }
        assert.ok((await content(key)).equals(body), 'the original is untouched');
        await assert.rejects(oss.head(stagingKey(key)), { status: 404 }, 'no staging object');
        assert.deepEqual((await oss.listUploads({ prefix: '.oss-cse-migrate/' }, {})).uploads, [], 'no staging upload');
      });
    }
  }

  test('a staging PUT whose stored CRC-64 differs from what was sent fails the object: original untouched, staging removed', async () => {
    const body = bytesFor('putcrc/a', 5000);
    await oss.put('putcrc/a', body);
    server.faults?.set({ rules: [{ operations: ['PutObject'], keyPrefix: '.oss-cse-migrate/', fault: 'wrong-crc' }] });
    try {
      const r = await client.migratePrefix('putcrc/');
      assert.equal(r.failures[0]?.error?.cseCode, 'ERR_CSE_INTEGRITY');
    } finally {
      server.faults?.clear();
    }
    assert.ok((await content('putcrc/a')).equals(body));
    await assert.rejects(oss.head(stagingKey('putcrc/a')), { status: 404 });
  });
});
