// CRC-64/ECMA-182 as OSS computes it: the check value, agreement with a bit-at-a-time reference on random data
// split at random (unaligned) points, the combine rule multipart needs, and the header parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Crc64, crc64, crc64Combine, parseCrc64Header } from '../../src/transfer/crc64.js';

const RUNS = process.env.SLOW ? 500 : 50;

/** Bit-at-a-time reference: reflected, poly 0xC96C5795D7870F42, init and xorout all ones. */
function reference(data: Uint8Array): bigint {
  const poly = 0xc96c5795d7870f42n;
  let crc = 0xffffffffffffffffn;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let i = 0; i < 8; i++) crc = (crc & 1n) === 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ 0xffffffffffffffffn;
}

test('check value: CRC-64 of "123456789" is 0x995DC9BBDF1939FA', () => {
  assert.equal(crc64(Buffer.from('123456789')), 0x995dc9bbdf1939fan);
  assert.equal(new Crc64().update(Buffer.from('123456789')).toString(), 0x995dc9bbdf1939fan.toString());
  assert.equal(crc64(new Uint8Array(0)), 0n);
});

test('equals the bit-at-a-time reference for random data, chunked at random unaligned points', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat({ max: 300 }), { maxLength: 6 }), fc.nat({ max: 7 }), (data, cuts, shift) => {
      // Copy into a buffer at an odd offset so that the word-reading path sees unaligned starts.
      const backing = new Uint8Array(data.length + 8);
      backing.set(data, shift);
      const view = backing.subarray(shift, shift + data.length);
      const hasher = new Crc64();
      let at = 0;
      for (const cut of [...cuts].sort((a, b) => a - b)) {
        const end = Math.min(cut, view.length);
        if (end < at) continue;
        hasher.update(view.subarray(at, end));
        at = end;
      }
      hasher.update(view.subarray(at));
      assert.equal(hasher.digest(), reference(data));
      assert.equal(hasher.length, data.length);
    }),
    { numRuns: RUNS },
  );
});

test('crc64Combine(crc(A), crc(B), |B|) = crc(A‖B)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2000 }), fc.uint8Array({ maxLength: 2000 }), (a, b) => {
      assert.equal(crc64Combine(crc64(a), crc64(b), b.length), crc64(Buffer.concat([a, b])));
    }),
    { numRuns: RUNS },
  );
  const big = randomBytes(3 << 20);
  const parts = [big.subarray(0, 1 << 20), big.subarray(1 << 20, 2 << 20), big.subarray(2 << 20)];
  const combined = parts.reduce((acc, p, i) => (i === 0 ? crc64(p) : crc64Combine(acc, crc64(p), p.length)), 0n);
  assert.equal(combined, crc64(big));
  assert.throws(() => crc64Combine(1n, 2n, -1), RangeError);
  assert.throws(() => crc64Combine(-1n, 2n, 1), RangeError);
});

test('parseCrc64Header accepts unsigned decimals below 2^64 only', () => {
  assert.equal(parseCrc64Header('18446744073709551615'), 0xffffffffffffffffn);
  assert.equal(parseCrc64Header(' 42 '), 42n);
  for (const bad of [undefined, '', '-1', '0x10', '18446744073709551616', '1e5', 'abc']) {
    assert.equal(parseCrc64Header(bad), undefined, String(bad));
  }
});

// Speed is measured in `npm run bench` (crc64 rows, as a ratio in the same run), never asserted here.
test('64 MiB hashed in 1 MiB updates equals one update and the combine of its halves', () => {
  const data = randomBytes(64 << 20);
  const hasher = new Crc64();
  for (let i = 0; i < data.length; i += 1 << 20) hasher.update(data.subarray(i, i + (1 << 20)));
  const whole = crc64(data);
  assert.equal(hasher.digest(), whole);
  const half = data.length / 2;
  assert.equal(crc64Combine(crc64(data.subarray(0, half)), crc64(data.subarray(half)), half), whole);
});
