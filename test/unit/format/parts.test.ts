import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { counterAt } from '../../../src/format/layout.js';
import {
  choosePartSize,
  DEFAULT_PART_SIZE,
  MAX_PART_SIZE,
  MAX_PARTS,
  MIN_PART_SIZE,
  partBounds,
  partCount,
  partCounterOffset,
  validatePartSize,
} from '../../../src/format/parts.js';

const RUNS = process.env.SLOW ? 5000 : 200;
const MAX_DATA = MAX_PARTS * MAX_PART_SIZE;

function refusedWith(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: any) => e.code === 'ERR_CSE_INVALID_ARGUMENT' && pattern.test(e.message));
}

test('constants are the OSS / oss2 limits', () => {
  assert.equal(MIN_PART_SIZE, 102400);
  assert.equal(MAX_PARTS, 10000);
  assert.equal(MAX_PART_SIZE, 5 * 2 ** 30);
  assert.equal(DEFAULT_PART_SIZE % 16, 0);
});

test('the Go multipart vector layout: 1048579 bytes in parts of 262144, the last part 3 bytes', () => {
  const mp = JSON.parse(readFileSync(new URL('../../vectors/go/vectors.json', import.meta.url), 'utf8')).cases.find((c: any) => c.kind === 'multipart');
  validatePartSize(mp.part_size, mp.plaintext_len);
  assert.equal(partCount(mp.plaintext_len, mp.part_size), 5);
  for (const r of mp.requests) {
    const n = /partNumber=(\d+)/.exec(r.query)?.[1];
    if (n === undefined) continue;
    assert.equal(partBounds(Number(n), mp.part_size, mp.plaintext_len).size, r.body_len, `part ${n}`);
  }
  assert.deepEqual(partBounds(5, 262144, 1048579), { start: 1048576, end: 1048579, size: 3 });
  // Part N's counter is IV + (N-1)*partSize/16.
  const iv = Uint8Array.from(Buffer.from(mp.iv_hex, 'hex'));
  const c = counterAt(iv, partCounterOffset(3, 262144)).counter;
  const expected = BigInt(`0x${mp.iv_hex}`) + BigInt((2 * 262144) / 16);
  assert.equal(Buffer.from(c).toString('hex'), expected.toString(16).padStart(32, '0'));
});

test('validatePartSize names each rule it enforces', () => {
  refusedWith(() => { validatePartSize(102401, 1); }, /multiple of 16/);
  refusedWith(() => { validatePartSize(102384, 1); }, /minimum of 102400/);
  refusedWith(() => { validatePartSize(MAX_PART_SIZE + 16, 1); }, /maximum of 5368709120/);
  refusedWith(() => { validatePartSize(102400, 102400 * 10000 + 1); }, /10001 parts, more than the 10000/);
  refusedWith(() => { validatePartSize(0, 1); }, /positive integer part size/);
  refusedWith(() => { validatePartSize(1.5, 1); }, /positive integer part size/);
  refusedWith(() => { validatePartSize(102400, -1); }, /non-negative integer data size/);
  validatePartSize(102400, 102400 * 10000);
  validatePartSize(102400, 0);
  validatePartSize(MAX_PART_SIZE, MAX_DATA);
});

test('choosePartSize: default, preference rounded up to 16, raised to the minimum and to fit 10000 parts', () => {
  assert.equal(choosePartSize(1), DEFAULT_PART_SIZE);
  assert.equal(choosePartSize(0, 102400), 102400);
  assert.equal(choosePartSize(10, 1), MIN_PART_SIZE);
  assert.equal(choosePartSize(10 ** 6, 262145), 262160);
  // 200 GiB with 1 MiB parts would be 204800 parts: raised to ceil(size/10000) rounded up to 16.
  const big = 200 * 2 ** 30;
  const ps = choosePartSize(big, 2 ** 20);
  assert.equal(ps, Math.ceil(big / 10000 / 16) * 16);
  assert.ok(partCount(big, ps) <= MAX_PARTS);
  assert.equal(choosePartSize(MAX_DATA), MAX_PART_SIZE);
  refusedWith(() => choosePartSize(MAX_DATA + 1), /do not fit in 10000 parts/);
  refusedWith(() => choosePartSize(1, MAX_PART_SIZE + 1), /maximum/);
  refusedWith(() => choosePartSize(1, 0), /positive integer/);
  refusedWith(() => choosePartSize(-5), /data size/);
});

test('property: choosePartSize always returns a part size validatePartSize accepts, never below the preference', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.nat({ max: 10 ** 7 }), fc.integer({ min: 0, max: MAX_DATA })),
      fc.option(fc.integer({ min: 1, max: MAX_PART_SIZE }), { nil: undefined }),
      (dataSize, preferred) => {
        const ps = choosePartSize(dataSize, preferred);
        validatePartSize(ps, dataSize);
        assert.ok(ps >= Math.min(MAX_PART_SIZE, Math.ceil((preferred ?? DEFAULT_PART_SIZE) / 16) * 16));
      },
    ),
    { numRuns: RUNS },
  );
});

test('property: part bounds tile [0, dataSize) exactly, non-last parts are partSize, counters follow the offsets', () => {
  fc.assert(
    fc.property(fc.nat({ max: 5000 }), fc.integer({ min: 1, max: 300 }).map((n) => n * 16), (dataSize, partSize) => {
      const n = partCount(dataSize, partSize);
      let next = 0;
      for (let i = 1; i <= n; i++) {
        const b = partBounds(i, partSize, dataSize);
        assert.equal(b.start, next);
        assert.equal(b.start, partCounterOffset(i, partSize));
        assert.equal(b.size, b.end - b.start);
        if (i < n) assert.equal(b.size, partSize);
        else assert.ok(b.size <= partSize && (b.size > 0 || dataSize === 0));
        next = b.end;
      }
      assert.equal(next, dataSize);
      assert.throws(() => partBounds(n + 1, partSize, dataSize), { code: 'ERR_CSE_INVALID_ARGUMENT' });
    }),
    { numRuns: RUNS },
  );
});

test('part numbers and part sizes out of range are refused', () => {
  for (const n of [0, -1, 1.5, MAX_PARTS + 1, Number.NaN]) {
    assert.throws(() => partBounds(n, 102400, 10 ** 9), { code: 'ERR_CSE_INVALID_ARGUMENT' }, String(n));
    assert.throws(() => partCounterOffset(n, 102400), { code: 'ERR_CSE_INVALID_ARGUMENT' }, String(n));
  }
  assert.throws(() => partCounterOffset(2, 100), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => partCount(10, 0), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.equal(partCount(0, 16), 1);
  assert.deepEqual(partBounds(1, 16, 0), { start: 0, end: 0, size: 0 });
  assert.equal(partCounterOffset(MAX_PARTS, MAX_PART_SIZE), 9999 * MAX_PART_SIZE);
});
