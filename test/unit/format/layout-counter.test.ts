import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
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

/** The plain-BigInt statement of the counter rule, kept as the reference the limb arithmetic must equal. */
function referenceCounter(iv: Uint8Array, offset: number): string {
  let value = 0n;
  for (const byte of iv) value = (value << 8n) | BigInt(byte);
  value = (value + BigInt(Math.floor(offset / 16))) % (1n << 128n);
  return value.toString(16).padStart(32, '0');
}

test('counterAt equals 128-bit BigInt addition with wrap for any IV and offset', () => {
  // IVs biased toward all-ones limbs so that every carry path (and the 2^128 wrap) is exercised, not only random bytes.
  const limb = fc.oneof(fc.constant(0xffffffff), fc.constant(0xfffffffe), fc.constant(0), fc.nat({ max: 0xffffffff }));
  const ivArb = fc.tuple(limb, limb, limb, limb).map(([a, b, c, d]) => {
    const iv = Buffer.alloc(16);
    iv.writeUInt32BE(a, 0);
    iv.writeUInt32BE(b, 4);
    iv.writeUInt32BE(c, 8);
    iv.writeUInt32BE(d, 12);
    return Uint8Array.from(iv);
  });
  const offsetArb = fc.oneof(fc.nat({ max: 1 << 20 }), fc.maxSafeNat(), fc.constant(Number.MAX_SAFE_INTEGER));
  fc.assert(
    fc.property(ivArb, offsetArb, fc.nat({ max: 8 }), (iv, offset, shift) => {
      // A view at a non-zero byteOffset too: the limbs must be read from the view, not the start of its buffer.
      const backing = new Uint8Array(16 + shift);
      backing.set(iv, shift);
      const view = backing.subarray(shift, shift + 16);
      const r = counterAt(view, offset);
      assert.equal(Buffer.from(r.counter).toString('hex'), referenceCounter(iv, offset));
      assert.equal(r.skip, offset % 16);
    }),
    { numRuns: process.env.SLOW ? 10_000 : 300 },
  );
});
