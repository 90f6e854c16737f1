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
  server = await startServer({ memory: true, buckets: [BUCKET], kms: false });
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
  }) as ObjectStore;
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
    assert.equal(copies[0]?.['x-oss-server-side-encryption'], 'KMS');
    assert.equal(copies[0]?.['x-oss-server-side-encryption-key-id'], 'cmk-1');
  });
});
