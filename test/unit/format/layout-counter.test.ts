import { test } from 'node:test';
import assert from 'node:assert/strict';
import { counterAt } from '../../../src/format/layout.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

test('counterAt adds offset/16 with full 128-bit carry, matching the Go vectors iv table', () => {
  // vectors/go `iv` case: IV …00000000fffffff0 at offset 4096 gives …00000001000000f0 in every peer's arithmetic.
  const { counter, skip } = counterAt(hex('0102030405060708' + '00000000fffffff0'), 4096);
  assert.equal(Buffer.from(counter).toString('hex'), '0102030405060708' + '00000001000000f0');
  assert.equal(skip, 0);
});

test('counterAt carries into byte 7 and wraps at 2^128 (where Go and Java differ)', () => {
  assert.equal(
    Buffer.from(counterAt(hex('00000000000000ffffffffffffffffff'), 16).counter).toString('hex'),
    '00000000000001000000000000000000',
  );
  assert.equal(Buffer.from(counterAt(hex('ff'.repeat(16)), 32).counter).toString('hex'), '00'.repeat(15) + '01');
});

test('counterAt reports the in-block skip for unaligned offsets', () => {
  const iv = hex('00'.repeat(16));
  for (const [offset, block, skip] of [[0, 0, 0], [1, 0, 1], [15, 0, 15], [16, 1, 0], [17, 1, 1], [4097, 256, 1]] as const) {
    const r = counterAt(iv, offset);
    assert.equal(r.skip, skip);
    assert.equal(Buffer.from(r.counter).readUInt32BE(12), block);
  }
});

test('counterAt refuses a short IV and a negative or fractional offset', () => {
  assert.throws(() => counterAt(new Uint8Array(15), 0), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => counterAt(new Uint8Array(16), -1), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => counterAt(new Uint8Array(16), 1.5), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});
