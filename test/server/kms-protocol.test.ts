// The KMS emulator at the HTTP level, with a signer written here independently of the server (RPC signature v1 as
// Alibaba Cloud documents it): request forms the official client does not send (GET, form body), each
// authentication failure, replay, routing through isKmsRequest on a shared listener, and the error body shape.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKmsService, startKmsServer, type KmsServer, type KmsService } from '../../server/src/kms/index.js';

const AK = { accessKeyId: 'proto-ak', accessKeySecret: 'proto-secret' };

/** RFC 3986 percent-encoding (unreserved kept), as the RPC signature specifies. */
function enc(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function sign(method: string, params: Record<string, string>, secret: string): string {
  const canonical = Object.keys(params)
    .sort((a, b) => (enc(a) < enc(b) ? -1 : 1))
    .map((k) => `${enc(k)}=${enc(params[k]!)}`)
    .join('&');
  const toSign = `${method}&${enc('/')}&${enc(canonical)}`;
  return createHmac('sha1', `${secret}&`).update(toSign).digest('base64');
}

function common(action: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    Action: action,
    Version: '2016-01-20',
    Format: 'JSON',
    AccessKeyId: AK.accessKeyId,
    SignatureMethod: 'HMAC-SHA1',
    SignatureVersion: '1.0',
    SignatureNonce: randomBytes(16).toString('hex'),
    Timestamp: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...extra,
  };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

function query(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([k, v]) => `${enc(k)}=${enc(v)}`)
    .join('&');
}

async function send(
  port: number,
  method: string,
  path: string,
  opts: { body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: opts.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const json = String(res.headers['content-type']).startsWith('application/json');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: json ? JSON.parse(text) : text });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Signs `params` (plus `signExtra`, signed but sent as given) and sends them all in the query string. */
async function call(port: number, method: 'GET' | 'POST', params: Record<string, string>, secret = AK.accessKeySecret): Promise<Answer> {
  const signed = { ...params, Signature: sign(method, params, secret) };
  return send(port, method, `/?${query(signed)}`);
}

describe('KMS emulator over raw HTTP', () => {
  let server: KmsServer;
  let port: number;
  let keyId: string;

  before(async () => {
    server = await startKmsServer({ memory: true, credentials: [AK] });
    port = server.port;
    keyId = (await server.service.createKey({ description: 'proto' })).KeyId;
  });
  after(async () => {
    await server.close();
  });

  test('a signed GET request is answered with JSON, and x-acs-request-id equals the body RequestId', async () => {
    const res = await call(port, 'GET', common('DescribeKey', { KeyId: keyId }));
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.equal(res.headers['x-acs-request-id'], res.body.RequestId);
    assert.equal(res.body.KeyMetadata.KeyId, keyId);
  });

  test('parameters in a form body are signed together with the query and accepted', async () => {
    const params = common('Encrypt', { KeyId: keyId, Plaintext: 'form body', EncryptionContext: '{"a":"b c"}' });
    const signature = sign('POST', params, AK.accessKeySecret);
    const inQuery = { Action: params.Action!, Version: params.Version! };
    const inBody = Object.fromEntries(Object.entries(params).filter(([k]) => !(k in inQuery)));
    const res = await send(port, 'POST', `/?${query(inQuery)}`, {
      body: query({ ...inBody, Signature: signature }),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const dec = await call(port, 'POST', common('Decrypt', { CiphertextBlob: res.body.CiphertextBlob, EncryptionContext: '{"a":"b c"}' }));
    assert.equal(dec.body.Plaintext, 'form body');
  });

  test('the error body is exactly RequestId, HostId, Code and Message', async () => {
    const res = await call(port, 'POST', common('Decrypt', { CiphertextBlob: 'AAAA' }));
    assert.equal(res.status, 400);
    assert.deepEqual(Object.keys(res.body).sort(), ['Code', 'HostId', 'Message', 'RequestId']);
    assert.equal(res.body.Code, 'InvalidCiphertext');
    assert.equal(res.body.HostId, `127.0.0.1:${port}`);
    assert.equal(res.headers['x-acs-request-id'], res.body.RequestId);
  });

  test('each authentication defect gets its own code and status', async () => {
    const base = common('ListKeys');
    const without = (name: string): Record<string, string> =>
      Object.fromEntries(
        Object.entries({ ...base, SignatureNonce: randomBytes(8).toString('hex') }).filter(([k]) => k !== name),
      );
    const cases: [Promise<Answer>, number, string][] = [
      [call(port, 'POST', { ...base, SignatureNonce: 'n1', SignatureMethod: 'HMAC-SHA256' }), 400, 'IncompleteSignature'],
      [call(port, 'POST', { ...base, SignatureNonce: 'n2', SignatureVersion: '2.0' }), 400, 'IncompleteSignature'],
      [call(port, 'POST', without('SignatureMethod')), 400, 'IncompleteSignature'],
      [send(port, 'POST', `/?${query(base)}`), 400, 'IncompleteSignature'],
      [call(port, 'POST', without('AccessKeyId')), 400, 'MissingParameter'],
      [call(port, 'POST', without('SignatureNonce')), 400, 'MissingParameter'],
      [call(port, 'POST', without('Timestamp')), 400, 'IllegalTimestamp'],
      [call(port, 'POST', { ...base, SignatureNonce: 'n3', Timestamp: '2024-13-01T00:00:00Z' }), 400, 'IllegalTimestamp'],
      [call(port, 'POST', { ...base, SignatureNonce: 'n4', Timestamp: 'yesterday' }), 400, 'IllegalTimestamp'],
      [call(port, 'POST', { ...base, SignatureNonce: 'n5', Timestamp: '2020-01-01T00:00:00Z' }), 400, 'InvalidTimeStamp.Expired'],
      [call(port, 'POST', { ...base, SignatureNonce: 'n6', AccessKeyId: 'unknown' }), 404, 'InvalidAccessKeyId.NotFound'],
      [call(port, 'POST', { ...base, SignatureNonce: 'n7' }, 'wrong-secret'), 400, 'SignatureDoesNotMatch'],
      [call(port, 'GET', { ...base, SignatureNonce: 'n8', Action: 'DisableKey', KeyId: keyId }), 404, 'InvalidAction.NotFound'],
      [call(port, 'GET', { ...base, SignatureNonce: 'n9', Format: 'XML' }), 400, 'InvalidParameter'],
    ];
    for (const [pending, status, code] of cases) {
      const res = await pending;
      assert.equal(res.body.Code, code, JSON.stringify(res.body));
      assert.equal(res.status, status, code);
    }
  });

  test('a parameter changed after signing (method, value, added parameter) is SignatureDoesNotMatch', async () => {
    const params = common('DescribeKey', { KeyId: keyId });
    const signature = sign('POST', params, AK.accessKeySecret);
    const tampered = [
      { method: 'GET', params: { ...params, SignatureNonce: 'a1' } },
      { method: 'POST', params: { ...params, SignatureNonce: 'a2', KeyId: `${keyId} ` } },
      { method: 'POST', params: { ...params, SignatureNonce: 'a3', Extra: 'x' } },
    ];
    for (const t of tampered) {
      const res = await send(port, t.method, `/?${query({ ...t.params, Signature: signature })}`);
      assert.equal(res.body.Code, 'SignatureDoesNotMatch');
      assert.match(res.body.Message, /server string to sign is:/);
      assert.equal(res.body.Message.includes(AK.accessKeySecret), false, 'the secret never appears in a message');
    }
  });

  test('replaying a request with the same SignatureNonce is SignatureNonceUsed', async () => {
    const params = common('DescribeKey', { KeyId: keyId });
    const path = `/?${query({ ...params, Signature: sign('POST', params, AK.accessKeySecret) })}`;
    assert.equal((await send(port, 'POST', path)).status, 200);
    const replay = await send(port, 'POST', path);
    assert.equal(replay.status, 400);
    assert.equal(replay.body.Code, 'SignatureNonceUsed');
  });

  test('a repeated parameter and an oversized body are InvalidParameter', async () => {
    const params = common('ListKeys');
    const path = `/?${query({ ...params, Signature: sign('POST', params, AK.accessKeySecret) })}&PageSize=5&PageSize=6`;
    assert.equal((await send(port, 'POST', path)).body.Code, 'InvalidParameter');
    const big = await send(port, 'POST', `/?${query(common('ListKeys'))}`, {
      body: `x=${'a'.repeat(4 * 1024 * 1024)}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(big.body.Code, 'InvalidParameter');
  });

  test('a request that is not a KMS call gets a KMS JSON error from the standalone server', async () => {
    const res = await send(port, 'GET', '/bucket/object');
    assert.equal(res.status, 400);
    assert.equal(res.body.Code, 'MissingParameter');
  });

  test('after close, requests get 503 ServiceUnavailableTemporary', async () => {
    const local = createKmsService({ memory: true, credentials: [AK] });
    await local.close();
    const srv = http.createServer((req, res) => {
      void local.handle(req, res, new URL(req.url ?? '/', 'http://x'));
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    try {
      const res = await call((srv.address() as AddressInfo).port, 'POST', common('ListKeys'));
      assert.equal(res.status, 503);
      assert.equal(res.body.Code, 'ServiceUnavailableTemporary');
    } finally {
      srv.closeAllConnections();
      await new Promise((resolve) => srv.close(resolve));
    }
  });
});

describe('KMS service mounted on a shared listener', () => {
  let service: KmsService;
  let srv: http.Server;
  let port: number;
  const other: string[] = [];

  before(async () => {
    service = createKmsService({ memory: true, credentials: [AK], region: 'cn-shanghai' });
    srv = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (service.isKmsRequest(req, url)) {
        void service.handle(req, res, url);
        return;
      }
      other.push(`${req.method ?? ''} ${url.pathname}${url.search}`);
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end('<ok/>');
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    port = (srv.address() as AddressInfo).port;
  });
  after(async () => {
    srv.closeAllConnections();
    await new Promise((resolve) => srv.close(resolve));
    await service.close();
  });

  test('isKmsRequest takes KMS calls and leaves OSS-looking requests to the other handler', async () => {
    const kms = await call(port, 'POST', common('CreateKey'));
    assert.equal(kms.status, 200);
    assert.match(kms.body.KeyMetadata.Arn, /^acs:kms:cn-shanghai:\d{16}:key\//);
    for (const path of ['/', '/?Action=ListKeys', '/?Action=ListKeys&Version=2014-05-26', '/bucket/?Action=ListKeys&Version=2016-01-20']) {
      const res = await send(port, 'GET', path);
      assert.equal(res.status, 200);
    }
    const put = await send(port, 'PUT', `/?${query(common('ListKeys'))}`);
    assert.equal(put.status, 200, 'only GET and POST are KMS calls');
    assert.equal(other.length, 5);
  });

  test('the x-acs-action / x-acs-version headers route a form-only request to KMS', async () => {
    const params = common('ListKeys');
    const res = await send(port, 'POST', '/', {
      body: query({ ...params, Signature: sign('POST', params, AK.accessKeySecret) }),
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-acs-action': 'ListKeys',
        'x-acs-version': '2016-01-20',
      },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.TotalCount, 1);
  });
});
