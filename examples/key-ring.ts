// Several keys, told apart by their material descriptions (a key ring).
//
// Run: npx tsx examples/key-ring.ts
//
// Each object records the material description (matdesc) of the key that wrapped its data key. A reader holding
// several keys picks the one whose description equals the object's (compared as a map, so key order and spacing do
// not matter), as the official SDKs do.
import assert from 'node:assert/strict';
import OSS from 'ali-oss';
import { EncryptionClient, ErrorCode, NoMatchingKeyError, RsaMasterKey, generateRsaKeyPair } from 'oss-cse';
import { startServer } from 'oss-cse/server';

const server = await startServer({ memory: true, buckets: ['examples'] });
try {
  const oss = new OSS({ endpoint: server.endpoint, bucket: 'examples', ...server.credentials });
  const key2024 = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem, description: { year: '2024' } });
  const key2025 = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem, description: { year: '2025' } });

  // Last year's writer and this year's writer.
  await new EncryptionClient(oss, { masterKey: key2024 }).put('ledger/2024.txt', Buffer.from('closed books 2024'));
  const client = new EncryptionClient(oss, { masterKey: key2025, decryptionKeys: [key2024] });
  await client.put('ledger/2025.txt', Buffer.from('open books 2025'));

  // head() shows which key an object needs, without downloading it.
  const head = await client.head('ledger/2024.txt');
  assert.deepEqual(head.envelope?.matdesc, { year: '2024' });

  // One client reads both: the 2025 key encrypts, the 2024 key is found by the object's description.
  assert.equal((await client.get('ledger/2024.txt')).content.toString(), 'closed books 2024');
  assert.equal((await client.get('ledger/2025.txt')).content.toString(), 'open books 2025');

  // A client without the 2024 key refuses the old object with a typed error naming what it looked for.
  const only2025 = new EncryptionClient(oss, { masterKey: key2025 });
  let refused: unknown;
  try {
    await only2025.get('ledger/2024.txt');
  } catch (e) {
    refused = e;
  }
  assert.ok(refused instanceof NoMatchingKeyError);
  assert.equal(refused.code, ErrorCode.NO_MATCHING_KEY);
  console.log(`without the 2024 key: ${refused.code}`);

  console.log('verified: one client read objects under {"year":"2024"} and {"year":"2025"}; a client without the 2024 key got ERR_CSE_NO_MATCHING_KEY');
} finally {
  await server.close();
}
