// The KMS emulator driven by the official @alicloud/kms20160120 client (issue 4 §8): every action, blobs bound to
// their key and encryption context, KMS error codes as the client surfaces them, persistence, injected failures.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Kms from '@alicloud/kms20160120';
import { createKmsService, startKmsServer, type KmsServer } from '../../server/src/kms/index.js';

const AK = { accessKeyId: 'test-ak', accessKeySecret: 'test-secret' };
const STS = { accessKeyId: 'STS.test-ak', accessKeySecret: 'sts-secret', securityToken: 'sts-token-123' };

type Client = InstanceType<typeof Kms.default>;

function clientFor(server: KmsServer, cred: { accessKeyId: string; accessKeySecret: string; securityToken?: string }): Client {
  // A plain object works as the client's Config (it is read with toMap/validateModel); typed loosely on purpose.
  return new Kms.default({ ...cred, endpoint: server.hostPort, protocol: 'http', regionId: 'cn-hangzhou' } as any);
}

/**
 * The context as KMS documents it: a JSON string. The 1.x client types the field as an object map, but an object is
 * flattened to EncryptionContext.<name> parameters, so the string is passed through a cast (see KMS.md).
 */
function ctx(json: string): any {
  return json;
}

/** Runs `fn`, expects the client to throw a KMS error, and returns what the client exposes. */
async function kmsError(fn: () => Promise<unknown>): Promise<{ code: string; dataCode: string; message: string; data: any }> {
  try {
    await fn();
  } catch (error: any) {
    return { code: error.code, dataCode: error.data?.Code, message: error.message, data: error.data };
  }
  assert.fail('expected the KMS call to fail');
}

function flipBit(blob: string, byteIndex: number): string {
  const raw = Buffer.from(blob, 'base64');
  raw[byteIndex] = raw[byteIndex]! ^ 0x01;
  return raw.toString('base64');
}

describe('KMS emulator through @alicloud/kms20160120', () => {
  let server: KmsServer;
  let client: Client;
  let keyId: string;

  before(async () => {
    server = await startKmsServer({ memory: true, credentials: [AK, STS] });
    client = clientFor(server, AK);
    const created = await client.createKey(new Kms.CreateKeyRequest({ description: 'main test key' }));
    keyId = created.keyMetadata.keyId;
  });
  after(async () => {
    await server.close();
  });

  test('CreateKey answers full KeyMetadata with KMS defaults and DescribeKey returns the same key', async () => {
    const created = await client.createKey(new Kms.CreateKeyRequest({ description: 'described', protectionLevel: 'HSM' }));
    const meta = created.keyMetadata;
    assert.match(created.requestId, /^[0-9A-F-]{36}$/);
    assert.match(meta.keyId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(meta.keySpec, 'Aliyun_AES_256');
    assert.equal(meta.keyUsage, 'ENCRYPT/DECRYPT');
    assert.equal(meta.keyState, 'Enabled');
    assert.equal(meta.origin, 'Aliyun_KMS');
    assert.equal(meta.protectionLevel, 'HSM');
    assert.equal(meta.description, 'described');
    assert.match(meta.creationDate, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.equal(meta.arn, `acs:kms:cn-hangzhou:${meta.creator}:key/${meta.keyId}`);
    const described = await client.describeKey(new Kms.DescribeKeyRequest({ keyId: meta.keyId }));
    assert.deepEqual(described.keyMetadata.toMap(), meta.toMap());
    const byArn = await client.describeKey(new Kms.DescribeKeyRequest({ keyId: meta.arn }));
    assert.equal(byArn.keyMetadata.keyId, meta.keyId);
  });

  test('KeyId may be an alias created through the service, and ensureKey is idempotent', async () => {
    const first = await server.service.ensureKey('oss-cse-test');
    const again = await server.service.ensureKey('oss-cse-test');
    assert.equal(again.KeyId, first.KeyId);
    const enc = await client.encrypt(new Kms.EncryptRequest({ keyId: 'alias/oss-cse-test', plaintext: 'aGk=' }));
    assert.equal(enc.keyId, first.KeyId, 'KMS answers the key id, not the alias');
  });

  test('CreateKey with Aliyun_AES_128 gives a key that encrypts and decrypts', async () => {
    const created = await client.createKey(new Kms.CreateKeyRequest({ keySpec: 'Aliyun_AES_128' }));
    assert.equal(created.keyMetadata.keySpec, 'Aliyun_AES_128');
    const enc = await client.encrypt(new Kms.EncryptRequest({ keyId: created.keyMetadata.keyId, plaintext: 'x' }));
    const dec = await client.decrypt(new Kms.DecryptRequest({ ciphertextBlob: enc.ciphertextBlob }));
    assert.equal(dec.plaintext, 'x');
  });

  test('ListKeys pages through every key in creation order with TotalCount', async () => {
    const local = await startKmsServer({ memory: true, credentials: [AK] });
    try {
      const c = clientFor(local, AK);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await c.createKey(new Kms.CreateKeyRequest({}))).keyMetadata.keyId);
      const seen: string[] = [];
      for (let page = 1; page <= 3; page++) {
        const res = await c.listKeys(new Kms.ListKeysRequest({ pageNumber: page, pageSize: 2 }));
        assert.equal(res.totalCount, 5);
        assert.equal(res.pageNumber, page);
        assert.equal(res.pageSize, 2);
        for (const k of res.keys.key) {
          assert.equal(k.keyArn.endsWith(`:key/${k.keyId}`), true);
          seen.push(k.keyId);
        }
      }
      assert.deepEqual(seen, ids);
      const defaults = await c.listKeys(new Kms.ListKeysRequest({}));
      assert.equal(defaults.pageNumber, 1);
      assert.equal(defaults.pageSize, 10);
      assert.equal(defaults.keys.key.length, 5);
    } finally {
      await local.close();
    }
  });

  test('Encrypt then Decrypt returns the Plaintext string unchanged, without a KeyId', async () => {
    for (const plaintext of [randomBytes(32).toString('base64'), '8', 'héllo wörld ✓', 'a'.repeat(6144)]) {
      const enc = await client.encrypt(new Kms.EncryptRequest({ keyId, plaintext }));
      assert.equal(enc.keyId, keyId);
      assert.match(enc.ciphertextBlob, /^[A-Za-z0-9+/]+={0,2}$/);
      const dec = await client.decrypt(new Kms.DecryptRequest({ ciphertextBlob: enc.ciphertextBlob }));
      assert.equal(dec.plaintext, plaintext);
      assert.equal(dec.keyId, keyId);
      assert.equal(dec.keyVersionId, enc.keyVersionId);
    }
  });

  test('two encryptions of the same plaintext give different blobs (random nonce)', async () => {
    const a = await client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: 'same' }));
    const b = await client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: 'same' }));
    assert.notEqual(a.ciphertextBlob, b.ciphertextBlob);
  });

  test("oss2's passphrase context binds the blob: same context decrypts, missing or different context fails", async () => {
    const context = '{"x-passphrase":"correct horse"}';
    const enc = await client.encrypt(
      new Kms.EncryptRequest({ keyId, plaintext: 'aXY=', encryptionContext: ctx(context) }),
    );
    const dec = await client.decrypt(
      new Kms.DecryptRequest({ ciphertextBlob: enc.ciphertextBlob, encryptionContext: ctx(context) }),
    );
    assert.equal(dec.plaintext, 'aXY=');
    for (const wrong of [undefined, '{}', '{"x-passphrase":"wrong"}', '{"x-passphrase":"correct horse","b":"c"}']) {
      const err = await kmsError(() =>
        client.decrypt(
          new Kms.DecryptRequest({
            ciphertextBlob: enc.ciphertextBlob,
            ...(wrong === undefined ? {} : { encryptionContext: ctx(wrong) }),
          }),
        ),
      );
      assert.equal(err.dataCode, 'InvalidCiphertext', `context ${String(wrong)}`);
    }
  });

  test('an equivalent context (other order, spacing, integer-like names) decrypts', async () => {
    const enc = await client.encrypt(
      new Kms.EncryptRequest({ keyId, plaintext: 'p', encryptionContext: ctx('{"b":"2","a":"1","10":"x","9":"y"}') }),
    );
    const dec = await client.decrypt(
      new Kms.DecryptRequest({
        ciphertextBlob: enc.ciphertextBlob,
        encryptionContext: ctx('{ "9" : "y", "a":"1", "10":"x",\n "b":"2" }'),
      }),
    );
    assert.equal(dec.plaintext, 'p');
  });

  test('a blob without context decrypts with an empty context "{}" too', async () => {
    const enc = await client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: 'p' }));
    const dec = await client.decrypt(
      new Kms.DecryptRequest({ ciphertextBlob: enc.ciphertextBlob, encryptionContext: ctx('{}') }),
    );
    assert.equal(dec.plaintext, 'p');
  });

  test('GenerateDataKey returns base64 random bytes of the asked size and Decrypt of its blob gives them back', async () => {
    const cases: { spec?: string; bytes?: number; expected: number }[] = [
      { expected: 32 },
      { spec: 'AES_256', expected: 32 },
      { spec: 'AES_128', expected: 16 },
      { bytes: 1, expected: 1 },
      { spec: 'AES_128', bytes: 1024, expected: 1024 },
    ];
    for (const c of cases) {
      const gen = await client.generateDataKey(
        new Kms.GenerateDataKeyRequest({
          keyId,
          ...(c.spec === undefined ? {} : { keySpec: c.spec }),
          ...(c.bytes === undefined ? {} : { numberOfBytes: c.bytes }),
          encryptionContext: ctx('{"x-passphrase":"p"}'),
        }),
      );
      assert.equal(Buffer.from(gen.plaintext, 'base64').length, c.expected);
      assert.equal(gen.keyId, keyId);
      const dec = await client.decrypt(
        new Kms.DecryptRequest({ ciphertextBlob: gen.ciphertextBlob, encryptionContext: ctx('{"x-passphrase":"p"}') }),
      );
      assert.equal(dec.plaintext, gen.plaintext);
    }
  });

  test('a forged, bit-flipped, truncated or non-base64 blob is InvalidCiphertext, as the client reports it', async () => {
    const enc = await client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: 'secret' }));
    const blob = enc.ciphertextBlob;
    const raw = Buffer.from(blob, 'base64');
    const forged = [
      flipBit(blob, 0), // version
      flipBit(blob, 5), // key id
      flipBit(blob, 20), // key version id
      flipBit(blob, 40), // nonce
      flipBit(blob, 46), // ciphertext
      flipBit(blob, raw.length - 1), // tag
      raw.subarray(0, raw.length - 1).toString('base64'),
      raw.subarray(0, 20).toString('base64'),
      Buffer.concat([raw, Buffer.from([0])]).toString('base64'),
      raw.toString('base64url'),
      Buffer.from(blob, 'utf8').toString('base64'), // oss2's double base64 given to Decrypt as is
      'not base64 at all!',
      randomBytes(80).toString('base64'),
    ];
    for (const candidate of forged) {
      if (candidate === blob) continue;
      const err = await kmsError(() => client.decrypt(new Kms.DecryptRequest({ ciphertextBlob: candidate })));
      assert.equal(err.code, 'InvalidCiphertextError');
      assert.equal(err.dataCode, 'InvalidCiphertext');
      assert.match(err.message, /^InvalidCiphertextError: code: 400, /);
      assert.equal(typeof err.data.RequestId, 'string');
      assert.equal(typeof err.data.HostId, 'string');
    }
  });

  test('a blob from another emulator instance is InvalidCiphertext', async () => {
    const other = await startKmsServer({ memory: true, credentials: [AK] });
    try {
      const otherClient = clientFor(other, AK);
      const otherKey = (await otherClient.createKey(new Kms.CreateKeyRequest({}))).keyMetadata.keyId;
      const enc = await otherClient.encrypt(new Kms.EncryptRequest({ keyId: otherKey, plaintext: 'x' }));
      const err = await kmsError(() => client.decrypt(new Kms.DecryptRequest({ ciphertextBlob: enc.ciphertextBlob })));
      assert.equal(err.dataCode, 'InvalidCiphertext');
    } finally {
      await other.close();
    }
  });

  test('an unknown KeyId is Forbidden.KeyNotFound with HTTP 404 for Encrypt, GenerateDataKey and DescribeKey', async () => {
    const missing = randomUUID();
    for (const call of [
      () => client.encrypt(new Kms.EncryptRequest({ keyId: missing, plaintext: 'x' })),
      () => client.generateDataKey(new Kms.GenerateDataKeyRequest({ keyId: missing })),
      () => client.describeKey(new Kms.DescribeKeyRequest({ keyId: missing })),
      () => client.describeKey(new Kms.DescribeKeyRequest({ keyId: 'alias/no-such-alias' })),
      () => client.describeKey(new Kms.DescribeKeyRequest({ keyId: `acs:kms:cn-beijing:1234567890123456:key/${keyId}` })),
    ]) {
      const err = await kmsError(call);
      assert.equal(err.code, 'Forbidden.KeyNotFoundError');
      assert.equal(err.dataCode, 'Forbidden.KeyNotFound');
      assert.match(err.message, /code: 404, /);
    }
  });

  test('a wrong secret is SignatureDoesNotMatch and an unknown AccessKeyId is InvalidAccessKeyId.NotFound', async () => {
    const badSecret = clientFor(server, { accessKeyId: AK.accessKeyId, accessKeySecret: 'wrong' });
    const err1 = await kmsError(() => badSecret.describeKey(new Kms.DescribeKeyRequest({ keyId })));
    assert.equal(err1.dataCode, 'SignatureDoesNotMatch');
    assert.match(err1.message, /code: 400, /);
    const unknown = clientFor(server, { accessKeyId: 'nobody', accessKeySecret: 'x' });
    const err2 = await kmsError(() => unknown.describeKey(new Kms.DescribeKeyRequest({ keyId })));
    assert.equal(err2.dataCode, 'InvalidAccessKeyId.NotFound');
    assert.match(err2.message, /code: 404, /);
  });

  test('STS credentials work with their token and fail without it or with another one', async () => {
    const sts = clientFor(server, STS);
    const enc = await sts.encrypt(new Kms.EncryptRequest({ keyId, plaintext: 'sts' }));
    assert.equal((await client.decrypt(new Kms.DecryptRequest({ ciphertextBlob: enc.ciphertextBlob }))).plaintext, 'sts');
    for (const cred of [
      { accessKeyId: STS.accessKeyId, accessKeySecret: STS.accessKeySecret },
      { ...STS, securityToken: 'another-token' },
      { ...AK, securityToken: 'unexpected' },
    ]) {
      const err = await kmsError(() => clientFor(server, cred).describeKey(new Kms.DescribeKeyRequest({ keyId })));
      assert.equal(err.dataCode, 'InvalidSecurityToken.MismatchWithAccessKey');
    }
  });

  test('a client clock more than 15 minutes off is InvalidTimeStamp.Expired', async () => {
    for (const skew of [16 * 60_000, -16 * 60_000]) {
      const skewed = await startKmsServer({ memory: true, credentials: [AK], now: () => Date.now() + skew });
      try {
        const err = await kmsError(() => clientFor(skewed, AK).listKeys(new Kms.ListKeysRequest({})));
        assert.equal(err.dataCode, 'InvalidTimeStamp.Expired');
      } finally {
        await skewed.close();
      }
    }
  });

  test('missing and out-of-domain parameters are MissingParameter / InvalidParameter', async () => {
    const encryptWith = (encryptionContext: any) =>
      client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: 'x', encryptionContext }));
    const cases: [() => Promise<unknown>, string][] = [
      [() => client.encrypt(new Kms.EncryptRequest({ plaintext: 'x' })), 'MissingParameter'],
      [() => client.encrypt(new Kms.EncryptRequest({ keyId })), 'MissingParameter'],
      [() => client.decrypt(new Kms.DecryptRequest({})), 'MissingParameter'],
      [() => client.describeKey(new Kms.DescribeKeyRequest({})), 'MissingParameter'],
      [() => client.generateDataKey(new Kms.GenerateDataKeyRequest({})), 'MissingParameter'],
      [() => client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: 'a'.repeat(6145) })), 'InvalidParameter'],
      [() => client.generateDataKey(new Kms.GenerateDataKeyRequest({ keyId, numberOfBytes: 0 })), 'InvalidParameter'],
      [() => client.generateDataKey(new Kms.GenerateDataKeyRequest({ keyId, numberOfBytes: 1025 })), 'InvalidParameter'],
      [() => client.generateDataKey(new Kms.GenerateDataKeyRequest({ keyId, keySpec: 'AES_192' })), 'InvalidParameter'],
      [() => client.createKey(new Kms.CreateKeyRequest({ keySpec: 'RSA_2048' })), 'InvalidParameter'],
      [() => client.createKey(new Kms.CreateKeyRequest({ keyUsage: 'SIGN/VERIFY' })), 'InvalidParameter'],
      [() => client.createKey(new Kms.CreateKeyRequest({ enableAutomaticRotation: true })), 'InvalidParameter'],
      [() => client.listKeys(new Kms.ListKeysRequest({ pageSize: 101 })), 'InvalidParameter'],
      [() => client.listKeys(new Kms.ListKeysRequest({ pageNumber: 0 })), 'InvalidParameter'],
      // oss2 builds its context by concatenation: a '"' in the passphrase makes invalid JSON.
      [() => encryptWith(ctx('{"x-passphrase":"a"b"}')), 'InvalidParameter'],
      [() => encryptWith(ctx('{"n":1}')), 'InvalidParameter'],
      [() => encryptWith(ctx('["a"]')), 'InvalidParameter'],
      // An object context is flattened by the 1.x client into EncryptionContext.<name>: refused (KMS.md).
      [() => encryptWith({ 'x-passphrase': 'p' }), 'InvalidParameter'],
    ];
    for (const [call, code] of cases) {
      const err = await kmsError(call);
      assert.equal(err.dataCode, code, err.message);
      assert.equal(err.code, `${code}Error`);
    }
  });

  test('injected transient failures fail exactly `count` matching calls, then service resumes', async () => {
    server.service.clearCalls();
    const enc = await client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: 'retry me' }));
    server.service.injectFailures({ action: 'Decrypt', count: 2, code: 'ServiceUnavailableTemporary' });
    // Another action is not affected by a Decrypt rule.
    await client.describeKey(new Kms.DescribeKeyRequest({ keyId }));
    for (let i = 0; i < 2; i++) {
      const err = await kmsError(() => client.decrypt(new Kms.DecryptRequest({ ciphertextBlob: enc.ciphertextBlob })));
      assert.equal(err.code, 'ServiceUnavailableTemporaryError');
      assert.equal(err.dataCode, 'ServiceUnavailableTemporary');
      assert.match(err.message, /code: 503, /);
    }
    const dec = await client.decrypt(new Kms.DecryptRequest({ ciphertextBlob: enc.ciphertextBlob }));
    assert.equal(dec.plaintext, 'retry me');

    server.service.injectFailures({ code: 'Throttling' });
    server.service.injectFailures({ code: 'InternalFailure' });
    const throttled = await kmsError(() => client.listKeys(new Kms.ListKeysRequest({})));
    assert.equal(throttled.dataCode, 'Throttling');
    assert.match(throttled.message, /code: 400, /);
    const internal = await kmsError(() => client.listKeys(new Kms.ListKeysRequest({})));
    assert.equal(internal.dataCode, 'InternalFailure');
    assert.match(internal.message, /code: 500, /);

    server.service.injectFailures({ action: 'Encrypt', kind: 'reset' });
    const reset = await kmsError(() => client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: 'x' })));
    assert.equal(reset.code, 'ECONNRESET');
    assert.equal(reset.dataCode, undefined);
    await client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: 'x' }));

    assert.deepEqual(
      server.service.calls().map((c) => `${c.action}:${c.status}:${c.code ?? ''}`),
      [
        'Encrypt:200:',
        'DescribeKey:200:',
        'Decrypt:503:ServiceUnavailableTemporary',
        'Decrypt:503:ServiceUnavailableTemporary',
        'Decrypt:200:',
        'ListKeys:400:Throttling',
        'ListKeys:500:InternalFailure',
        'Encrypt:0:',
        'Encrypt:200:',
      ],
    );
  });

  test('clearFailures drops pending failures and bad injection arguments are refused', async () => {
    server.service.injectFailures({ count: 5 });
    server.service.clearFailures();
    await client.listKeys(new Kms.ListKeysRequest({}));
    assert.throws(() => {
      server.service.injectFailures({ count: 0 });
    }, RangeError);
    assert.throws(() => {
      server.service.injectFailures({ count: 1.5 });
    }, RangeError);
    assert.throws(() => {
      server.service.injectFailures({ status: 200 });
    }, RangeError);
  });
});

describe('KMS emulator persistence', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'oss-cse-kms-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('keys survive a restart on the same dataDir: old blobs decrypt, DescribeKey and ListKeys agree', async () => {
    const first = await startKmsServer({ dataDir: dir, credentials: [AK] });
    const c1 = clientFor(first, AK);
    const meta = (await c1.createKey(new Kms.CreateKeyRequest({ description: 'persisted' }))).keyMetadata;
    await first.service.ensureKey('persisted-alias');
    const enc = await c1.encrypt(
      new Kms.EncryptRequest({ keyId: meta.keyId, plaintext: 'kept', encryptionContext: ctx('{"x-passphrase":"p"}') }),
    );
    const gen = await c1.generateDataKey(new Kms.GenerateDataKeyRequest({ keyId: meta.keyId }));
    await first.close();

    const file = join(dir, 'kms', 'keys.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'kms'))).mode & 0o777, 0o700);

    const second = await startKmsServer({ dataDir: dir, credentials: [AK] });
    try {
      const c2 = clientFor(second, AK);
      const dec = await c2.decrypt(
        new Kms.DecryptRequest({ ciphertextBlob: enc.ciphertextBlob, encryptionContext: ctx('{"x-passphrase":"p"}') }),
      );
      assert.equal(dec.plaintext, 'kept');
      assert.equal((await c2.decrypt(new Kms.DecryptRequest({ ciphertextBlob: gen.ciphertextBlob }))).plaintext, gen.plaintext);
      const described = await c2.describeKey(new Kms.DescribeKeyRequest({ keyId: meta.keyId }));
      assert.deepEqual(described.keyMetadata.toMap(), meta.toMap());
      const byAlias = await c2.describeKey(new Kms.DescribeKeyRequest({ keyId: 'alias/persisted-alias' }));
      assert.equal(byAlias.keyMetadata.keyId, (await second.service.ensureKey('persisted-alias')).KeyId);
      assert.equal((await c2.listKeys(new Kms.ListKeysRequest({}))).totalCount, 2);
    } finally {
      await second.close();
    }
  });

  test('the state file is tagged and versioned, and a corrupt state file is refused at start, never discarded', async () => {
    const bad = await mkdtemp(join(tmpdir(), 'oss-cse-kms-bad-'));
    try {
      const service = createKmsService({ dataDir: bad, credentials: [AK] });
      await service.createKey({ description: 'k' });
      await service.close();
      const file = join(bad, 'kms', 'keys.json');
      const state = JSON.parse(await readFile(file, 'utf8'));
      assert.equal(state.format, 'oss-cse-kms-emulator');
      assert.equal(Buffer.from(state.keys[0].secret, 'base64').length, 32);
      for (const corrupt of ['{', '{"format":"other"}', JSON.stringify({ ...state, keys: [{ ...state.keys[0], secret: 'AAAA' }] })]) {
        await writeFile(file, corrupt);
        assert.throws(() => createKmsService({ dataDir: bad, credentials: [AK] }), /KMS emulator state .* is invalid/);
      }
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });

  test('createKmsService refuses options without credentials or storage', () => {
    assert.throws(() => createKmsService({ credentials: [] , memory: true }), /credential/);
    assert.throws(() => createKmsService({ credentials: [AK] }), /dataDir/);
    assert.throws(() => createKmsService({ credentials: [{ accessKeyId: '', accessKeySecret: 'x' }], memory: true }), /accessKeyId/);
  });
});
