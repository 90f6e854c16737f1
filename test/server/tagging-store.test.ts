/**
 * Store-level invariant behind PutObjectTagging, DeleteObjectTagging and same-key CopyObject: they read an object's
 * metadata, then (after reading a request body, or waiting for the store's lock) write it back with changes. If the
 * object was overwritten in between, the old size/ETag/CRC must never be paired with the new bytes.
 */

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FsStore } from '../../server/src/store/fs-store.js';
import { MemoryStore } from '../../server/src/store/memory-store.js';
import type { ObjectMeta, Store } from '../../server/src/store/types.js';

async function* bytesOf(text: string): AsyncGenerator<Uint8Array> {
  yield Buffer.from(text, 'utf8');
}

async function put(store: Store, bucket: string, key: string, text: string): Promise<ObjectMeta> {
  const staged = await store.stageBody(bytesOf(text), 1 << 20);
  const meta: ObjectMeta = {
    key,
    size: staged.digest.size,
    etag: staged.digest.md5.toString('hex').toUpperCase(),
    crc64: staged.digest.crc64.toString(),
    lastModified: 1_700_000_000_000,
    type: 'Normal',
    contentType: 'text/plain',
    headers: {},
    userMeta: [],
  };
  await store.putObject(bucket, staged, meta, false);
  return meta;
}

async function readBody(store: Store, bucket: string, key: string): Promise<{ meta: ObjectMeta; text: string }> {
  const reader = await store.openObject(bucket, key);
  assert.ok(reader !== undefined);
  try {
    const chunks: Buffer[] = [];
    if (reader.meta.size > 0) for await (const c of reader.stream(0, reader.meta.size - 1)) chunks.push(c as Buffer);
    return { meta: reader.meta, text: Buffer.concat(chunks).toString('utf8') };
  } finally {
    await reader.close();
  }
}

for (const kind of ['memory', 'disk'] as const) {
  test(`${kind} store: replaceMetadata with metadata read before an overwrite never pairs the new bytes with the old size/ETag`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oss-cse-tagstore-'));
    const store: Store = kind === 'memory' ? new MemoryStore() : await FsStore.open(dir);
    try {
      await store.createBucket('b', Date.now());
      const old = await put(store, 'b', 'k', 'old');
      // The tagging request read this, then a PutObject replaced the object before the tags were written.
      const fresh = await put(store, 'b', 'k', 'a much longer new body');
      await store.replaceMetadata('b', { ...old, tags: [['t', '1']] });
      const { meta, text } = await readBody(store, 'b', 'k');
      assert.equal(text, 'a much longer new body');
      assert.equal(meta.size, Buffer.byteLength(text));
      assert.equal(meta.etag, fresh.etag);
      assert.equal(meta.crc64, fresh.crc64);
      // A rewrite of the object it was read from still applies.
      await store.replaceMetadata('b', { ...fresh, tags: [['t', '2']] });
      assert.deepEqual(store.getObject('b', 'k')?.tags, [['t', '2']]);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}
