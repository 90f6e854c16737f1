// KmsMasterKey through the real @alicloud/kms20160120 client against the embedded KMS emulator (issue 7 §1, §5):
// every wire form (Go/Java, oss2 V2, V1), encryption contexts, blobs of other keys or tampered, retries of injected
// transient failures and no retry of refusals, credentials from options, STS and the environment.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import Kms from '@alicloud/kms20160120';
import { startKmsServer, type KmsServer } from '../../server/src/kms/index.js';
import { CseError, ErrorCode, isCseError } from '../../src/errors.js';
import { parseEnvelope } from '../../src/format/envelope.js';
import { CekAlgorithm, V1Header, V2Header, WrapAlgorithm } from '../../src/format/headers.js';
import { KmsMasterKey, KmsRequestError, type KmsMasterKeyCommonOptions } from '../../src/keys/kms.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { decryptObject, encryptObject, openEnvelope } from '../../src/object-crypto.js';
import { vectorKeys } from '../helpers/vectors.js';

const AK = { accessKeyId: 'kms-test-ak', accessKeySecret: 'kms-test-secret' };
const STS = { accessKeyId: 'STS.kms-test', accessKeySecret: 'sts-secret', securityToken: 'sts-token-xyz' };
const REGION = 'cn-hangzhou';
/** Tiny delays: the retry tests must stay fast. */
const FAST_RETRY = { baseDelayMs: 1, maxDelayMs: 2 };

type RawClient = InstanceType<typeof Kms.default>;

function rawClient(server: KmsServer, cred: typeof AK | typeof STS = AK): RawClient {
  return new Kms.default({ ...cred, endpoint: server.hostPort, protocol: 'http', regionId: REGION } as any);
}

/** Builds what the object headers would carry, as oss2 ≥ 2.11 writes it (`oss2-python.md` §2.3), with the raw client. */
async function oss2V2Object(
  client: RawClient,
  keyId: string,
  plaintext: Buffer,
  context?: string,
): Promise<{ headers: Record<string, string>; body: Buffer; key: Buffer; iv: Buffer }> {
  const ctx = context === undefined ? {} : { encryptionContext: context as any };
  const dataKey = await client.generateDataKey(new Kms.GenerateDataKeyRequest({ keyId, keySpec: 'AES_256', numberOfBytes: 32, ...ctx }));
  const key = Buffer.from(dataKey.plaintext, 'base64');
  const iv = randomBytes(16);
  const ivBlob = (await client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: iv.toString('base64'), ...ctx }))).ciphertextBlob;
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  return {
    headers: {
      [V2Header.KEY]: Buffer.from(dataKey.ciphertextBlob).toString('base64'),
      [V2Header.START]: Buffer.from(ivBlob).toString('base64'),
      [V2Header.CEK_ALG]: CekAlgorithm.AES_CTR,
      [V2Header.WRAP_ALG]: WrapAlgorithm.KMS,
    },
    body: Buffer.concat([cipher.update(plaintext), cipher.final()]),
    key,
    iv,
  };
}

/** A V1 KMS object as oss2 2.5–2.10 wrote it (`oss2-python.md` §3.1): start = Encrypt(Plaintext="<decimal>"). */
async function v1Object(client: RawClient, keyId: string, plaintext: Buffer, start: number): Promise<{ headers: Record<string, string>; body: Buffer }> {
  const dataKey = await client.generateDataKey(new Kms.GenerateDataKeyRequest({ keyId, keySpec: 'AES_256', numberOfBytes: 32 }));
  const startBlob = (await client.encrypt(new Kms.EncryptRequest({ keyId, plaintext: String(start) }))).ciphertextBlob;
  const counter = Buffer.alloc(16);
  counter.writeUInt32BE(start, 12);
  const cipher = createCipheriv('aes-256-ctr', Buffer.from(dataKey.plaintext, 'base64'), counter);
  return {
    headers: {
      [V1Header.KEY]: dataKey.ciphertextBlob,
      [V1Header.START]: startBlob,
      [V1Header.CEK_ALG]: CekAlgorithm.V1_MISLABELLED_GCM,
      [V1Header.WRAP_ALG]: WrapAlgorithm.V1_KMS,
    },
    body: Buffer.concat([cipher.update(plaintext), cipher.final()]),
  };
}

/** Flips one bit inside the blob's encrypted part (past the 45-byte header), keeping it valid base64. */
function tamper(blob: string): string {
  const raw = Buffer.from(blob, 'base64');
  raw[50] = raw[50]! ^ 0x01;
  return raw.toString('base64');
}

async function rejection(p: Promise<unknown>): Promise<CseError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof CseError, `expected a CseError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('KmsMasterKey against the KMS emulator (real @alicloud/kms20160120 client)', () => {
  let server: KmsServer;
  let raw: RawClient;
  let keyA: string;
  let keyB: string;
  const plaintext = Buffer.from('KMS wrapped object body, 50 bytes long: 0123456789');

  function masterKey(extra: Partial<KmsMasterKeyCommonOptions> & { keyId?: string } = {}): KmsMasterKey {
    return new KmsMasterKey({
      keyId: keyA,
      region: REGION,
      endpoint: `http://${server.hostPort}`,
      credentials: AK,
      retry: FAST_RETRY,
      ...extra,
    });
  }
  const count = (action: string): number => server.service.calls().filter((c) => c.action === action).length;

  before(async () => {
    server = await startKmsServer({ memory: true, credentials: [AK, STS] });
    raw = rawClient(server);
    keyA = (await server.service.createKey({ description: 'A', alias: 'oss-cse-a' })).KeyId;
    keyB = (await server.service.createKey({ description: 'B' })).KeyId;
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.service.clearFailures();
    server.service.clearCalls();
  });

  test('Go/Java form round trip: headers are the CiphertextBlobs Encrypt returned for base64(key) and base64(iv)', async () => {
    const key = randomBytes(32);
    const iv = randomBytes(16);
    const mk = masterKey({ description: { owner: 'ops' } });
    const enc = await encryptObject(plaintext, { masterKey: mk, contentMaterial: { key, iv } });
    assert.equal(enc.headers[V2Header.WRAP_ALG], 'KMS/ALICLOUD');
    assert.equal(enc.headers[V2Header.MATDESC], '{"owner":"ops"}');
    assert.equal(count('Encrypt'), 2);
    // The header is the blob itself: the raw client decrypts it as is to base64 of the raw bytes.
    const k = await raw.decrypt(new Kms.DecryptRequest({ ciphertextBlob: enc.headers[V2Header.KEY]! }));
    const s = await raw.decrypt(new Kms.DecryptRequest({ ciphertextBlob: enc.headers[V2Header.START]! }));
    assert.equal(k.plaintext, key.toString('base64'));
    assert.equal(s.plaintext, iv.toString('base64'));
    assert.equal(k.keyId, keyA);
    const expected = createCipheriv('aes-256-ctr', key, iv).update(plaintext);
    assert.deepEqual(enc.body, expected);
    server.service.clearCalls();
    const out = await decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: [mk] });
    assert.deepEqual(out, plaintext);
    assert.equal(count('Decrypt'), 2, 'one Decrypt per header, the form is not guessed');
  });

  test('a client built by the caller (the SDK class itself) is accepted as is', async () => {
    const mk = new KmsMasterKey({ keyId: keyA, client: rawClient(server), retry: FAST_RETRY });
    const enc = await encryptObject(plaintext, { masterKey: mk });
    assert.deepEqual(await decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: [mk] }), plaintext);
    assert.equal(mk.name, `kms:${keyA}`);
    assert.equal(mk.kind, 'kms');
    assert.deepEqual(mk.description, {});
  });

  test('writeForm oss2: headers are base64 of the blobs, and both forms read back', async () => {
    const key = randomBytes(32);
    const iv = randomBytes(16);
    const mk = masterKey({ writeForm: 'oss2' });
    const enc = await encryptObject(plaintext, { masterKey: mk, contentMaterial: { key, iv } });
    const blob = Buffer.from(enc.headers[V2Header.KEY]!, 'base64').toString('latin1');
    assert.equal((await raw.decrypt(new Kms.DecryptRequest({ ciphertextBlob: blob }))).plaintext, key.toString('base64'));
    server.service.clearCalls();
    assert.deepEqual(await decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: [masterKey()] }), plaintext);
    assert.equal(count('Decrypt'), 2);
  });

  test('oss2 V2 form (GenerateDataKey key, header = base64(blob)) decrypts, one Decrypt per header', async () => {
    const obj = await oss2V2Object(raw, keyA, plaintext);
    const opened = await openEnvelope(obj.headers, { masterKeys: [masterKey()] });
    assert.deepEqual(Buffer.from(opened.material.key), obj.key);
    assert.deepEqual(Buffer.from(opened.material.iv), obj.iv);
    assert.equal(count('Decrypt'), 2);
    assert.deepEqual(await decryptObject({ headers: obj.headers, body: obj.body }, { masterKeys: [masterKey()] }), plaintext);
  });

  test('oss2 passphrase: its concatenated context decrypts with the same passphrase and writes what oss2 reads', async () => {
    const passphrase = 'correct horse';
    const oss2Context = '{"x-passphrase":"' + passphrase + '"}';
    const obj = await oss2V2Object(raw, keyA, plaintext, oss2Context);
    assert.deepEqual(await decryptObject({ headers: obj.headers, body: obj.body }, { masterKeys: [masterKey({ passphrase })] }), plaintext);
    // And the other way: what we write with the passphrase, oss2's context string decrypts (oss2 form written).
    const enc = await encryptObject(plaintext, { masterKey: masterKey({ passphrase, writeForm: 'oss2' }) });
    const blob = Buffer.from(enc.headers[V2Header.KEY]!, 'base64').toString('latin1');
    const dec = await raw.decrypt(new Kms.DecryptRequest({ ciphertextBlob: blob, encryptionContext: oss2Context as any }));
    assert.equal(Buffer.from(dec.plaintext, 'base64').length, 32);
  });

  test('V1 KMS form (oss2 ≤ 2.10) decrypts only with allowLegacy, counter = the decimal start', async () => {
    const obj = await v1Object(raw, keyA, plaintext, 8);
    const legacy = await rejection(decryptObject({ headers: obj.headers, body: obj.body }, { masterKeys: [masterKey()] }));
    assert.equal(legacy.code, ErrorCode.LEGACY_NOT_ALLOWED);
    server.service.clearCalls();
    const envelope = parseEnvelope(obj.headers);
    assert.equal(envelope.version, 'v1');
    const material = await masterKey().unwrap(envelope);
    assert.ok(material);
    assert.deepEqual(Buffer.from(material.iv), Buffer.from('00000000000000000000000000000008', 'hex'));
    assert.equal(count('Decrypt'), 2);
    const out = await decryptObject({ headers: obj.headers, body: obj.body }, { masterKeys: [masterKey()], allowLegacy: true });
    assert.deepEqual(out, plaintext);
  });

  test('encryption context: the right one decrypts; a wrong or missing one is InvalidCiphertext, not retried', async () => {
    const enc = await encryptObject(plaintext, { masterKey: masterKey({ encryptionContext: { tenant: 't1' }, passphrase: 'p1' }) });
    const ok = await decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: [masterKey({ passphrase: 'p1', encryptionContext: { tenant: 't1' } })] });
    assert.deepEqual(ok, plaintext);
    for (const reader of [masterKey({ passphrase: 'p2', encryptionContext: { tenant: 't1' } }), masterKey({ encryptionContext: { tenant: 't1' } }), masterKey()]) {
      server.service.clearCalls();
      const e = await rejection(reader.unwrap(parseEnvelope(enc.headers), { object: 'obj/ctx' }));
      assert.ok(e instanceof KmsRequestError);
      assert.equal(e.code, ErrorCode.UNWRAP_FAILED);
      assert.equal(e.kmsCode, 'InvalidCiphertext');
      assert.equal(e.retryable, false);
      assert.equal(e.header, V2Header.KEY);
      assert.equal(e.object, 'obj/ctx');
      assert.match(e.message, /InvalidCiphertext \(RequestId [0-9A-F-]+\)/);
      assert.equal(count('Decrypt'), 1, 'a Go/Java-form header is tried once');
    }
  });

  test('oss2 form under a wrong context: the documented second try as the Go/Java form, then the oss2 error', async () => {
    const obj = await oss2V2Object(raw, keyA, plaintext, '{"x-passphrase":"right"}');
    server.service.clearCalls();
    const e = await rejection(masterKey({ passphrase: 'wrong' }).unwrap(parseEnvelope(obj.headers)));
    assert.equal(e.code, ErrorCode.UNWRAP_FAILED);
    assert.equal(e.header, V2Header.KEY);
    assert.equal(count('Decrypt'), 2, 'once as base64(blob), once as the blob itself');
  });

  test('a blob under another key id is refused naming that key, never used', async () => {
    const enc = await encryptObject(plaintext, { masterKey: masterKey({ keyId: keyB }) });
    const e = await rejection(decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: [masterKey()], object: 'k' }));
    assert.equal(e.code, ErrorCode.NO_MATCHING_KEY);
    const attempt = (e as any).attempts[0];
    assert.equal(attempt.error.code, ErrorCode.UNWRAP_FAILED);
    assert.equal(attempt.error.header, V2Header.KEY);
    assert.match(attempt.error.message, new RegExp(`under KMS key ${keyB}, not under kms:${keyA}`));
    // The alias of key A checks the same way (the alias is resolved through DescribeKey).
    const byAlias = masterKey({ keyId: 'alias/oss-cse-a' });
    const e2 = await rejection(byAlias.unwrap(parseEnvelope(enc.headers)));
    assert.equal(e2.code, ErrorCode.UNWRAP_FAILED);
    const own = await encryptObject(plaintext, { masterKey: masterKey() });
    assert.deepEqual(await decryptObject({ headers: own.headers, body: own.body }, { masterKeys: [masterKey({ keyId: 'alias/oss-cse-a' })] }), plaintext);
    const arn = (await raw.describeKey(new Kms.DescribeKeyRequest({ keyId: keyA }))).keyMetadata.arn;
    assert.deepEqual(await decryptObject({ headers: own.headers, body: own.body }, { masterKeys: [masterKey({ keyId: arn })] }), plaintext);
  });

  test('a tampered blob fails with a typed error naming its header', async () => {
    const enc = await encryptObject(plaintext, { masterKey: masterKey() });
    for (const header of [V2Header.KEY, V2Header.START]) {
      const headers = { ...enc.headers, [header]: tamper(enc.headers[header]!) };
      const e = await rejection(masterKey().unwrap(parseEnvelope(headers)));
      assert.equal(e.code, ErrorCode.UNWRAP_FAILED);
      assert.equal(e.header, header);
    }
  });

  test('an RSA envelope is not for a KMS key (null), and an RSA key ignores KMS envelopes', async () => {
    const rsa = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() });
    const rsaEnc = await encryptObject(plaintext, { masterKey: rsa });
    assert.equal(await masterKey().unwrap(parseEnvelope(rsaEnc.headers)), null);
    const kmsEnc = await encryptObject(plaintext, { masterKey: masterKey() });
    assert.equal(await rsa.unwrap(parseEnvelope(kmsEnc.headers)), null);
    assert.deepEqual(await decryptObject({ headers: kmsEnc.headers, body: kmsEnc.body }, { masterKeys: [rsa, masterKey()] }), plaintext);
  });

  test('transient failures (ServiceUnavailable, Throttling, connection reset) are retried and the call succeeds', async () => {
    server.service.injectFailures({ action: 'Encrypt', count: 2, code: 'ServiceUnavailableTemporary' });
    const enc = await encryptObject(plaintext, { masterKey: masterKey() });
    assert.equal(count('Encrypt'), 4, '2 failures, then key and IV');
    server.service.clearCalls();
    server.service.injectFailures({ action: 'Decrypt', count: 1, code: 'Throttling.User' });
    server.service.injectFailures({ action: 'Decrypt', count: 1, kind: 'reset' });
    assert.deepEqual(await decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: [masterKey()] }), plaintext);
    const decrypts = server.service.calls().filter((c) => c.action === 'Decrypt');
    assert.deepEqual(decrypts.map((c) => c.code ?? c.status), ['Throttling.User', 0, 200, 200]);
  });

  test('more transient failures than attempts: a retryable ERR_CSE_KMS after exactly `attempts` calls', async () => {
    const enc = await encryptObject(plaintext, { masterKey: masterKey() });
    server.service.clearCalls();
    server.service.injectFailures({ action: 'Decrypt', count: 10, code: 'InternalFailure' });
    const e = await rejection(masterKey({ retry: { attempts: 4, ...FAST_RETRY } }).unwrap(parseEnvelope(enc.headers)));
    assert.ok(e instanceof KmsRequestError);
    assert.equal(e.code, ErrorCode.KMS);
    assert.equal(e.retryable, true);
    assert.equal(e.kmsCode, 'InternalFailure');
    assert.equal(e.attempts, 4);
    assert.match(e.message, /after 4 attempts/);
    assert.equal(count('Decrypt'), 4);
    server.service.clearFailures();
    server.service.clearCalls();
    server.service.injectFailures({ action: 'Encrypt', count: 10, kind: 'reset' });
    const n = await rejection(masterKey().wrap({ key: randomBytes(32), iv: randomBytes(16) }));
    assert.equal(n.code, ErrorCode.KMS);
    assert.equal(n.retryable, true);
    assert.equal(count('Encrypt'), 3, 'default attempts: 3');
  });

  test('refusals are not retried: InvalidCiphertext, Forbidden.KeyNotFound, bad credentials', async () => {
    const enc = await encryptObject(plaintext, { masterKey: masterKey() });
    server.service.clearCalls();
    server.service.injectFailures({ action: 'Decrypt', count: 1, code: 'InvalidCiphertext', status: 400 });
    const e = await rejection(masterKey().unwrap(parseEnvelope(enc.headers)));
    assert.equal(e.code, ErrorCode.UNWRAP_FAILED);
    assert.equal(e.retryable, false);
    assert.equal(count('Decrypt'), 1);

    server.service.clearCalls();
    const missing = await rejection(masterKey({ keyId: '00000000-0000-4000-8000-000000000000' }).wrap({ key: randomBytes(32), iv: randomBytes(16) }));
    assert.ok(missing instanceof KmsRequestError);
    assert.equal(missing.code, ErrorCode.KMS);
    assert.equal(missing.kmsCode, 'Forbidden.KeyNotFound');
    assert.equal(missing.retryable, false);
    assert.equal(count('Encrypt'), 1);

    server.service.clearCalls();
    const unknown = new KmsMasterKey({ keyId: keyA, region: REGION, endpoint: `http://${server.hostPort}`, credentials: { accessKeyId: 'nobody', accessKeySecret: 'x' }, retry: FAST_RETRY });
    const denied = await rejection(unknown.unwrap(parseEnvelope(enc.headers)));
    assert.ok(denied instanceof KmsRequestError);
    assert.equal(denied.kmsCode, 'InvalidAccessKeyId.NotFound');
    assert.equal(denied.retryable, false);
    assert.equal(count('Decrypt'), 1);
  });

  test('a SignatureDoesNotMatch on Encrypt never carries the data key, in the message or the kept cause', async () => {
    const key = randomBytes(32);
    key[0] = 0xfb; // base64 with "+" and "/" so the percent-encoded spellings are exercised
    key[1] = 0xff;
    const b64 = key.toString('base64');
    const wrongSecret = new KmsMasterKey({ keyId: keyA, region: REGION, endpoint: `http://${server.hostPort}`, credentials: { ...AK, accessKeySecret: 'wrong' }, retry: FAST_RETRY });
    const e = await rejection(wrongSecret.wrap({ key, iv: randomBytes(16) }));
    assert.ok(e instanceof KmsRequestError);
    assert.equal(e.kmsCode, 'SignatureDoesNotMatch');
    const cause = e.cause as { message: string; stack: string; data: Record<string, unknown> };
    assert.ok(cause, 'the cause is kept');
    const dump = `${e.message}\n${cause.message}\n${cause.stack}\n${JSON.stringify(cause.data)}`;
    const encodeOnce = encodeURIComponent(b64);
    for (const spelling of [b64, encodeOnce, encodeURIComponent(encodeOnce)]) assert.equal(dump.includes(spelling), false, spelling);
    assert.match(dump, /\[redacted\]/, 'the echoed string to sign was scrubbed, not dropped');
  });

  test('STS credentials and credentials from ALIBABA_CLOUD_* environment variables', async () => {
    const sts = new KmsMasterKey({ keyId: keyA, region: REGION, endpoint: `http://${server.hostPort}`, credentials: STS });
    const enc = await encryptObject(plaintext, { masterKey: sts });
    const saved = { ...process.env };
    try {
      process.env.ALIBABA_CLOUD_ACCESS_KEY_ID = STS.accessKeyId;
      process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET = STS.accessKeySecret;
      process.env.ALIBABA_CLOUD_SECURITY_TOKEN = STS.securityToken;
      const fromEnv = new KmsMasterKey({ keyId: keyA, region: REGION, endpoint: `http://${server.hostPort}` });
      assert.deepEqual(await decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: [fromEnv] }), plaintext);
      delete process.env.ALIBABA_CLOUD_SECURITY_TOKEN;
      const noToken = new KmsMasterKey({ keyId: keyA, region: REGION, endpoint: `http://${server.hostPort}`, retry: FAST_RETRY });
      const e = await rejection(noToken.unwrap(parseEnvelope(enc.headers)));
      assert.ok(e instanceof KmsRequestError);
      assert.equal(e.kmsCode, 'InvalidSecurityToken.MismatchWithAccessKey');
      delete process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
      let thrown: unknown;
      try {
        new KmsMasterKey({ keyId: keyA, region: REGION });
      } catch (err) {
        thrown = err;
      }
      assert.ok(isCseError(thrown, ErrorCode.INVALID_ARGUMENT));
      assert.match(thrown.message, /ALIBABA_CLOUD_ACCESS_KEY_SECRET/);
      assert.equal(thrown.message.includes(STS.accessKeyId), false);
    } finally {
      for (const k of ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET', 'ALIBABA_CLOUD_SECURITY_TOKEN']) {
        if (saved[k] === undefined) Reflect.deleteProperty(process.env, k);
        else process.env[k] = saved[k];
      }
    }
  });
});
