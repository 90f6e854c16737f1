// KmsMasterKey without a network: option checks, credentials and endpoint parsing, error classification, the lazy SDK
// loader (missing dependency), V2 form detection including the ambiguous case, and unwrap result checks, through
// in-process KMS look-alikes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CseError, ErrorCode } from '../../../src/errors.js';
import { parseEnvelope } from '../../../src/format/envelope.js';
import { CekAlgorithm, V1Header, V2Header, WrapAlgorithm } from '../../../src/format/headers.js';
import {
  KMS_SDK_PACKAGE,
  classifyKmsError,
  createKmsClient,
  isKmsClientLike,
  importKmsSdk,
  kmsRequest,
  parseKmsEndpoint,
  resolveKmsCredentials,
  type KmsClientLike,
} from '../../../src/keys/kms-client.js';
import { KmsMasterKey, KmsRequestError, type KmsMasterKeyOptions } from '../../../src/keys/kms.js';

const CREDS = { accessKeyId: 'ak', accessKeySecret: 'sk' };
const FAST_RETRY = { baseDelayMs: 0, maxDelayMs: 1 };

function kmsError(code: string, requestId = 'REQ-1'): Error {
  return Object.assign(new Error(`${code}Error: code: 400, refused requestid: ${requestId}`), {
    code: `${code}Error`,
    data: { Code: code, Message: 'refused', RequestId: requestId },
  });
}

/**
 * An in-process KMS look-alike. `encode` turns (keyId, plaintext) into a blob; `decode` reverses it (or returns
 * undefined → InvalidCiphertext). Every request is recorded.
 */
function fakeClient(options: {
  encode?: (keyId: string, plaintext: string) => string;
  decode?: (blob: string) => { keyId: string; plaintext: string } | undefined;
  decryptAnswer?: (decoded: { keyId: string; plaintext: string }) => unknown;
  failures?: unknown[];
  describeKey?: (keyId: string) => unknown;
} = {}): KmsClientLike & { requests: { action: string; request: any }[] } {
  const encode = options.encode ?? ((k, p) => Buffer.from(JSON.stringify({ k, p })).toString('base64'));
  const decode =
    options.decode ??
    ((blob) => {
      try {
        const j = JSON.parse(Buffer.from(blob, 'base64').toString('utf8'));
        return typeof j.k === 'string' && typeof j.p === 'string' ? { keyId: j.k, plaintext: j.p } : undefined;
      } catch {
        return undefined;
      }
    });
  const failures = [...(options.failures ?? [])];
  const requests: { action: string; request: any }[] = [];
  const client: KmsClientLike & { requests: typeof requests } = {
    requests,
    async encrypt(request) {
      requests.push({ action: 'Encrypt', request });
      if (failures.length > 0) throw failures.shift();
      return { ciphertextBlob: encode(request.keyId, request.plaintext), keyId: request.keyId.startsWith('alias/') ? 'real-id' : request.keyId, requestId: 'R' };
    },
    async decrypt(request) {
      requests.push({ action: 'Decrypt', request });
      if (failures.length > 0) throw failures.shift();
      const d = decode(request.ciphertextBlob);
      if (d === undefined) throw kmsError('InvalidCiphertext');
      return (options.decryptAnswer ?? ((x) => ({ plaintext: x.plaintext, keyId: x.keyId, requestId: 'R' })))(d) as any;
    },
  };
  if (options.describeKey !== undefined) {
    const describe = options.describeKey;
    client.describeKey = async (request) => {
      requests.push({ action: 'DescribeKey', request });
      return describe(request.keyId) as any;
    };
  }
  return client;
}

function v2Headers(key: string, start: string): Record<string, string> {
  return {
    [V2Header.KEY]: key,
    [V2Header.START]: start,
    [V2Header.CEK_ALG]: CekAlgorithm.AES_CTR,
    [V2Header.WRAP_ALG]: WrapAlgorithm.KMS,
  };
}

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CseError, String(e));
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });
}

async function rejectsCode(p: Promise<unknown>, code: string, message?: RegExp): Promise<CseError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CseError, `expected a CseError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

describe('KmsMasterKey options', () => {
  const base = { keyId: 'key-1', client: fakeClient() };
  const bad: [string, unknown][] = [
    ['neither client nor region', { keyId: 'k' }],
    ['both client and region', { keyId: 'k', client: fakeClient(), region: 'cn-hangzhou' }],
    ['empty keyId', { ...base, keyId: '' }],
    ['keyId with spaces', { ...base, keyId: 'a b' }],
    ['ARN naming neither key nor alias', { ...base, keyId: 'acs:kms:cn-hangzhou:1:secret/x' }],
    ['unknown writeForm', { ...base, writeForm: 'java' }],
    ['retry.attempts 0', { ...base, retry: { attempts: 0 } }],
    ['retry.attempts 11', { ...base, retry: { attempts: 11 } }],
    ['retry.attempts 1.5', { ...base, retry: { attempts: 1.5 } }],
    ['negative baseDelayMs', { ...base, retry: { baseDelayMs: -1 } }],
    ['maxDelayMs below baseDelayMs', { ...base, retry: { baseDelayMs: 50, maxDelayMs: 10 } }],
    ['empty passphrase', { ...base, passphrase: '' }],
    ['passphrase and x-passphrase in the context', { ...base, passphrase: 'p', encryptionContext: { 'x-passphrase': 'q' } }],
    ['non-string context value', { ...base, encryptionContext: { a: 1 } }],
    ['empty context key', { ...base, encryptionContext: { '': 'v' } }],
    ['oversized context', { ...base, encryptionContext: { big: 'x'.repeat(9000) } }],
    ['non-string description value', { ...base, description: { a: 1 } }],
    ['empty name', { ...base, name: '' }],
    ['client without decrypt', { keyId: 'k', client: { encrypt: async () => ({}) } }],
    ['bad region', { keyId: 'k', region: 'CN Hangzhou', credentials: CREDS }],
    ['endpoint with a path', { keyId: 'k', region: 'cn-hangzhou', endpoint: 'http://127.0.0.1:1/kms', credentials: CREDS }],
    ['malformed credentials', { keyId: 'k', region: 'cn-hangzhou', credentials: { accessKeyId: 'a' } }],
  ];
  for (const [name, options] of bad) {
    test(`refused with ERR_CSE_INVALID_ARGUMENT: ${name}`, () => {
      throwsCode(() => new KmsMasterKey(options as KmsMasterKeyOptions), ErrorCode.INVALID_ARGUMENT);
    });
  }

  test('defaults: kind kms, name kms:<keyId>, description {}, writeForm go, no passphrase', () => {
    const k = new KmsMasterKey({ keyId: 'key-1', client: fakeClient() });
    assert.equal(k.kind, 'kms');
    assert.equal(k.name, 'kms:key-1');
    assert.deepEqual(k.description, {});
    assert.ok(Object.isFrozen(k.description));
    assert.equal(k.writeForm, 'go');
    assert.equal(k.hasPassphrase, false);
    assert.equal(k.region, undefined);
    const named = new KmsMasterKey({ keyId: 'key-1', region: 'cn-shanghai', endpoint: 'kms.example.com', credentials: CREDS, name: 'prod', description: { a: 'b' } });
    assert.equal(named.name, 'prod');
    assert.equal(named.region, 'cn-shanghai');
    assert.equal(named.endpoint, 'kms.example.com');
    assert.deepEqual(named.description, { a: 'b' });
  });
});

describe('KMS endpoint and credentials', () => {
  test('endpoints: http(s) URLs and bare host:port (HTTPS)', () => {
    assert.deepEqual(parseKmsEndpoint('http://127.0.0.1:9000'), { host: '127.0.0.1:9000', protocol: 'http' });
    assert.deepEqual(parseKmsEndpoint('https://kms.cn-hangzhou.aliyuncs.com/'), { host: 'kms.cn-hangzhou.aliyuncs.com', protocol: 'https' });
    assert.deepEqual(parseKmsEndpoint('kms-vpc.cn-hangzhou.aliyuncs.com'), { host: 'kms-vpc.cn-hangzhou.aliyuncs.com', protocol: 'https' });
    assert.deepEqual(parseKmsEndpoint('localhost:8443'), { host: 'localhost:8443', protocol: 'https' });
    assert.deepEqual(parseKmsEndpoint('http://[::1]:9000'), { host: '[::1]:9000', protocol: 'http' });
    for (const bad of ['', 'ftp://host', 'http://u:p@host', 'http://host/path', 'http://host/?a=1', 'host:99999', 'host name', 'http://']) {
      throwsCode(() => parseKmsEndpoint(bad), ErrorCode.INVALID_ARGUMENT);
    }
  });

  test('credentials: explicit ones win, else ALIBABA_CLOUD_* with optional STS token; none → a message naming variables only', () => {
    const env = { ALIBABA_CLOUD_ACCESS_KEY_ID: 'env-id', ALIBABA_CLOUD_ACCESS_KEY_SECRET: 'env-secret' };
    assert.deepEqual(resolveKmsCredentials(CREDS, env), CREDS);
    assert.deepEqual(resolveKmsCredentials(undefined, env), { accessKeyId: 'env-id', accessKeySecret: 'env-secret' });
    assert.deepEqual(resolveKmsCredentials(undefined, { ...env, ALIBABA_CLOUD_SECURITY_TOKEN: 'tok' }), {
      accessKeyId: 'env-id',
      accessKeySecret: 'env-secret',
      securityToken: 'tok',
    });
    assert.deepEqual(resolveKmsCredentials({ ...CREDS, securityToken: 'sts' }, {}), { ...CREDS, securityToken: 'sts' });
    throwsCode(() => resolveKmsCredentials(undefined, {}), ErrorCode.INVALID_ARGUMENT, /ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET/);
    try {
      resolveKmsCredentials(undefined, { ALIBABA_CLOUD_ACCESS_KEY_ID: 'visible-id-value' });
      assert.fail('expected a throw');
    } catch (e) {
      assert.ok(e instanceof CseError);
      assert.match(e.message, /set ALIBABA_CLOUD_ACCESS_KEY_SECRET/);
      assert.equal(e.message.includes('visible-id-value'), false);
    }
    throwsCode(() => resolveKmsCredentials({ ...CREDS, securityToken: '' }, {}), ErrorCode.INVALID_ARGUMENT);
  });
});

describe('KMS error classification', () => {
  const cases: [string, unknown, boolean][] = [
    ['ServiceUnavailableTemporary', kmsError('ServiceUnavailableTemporary'), true],
    ['InternalFailure', kmsError('InternalFailure'), true],
    ['InternalError', kmsError('InternalError'), true],
    ['Throttling.User', kmsError('Throttling.User'), true],
    ['Rejected.Throttling', kmsError('Rejected.Throttling'), true],
    ['InvalidCiphertext', kmsError('InvalidCiphertext'), false],
    ['Forbidden.KeyNotFound', kmsError('Forbidden.KeyNotFound'), false],
    ['InvalidAccessKeyId.NotFound', kmsError('InvalidAccessKeyId.NotFound'), false],
    ['SignatureDoesNotMatch', kmsError('SignatureDoesNotMatch'), false],
    ['InvalidParameter', kmsError('InvalidParameter'), false],
    ['MissingParameter', kmsError('MissingParameter'), false],
    ['ECONNRESET socket error', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), true],
    ['non-JSON answer (SyntaxError)', new SyntaxError('Unexpected token <'), true],
    ["fetch's network TypeError (with a cause)", new TypeError('fetch failed', { cause: new Error('ECONNREFUSED') }), true],
    ['programming TypeError', new TypeError('x is not a function'), false],
    ['ReferenceError', new ReferenceError('y is not defined'), false],
  ];
  for (const [name, error, retryable] of cases) {
    test(`${name} → ${retryable ? 'retryable' : 'not retryable'}`, () => {
      assert.equal(classifyKmsError(error).retryable, retryable);
    });
  }
  test('the KMS code and request id come from data, the network code from the error', () => {
    assert.deepEqual(classifyKmsError(kmsError('InvalidCiphertext', 'RID')), { kmsCode: 'InvalidCiphertext', requestId: 'RID', networkCode: undefined, retryable: false });
    assert.equal(classifyKmsError(Object.assign(new Error('x'), { code: 'ETIMEDOUT' })).networkCode, 'ETIMEDOUT');
  });
});

describe('lazy loading of @alicloud/kms20160120', () => {
  const notFound = async (): Promise<unknown> =>
    Promise.reject(Object.assign(new Error(`Cannot find package '${KMS_SDK_PACKAGE}'`), { code: 'ERR_MODULE_NOT_FOUND' }));

  test('a missing package is ERR_CSE_MISSING_DEPENDENCY naming what to install, on wrap and unwrap', async () => {
    let loads = 0;
    const key = new KmsMasterKey({
      keyId: 'k',
      region: 'cn-hangzhou',
      credentials: CREDS,
      loadSdk: async () => {
        loads++;
        return notFound();
      },
    });
    assert.equal(loads, 0, 'constructing the key does not load the SDK');
    const e = await rejectsCode(key.wrap({ key: randomBytes(32), iv: randomBytes(16) }), ErrorCode.MISSING_DEPENDENCY, /npm install @alicloud\/kms20160120/);
    assert.equal((e.cause as any).code, 'ERR_MODULE_NOT_FOUND');
    const blob = Buffer.from('{"k":"k","p":"x"}').toString('base64');
    await rejectsCode(key.unwrap(parseEnvelope(v2Headers(blob, blob))), ErrorCode.MISSING_DEPENDENCY, /not installed/);
    assert.equal(loads, 2, 'a failed load is not remembered');
  });

  test('a module without a client class is ERR_CSE_MISSING_DEPENDENCY', async () => {
    const key = new KmsMasterKey({ keyId: 'k', region: 'cn-hangzhou', credentials: CREDS, loadSdk: async () => ({ default: {} }) });
    await rejectsCode(key.wrap({ key: randomBytes(32), iv: randomBytes(16) }), ErrorCode.MISSING_DEPENDENCY, /exports no client class/);
  });

  test('the default loader finds the installed SDK and builds a client from it', async () => {
    const client = await createKmsClient({ region: 'cn-hangzhou', endpoint: 'http://127.0.0.1:9', credentials: CREDS }, importKmsSdk);
    assert.ok(isKmsClientLike(client));
    assert.equal(typeof client.describeKey, 'function');
  });

  test('the built client gets the regional endpoint over HTTPS when no endpoint is given', async () => {
    let config: any;
    const key = new KmsMasterKey({
      keyId: 'k',
      region: 'cn-beijing',
      credentials: { ...CREDS, securityToken: 'tok' },
      loadSdk: async () => ({
        default: {
          default: class {
            constructor(c: unknown) {
              config = c;
            }
            async encrypt(): Promise<unknown> {
              return { ciphertextBlob: 'QUJD', keyId: 'k' };
            }
            async decrypt(): Promise<unknown> {
              return {};
            }
          },
        },
      }),
    });
    await key.wrap({ key: randomBytes(32), iv: randomBytes(16) });
    assert.deepEqual(config, { accessKeyId: 'ak', accessKeySecret: 'sk', securityToken: 'tok', regionId: 'cn-beijing', protocol: 'https' });
  });
});

describe('KmsMasterKey wrap and unwrap (in-process KMS look-alike)', () => {
  test('requests carry camelCase fields and a non-enumerable toMap() with KMS parameter names', async () => {
    const client = fakeClient();
    const key = new KmsMasterKey({ keyId: 'key-1', client, passphrase: 'abc' });
    await key.wrap({ key: randomBytes(32), iv: randomBytes(16) });
    const { request } = client.requests[0]!;
    assert.deepEqual(Object.keys(request).sort(), ['encryptionContext', 'keyId', 'plaintext']);
    // Byte-identical to oss2's '{"x-passphrase":"' + passphrase + '"}' for a passphrase without " \ or controls.
    assert.equal(request.encryptionContext, '{"x-passphrase":"abc"}');
    assert.deepEqual(request.toMap(), { KeyId: 'key-1', Plaintext: request.plaintext, EncryptionContext: '{"x-passphrase":"abc"}' });
    assert.deepEqual(kmsRequest({ ciphertextBlob: 'QQ==', encryptionContext: undefined }, { ciphertextBlob: 'CiphertextBlob', encryptionContext: 'EncryptionContext' }), { ciphertextBlob: 'QQ==' });
  });

  test('a passphrase with " and \\ is sent as valid JSON (where oss2 would build invalid JSON)', async () => {
    const client = fakeClient();
    const passphrase = 'say "hi" \\ bye';
    const key = new KmsMasterKey({ keyId: 'key-1', client, passphrase, encryptionContext: { tenant: 't' } });
    const wrapped = await key.wrap({ key: randomBytes(32), iv: randomBytes(16) });
    assert.deepEqual(JSON.parse(client.requests[0]!.request.encryptionContext), { 'x-passphrase': passphrase, tenant: 't' });
    assert.ok(await key.unwrap(parseEnvelope(v2Headers(wrapped.wrappedKey, wrapped.wrappedStart))));
    assert.equal(client.requests[2]!.request.encryptionContext, client.requests[0]!.request.encryptionContext);
  });

  test('ambiguous V2 header: a Go/Java blob that decodes to base64 text is read after the oss2 reading is refused', async () => {
    // A KMS whose blobs are base64 of base64 text: the Go/Java header (the blob) looks like oss2's double base64.
    const inner = (k: string, p: string): string => Buffer.from(JSON.stringify({ k, p })).toString('base64');
    const client = fakeClient({
      encode: (k, p) => Buffer.from(inner(k, p)).toString('base64'),
      decode: (blob) => {
        const text = Buffer.from(blob, 'base64').toString('latin1');
        try {
          const j = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
          return typeof j.k === 'string' ? { keyId: j.k, plaintext: j.p } : undefined;
        } catch {
          return undefined;
        }
      },
    });
    const key = new KmsMasterKey({ keyId: 'key-1', client });
    const material = { key: randomBytes(32), iv: randomBytes(16) };
    const wrapped = await key.wrap(material);
    client.requests.length = 0;
    const out = await key.unwrap(parseEnvelope(v2Headers(wrapped.wrappedKey, wrapped.wrappedStart)));
    assert.ok(out);
    assert.deepEqual(Buffer.from(out.key), material.key);
    assert.deepEqual(Buffer.from(out.iv), material.iv);
    assert.deepEqual(
      client.requests.map((r) => r.request.ciphertextBlob),
      [Buffer.from(wrapped.wrappedKey, 'base64').toString('latin1'), wrapped.wrappedKey, wrapped.wrappedStart],
      'key: oss2 reading first, then the header itself; start: the form that worked first',
    );
  });

  test('oss2 form and Go form from the same KMS each take one Decrypt per header', async () => {
    for (const writeForm of ['go', 'oss2'] as const) {
      const client = fakeClient();
      const key = new KmsMasterKey({ keyId: 'key-1', client, writeForm });
      const material = { key: randomBytes(32), iv: randomBytes(16) };
      const wrapped = await key.wrap(material);
      client.requests.length = 0;
      const out = await key.unwrap(parseEnvelope(v2Headers(wrapped.wrappedKey, wrapped.wrappedStart)));
      assert.deepEqual(Buffer.from(out!.key), material.key);
      assert.equal(client.requests.length, 2, writeForm);
    }
  });

  test('unwrapped values of the wrong size or not base64 are typed errors naming the header', async () => {
    const key = new KmsMasterKey({ keyId: 'key-1', client: fakeClient() });
    const blob = (p: string): string => Buffer.from(JSON.stringify({ k: 'key-1', p })).toString('base64');
    const good = blob(randomBytes(32).toString('base64'));
    const cases: [string, string, string, string][] = [
      ['31-byte key', blob(randomBytes(31).toString('base64')), blob(randomBytes(16).toString('base64')), V2Header.KEY],
      ['17-byte IV', good, blob(randomBytes(17).toString('base64')), V2Header.START],
    ];
    for (const [name, k, s, header] of cases) {
      const e = await rejectsCode(key.unwrap(parseEnvelope(v2Headers(k, s)), { object: 'o' }), ErrorCode.UNWRAP_BAD_LENGTH);
      assert.equal(e.header, header, name);
      assert.equal(e.object, 'o');
    }
    const e = await rejectsCode(key.unwrap(parseEnvelope(v2Headers(good, blob('8')))), ErrorCode.UNWRAP_FAILED, /not base64/);
    assert.equal(e.header, V2Header.START);
  });

  test('V1: the start Plaintext is the decimal counter itself; anything else is ERR_CSE_ENVELOPE_BAD_NUMBER on the start header', async () => {
    const key = new KmsMasterKey({ keyId: 'key-1', client: fakeClient() });
    const blob = (p: string): string => Buffer.from(JSON.stringify({ k: 'key-1', p })).toString('base64');
    const headers = (start: string): Record<string, string> => ({
      [V1Header.KEY]: blob(randomBytes(32).toString('base64')),
      [V1Header.START]: blob(start),
      [V1Header.CEK_ALG]: CekAlgorithm.V1_MISLABELLED_GCM,
      [V1Header.WRAP_ALG]: WrapAlgorithm.V1_KMS,
    });
    const out = await key.unwrap(parseEnvelope(headers('10')));
    assert.deepEqual(Buffer.from(out!.iv), Buffer.from('0000000000000000000000000000000a', 'hex'));
    for (const bad of ['-1', 'OA==', '', String(2n ** 128n)]) {
      const e = await rejectsCode(key.unwrap(parseEnvelope(headers(bad))), ErrorCode.ENVELOPE_BAD_NUMBER);
      assert.equal(e.header, V1Header.START);
    }
  });

  test('answers under `body` and in PascalCase are read; malformed answers are ERR_CSE_KMS', async () => {
    const material = { key: randomBytes(32), iv: randomBytes(16) };
    const body = fakeClient({ decryptAnswer: (d) => ({ body: { Plaintext: d.plaintext, KeyId: d.keyId } }) });
    const k = new KmsMasterKey({ keyId: 'key-1', client: body });
    const w = await k.wrap(material);
    assert.deepEqual(Buffer.from((await k.unwrap(parseEnvelope(v2Headers(w.wrappedKey, w.wrappedStart))))!.iv), material.iv);

    const noKeyId = new KmsMasterKey({ keyId: 'key-1', client: fakeClient({ decryptAnswer: (d) => ({ plaintext: d.plaintext }) }) });
    await rejectsCode(noKeyId.unwrap(parseEnvelope(v2Headers(w.wrappedKey, w.wrappedStart))), ErrorCode.KMS, /KeyId is missing/);
    const noPlaintext = new KmsMasterKey({ keyId: 'key-1', client: fakeClient({ decryptAnswer: (d) => ({ keyId: d.keyId }) }) });
    await rejectsCode(noPlaintext.unwrap(parseEnvelope(v2Headers(w.wrappedKey, w.wrappedStart))), ErrorCode.KMS, /Plaintext is missing/);
    const noBlob = new KmsMasterKey({ keyId: 'key-1', client: fakeClient({ encode: () => 'not base64!' }) });
    await rejectsCode(noBlob.wrap(material), ErrorCode.KMS, /CiphertextBlob is missing or not base64/);
  });

  test('wrap refuses material of the wrong size before any KMS call', async () => {
    const client = fakeClient();
    const key = new KmsMasterKey({ keyId: 'key-1', client });
    await rejectsCode(key.wrap({ key: randomBytes(16), iv: randomBytes(16) }), ErrorCode.INVALID_KEY);
    await rejectsCode(key.wrap({ key: randomBytes(32), iv: randomBytes(12) }), ErrorCode.INVALID_ARGUMENT);
    assert.equal(client.requests.length, 0);
  });

  test('retries: network errors are retried, programming errors are not', async () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    const flaky = fakeClient({ failures: [reset, reset] });
    await new KmsMasterKey({ keyId: 'key-1', client: flaky, retry: FAST_RETRY }).wrap({ key: randomBytes(32), iv: randomBytes(16) });
    assert.equal(flaky.requests.length, 4);
    const broken = fakeClient({ failures: [new TypeError('request.toMap is not a function')] });
    const e = await rejectsCode(new KmsMasterKey({ keyId: 'key-1', client: broken, retry: FAST_RETRY }).wrap({ key: randomBytes(32), iv: randomBytes(16) }), ErrorCode.KMS);
    assert.equal(e.retryable, false);
    assert.ok(e instanceof KmsRequestError);
    assert.equal(e.action, 'Encrypt');
    assert.equal(broken.requests.length, 1);
  });

  test('aliases: the key id is learned from Encrypt or DescribeKey; without either the check is skipped', async () => {
    const blobOf = (k: string): string => Buffer.from(JSON.stringify({ k, p: randomBytes(32).toString('base64') })).toString('base64');
    const ivOf = (k: string): string => Buffer.from(JSON.stringify({ k, p: randomBytes(16).toString('base64') })).toString('base64');
    const foreign = parseEnvelope(v2Headers(blobOf('other-id'), ivOf('other-id')));

    const described = fakeClient({ describeKey: () => ({ keyMetadata: { keyId: 'real-id' } }) });
    await rejectsCode(new KmsMasterKey({ keyId: 'alias/app', client: described }).unwrap(foreign), ErrorCode.UNWRAP_FAILED, /under KMS key other-id/);
    assert.equal(described.requests.filter((r) => r.action === 'DescribeKey').length, 1);

    const writer = new KmsMasterKey({ keyId: 'alias/app', client: fakeClient() });
    await writer.wrap({ key: randomBytes(32), iv: randomBytes(16) }); // the fake answers KeyId real-id for aliases
    await rejectsCode(writer.unwrap(foreign), ErrorCode.UNWRAP_FAILED, /under KMS key other-id/);

    const refused = fakeClient({
      describeKey: () => {
        throw kmsError('Forbidden.NoPermission');
      },
    });
    assert.ok(await new KmsMasterKey({ keyId: 'acs:kms:cn-hangzhou:123:alias/app', client: refused }).unwrap(foreign));
    assert.ok(await new KmsMasterKey({ keyId: 'alias/app', client: fakeClient() }).unwrap(foreign));

    const arn = new KmsMasterKey({ keyId: 'acs:kms:cn-hangzhou:123:key/other-id', client: fakeClient() });
    assert.ok(await arn.unwrap(foreign), 'an ARN is checked against the id it names');
  });
});
