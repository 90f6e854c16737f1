// KMS master key: the data key is wrapped by Alibaba Cloud KMS instead of an RSA key you hold.
//
// Run: npx tsx examples/kms.ts   (needs the optional peer dependency @alicloud/kms20160120)
//
// The embedded server also answers the KMS API (an emulator on the same port), so this runs offline. Against real
// KMS, drop `endpoint` and `credentials` and give `region` (credentials then come from ALIBABA_CLOUD_ACCESS_KEY_ID /
// ALIBABA_CLOUD_ACCESS_KEY_SECRET).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Kms from '@alicloud/kms20160120';
import OSS from 'ali-oss';
import { EncryptionClient, KmsMasterKey, decryptObject, encryptObject } from 'oss-cse';
import { startServer } from 'oss-cse/server';

const REGION = 'cn-hangzhou';
const server = await startServer({ memory: true, buckets: ['examples'] });
try {
  // 1. Create a KMS key with the official KMS client (real KMS: in the console, or `oss-cse keys create-kms`).
  const config = { ...server.credentials, endpoint: `${server.host}:${server.port}`, protocol: 'http', regionId: REGION };
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- its Config is a tea model class; the client reads the same fields from a plain object
  const kms = new Kms.default(config as ConstructorParameters<typeof Kms.default>[0]);
  const created = await kms.createKey(new Kms.CreateKeyRequest({ description: 'oss-cse example' }));
  const keyId = created.keyMetadata.keyId;
  assert.match(keyId, /^[0-9a-f-]{36}$/, 'CreateKey returned a key id');

  // 2. The master key: KMS Encrypt/Decrypt wrap the data key and IV, they never leave KMS unwrapped by it.
  const masterKey = new KmsMasterKey({
    keyId,
    region: REGION,
    endpoint: server.endpoint, // the emulator; omit for real KMS
    credentials: server.credentials, // omit to read them from the environment
    description: { purpose: 'example' },
  });

  const oss = new OSS({ endpoint: server.endpoint, bucket: 'examples', ...server.credentials });
  const client = new EncryptionClient(oss, { masterKey });
  const plaintext = randomBytes(50_000);
  const put = await client.put('kms/object.bin', plaintext);
  assert.equal(put.envelope.wrapAlgorithm, 'KMS/ALICLOUD');

  const got = await client.get('kms/object.bin');
  assert.deepEqual(got.content, plaintext);

  // 3. The same key works offline, on bytes (encryptObject / decryptObject), e.g. for files you store elsewhere.
  const sealed = await encryptObject(Buffer.from('hello KMS'), { masterKey });
  const opened = await decryptObject({ headers: sealed.headers, body: sealed.body }, { masterKeys: [masterKey] });
  assert.equal(Buffer.from(opened).toString(), 'hello KMS');

  console.log(`verified: KMS key ${keyId} wrapped (${put.envelope.wrapAlgorithm}) and unwrapped a 50000-byte object and an offline one`);
} finally {
  await server.close();
}
