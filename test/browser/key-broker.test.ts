// createKeyBroker, the Node half of KeyBrokerMasterKey, driven over real HTTP: the JSON protocol (docs/browser.md),
// authorize before any key use, bounded bodies, and errors that never reveal key material.
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createKeyBroker, generateRsaKeyPair, openEnvelope, RsaMasterKey, sealEnvelope, type Envelope, type KeyBrokerRequest, type MasterKey } from '../../src/index.js';
import { vectorKeys } from '../helpers/vectors.js';

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: any;
}

async function post(url: string, body: string | Buffer, headers: Record<string, string> = { 'Content-Type': 'application/json' }, method = 'POST'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('createKeyBroker (node:http handler)', () => {
  const key = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { app: 'web' } });
  const calls: { request: Omit<KeyBrokerRequest, 'http'>; envelope: Envelope }[] = [];
  let unwraps = 0;
  // Counts unwraps, to show authorize runs before any key is used.
  const counting: MasterKey = {
    kind: key.kind,
    name: key.name,
    description: key.description,
    canUnwrap: true,
    wrap: async (m) => key.wrap(m),
    unwrap: async (e, c) => {
      unwraps++;
      return key.unwrap(e, c);
    },
  };
  const logged: string[] = [];
  let server: http.Server;
  let url: string;

  before(async () => {
    const broker = createKeyBroker({
      masterKey: counting,
      maxBodyBytes: 8192,
      log: (line) => logged.push(line),
      authorize: (request, envelope) => {
        calls.push({ request: { operation: request.operation, object: request.object }, envelope });
        if (request.object === 'throws') throw new Error('session store down');
        return request.http.headers['x-user'] === 'alice' && !request.object.startsWith('private/');
      },
    });
    server = http.createServer(broker);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => {
    server.close();
  });

  const alice = { 'Content-Type': 'application/json', 'x-user': 'alice' };

  it('wrap returns a fresh 32-byte key and 16-byte IV whose wrapped forms open to the same values; nothing cached', async () => {
    const r = await post(url, JSON.stringify({ op: 'wrap', object: 'a/b.txt' }), alice);
    assert.equal(r.status, 200);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.equal(Buffer.from(r.body.key, 'base64').length, 32);
    assert.equal(Buffer.from(r.body.iv, 'base64').length, 16);
    assert.equal(r.body.wrapAlgorithm, 'RSA/NONE/PKCS1Padding');
    assert.deepEqual(r.body.matdesc, { app: 'web' });
    const opened = await openEnvelope(
      {
        'x-oss-meta-client-side-encryption-key': r.body.wrappedKey,
        'x-oss-meta-client-side-encryption-start': r.body.wrappedStart,
        'x-oss-meta-client-side-encryption-cek-alg': 'AES/CTR/NoPadding',
        'x-oss-meta-client-side-encryption-wrap-alg': r.body.wrapAlgorithm,
      },
      { masterKeys: [key] },
    );
    assert.equal(Buffer.from(opened.material.key).toString('base64'), r.body.key);
    assert.equal(Buffer.from(opened.material.iv).toString('base64'), r.body.iv);
    assert.deepEqual(calls.at(-1)?.request, { operation: 'wrap', object: 'a/b.txt' });
    const again = await post(url, JSON.stringify({ op: 'wrap', object: 'a/b.txt' }), alice);
    assert.notEqual(again.body.key, r.body.key);
  });

  it('unwrap returns the material of an envelope; authorize sees the parsed envelope', async () => {
    const sealed = await sealEnvelope({ masterKey: key });
    const r = await post(url, JSON.stringify({ op: 'unwrap', object: 'x', headers: sealed.headers }), alice);
    assert.equal(r.status, 200);
    assert.equal(r.body.key, Buffer.from(sealed.material.key).toString('base64'));
    assert.equal(r.body.iv, Buffer.from(sealed.material.iv).toString('base64'));
    assert.equal(calls.at(-1)?.envelope.wrappedKey, sealed.envelope.wrappedKey);
  });

  it('a refusal is 403 ERR_CSE_KEY_BROKER_REFUSED and no key is used; a throwing authorize refuses too and is logged', async () => {
    const sealed = await sealEnvelope({ masterKey: key });
    const before = unwraps;
    for (const [object, headers] of [['private/x', alice], ['x', { 'Content-Type': 'application/json', 'x-user': 'bob' }], ['throws', alice]] as const) {
      const r = await post(url, JSON.stringify({ op: 'unwrap', object, headers: sealed.headers }), headers);
      assert.equal(r.status, 403, object);
      assert.equal(r.body.error.code, 'ERR_CSE_KEY_BROKER_REFUSED');
    }
    assert.equal(unwraps, before);
    assert.ok(logged.some((l) => l.includes('session store down')));
  });

  it('an envelope of another key is 422 ERR_CSE_NO_MATCHING_KEY (the page treats it as "not mine")', async () => {
    const other = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem });
    const sealed = await sealEnvelope({ masterKey: other });
    const r = await post(url, JSON.stringify({ op: 'unwrap', object: 'x', headers: sealed.headers }), alice);
    assert.equal(r.status, 422);
    assert.equal(r.body.error.code, 'ERR_CSE_NO_MATCHING_KEY');
  });

  it('refuses what is not the protocol: GET, other content types, bad JSON, missing fields, malformed envelopes', async () => {
    assert.equal((await post(url, '', alice, 'GET')).status, 405);
    assert.equal((await post(url, '{}', { 'Content-Type': 'text/plain' })).status, 415);
    assert.equal((await post(url, '{', alice)).status, 400);
    assert.equal((await post(url, '[]', alice)).status, 400);
    assert.equal((await post(url, JSON.stringify({ op: 'wrap' }), alice)).status, 400);
    assert.equal((await post(url, JSON.stringify({ op: 'delete', object: 'x' }), alice)).status, 400);
    assert.equal((await post(url, JSON.stringify({ op: 'wrap', object: 'x'.repeat(1024) }), alice)).status, 400);
    assert.equal((await post(url, JSON.stringify({ op: 'unwrap', object: 'x', headers: { a: 1 } }), alice)).status, 400);
    const bad = await post(url, JSON.stringify({ op: 'unwrap', object: 'x', headers: { 'x-oss-meta-client-side-encryption-key': '!!' } }), alice);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.code, /^ERR_CSE_ENVELOPE_/);
  });

  it('bounds the body: a declared or streamed body over maxBodyBytes is 413', async () => {
    const big = JSON.stringify({ op: 'wrap', object: 'x', pad: 'y'.repeat(9000) });
    assert.equal((await post(url, big, alice)).status, 413);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = http.request(url, { method: 'POST', headers: { ...alice, 'Transfer-Encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('y'.repeat(1000));
      req.end();
    });
    assert.equal(chunked, 413);
  });

  it('needs an authorize function and a master key', () => {
    assert.throws(() => createKeyBroker({ masterKey: key } as never), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    assert.throws(() => createKeyBroker({ authorize: () => true } as never), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  });
});
