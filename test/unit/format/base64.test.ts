import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeBase64Strict, encodeBase64, isStrictBase64 } from '../../../src/format/base64.js';

/** The grouped definition of padded base64 the checker replaced: the two must agree on every string. */
const GROUPED = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strings over the base64 alphabet, '=', and a few characters outside it, so both answers occur often. */
const base64ish = fc
  .array(fc.constantFrom('A', 'B', 'C', 'X', 'Y', 'Z', 'a', 'b', 'c', 'x', 'y', 'z', '0', '1', '8', '9', '+', '/', '=', '-', '_', ' ', '\n', 'é', '\u0000'), { maxLength: 24 })
  .map((cs) => cs.join(''));

test('isStrictBase64 agrees with the grouped padded-base64 definition on arbitrary strings', () => {
  fc.assert(
    fc.property(base64ish, (s) => {
      assert.equal(isStrictBase64(s), GROUPED.test(s), JSON.stringify(s));
    }),
    { numRuns: 5000 },
  );
});

test('every encoding of bytes is strict base64 and decodes back to the bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const text = encodeBase64(bytes);
      assert.equal(isStrictBase64(text), true);
      assert.deepEqual(Buffer.from(decodeBase64Strict(text)), Buffer.from(bytes));
    }),
  );
});

test('padding in the wrong place, three pads, or a length that is not a multiple of 4 is refused', () => {
  for (const bad of ['A===', '====', 'AB=C', '=ABC', 'ABCDE', 'ABC', 'AB==AB==', 'AB=', 'A']) assert.equal(isStrictBase64(bad), false, bad);
  for (const good of ['', 'ABCD', 'AB==', 'ABC=', 'AAAAAB==']) assert.equal(isStrictBase64(good), true, good);
});
