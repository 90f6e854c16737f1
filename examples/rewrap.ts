// Key rotation without moving data: rewrap every object under a prefix to a new master key.
//
// Run: npx tsx examples/rewrap.ts
//
// Only the wrapped data key and IV change (one same-key CopyObject per object, metadata only); the encrypted bytes
// are neither downloaded nor uploaded. Each rewrap is verified before the next; a re-run skips objects already done.
import assert from 'node:assert/strict';
import OSS from 'ali-oss';
import { EncryptionClient, RsaMasterKey, generateRsaKeyPair } from 'oss-cse';
import { startServer } from 'oss-cse/server';

const server = await startServer({ memory: true, buckets: ['examples'] });
try {
  const oss = new OSS({ endpoint: server.endpoint, bucket: 'examples', ...server.credentials });
  const oldKey = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem, description: { key: 'old' } });
  const newKey = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem, description: { key: 'new' } });

  const names = ['docs/a.txt', 'docs/b.txt', 'docs/c.txt'];
  const writer = new EncryptionClient(oss, { masterKey: oldKey });
  for (const name of names) await writer.put(name, Buffer.from(`contents of ${name}`));
  const storedBefore = await Promise.all(names.map(async (name) => (await oss.get(name)).content as Buffer));

  // The rotating client holds both keys: the old one opens the objects, `to` wraps them again.
  const rotator = new EncryptionClient(oss, { masterKey: newKey, decryptionKeys: [oldKey] });
  const dryRun = await rotator.rewrapPrefix('docs/', { to: newKey, dryRun: true });
  assert.equal(dryRun.rewrapped, 3);
  const report = await rotator.rewrapPrefix('docs/', { to: newKey, parallel: 2 });
  assert.deepEqual({ total: report.total, rewrapped: report.rewrapped, failed: report.failed }, { total: 3, rewrapped: 3, failed: 0 });
  console.log(`rewrapped ${report.rewrapped} of ${report.total} objects`);

  // Run again: nothing left to do (safe after an interruption).
  const again = await rotator.rewrapPrefix('docs/', { to: newKey });
  assert.equal(again.skipped, 3);

  // The old key can now be retired: a client with only the new key reads everything, and the stored ciphertext
  // bytes did not change.
  const reader = new EncryptionClient(oss, { masterKey: newKey });
  for (const [i, name] of names.entries()) {
    const got = await reader.get(name);
    assert.equal(got.content.toString(), `contents of ${name}`);
    assert.deepEqual(got.envelope?.matdesc, { key: 'new' });
    assert.deepEqual((await oss.get(name)).content, storedBefore[i]);
  }

  console.log('verified: 3 objects rewrapped to {"key":"new"} with their ciphertext unchanged; a re-run skipped all 3; the new key alone reads them');
} finally {
  await server.close();
}
