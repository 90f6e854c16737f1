// Upload callbacks (ali-oss's `callback` option) pass through: put sends x-oss-callback/x-oss-callback-var encoded
// exactly as ali-oss encodes them and returns the callback server's answer as `data`; multipartUpload sends them on
// Complete (not on Initiate) and returns `data` likewise. The embedded server does not run callbacks (server/
// CONFORMANCE.md), so put is checked against a raw HTTP server that records the request and answers like OSS does
// after a callback, side by side with plain ali-oss; multipart is checked with a recording store over the embedded
// server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OSS from 'ali-oss';
import { startServer, type RunningServer } from '../../server/src/index.js';
import { EncryptionClient } from '../../src/client.js';
import { ErrorCode } from '../../src/errors.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { AliOssStore } from '../../src/transfer/ali-oss-store.js';
import type { CallOptions } from '../../src/transfer/store.js';
import type { CompletePart, InitiateRequest } from '../../src/transfer/multipart-store.js';
import type { ObjectLocation } from '../../src/transfer/store.js';

const CALLBACK = {
  url: 'http://app.example/callback?from=oss',
  host: 'app.example',
  body: 'bucket=${bucket}&object=${object}&size=${size}&owner=${x:owner}',
  contentType: 'application/x-www-form-urlencoded',
  customValue: { owner: 'alice', n: 7 },
};
const ANSWER = { Status: 'OK', from: 'callback server' };

describe('upload callbacks', () => {
  let raw: Server;
  let endpoint: string;
  const seen: IncomingHttpHeaders[] = [];
  let masterKey: RsaMasterKey;

  before(async () => {
    masterKey = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem });
    raw = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push(req.headers);
        const body = Buffer.from(JSON.stringify(ANSWER));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, etag: '"0123456789ABCDEF0123456789ABCDEF"', 'x-oss-request-id': '0123456789ABCDEF01234567' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(raw.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => raw.close(() => resolve()));
  });

  test('put: the same x-oss-callback and x-oss-callback-var as ali-oss sends, and the answer as data', async () => {
    const oss = new OSS({ endpoint, bucket: 'cb-bucket', accessKeyId: 'ak', accessKeySecret: 'sk' });
    seen.length = 0;
    const plain = (await oss.put('k', Buffer.from('hello'), { callback: CALLBACK })) as unknown as { data: unknown };
    const cse = await new EncryptionClient(oss, { masterKey }).put('k', Buffer.from('hello'), { callback: CALLBACK });
    assert.equal(seen.length, 2);
    const [a, b] = seen as [IncomingHttpHeaders, IncomingHttpHeaders];
    assert.ok(typeof a['x-oss-callback'] === 'string' && a['x-oss-callback'] !== '');
    assert.equal(b['x-oss-callback'], a['x-oss-callback']);
    assert.equal(b['x-oss-callback-var'], a['x-oss-callback-var']);
    const decoded = JSON.parse(Buffer.from(b['x-oss-callback'], 'base64').toString('utf8')) as Record<string, unknown>;
    assert.equal(decoded.callbackBody, CALLBACK.body);
    assert.equal(decoded.callbackHost, CALLBACK.host);
    assert.deepEqual(JSON.parse(Buffer.from(String(b['x-oss-callback-var']), 'base64').toString('utf8')), { 'x:owner': 'alice', 'x:n': '7' });
    assert.deepEqual(plain.data, ANSWER);
    assert.deepEqual(cse.data, ANSWER);
  });

  test('put: a callback without url or body is refused before sending', async () => {
    const oss = new OSS({ endpoint, bucket: 'cb-bucket', accessKeyId: 'ak', accessKeySecret: 'sk' });
    seen.length = 0;
    await assert.rejects(
      new EncryptionClient(oss, { masterKey }).put('k', Buffer.from('x'), { callback: { url: '', body: 'b' } }),
      { cseCode: ErrorCode.INVALID_ARGUMENT },
    );
    assert.equal(seen.length, 0);
  });

  describe('multipartUpload', () => {
    let server: RunningServer;
    before(async () => {
      server = await startServer({ memory: true, buckets: ['cb-multipart'], kms: false });
    });
    after(async () => {
      await server.close();
    });

    test('the callback headers go on Complete, not on Initiate', async () => {
      const oss = new OSS({ endpoint: server.endpoint, bucket: 'cb-multipart', ...server.credentials });
      const inner = new AliOssStore(oss);
      const initiated: Record<string, string>[] = [];
      const completed: Record<string, string>[] = [];
      const overrides: Record<string, unknown> = {
        initiateMultipartUpload: async (l: ObjectLocation, r: InitiateRequest, o?: CallOptions) => {
          initiated.push({ ...r.headers });
          return inner.initiateMultipartUpload(l, r, o);
        },
        completeMultipartUpload: async (l: ObjectLocation, id: string, parts: readonly CompletePart[], o?: CallOptions, h?: Readonly<Record<string, string>>) => {
          completed.push({ ...(h ?? {}) });
          return inner.completeMultipartUpload(l, id, parts, o, h);
        },
      };
      // Every other method runs on the real store (a Proxy: its private fields stay on `inner`).
      const recording = new Proxy(inner, {
        get: (target, prop) => {
          if (typeof prop === 'string' && prop in overrides) return overrides[prop];
          const value = Reflect.get(target, prop, target) as unknown;
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const client = EncryptionClient.fromStore(recording, { masterKey });
      const data = randomBytes(250 * 1024);
      await client.multipartUpload('mp.bin', data, { partSize: 100 * 1024, callback: CALLBACK });
      assert.equal(initiated.length, 1);
      assert.equal(Object.keys(initiated[0] ?? {}).some((h) => h.toLowerCase().startsWith('x-oss-callback')), false);
      assert.equal(completed.length, 1);
      assert.ok(typeof completed[0]?.['x-oss-callback'] === 'string');
      assert.ok(typeof completed[0]['x-oss-callback-var'] === 'string');
      assert.deepEqual((await client.get('mp.bin')).content, data);
    });
  });
});
