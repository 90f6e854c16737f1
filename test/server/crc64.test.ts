/**
 * The server's table-driven CRC-64 and its combine function against the bit-by-bit reference of the tests.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Crc64, crc64, crc64Combine } from '../../server/src/crc64.js';
import { crc64Reference } from './support/reference.js';

const RUNS = process.env.SLOW ? 1000 : 25;

describe('CRC-64/ECMA-182 (OSS flavour)', () => {
  it('matches the published check value of "123456789" (0x995DC9BBDF1939FA) in both implementations', () => {
    const data = Buffer.from('123456789');
    assert.equal(crc64Reference(data), 0x995dc9bbdf1939fan);
    assert.equal(crc64(data), 0x995dc9bbdf1939fan);
  });

  it('is 0 for no bytes', () => {
    assert.equal(crc64(new Uint8Array(0)), 0n);
    assert.equal(crc64Reference(new Uint8Array(0)), 0n);
  });

  it('equals the bit-by-bit reference for any bytes, however they are chunked', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(600), { maxLength: 6 }), (data, cuts) => {
        const expected = crc64Reference(data);
        assert.equal(crc64(data), expected);
        const incremental = new Crc64();
        let from = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          const to = Math.min(cut, data.length);
          incremental.update(data.subarray(from, to));
          from = Math.max(from, to);
        }
        incremental.update(data.subarray(from));
        assert.equal(incremental.digest(), expected);
      }),
      { numRuns: RUNS },
    );
  });

  it('combine(crc(A), crc(B), |B|) = crc(A‖B)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 300 }), (a, b) => {
        assert.equal(crc64Combine(crc64Reference(a), crc64Reference(b), b.length), crc64Reference(Buffer.concat([a, b])));
      }),
      { numRuns: RUNS },
    );
    const big = Buffer.alloc(1 << 20, 0xa5);
    assert.equal(crc64Combine(crc64(Buffer.from('head')), crc64(big), big.length), crc64(Buffer.concat([Buffer.from('head'), big])));
  });

  it('combine rejects negative or fractional lengths', () => {
    assert.throws(() => crc64Combine(0n, 0n, -1), RangeError);
    assert.throws(() => crc64Combine(0n, 0n, 1.5), RangeError);
  });
});
