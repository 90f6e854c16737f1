// The WebAssembly CRC-64 kernel (four lanes per block joined with a zero-run operator) against the JavaScript
// slicing-by-8 loop and the bit-at-a-time definition: random lengths around every boundary the kernel has (256-byte
// switch-over, 2 KiB lane blocks, 8-byte words, the 64 KiB scratch window), random starting registers, random chunking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Crc64, crc64, sliceUpdate } from '../../src/transfer/crc64.js';
import { crc64WasmBytes, instantiateCrc64Kernel, LANE_BYTES, LANES, SCRATCH_BYTES } from '../../src/transfer/crc64-wasm.js';

const RUNS = process.env.SLOW ? 300 : 40;
const BLOCK = LANES * LANE_BYTES;

function bitwise(data: Uint8Array): bigint {
  const poly = 0xc96c5795d7870f42n;
  let crc = 0xffffffffffffffffn;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let i = 0; i < 8; i++) crc = (crc & 1n) === 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ 0xffffffffffffffffn;
}

function jsCrc(data: Uint8Array): bigint {
  const r = sliceUpdate(-1, -1, data);
  return (BigInt(~r.hi >>> 0) << 32n) | BigInt(~r.lo >>> 0);
}

test('the generated module is valid WebAssembly and instantiates in Node (so the fast path is the one tested)', () => {
  const bytes = crc64WasmBytes();
  assert.ok((globalThis as { WebAssembly?: { validate(b: Uint8Array): boolean } }).WebAssembly?.validate(bytes));
  const tables = [new Int32Array(2048), new Int32Array(2048)] as const;
  const kernel = instantiateCrc64Kernel(tables, tables);
  assert.ok(kernel !== undefined);
  assert.equal(kernel.scratch.length, SCRATCH_BYTES);
});

test('Crc64 (WebAssembly kernel) equals the JavaScript loop at lengths around every block boundary', () => {
  const lengths = new Set<number>();
  for (const base of [256, 8, BLOCK, 2 * BLOCK, SCRATCH_BYTES, SCRATCH_BYTES + BLOCK]) {
    for (let d = -9; d <= 9; d++) if (base + d >= 0) lengths.add(base + d);
  }
  const data = randomBytes(SCRATCH_BYTES + BLOCK + 16);
  for (const n of lengths) {
    for (const shift of [0, 1, 3]) {
      const view = data.subarray(shift, shift + n);
      assert.equal(crc64(view), jsCrc(view), `length ${n}, offset ${shift}`);
    }
  }
});

test('Crc64 equals the bit-at-a-time definition on random data of several lane blocks, chunked at random points', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3 * BLOCK + 50 }),
      fc.array(fc.nat({ max: 3 * BLOCK + 50 }), { maxLength: 5 }),
      (data, cuts) => {
        const h = new Crc64();
        let at = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          const end = Math.min(cut, data.length);
          if (end < at) continue;
          h.update(data.subarray(at, end));
          at = end;
        }
        h.update(data.subarray(at));
        assert.equal(h.digest(), bitwise(data));
      },
    ),
    { numRuns: RUNS },
  );
});

test('the kernel continues from any register: JS prefix then WebAssembly rest equals JS over the whole', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 256, maxLength: 2 * BLOCK + 100 }), (head, tail) => {
      const h = new Crc64().update(head).update(tail); // head < 256 bytes: JS; tail ≥ 256: WebAssembly
      const whole = new Uint8Array(head.length + tail.length);
      whole.set(head);
      whole.set(tail, head.length);
      assert.equal(h.digest(), jsCrc(whole));
    }),
    { numRuns: RUNS },
  );
});

test('inputs larger than the scratch window (several copies into WebAssembly memory) hash like the JS loop', () => {
  const big = randomBytes(3 * SCRATCH_BYTES + 12345);
  assert.equal(crc64(big), jsCrc(big));
  // Two interleaved hashers share the one kernel: each keeps its own register.
  const other = randomBytes(big.length);
  const a = new Crc64();
  const b = new Crc64();
  for (let i = 0; i < big.length; i += 70_000) {
    a.update(big.subarray(i, i + 70_000));
    b.update(other.subarray(i, i + 70_000));
  }
  assert.equal(a.digest(), jsCrc(big));
  assert.equal(b.digest(), jsCrc(other));
});
