import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { createCtrCipher, ctrXor } from '../../../src/cipher/aes-ctr.js';
import { aesBlock, chunkBy, hex, referenceCtr } from './reference-ctr.js';

const RUNS = process.env.SLOW ? 1000 : 10;
const vectors = new URL('../../vectors/', import.meta.url);

// NIST SP 800-38A, Appendix F.5.5 (CTR-AES256.Encrypt) and F.5.6 (CTR-AES256.Decrypt).
const NIST_KEY = hex('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4');
const NIST_COUNTER = hex('f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
const NIST_PLAIN = hex(
  '6bc1bee22e409f96e93d7e117393172a' +
    'ae2d8a571e03ac9c9eb76fac45af8e51' +
    '30c81c46a35ce411e5fbc1191a0a52ef' +
    'f69f2445df4f9b17ad2b417be66c3710',
);
const NIST_CIPHER = hex(
  '601ec313775789a5b7a7f504bbf3d228' +
    'f443e3ca4d62b59aca84e990cacaf5c5' +
    '2b0930daa23de94ce87017ba2d84988d' +
    'dfc9c58db67aada613c2dd08457941a6',
);

test('NIST SP 800-38A F.5.5 CTR-AES256.Encrypt known answer', () => {
  assert.deepEqual(ctrXor(NIST_KEY, NIST_COUNTER, NIST_PLAIN), NIST_CIPHER);
});

test('NIST SP 800-38A F.5.6 CTR-AES256.Decrypt known answer', () => {
  assert.deepEqual(ctrXor(NIST_KEY, NIST_COUNTER, NIST_CIPHER), NIST_PLAIN);
});

test('the NIST stream entered at every byte offset 0..63 gives the matching slice (encrypt and decrypt)', () => {
  for (let offset = 0; offset <= 64; offset++) {
    assert.deepEqual(createCtrCipher(NIST_KEY, NIST_COUNTER, offset).update(NIST_PLAIN.subarray(offset)), NIST_CIPHER.subarray(offset), `encrypt @${offset}`);
    assert.deepEqual(ctrXor(NIST_KEY, NIST_COUNTER, NIST_CIPHER.subarray(offset), offset), NIST_PLAIN.subarray(offset), `decrypt @${offset}`);
  }
});

// IVs whose low bytes carry: SDK-shaped, 32-bit carry into byte 11 (the put-1048579 vector shape), 64-bit carry into
// byte 7 (where Go's SeekIV differs), and all ones (wraps to zero mod 2^128).
const CARRY_IVS = [
  hex('0123456789abcdef0000000012345678'),
  hex('0123456789abcdef00000000fffffff0'),
  hex('0123456789abcdefffffffffffffffff'),
  hex('ff'.repeat(16)),
  hex('ffffffffffffffffffffffffffffff00'),
];
const BOUNDARIES = [127, 128, 129, 255, 256, 257, 4095, 4096, 4097, 65535, 65536, 65537, 262143, 262144, 262145];

test('createCtrCipher at every offset 0..100 and at block/part boundaries equals the slice of one stream from 0', () => {
  const key = randomBytes(32);
  const total = 262145 + 64;
  const data = randomBytes(total);
  for (const iv of CARRY_IVS) {
    const whole = ctrXor(key, iv, data);
    // The one-shot stream itself agrees with the naive reference around the carries.
    assert.deepEqual(whole.subarray(0, 1024), referenceCtr(key, iv, data.subarray(0, 1024)));
    const offsets = [...Array.from({ length: 101 }, (_, i) => i), ...BOUNDARIES];
    for (const offset of offsets) {
      const end = Math.min(total, offset + 48);
      const got = createCtrCipher(key, iv, offset).update(data.subarray(offset, end));
      assert.deepEqual(got, whole.subarray(offset, end), `iv ${iv.toString('hex')} offset ${offset}`);
    }
  }
});

test('seeking far beyond the object (2^36 and 2^52 bytes) matches the naive 128-bit counter', () => {
  const key = randomBytes(32);
  const data = randomBytes(40);
  for (const iv of CARRY_IVS) {
    for (const offset of [2 ** 36, 2 ** 36 + 7, 2 ** 52 + 3, Number.MAX_SAFE_INTEGER - 40]) {
      assert.deepEqual(ctrXor(key, iv, data, offset), referenceCtr(key, iv, data, offset), `offset ${offset}`);
    }
  }
});

test('keystream at each oss2 iv-arithmetic row is AES(key, counter_block_hex); where oss2 refuses to seek past 2^128 we wrap', () => {
  const v = JSON.parse(readFileSync(new URL('oss2/vectors.json', vectors), 'utf8'));
  const c = v.cases.find((x: any) => x.kind === 'iv');
  const key = hex(c.data_key_hex);
  assert.ok(c.results.length >= 10);
  let checked = 0;
  for (const row of c.results) {
    const ks = createCtrCipher(key, hex(row.iv_hex), row.offset).update(new Uint8Array(16));
    if (row.counter_block_hex === undefined) {
      // oss2 raises "Initial value takes 129 bits" here; streaming wraps mod 2^128 (streaming_wraps_mod_2_128), and
      // so does our seek, which keeps seek == slice of the stream.
      assert.equal(c.streaming_wraps_mod_2_128, true);
      assert.deepEqual(ks, referenceCtr(key, hex(row.iv_hex), new Uint8Array(16), row.offset));
      continue;
    }
    assert.deepEqual(ks, aesBlock(key, hex(row.counter_block_hex)), `${row.iv_hex} @${row.offset}`);
    checked++;
  }
  assert.ok(checked >= 10);
});

test('Go SDK put-1048579 ciphertext (IV low word fffffff0, carries into byte 11) decrypts, whole and from offsets', () => {
  const v = JSON.parse(readFileSync(new URL('go/vectors.json', vectors), 'utf8'));
  const c = v.cases.find((x: any) => x.name === 'put-1048579');
  const plain = readFileSync(new URL(`go/${c.plaintext_file}`, vectors));
  const cipher = readFileSync(new URL(`go/${c.ciphertext_file}`, vectors));
  const key = hex(c.data_key_hex);
  const iv = hex(c.iv_hex);
  assert.deepEqual(ctrXor(key, iv, plain), cipher);
  for (const offset of [1, 15, 16, 17, 255, 256, 257, 262144, 1048570, 1048578]) {
    assert.deepEqual(ctrXor(key, iv, cipher.subarray(offset, offset + 300), offset), plain.subarray(offset, offset + 300));
  }
});

test('property: any chunking at any offset equals the naive reference; seek equals slice', () => {
  const ivArb = fc.oneof(
    fc.uint8Array({ minLength: 16, maxLength: 16 }),
    fc.constantFrom(...CARRY_IVS.map((b) => new Uint8Array(b))),
  );
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      ivArb,
      fc.uint8Array({ minLength: 0, maxLength: 300 }),
      fc.oneof(fc.nat(200), fc.nat({ max: 2 ** 40 })),
      fc.array(fc.nat(40), { minLength: 1, maxLength: 8 }),
      (key, iv, data, offset, sizes) => {
        const c = createCtrCipher(key, iv, offset);
        const out = Buffer.concat(chunkBy(data, sizes).map((chunk) => c.update(chunk)));
        assert.deepEqual(out, referenceCtr(key, iv, data, offset));
        if (offset <= 200) {
          const prefix = new Uint8Array(offset + data.length);
          prefix.set(data, offset);
          assert.deepEqual(out, ctrXor(key, iv, prefix).subarray(offset));
        }
      },
    ),
    { numRuns: RUNS },
  );
});

test('update returns one buffer of the input length, including for empty chunks', () => {
  const c = createCtrCipher(randomBytes(32), randomBytes(16), 5);
  assert.equal(c.update(new Uint8Array(0)).length, 0);
  assert.equal(c.update(new Uint8Array(33)).length, 33);
  assert.ok(Buffer.isBuffer(c.update(new Uint8Array(1))));
});

test('refuses 16- and 24-byte (and other non-32-byte) keys with ERR_CSE_INVALID_KEY', () => {
  for (const n of [0, 16, 24, 31, 33, 64]) {
    assert.throws(() => createCtrCipher(new Uint8Array(n), new Uint8Array(16)), { code: 'ERR_CSE_INVALID_KEY' }, `${n}`);
    assert.throws(() => ctrXor(new Uint8Array(n), new Uint8Array(16), new Uint8Array(1)), { code: 'ERR_CSE_INVALID_KEY' });
  }
  assert.throws(() => createCtrCipher('k'.repeat(32) as any, new Uint8Array(16)), { code: 'ERR_CSE_INVALID_KEY' });
});

test('refuses IVs that are not 16 bytes with ERR_CSE_INVALID_ARGUMENT', () => {
  for (const n of [0, 8, 12, 15, 17, 32]) {
    assert.throws(() => createCtrCipher(new Uint8Array(32), new Uint8Array(n)), { code: 'ERR_CSE_INVALID_ARGUMENT' }, `${n}`);
  }
});

test('refuses negative, fractional, non-finite and unsafe offsets with ERR_CSE_INVALID_ARGUMENT', () => {
  for (const offset of [-1, -16, 1.5, Number.NaN, Infinity, 2 ** 53]) {
    assert.throws(() => createCtrCipher(new Uint8Array(32), new Uint8Array(16), offset), { code: 'ERR_CSE_INVALID_ARGUMENT' }, `${offset}`);
  }
});

test('refuses a string (or any non-bytes) chunk instead of UTF-8 encoding it', () => {
  const c = createCtrCipher(new Uint8Array(32), new Uint8Array(16));
  for (const bad of ['abc', 42, null, undefined, [1, 2], new ArrayBuffer(4)]) {
    assert.throws(() => c.update(bad as any), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  }
  // Buffer is a Uint8Array subclass: bytes, accepted.
  assert.equal(c.update(Buffer.from('abc')).length, 3);
});
