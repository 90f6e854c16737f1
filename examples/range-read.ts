// Range reads: ask for any byte range of an encrypted object and get exactly those plaintext bytes.
//
// Run: npx tsx examples/range-read.ts
//
// AES-CTR lets oss-cse decrypt from any offset: it fetches the 16-byte-aligned block range in one request and
// starts the counter there. The answer is what a plain client gets for the same Range on the plaintext.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import OSS from 'ali-oss';
import { EncryptionClient, RsaMasterKey, generateRsaKeyPair } from 'oss-cse';
import { startServer } from 'oss-cse/server';

const server = await startServer({ memory: true, buckets: ['examples'] });
try {
  const oss = new OSS({ endpoint: server.endpoint, bucket: 'examples', ...server.credentials });
  const { privateKeyPem } = await generateRsaKeyPair(2048);
  const client = new EncryptionClient(oss, { masterKey: new RsaMasterKey({ privateKey: privateKeyPem }) });

  const plaintext = randomBytes(1_000_003); // not a multiple of 16 on purpose
  await client.put('video.bin', plaintext);

  // 1. A Range header, as with ali-oss (inclusive bounds; neither end on a block boundary).
  const middle = await client.get('video.bin', { headers: { Range: 'bytes=1000-1999' } });
  assert.equal(middle.res.status, 206);
  assert.deepEqual(middle.content, plaintext.subarray(1000, 2000));
  assert.deepEqual(middle.range, { start: 1000, end: 1999 });

  // 2. A suffix range: the last 100 bytes (the official Go SDK decrypts this one wrongly; oss-cse does not).
  const tail = await client.get('video.bin', { headers: { Range: 'bytes=-100' } });
  assert.deepEqual(tail.content, plaintext.subarray(plaintext.length - 100));

  // 3. The `range` option and a stream, for large slices you do not want in memory.
  const { stream } = await client.getStream('video.bin', { range: { start: 500_000, end: 599_999 } });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  assert.deepEqual(Buffer.concat(chunks), plaintext.subarray(500_000, 600_000));

  console.log('verified: bytes=1000-1999, bytes=-100 and a streamed 100000-byte range equal the plaintext slices');
} finally {
  await server.close();
}
