// The offline API (encryptObject / decryptObject / sealEnvelope / openEnvelope) and the key ring behind it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { V2Header, V1Header } from '../../src/format/headers.js';
import { KeyRing } from '../../src/keys/key-ring.js';
import type { MasterKey } from '../../src/keys/master-key.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { decryptObject, encryptObject, openEnvelope, sealEnvelope } from '../../src/object-crypto.js';
import { chunked, collect, vectorKeys } from '../helpers/vectors.js';

const RUNS = process.env.SLOW ? 500 : 10;
const keyA = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { owner: 'a' } });
const keyB = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem, description: { owner: 'b' } });
const keyC = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem });

function counting(key: MasterKey): MasterKey & { calls: number } {
  const wrapper = {
    kind: key.kind,
    name: key.name,
    description: key.description,
    calls: 0,
    wrap: (m: Parameters<MasterKey['wrap']>[0]) => key.wrap(m),
    unwrap: (e: Parameters<MasterKey['unwrap']>[0], c?: Parameters<MasterKey['unwrap']>[1]) => {
      wrapper.calls++;
      return key.unwrap(e, c);
    },
  };
  return wrapper;
}

test('decrypt∘encrypt = id for any bytes, any chunking, bytes or stream (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 700 }), async (data, chunk) => {
      const once = await encryptObject(data, { masterKey: keyA });
      assert.equal(once.body.length, data.length);
      const back = await decryptObject({ headers: once.headers, body: once.body }, { masterKeys: [keyA] });
      assert.ok(back.equals(data));
      const streamed = await encryptObject(chunked(data, chunk), { masterKey: keyA });
      const ct = await collect(streamed.body);
      const back2 = await decryptObject({ headers: streamed.headers, body: chunked(ct, chunk) }, { masterKeys: [keyA] });
      assert.ok((await collect(back2)).equals(Buffer.from(data)));
    }),
    { numRuns: RUNS },
  );
});

test('ranged decrypt = slice of the plaintext for any offset and length (property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 3000 }), fc.nat(), fc.nat(), async (data, a, b) => {
      const start = a % data.length;
      const end = start + (b % (data.length - start + 1));
      const { headers, body } = await encryptObject(data, { masterKey: keyA });
      const out = await decryptObject(
        { headers, body: body.subarray(start, end), offset: start },
        { masterKeys: [keyA], verifyIntegrity: false },
      );
      assert.ok(out.equals(Buffer.from(data.subarray(start, end))));
    }),
    { numRuns: RUNS },
  );
});

test('the key whose description equals the object matdesc is found by lookup: exactly one unwrap', async () => {
  const { headers, body } = await encryptObject(Buffer.from('hello'), { masterKey: keyB });
  assert.equal(headers[V2Header.MATDESC], '{"owner":"b"}');
  const a = counting(keyA);
  const c = counting(keyC);
  const b = counting(keyB);
  for (const policy of ['fallback', 'strict'] as const) {
    b.calls = 0;
    const out = await decryptObject({ headers, body }, { masterKeys: [a, c, b], policy });
    assert.equal(out.toString(), 'hello');
    assert.equal(b.calls, 1);
    assert.equal(a.calls + c.calls, 0);
  }
});

test('fallback tries every key of the right kind in order and lists every reason when none works', async () => {
  const { headers, body } = await encryptObject(Buffer.from('x'), { masterKey: keyB });
  const a = counting(keyA);
  const c = counting(keyC);
  await assert.rejects(decryptObject({ headers, body }, { masterKeys: [a, c] }), (e: any) => {
    assert.equal(e.code, 'ERR_CSE_NO_MATCHING_KEY');
    assert.equal(e.objectDescription, '{"owner":"b"}');
    assert.equal(e.attempts.length, 2);
    assert.match(e.message, new RegExp(keyA.name));
    assert.match(e.message, new RegExp(keyC.name));
    assert.match(e.message, /\{"owner":"a"\}/);
    return true;
  });
  assert.equal(a.calls, 1);
  assert.equal(c.calls, 1);
  // A description mismatch with the right key still decrypts under fallback (Java / Go v2 behaviour).
  const relabelled = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { other: 'label' } });
  const enc = await encryptObject(Buffer.from('y'), { masterKey: keyA });
  assert.equal((await decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: [relabelled] })).toString(), 'y');
});

test('strict: no matching description → NoMatchingKey at once, no key tried', async () => {
  const { headers, body } = await encryptObject(Buffer.from('x'), { masterKey: keyA });
  const relabelled = counting(new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { other: 'label' } }));
  await assert.rejects(
    decryptObject({ headers, body }, { masterKeys: new KeyRing([relabelled], { policy: 'strict' }) }),
    (e: any) => e.code === 'ERR_CSE_NO_MATCHING_KEY' && /strict/.test(e.message),
  );
  assert.equal(relabelled.calls, 0);
});

test('a missing matdesc equals {}: a key without description matches an object without matdesc', async () => {
  const { headers } = await encryptObject(Buffer.from('x'), { masterKey: keyC });
  assert.equal(headers[V2Header.MATDESC], undefined);
  const c = counting(keyC);
  const a = counting(keyA);
  await openEnvelope(headers, { masterKeys: [a, c], policy: 'strict' });
  assert.equal(c.calls, 1);
  assert.equal(a.calls, 0);
});

test('the writer\'s declared length and MD5 are verified on whole reads; tampering is an integrity error', async () => {
  const data = randomBytes(1000);
  const md5 = createHash('md5').update(data).digest('base64');
  const { headers, body } = await encryptObject(data, { masterKey: keyA, unencryptedContentMd5: md5, unencryptedContentLength: 1000 });
  assert.equal(headers[V2Header.UNENCRYPTED_CONTENT_MD5], md5);
  const tampered = Buffer.from(body);
  tampered[500]! ^= 1;
  await assert.rejects(decryptObject({ headers, body: tampered }, { masterKeys: [keyA] }), {
    code: 'ERR_CSE_INTEGRITY',
    header: V2Header.UNENCRYPTED_CONTENT_MD5,
  });
  const truncated = await decryptObject({ headers, body: chunked(body.subarray(0, 999), 100) }, { masterKeys: [keyA] });
  await assert.rejects(collect(truncated), { code: 'ERR_CSE_INTEGRITY', header: V2Header.UNENCRYPTED_CONTENT_LENGTH });
  // Not verified when the caller says the body is partial, nor when the declared value is not an MD5.
  assert.equal((await decryptObject({ headers, body: tampered }, { masterKeys: [keyA], verifyIntegrity: false })).length, 1000);
  const odd = { ...headers, [V2Header.UNENCRYPTED_CONTENT_MD5]: '1234' };
  assert.ok((await decryptObject({ headers: odd, body }, { masterKeys: [keyA] })).equals(data));
});

test('legacy envelopes are refused without allowLegacy, with a message that says how to allow them', async () => {
  const v1 = {
    [V1Header.KEY]: Buffer.alloc(256, 1).toString('base64'),
    [V1Header.START]: Buffer.alloc(256, 2).toString('base64'),
    [V1Header.WRAP_ALG]: 'rsa',
  };
  await assert.rejects(decryptObject({ headers: v1, body: Buffer.alloc(3) }, { masterKeys: [keyA], object: 'k' }), (e: any) => {
    assert.equal(e.code, 'ERR_CSE_LEGACY_NOT_ALLOWED');
    assert.match(e.message, /allowLegacy/);
    assert.equal(e.object, 'k');
    return true;
  });
  // With allowLegacy the gate opens and the key layer answers (these wrapped values are not real OAEP).
  await assert.rejects(decryptObject({ headers: v1, body: Buffer.alloc(3) }, { masterKeys: [keyA], allowLegacy: true }), {
    code: 'ERR_CSE_NO_MATCHING_KEY',
  });
});

test('a KMS envelope given only RSA keys lists them as unable, and unencrypted objects are typed', async () => {
  const sealed = await sealEnvelope({ masterKey: keyA });
  const kms = { ...sealed.headers, [V2Header.WRAP_ALG]: 'KMS/ALICLOUD' };
  await assert.rejects(openEnvelope(kms, { masterKeys: [keyA] }), (e: any) => {
    assert.equal(e.code, 'ERR_CSE_NO_MATCHING_KEY');
    assert.match(e.message, /rsa key cannot unwrap a kms envelope/);
    return true;
  });
  await assert.rejects(decryptObject({ headers: { 'content-type': 'x' }, body: Buffer.alloc(1) }, { masterKeys: [keyA] }), {
    code: 'ERR_CSE_NOT_ENCRYPTED',
  });
});

test('bad arguments are typed errors: offset, body type, sizes, empty key list', async () => {
  const { headers, body } = await encryptObject(Buffer.from('x'), { masterKey: keyA });
  for (const offset of [-1, 1.5, Number.NaN]) {
    await assert.rejects(decryptObject({ headers, body, offset }, { masterKeys: [keyA] }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  }
  await assert.rejects(decryptObject({ headers, body: 'text' as any }, { masterKeys: [keyA] }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  await assert.rejects(encryptObject('text' as any, { masterKey: keyA }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  await assert.rejects(encryptObject(Buffer.from('x'), { masterKey: keyA, unencryptedContentLength: -1 }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  await assert.rejects(decryptObject({ headers, body }, { masterKeys: [] }), { code: 'ERR_CSE_NO_MATCHING_KEY' });
  const notBytes = (async function* () { yield 'str' as unknown as Uint8Array; })();
  const out = await decryptObject({ headers, body: notBytes }, { masterKeys: [keyA] });
  await assert.rejects(collect(out), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});

test('sealEnvelope writes multipart sizes and fresh material for every object', async () => {
  const a = await sealEnvelope({ masterKey: keyA, dataSize: 1_000_000, partSize: 102_400 });
  const b = await sealEnvelope({ masterKey: keyA });
  assert.equal(a.headers[V2Header.DATA_SIZE], '1000000');
  assert.equal(a.headers[V2Header.PART_SIZE], '102400');
  assert.notDeepEqual(a.material.key, b.material.key);
  assert.notDeepEqual(a.material.iv, b.material.iv);
});

test('plaintextLength is enforced: a Uint8Array of another length is refused before anything is sealed', async () => {
  let seals = 0;
  const key: MasterKey = {
    kind: keyA.kind,
    name: keyA.name,
    description: keyA.description,
    wrap: (m) => {
      seals++;
      return keyA.wrap(m);
    },
    unwrap: (e, c) => keyA.unwrap(e, c),
  };
  for (const plaintextLength of [9, 11, 0]) {
    await assert.rejects(
      encryptObject(randomBytes(10), { masterKey: key, plaintextLength }),
      (e: any) => e.code === 'ERR_CSE_INVALID_ARGUMENT' && /plaintextLength/.test(e.message),
    );
  }
  assert.equal(seals, 0, 'no material sealed for a refused body');
  const ok = await encryptObject(randomBytes(10), { masterKey: key, plaintextLength: 10 });
  assert.equal(ok.body.length, 10);
  assert.equal(seals, 1);
});

test('plaintextLength is enforced on streams: no ciphertext past it is emitted, and a short stream throws at its end', async () => {
  const data = randomBytes(1000);
  // Longer than declared: throws before emitting a byte past the declared length.
  const long = await encryptObject(chunked(data, 300), { masterKey: keyA, plaintextLength: 700 });
  let emitted = 0;
  await assert.rejects(
    (async () => {
      for await (const c of long.body) emitted += c.length;
    })(),
    (e: any) => e.code === 'ERR_CSE_INVALID_ARGUMENT' && /longer/.test(e.message),
  );
  assert.ok(emitted <= 700, `emitted ${emitted} bytes past the declared 700`);
  // Shorter than declared: throws once the source ends.
  const short = await encryptObject(chunked(data, 300), { masterKey: keyA, plaintextLength: 1001 });
  await assert.rejects(collect(short.body), (e: any) => e.code === 'ERR_CSE_INVALID_ARGUMENT' && /ended after 1000/.test(e.message));
  // Exact: round trip.
  const exact = await encryptObject(chunked(data, 300), { masterKey: keyA, plaintextLength: 1000 });
  const back = await decryptObject({ headers: exact.headers, body: await collect(exact.body) }, { masterKeys: [keyA] });
  assert.ok(back.equals(data));
});
