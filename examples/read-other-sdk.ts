// Reading objects written by the official SDKs (Go, C++, Python oss2).
//
// Run: npx tsx examples/read-other-sdk.ts   (from a checkout: it reads the known-answer vectors under test/vectors/)
//
// The vectors are real objects: the exact bytes and headers the official SDKs stored. We upload them as they are
// with the plain ali-oss client (as if another program had written them) and read them with oss-cse.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import OSS from 'ali-oss';
import { EncryptionClient, RsaMasterKey } from 'oss-cse';
import { startServer } from 'oss-cse/server';

const vectors = new URL('../test/vectors/', import.meta.url);
const file = async (path: string): Promise<Buffer> => readFile(new URL(path, vectors));

interface Sample {
  readonly writer: string;
  readonly ciphertext: Buffer;
  readonly plaintext: Buffer;
  readonly headers: Record<string, string>;
  readonly privateKey: Buffer;
}

/** The stored headers of a vector: the crypto metadata (and Content-Type) the SDK sent with its PutObject. */
function storedHeaders(requestHeaders: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(requestHeaders).filter(([name]) => name.startsWith('x-oss-meta-') || name === 'content-type'));
}

const goCase = (JSON.parse((await file('go/vectors.json')).toString()) as { cases: { name: string; request_headers: Record<string, string> }[] }).cases.find(
  (c) => c.name === 'put-17-matdesc',
);
const upstream = JSON.parse((await file('upstream/vectors.json')).toString()) as {
  cases: { name: string; written_by: string; ciphertext_file: string; plaintext_file: string; headers: Record<string, string> }[];
};
assert.ok(goCase !== undefined);
const samples: Sample[] = [
  {
    writer: 'Go SDK (with a material description)',
    ciphertext: await file('go/put-17-matdesc.cipher.bin'),
    plaintext: await file('go/put-17-matdesc.plain.bin'),
    headers: storedHeaders(goCase.request_headers),
    privateKey: await file('go/keys/rsa2048-private-pkcs8.pem'),
  },
  ...(await Promise.all(
    upstream.cases.map(async (c) => ({
      writer: c.written_by,
      ciphertext: await file(`upstream/${c.ciphertext_file}`),
      plaintext: await file(`upstream/${c.plaintext_file}`),
      headers: c.headers,
      privateKey: await file('upstream/rsa1024-private-pkcs8.pem'),
    })),
  )),
];

const server = await startServer({ memory: true, buckets: ['examples'] });
try {
  const oss = new OSS({ endpoint: server.endpoint, bucket: 'examples', ...server.credentials });
  for (const [i, sample] of samples.entries()) {
    const name = `foreign/object-${i}`;
    // Another SDK's object, stored byte for byte with its metadata headers.
    await oss.put(name, sample.ciphertext, { headers: sample.headers });

    // oss-cse reads it with the private key. (A key whose description differs from the object's matdesc is still
    // tried when no key matches: keySelection 'fallback', the default; 'strict' would refuse.)
    const client = new EncryptionClient(oss, { masterKey: new RsaMasterKey({ privateKey: sample.privateKey }) });
    const got = await client.get(name);
    assert.equal(got.encrypted, true);
    assert.deepEqual(got.content, sample.plaintext);
    console.log(`${sample.writer}: ${got.content.length} bytes decrypted, ${got.envelope?.wrapAlgorithm ?? '?'}, matdesc ${JSON.stringify(got.envelope?.matdesc)}`);
  }
  console.log(`verified: ${samples.length} objects written by other SDKs decrypt to their known plaintext`);
} finally {
  await server.close();
}
