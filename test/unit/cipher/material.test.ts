import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomContentMaterial, zeroMaterial } from '../../../src/cipher/material.js';

test('randomContentMaterial has the SDK shape: 32-byte key with key[0] != 0, 16-byte IV with bytes 8..11 zero', () => {
  // 3000 draws: about 12 of them hit key[0] === 0 first and must have been redrawn.
  for (let i = 0; i < 3000; i++) {
    const m = randomContentMaterial();
    assert.equal(m.key.length, 32);
    assert.equal(m.iv.length, 16);
    assert.notEqual(m.key[0], 0);
    assert.deepEqual([...m.iv.subarray(8, 12)], [0, 0, 0, 0]);
  }
});

test('randomContentMaterial gives distinct keys and IVs that are not mostly zero', () => {
  const keys = new Set<string>();
  const ivs = new Set<string>();
  let ivRandomBytesZero = 0;
  for (let i = 0; i < 500; i++) {
    const m = randomContentMaterial();
    keys.add(Buffer.from(m.key).toString('hex'));
    ivs.add(Buffer.from(m.iv).toString('hex'));
    for (const j of [0, 1, 2, 3, 4, 5, 6, 7, 12, 13, 14, 15]) if (m.iv[j] === 0) ivRandomBytesZero++;
  }
  assert.equal(keys.size, 500);
  assert.equal(ivs.size, 500);
  // 6000 random bytes: about 23 zeros expected; far more would mean the random part is not random.
  assert.ok(ivRandomBytesZero < 100, `${ivRandomBytesZero} zero bytes`);
});

test('randomContentMaterial returns plain Uint8Arrays that own their memory (so zeroing reaches every byte)', () => {
  const m = randomContentMaterial();
  assert.equal(m.key.byteOffset, 0);
  assert.equal(m.key.buffer.byteLength, 32);
  assert.equal(m.iv.buffer.byteLength, 16);
});

test('zeroMaterial fills key and IV with zeros', () => {
  const m = randomContentMaterial();
  zeroMaterial(m);
  assert.ok(m.key.every((b) => b === 0));
  assert.ok(m.iv.every((b) => b === 0));
});
