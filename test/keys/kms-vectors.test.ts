// The Go SDK's KMS vector `put-17-fakekms` (test/vectors/go/README.md) read and reproduced through KmsMasterKey and
// the real @alicloud/kms20160120 client, against a tiny KMS that serves the vector's fake rule:
// CiphertextBlob = base64(JSON {"k": KeyId, "p": Plaintext}), Decrypt returns p. (test/vectors/oss2 has no KMS case.)
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { cryptoHeaderNames, parseEnvelope } from '../../src/format/envelope.js';
import { V2Header } from '../../src/format/headers.js';
import { KmsMasterKey } from '../../src/keys/kms.js';
import { decryptObject, encryptObject } from '../../src/object-crypto.js';
import { readVectorFile, vectorJson } from '../helpers/vectors.js';

interface FakeCall {
  readonly action: string;
  readonly params: Record<string, string>;
}

/**
 * A KMS RPC endpoint implementing the fake rule for Encrypt and Decrypt. It reads the parameters the way the official
 * client sends them (query string, POST, empty body), checks no signature, and answers in KMS's JSON shape.
 */
async function startFakeKms(): Promise<{ server: Server; endpoint: string; calls: FakeCall[] }> {
  const calls: FakeCall[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const params = Object.fromEntries(new URL(req.url ?? '/', 'http://fake').searchParams);
      const action = params.Action ?? '';
      calls.push({ action, params });
      const answer = (status: number, body: Record<string, string>): void => {
        const text = JSON.stringify({ RequestId: randomUUID().toUpperCase(), ...body });
        res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (action === 'Encrypt' && params.KeyId !== undefined && params.Plaintext !== undefined) {
        const blob = Buffer.from(JSON.stringify({ k: params.KeyId, p: params.Plaintext })).toString('base64');
        answer(200, { KeyId: params.KeyId, KeyVersionId: 'v1', CiphertextBlob: blob });
        return;
      }
      if (action === 'Decrypt' && params.CiphertextBlob !== undefined) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(Buffer.from(params.CiphertextBlob, 'base64').toString('utf8'));
        } catch {
          parsed = undefined;
        }
        const blob = parsed as { k?: unknown; p?: unknown } | undefined;
        if (typeof blob?.k !== 'string' || typeof blob.p !== 'string') {
          answer(400, { Code: 'InvalidCiphertext', Message: 'fake kms: bad CiphertextBlob' });
          return;
        }
        answer(200, { KeyId: blob.k, KeyVersionId: 'v1', Plaintext: blob.p });
        return;
      }
      answer(404, { Code: 'InvalidAction.NotFound', Message: `fake kms: ${action}` });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, endpoint: `http://127.0.0.1:${port}`, calls };
}

describe('Go vector put-17-fakekms through the real KMS client and a fake-rule KMS', () => {
  const vector = vectorJson('go').cases.find((c: any) => c.name === 'put-17-fakekms');
  const headers: Record<string, string> = vector.request_headers;
  const plaintext = readVectorFile('go', vector.plaintext_file);
  const ciphertext = readVectorFile('go', vector.ciphertext_file);
  let fake: Awaited<ReturnType<typeof startFakeKms>>;
  let masterKey: KmsMasterKey;

  before(async () => {
    fake = await startFakeKms();
    masterKey = new KmsMasterKey({
      keyId: 'fake-cmk-id',
      region: 'cn-hangzhou',
      endpoint: fake.endpoint,
      credentials: { accessKeyId: 'fake-ak', accessKeySecret: 'fake-secret' },
      description: { kms: 'fake' },
    });
  });
  after(async () => {
    await new Promise<void>((resolve, reject) => fake.server.close((e) => (e ? reject(e) : resolve())));
  });
  beforeEach(() => {
    fake.calls.length = 0;
  });

  test('decrypts to the vector plaintext, sending each header verbatim as the CiphertextBlob', async () => {
    assert.equal(plaintext.length, vector.plaintext_len);
    const out = await decryptObject({ headers, body: ciphertext }, { masterKeys: [masterKey] });
    assert.deepEqual(out, plaintext);
    assert.deepEqual(
      fake.calls.map((c) => [c.action, c.params.CiphertextBlob]),
      [
        ['Decrypt', headers[V2Header.KEY]],
        ['Decrypt', headers[V2Header.START]],
      ],
    );
    assert.equal(fake.calls[0]?.params.EncryptionContext, undefined, 'no context parameter without a context');
  });

  test('wrapping the vector key and IV reproduces the Go SDK headers and ciphertext byte for byte', async () => {
    const key = Buffer.from(vector.data_key_hex, 'hex');
    const iv = Buffer.from(vector.iv_hex, 'hex');
    const enc = await encryptObject(plaintext, { masterKey, contentMaterial: { key, iv } });
    const expected = Object.fromEntries(cryptoHeaderNames('v2').filter((n) => n in headers).map((n) => [n, headers[n]]));
    assert.deepEqual(enc.headers, expected);
    assert.deepEqual(enc.body, ciphertext);
    // The Encrypt calls the Go SDK made while writing the vector, in its order (key, then IV).
    assert.deepEqual(
      fake.calls.map((c) => `${c.action} KeyId=${c.params.KeyId ?? ''} Plaintext=${c.params.Plaintext ?? ''}`),
      vector.fake_kms_calls_during_put,
    );
  });

  test("the same blobs in oss2's form (base64 of the blob) decrypt too, sending the decoded blob", async () => {
    const oss2Headers = {
      ...headers,
      [V2Header.KEY]: Buffer.from(headers[V2Header.KEY]!).toString('base64'),
      [V2Header.START]: Buffer.from(headers[V2Header.START]!).toString('base64'),
    };
    // oss2 2.19.1 wrote exactly this prefix with the same fake (`oss2-python.md` §2.3).
    assert.ok(oss2Headers[V2Header.KEY].startsWith('ZXlKcklq'));
    assert.deepEqual(await decryptObject({ headers: oss2Headers, body: ciphertext }, { masterKeys: [masterKey] }), plaintext);
    assert.deepEqual(
      fake.calls.map((c) => c.params.CiphertextBlob),
      [headers[V2Header.KEY], headers[V2Header.START]],
    );
  });

  test('a reader configured for another key id refuses the vector, naming the key it is under', async () => {
    const other = new KmsMasterKey({
      keyId: 'other-cmk-id',
      region: 'cn-hangzhou',
      endpoint: fake.endpoint,
      credentials: { accessKeyId: 'fake-ak', accessKeySecret: 'fake-secret' },
    });
    await assert.rejects(other.unwrap(parseEnvelope(headers)), (e: any) => {
      assert.equal(e.code, 'ERR_CSE_UNWRAP_FAILED');
      assert.equal(e.header, V2Header.KEY);
      assert.match(e.message, /under KMS key fake-cmk-id/);
      return true;
    });
  });
});
