import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { counterAt } from '../../../src/format/layout.js';
import {
  alignedFetchRange,
  formatContentRange,
  formatRangeHeader,
  parseContentRange,
  parseRangeHeader,
  resolveRange,
} from '../../../src/format/range.js';
import type { RangeResolution } from '../../../src/format/range.js';

const RUNS = process.env.SLOW ? 20000 : 500;

test('parseRangeHeader reads the three single-range forms', () => {
  assert.deepEqual(parseRangeHeader('bytes=0-499'), { kind: 'bounded', start: 0, end: 499 });
  assert.deepEqual(parseRangeHeader('bytes=500-'), { kind: 'from', start: 500 });
  assert.deepEqual(parseRangeHeader('bytes=-500'), { kind: 'suffix', length: 500 });
  assert.deepEqual(parseRangeHeader('bytes=-0'), { kind: 'suffix', length: 0 });
  assert.deepEqual(parseRangeHeader('Bytes=007-9'), { kind: 'bounded', start: 7, end: 9 });
  assert.deepEqual(parseRangeHeader(' bytes=1-1\t'), { kind: 'bounded', start: 1, end: 1 });
  assert.deepEqual(parseRangeHeader('bytes=5-99999999999999999999'), { kind: 'bounded', start: 5, end: Number.MAX_SAFE_INTEGER });
});

test('parseRangeHeader turns everything OSS ignores into "invalid", never an exception', () => {
  const cases: [string, string][] = [
    ['byte=0-499', 'syntax'],
    ['bytes 0-499', 'syntax'],
    ['bytes=', 'syntax'],
    ['bytes=-', 'syntax'],
    ['bytes=a-b', 'syntax'],
    ['bytes=0x10-20', 'syntax'],
    ['bytes=1.5-2', 'syntax'],
    ['bytes= 0-1', 'syntax'],
    ['bytes=0 -1', 'syntax'],
    ['bytes=--1', 'syntax'],
    ['bytes=1-2-3', 'syntax'],
    ['items=0-1', 'syntax'],
    ['', 'syntax'],
    ['bytes=0-499,500-999', 'multiple'],
    ['bytes=0-1,', 'multiple'],
    ['bytes=100-50', 'reversed'],
    ['bytes=5-0', 'reversed'],
    ['bytes=99999999999999999999-99999999999999999998', 'reversed'],
  ];
  for (const [value, reason] of cases) assert.deepEqual(parseRangeHeader(value), { kind: 'invalid', reason }, value);
});

test('resolveRange matches the OSS documentation examples for a 1000-byte object', () => {
  const r = (v: string, standard: boolean) => resolveRange(parseRangeHeader(v), 1000, standard);
  // Default behaviour ("How to obtain OSS resources by segmenting HTTP Range requests").
  assert.deepEqual(r('bytes=0-499', false), { status: 206, start: 0, end: 499 });
  assert.deepEqual(r('bytes=500-999', false), { status: 206, start: 500, end: 999 });
  assert.deepEqual(r('bytes=-500', false), { status: 206, start: 500, end: 999 });
  assert.deepEqual(r('bytes=500-', false), { status: 206, start: 500, end: 999 });
  assert.deepEqual(r('bytes=0-', false), { status: 206, start: 0, end: 999 });
  for (const v of ['byte=0-499', 'bytes=0-1000', 'bytes=1000-2000', 'bytes=1000-', 'bytes=-2000']) assert.deepEqual(r(v, false), { status: 200 }, v);
  // x-oss-range-behavior: standard ("scope download" tables).
  assert.deepEqual(r('bytes=500-2000', true), { status: 206, start: 500, end: 999 });
  assert.deepEqual(r('bytes=1000-2000', true), { status: 416 });
  assert.deepEqual(r('bytes=1000-', true), { status: 416 });
  assert.deepEqual(r('bytes=-2000', true), { status: 206, start: 0, end: 999 });
  assert.deepEqual(r('bytes=-0', true), { status: 416 });
  assert.deepEqual(r('bytes=100-50', true), { status: 200 });
});

const goVectors = JSON.parse(readFileSync(new URL('../../vectors/go/vectors.json', import.meta.url), 'utf8'));

test('resolveRange reproduces every row of the Go range-get vector: plain-client length and the emulator\'s answer', () => {
  const c = goVectors.cases.find((x: any) => x.kind === 'range-get');
  const size = 1048579;
  assert.ok(c.results.length >= 16);
  for (const row of c.results) {
    // What a plain client gets for the caller's range (the vector's reference result).
    const plain = resolveRange(parseRangeHeader(`bytes=${row.range}`), size, false);
    assert.equal(plain.status === 206 ? plain.end - plain.start + 1 : size, row.plain_client_len, row.range);
    // What the emulator (OSS default semantics) answered to the range the SDK actually sent.
    const sent = String(row.requests_sent.at(-1)).replace('GET Range=', '');
    const answer = resolveRange(parseRangeHeader(sent), size, false);
    assert.equal(answer.status === 206 ? formatContentRange(answer.start, answer.end, size) : '', row.response_content_range, sent);
    // For non-suffix ranges the SDK aligned the start exactly as alignedFetchRange does.
    const m = /^(\d+)-(\d*)$/.exec(row.range);
    if (m) {
      const f = alignedFetchRange(Number(m[1]), m[2] === '' ? undefined : Number(m[2]));
      assert.equal(formatRangeHeader(f.fetchStart, f.fetchEnd), sent, row.range);
    }
  }
});

test('resolveRange on an empty object: always 200 by default, always 416 with standard', () => {
  for (const v of ['bytes=0-0', 'bytes=0-', 'bytes=-1', 'bytes=-0', 'bytes=5-9']) {
    assert.deepEqual(resolveRange(parseRangeHeader(v), 0, false), { status: 200 }, v);
    assert.deepEqual(resolveRange(parseRangeHeader(v), 0, true), { status: 416 }, v);
  }
  assert.deepEqual(resolveRange(parseRangeHeader('junk'), 0, true), { status: 200 });
});

test('resolveRange refuses a bad object size', () => {
  for (const size of [-1, 1.5, Number.NaN, 2 ** 53]) {
    assert.throws(() => resolveRange({ kind: 'from', start: 0 }, size, false), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  }
});

/**
 * Independent model: enumerate the object's byte positions and select the requested ones. Default OSS serves the
 * range only when every requested byte exists; standard serves whatever requested bytes exist, or 416 if none.
 */
function model(header: string, size: number, standard: boolean): RangeResolution {
  const m = /^bytes=(\d*)-(\d*)$/i.exec(header.trim());
  if (m === null || (m[1] === '' && m[2] === '')) return { status: 200 };
  const a = m[1] === '' ? undefined : Number(m[1]);
  const b = m[2] === '' ? undefined : Number(m[2]);
  if (a !== undefined && b !== undefined && a > b) return { status: 200 };
  const positions = Array.from({ length: size }, (_, i) => i);
  let wanted: (p: number) => boolean;
  let requestedCount: number | undefined; // how many bytes the request names, when finite
  if (a === undefined) {
    wanted = (p) => p >= size - b!;
    requestedCount = b!;
  } else if (b === undefined) {
    wanted = (p) => p >= a;
    requestedCount = undefined;
  } else {
    wanted = (p) => p >= a && p <= b;
    requestedCount = b - a + 1;
  }
  const selected = positions.filter(wanted);
  const serve = (): RangeResolution => ({ status: 206, start: selected[0]!, end: selected[selected.length - 1]! });
  if (standard) return selected.length === 0 ? { status: 416 } : serve();
  const complete = selected.length > 0 && (requestedCount === undefined || selected.length === requestedCount);
  return complete ? serve() : { status: 200 };
}

test('property: resolveRange agrees with a brute-force model over small objects and ranges', () => {
  const n = fc.oneof(fc.constant(''), fc.nat({ max: 40 }).map(String), fc.constant('007'));
  const header = fc.oneof(
    { weight: 8, arbitrary: fc.tuple(n, n).map(([a, b]) => `bytes=${a}-${b}`) },
    { weight: 1, arbitrary: fc.constantFrom('bytes=0-1,2-3', 'bytes=x-1', 'bytes 1-2', 'BYTES=3-4', 'bytes=-') },
  );
  fc.assert(
    fc.property(header, fc.nat({ max: 35 }), fc.boolean(), (h, size, standard) => {
      assert.deepEqual(resolveRange(parseRangeHeader(h), size, standard), model(h, size, standard));
    }),
    { numRuns: RUNS },
  );
});

test('parseContentRange is strict', () => {
  assert.deepEqual(parseContentRange('bytes 0-9/44'), { start: 0, end: 9, total: 44 });
  assert.deepEqual(parseContentRange('bytes 4080-4097/1048579'), { start: 4080, end: 4097, total: 1048579 });
  assert.deepEqual(parseContentRange('bytes 5-5/*'), { start: 5, end: 5, total: undefined });
  for (const bad of ['bytes */44', 'bytes 9-0/44', 'bytes 0-44/44', 'bytes 0-9', 'bytes=0-9/44', 'bytes 0-9/4x', 'bytes -1-9/44', 'items 0-9/44', 'bytes 0-9/99999999999999999999', '']) {
    assert.equal(parseContentRange(bad), null, bad);
  }
});

test('alignedFetchRange aligns the start down to a block and keeps the end; skip is the in-block offset', () => {
  assert.deepEqual(alignedFetchRange(0, 0), { fetchStart: 0, fetchEnd: 0, skip: 0 });
  assert.deepEqual(alignedFetchRange(1, 1), { fetchStart: 0, fetchEnd: 1, skip: 1 });
  assert.deepEqual(alignedFetchRange(4095, 4097), { fetchStart: 4080, fetchEnd: 4097, skip: 15 });
  assert.deepEqual(alignedFetchRange(1048570), { fetchStart: 1048560, fetchEnd: undefined, skip: 10 });
  assert.throws(() => alignedFetchRange(-1), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => alignedFetchRange(5, 4), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => alignedFetchRange(0.5), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});

test('property: the counter at the aligned fetch start plus skip equals the counter at the wanted byte', () => {
  const iv = Uint8Array.from(Buffer.from('0102030405060708000000fffffffff0', 'hex'));
  fc.assert(
    fc.property(fc.nat({ max: 2 ** 40 }), (start) => {
      const { fetchStart, skip } = alignedFetchRange(start);
      assert.equal(fetchStart % 16, 0);
      assert.equal(fetchStart + skip, start);
      assert.deepEqual(counterAt(iv, fetchStart).counter, counterAt(iv, start).counter);
      assert.equal(counterAt(iv, start).skip, skip);
    }),
    { numRuns: RUNS },
  );
});

test('formatRangeHeader and formatContentRange write what the parsers read', () => {
  assert.equal(formatRangeHeader(4080, 4097), 'bytes=4080-4097');
  assert.equal(formatRangeHeader(16), 'bytes=16-');
  assert.deepEqual(parseRangeHeader(formatRangeHeader(16, 31)), { kind: 'bounded', start: 16, end: 31 });
  assert.equal(formatContentRange(5, 9, 10), 'bytes 5-9/10');
  assert.deepEqual(parseContentRange(formatContentRange(0, 0, 1)), { start: 0, end: 0, total: 1 });
  assert.throws(() => formatContentRange(0, 10, 10), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => formatRangeHeader(3, 2), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});
