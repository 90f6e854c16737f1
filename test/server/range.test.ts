/**
 * The server's Range decisions, exhaustively on small objects against a direct statement of OSS's rules.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveRange } from '../../server/src/range.js';

/** OSS's rules restated independently (server/src/range.ts header; Alibaba Cloud "Range" docs). */
function expected(first: number | undefined, last: number | undefined, size: number, standard: boolean): string {
  if (first === undefined) {
    // suffix -last
    const n = last ?? 0;
    if (!standard) return n === 0 || n > size ? 'full' : `${size - n}-${size - 1}`;
    return n === 0 || size === 0 ? '416' : `${Math.max(0, size - n)}-${size - 1}`;
  }
  if (last !== undefined && last < first) return 'full';
  if (first >= size) return standard ? '416' : 'full';
  if (last === undefined) return `${first}-${size - 1}`;
  if (last >= size) return standard ? `${first}-${size - 1}` : 'full';
  return `${first}-${last}`;
}

function show(d: ReturnType<typeof resolveRange>): string {
  return d.kind === 'full' ? 'full' : d.kind === 'unsatisfiable' ? '416' : `${d.start}-${d.end}`;
}

describe('resolveRange', () => {
  it('agrees with the OSS rules for every a-b, a- and -n on objects of 0..6 bytes, both behaviours', () => {
    for (let size = 0; size <= 6; size++) {
      for (const standard of [false, true]) {
        for (let a = 0; a <= 8; a++) {
          assert.equal(show(resolveRange(`bytes=${a}-`, size, standard)), expected(a, undefined, size, standard), `${a}- of ${size}`);
          assert.equal(show(resolveRange(`bytes=-${a}`, size, standard)), expected(undefined, a, size, standard), `-${a} of ${size}`);
          for (let b = 0; b <= 8; b++) {
            assert.equal(show(resolveRange(`bytes=${a}-${b}`, size, standard)), expected(a, b, size, standard), `${a}-${b} of ${size} ${String(standard)}`);
          }
        }
      }
    }
  });

  it('ignores a missing or malformed header in both behaviours', () => {
    for (const header of [undefined, 'byte=0-1', 'bytes=', 'bytes=-', 'bytes=a-b', 'items=0-1', 'bytes=1-2-3', 'bytes=0x1-2']) {
      for (const standard of [false, true]) assert.equal(show(resolveRange(header, 10, standard)), 'full', String(header));
    }
  });

  it('answers the first of several ranges by default and 416 with standard', () => {
    assert.equal(show(resolveRange('bytes=0-1,4-5', 10, false)), '0-1');
    assert.equal(show(resolveRange('bytes=0-1,4-5', 10, true)), '416');
    assert.equal(show(resolveRange('bytes=0-1,x', 10, false)), 'full');
  });

  it('tolerates whitespace around numbers and handles offsets beyond 2^32', () => {
    assert.equal(show(resolveRange('bytes= 2 - 4 ', 10, false)), '2-4');
    const big = 6 * 1024 ** 3;
    assert.equal(show(resolveRange(`bytes=${big - 10}-`, big, false)), `${big - 10}-${big - 1}`);
  });
});
