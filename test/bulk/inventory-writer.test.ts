// Round trip through the real object layout: writeInventory puts an OSS-style inventory into the embedded server
// with ali-oss, readInventory reads it back through an ali-oss getStream source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OSS from 'ali-oss';
import { startServer } from '../../server/src/index.js';
import { readInventory, type InventoryEntry } from '../../src/bulk/inventory.js';
import { ossInventorySource, writeInventory, type InventoryObject } from '../helpers/inventory.js';

test('an inventory written in OSS layout to the embedded server reads back entry for entry', async () => {
  const server = await startServer({ memory: true, buckets: ['src', 'inv'], kms: false });
  try {
    const client = (bucket: string): OSS =>
      new OSS({
        endpoint: server.endpoint,
        region: 'oss-cn-hangzhou',
        bucket,
        accessKeyId: server.credentials.accessKeyId,
        accessKeySecret: server.credentials.accessKeySecret,
        authorizationV4: true,
        secure: false,
      });
    const src = client('src');
    const inv = client('inv');
    const names = ['plain.txt', 'with space/and+plus', 'unicode/日本語 ü', 'comma,quote"d', 'pct%20literal', 'multi'];
    const entries: InventoryObject[] = [];
    for (const [i, name] of names.entries()) {
      const body = Buffer.alloc(i * 10 + 1, i);
      await src.put(name, body);
      const head = await src.head(name);
      entries.push({ key: name, size: body.length, etag: (head.res.headers as Record<string, string>).etag!, storageClass: i % 2 === 0 ? 'Standard' : 'IA' });
    }
    for (const gzip of [true, false]) {
      const manifestKey = await writeInventory(inv, { sourceBucket: 'src', prefix: 'reports/', inventoryId: 'daily', entries, files: 4, gzip });
      assert.match(manifestKey, /^reports\/src\/daily\/\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z\/manifest\.json$/);
      const { manifest, entries: read } = await readInventory(ossInventorySource(inv), manifestKey);
      assert.equal(manifest.sourceBucket, 'src');
      assert.equal(manifest.destinationBucket, 'inv');
      assert.equal(manifest.files.length, 4);
      for (const f of manifest.files) assert.match(f.key, gzip ? /\/data\/[0-9a-f-]{36}\.csv\.gz$/ : /\/data\/[0-9a-f-]{36}\.csv$/);
      const got: InventoryEntry[] = [];
      for await (const e of read) got.push(e);
      // The ETag comes back exactly as HEAD reports it, so a migration can compare the two by string equality.
      assert.deepEqual(
        got,
        entries.map((e) => ({ bucket: 'src', key: e.key, size: e.size, etag: e.etag, storageClass: e.storageClass })),
      );
    }
    await assert.rejects(readInventory(ossInventorySource(inv), 'reports/src/daily/none/manifest.json'), /does not exist/);
  } finally {
    await server.close();
  }
});
