import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ctrXor } from '../../../src/cipher/aes-ctr.js';
import { WrapAlgorithm } from '../../../src/format/headers.js';
import { RsaMasterKey } from '../../../src/keys/rsa.js';
import { GO_KEYS, UPSTREAM_KEYS, readJson, readVector, v2FromHeaders } from './fixtures.js';

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const goKeys = {
  pkcs1: new RsaMasterKey({ privateKey: GO_KEYS.privatePkcs1 }),
  pkcs8: new RsaMasterKey({ privateKey: GO_KEYS.privatePkcs8 }),
};

interface PutCase {
  name: string;
  dir: string;
  headers: Record<string, string>;
  dataKeyHex: string;
  ivHex: string;
  plaintextFile: string | undefined;
  ciphertextFile: string | undefined;
}

function rsaCases(): PutCase[] {
  const out: PutCase[] = [];
  const go = readJson('go/vectors.json');
  for (const c of go.cases) {
    if (c.kind === 'put-object' && c.request_headers['x-oss-meta-client-side-encryption-wrap-alg'] === WrapAlgorithm.RSA_PKCS1) {
      out.push({ name: `go/${c.name}`, dir: 'go', headers: c.request_headers, dataKeyHex: c.data_key_hex, ivHex: c.iv_hex, plaintextFile: c.plaintext_file, ciphertextFile: c.ciphertext_file });
    }
    if (c.kind === 'multipart') {
      out.push({ name: `go/${c.name}`, dir: 'go', headers: c.stored_object_headers, dataKeyHex: c.data_key_hex, ivHex: c.iv_hex, plaintextFile: undefined, ciphertextFile: undefined });
    }
  }
  const oss2 = readJson('oss2/vectors.json');
  for (const c of oss2.cases) {
    if (c.kind === 'put-object') {
      out.push({ name: `oss2/${c.name}`, dir: 'oss2', headers: c.request_headers, dataKeyHex: c.data_key_hex, ivHex: c.iv_hex, plaintextFile: c.plaintext_file, ciphertextFile: c.ciphertext_file });
    }
  }
  return out;
}

test('every Go and oss2 RSA vector unwraps to data_key_hex / iv_hex with the PKCS#1 and the PKCS#8 key file', async () => {
  const cases = rsaCases();
  assert.ok(cases.filter((c) => c.dir === 'go').length >= 9, 'go cases');
  assert.ok(cases.filter((c) => c.dir === 'oss2').length >= 9, 'oss2 cases');
  for (const c of cases) {
    for (const [form, key] of Object.entries(goKeys)) {
      const m = await key.unwrap(v2FromHeaders(c.headers), { object: c.name });
      assert.ok(m !== null, `${c.name} ${form}`);
      assert.equal(hexOf(m.key), c.dataKeyHex, `${c.name} ${form} key`);
      assert.equal(hexOf(m.iv), c.ivHex, `${c.name} ${form} iv`);
    }
  }
});

test('the unwrapped material decrypts every Go and oss2 RSA object body to its plaintext', async () => {
  for (const c of rsaCases()) {
    if (c.ciphertextFile === undefined || c.plaintextFile === undefined) continue;
    const m = await goKeys.pkcs8.unwrap(v2FromHeaders(c.headers));
    assert.ok(m !== null);
    const cipher = readVector(`${c.dir}/${c.ciphertextFile}`);
    assert.deepEqual(ctrXor(m.key, m.iv, cipher), readVector(`${c.dir}/${c.plaintextFile}`), c.name);
  }
});

test('upstream C++ and oss2 objects (RSA-1024 key, both PEM forms) unwrap to the known prefixes and decrypt to src.jpg', async () => {
  const v = readJson('upstream/vectors.json');
  const expected: Record<string, { keyPrefix: string; iv: string }> = {
    'cpp-rsa': { keyPrefix: '3e76c9c1', iv: '8c3207b09a9bfa6600000000ac1992b4' },
    'python-rsa': { keyPrefix: '599c80c5', iv: '10706cb7468cd52e000000008771048a' },
  };
  const src = readVector('upstream/src.jpg');
  const keys = [
    new RsaMasterKey({ privateKey: UPSTREAM_KEYS.privatePkcs1 }),
    new RsaMasterKey({ privateKey: UPSTREAM_KEYS.privatePkcs8, publicKey: UPSTREAM_KEYS.publicPkix }),
  ];
  assert.equal(v.cases.length, 2);
  for (const c of v.cases) {
    const want = expected[c.name];
    assert.ok(want !== undefined, c.name);
    for (const key of keys) {
      assert.equal(key.bits, 1024);
      const m = await key.unwrap(v2FromHeaders(c.headers), { object: c.name });
      assert.ok(m !== null);
      assert.equal(m.key.length, 32);
      assert.ok(hexOf(m.key).startsWith(want.keyPrefix), c.name);
      assert.equal(hexOf(m.iv), want.iv);
      assert.deepEqual(ctrXor(m.key, m.iv, readVector(`upstream/${c.ciphertext_file}`)), src, c.name);
    }
  }
});

test('the fake-KMS Go vector is not for an RSA key: unwrap returns null', async () => {
  const go = readJson('go/vectors.json');
  const c = go.cases.find((x: any) => x.name === 'put-17-fakekms');
  const env = v2FromHeaders(c.request_headers);
  assert.equal(env.scheme, 'kms');
  assert.equal(await goKeys.pkcs1.unwrap(env), null);
});

test('the RSA-2048 vector key unwraps nothing of the RSA-1024 upstream objects: UNWRAP_FAILED, never garbage', async () => {
  const v = readJson('upstream/vectors.json');
  for (const c of v.cases) {
    await assert.rejects(goKeys.pkcs1.unwrap(v2FromHeaders(c.headers), { object: c.name }), {
      code: 'ERR_CSE_UNWRAP_FAILED',
    });
  }
});
