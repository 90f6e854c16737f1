// RSA put/get: encrypt an object on this machine, store it, read it back decrypted.
//
// Run: npx tsx examples/rsa-put-get.ts   (needs `npm run build` once: the examples import 'oss-cse' like a user would)
//
// Everything runs against the embedded OSS-compatible server, in memory, on a random port: no cloud account needed.
// Against real OSS only the `new OSS({...})` options change (region, bucket, your access key).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import OSS from 'ali-oss';
import { EncryptionClient, RsaMasterKey, generateRsaKeyPair } from 'oss-cse';
import { startServer } from 'oss-cse/server';

const server = await startServer({ memory: true, buckets: ['examples'] });
try {
  // A plain ali-oss client: oss-cse wraps it, it does not replace it.
  const oss = new OSS({ endpoint: server.endpoint, bucket: 'examples', ...server.credentials });

  // The master key. In real use you keep the PEM files (`oss-cse keygen --out keys`), here one is made on the spot.
  // The description (material description) is stored with each object and picks the key when reading.
  const { privateKeyPem } = await generateRsaKeyPair(2048);
  const masterKey = new RsaMasterKey({ privateKey: privateKeyPem, description: { owner: 'examples' } });
  const client = new EncryptionClient(oss, { masterKey });

  const plaintext = randomBytes(100_000);
  const put = await client.put('reports/2025.bin', plaintext, { mime: 'application/octet-stream' });
  console.log(`put ${put.size} bytes, wrapped with ${put.envelope.wrapAlgorithm ?? '?'}, data cipher ${put.envelope.cekAlgorithm ?? '?'}`);

  // What OSS stores is ciphertext plus the wrapped data key and IV in x-oss-meta-client-side-encryption-* headers.
  const raw = await oss.get('reports/2025.bin');
  const stored = raw.content as Buffer;
  const headers = raw.res.headers as Record<string, string>;
  assert.equal(stored.length, plaintext.length, 'AES-CTR keeps the size');
  assert.notDeepEqual(stored, plaintext, 'the stored bytes are not the plaintext');
  assert.ok(headers['x-oss-meta-client-side-encryption-key'], 'the wrapped data key is stored in the object metadata');

  // Reading through the encryption client decrypts (and checks length and CRC-64).
  const got = await client.get('reports/2025.bin');
  assert.equal(got.encrypted, true);
  assert.deepEqual(got.content, plaintext);
  assert.deepEqual(got.envelope?.matdesc, { owner: 'examples' });

  console.log('verified: stored bytes are ciphertext with crypto headers; get() returns the original 100000 bytes');
} finally {
  await server.close();
}
