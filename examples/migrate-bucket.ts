// Adopting client-side encryption on a bucket that already holds plaintext objects: migrate them in place.
//
// Run: npx tsx examples/migrate-bucket.ts
//
// Each object is read, encrypted under the target key with a fresh data key, written to a staging object and copied
// over the original only if the original is still the one read (docs/bulk.md). Metadata, Content-Type and tags are
// kept. Two shards split the prefix the way two workers (two pods of a Kubernetes Indexed Job) would; a re-run finds
// every object done and writes nothing.
import assert from 'node:assert/strict';
import OSS from 'ali-oss';
import { EncryptionClient, RsaMasterKey, generateRsaKeyPair, parseShard, type MigrateObjectResult } from 'oss-cse';
import { startServer } from 'oss-cse/server';

const server = await startServer({ memory: true, buckets: ['examples'] });
try {
  const oss = new OSS({ endpoint: server.endpoint, bucket: 'examples', ...server.credentials });
  const names = Array.from({ length: 12 }, (_, i) => `photos/${String(i).padStart(2, '0')}.jpg`);
  // Objects as an application wrote them before it adopted encryption: plaintext, with metadata and a tag.
  for (const name of names) {
    await oss.put(name, Buffer.from(`pixels of ${name}`), {
      headers: { 'Content-Type': 'image/jpeg', 'x-oss-meta-camera': 'x100', 'x-oss-tagging': 'album=2024' },
    });
  }

  const target = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem, description: { key: '2026' } });
  const client = new EncryptionClient(oss, { masterKey: target });

  // The plan first: nothing is written.
  const plan = await client.migratePrefix('photos/', { dryRun: true });
  assert.deepEqual({ total: plan.total, migrated: plan.migrated }, { total: 12, migrated: 12 });

  // Two workers, each its own shard (in real use: two processes or pods, `oss-cse migrate --shard I/2`).
  const results: MigrateObjectResult[] = [];
  const run = async (shard: string) => client.migratePrefix('photos/', { shard: parseShard(shard), parallel: 2, onObject: (r) => results.push(r) });
  const [first, second] = await Promise.all([run('0/2'), run('1/2')]);
  assert.equal(first.migrated + second.migrated, 12, 'the shards split the prefix with no gap');
  assert.equal(new Set(results.map((r) => r.key)).size, 12, 'and no overlap');
  console.log(`migrated ${first.migrated} + ${second.migrated} objects in two shards`);

  // Every object is now encrypted (the stored bytes are not the plaintext) and reads back through the client with
  // its Content-Type, metadata and tag.
  for (const name of names) {
    const stored = (await oss.get(name)).content as Buffer;
    assert.notEqual(stored.toString(), `pixels of ${name}`);
    const got = await client.get(name);
    assert.equal(got.content.toString(), `pixels of ${name}`);
    assert.deepEqual(got.envelope?.matdesc, { key: '2026' });
    const head = (await oss.head(name)).res.headers as Record<string, string>;
    assert.equal(head['content-type'], 'image/jpeg');
    assert.equal(head['x-oss-meta-camera'], 'x100');
    // ali-oss has getObjectTagging, its type declarations do not.
    const tagging = oss as unknown as { getObjectTagging(key: string): Promise<{ tag: Record<string, string> }> };
    assert.deepEqual((await tagging.getObjectTagging(name)).tag, { album: '2024' });
  }

  // A re-run (after an interruption, say) finds nothing to do.
  const again = await client.migratePrefix('photos/');
  assert.deepEqual({ migrated: again.migrated, skipped: again.skipped }, { migrated: 0, skipped: 12 });

  console.log('verified: 12 plaintext objects encrypted in place by two shards, metadata, Content-Type and tags kept; a re-run skipped all 12');
} finally {
  await server.close();
}
