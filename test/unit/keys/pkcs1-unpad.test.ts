import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { unpadPkcs1v15 } from '../../../src/keys/rsa.js';

const RUNS = process.env.SLOW ? 1000 : 10;

/** The textbook RFC 8017 §7.2.2 step 3 check, with early exits: the oracle for the constant-time version. */
function naive(em: Uint8Array): { ok: boolean; messageStart: number } {
  if (em.length < 11 || em[0] !== 0 || em[1] !== 2) return { ok: false, messageStart: -1 };
  const sep = em.indexOf(0, 2);
  if (sep < 0 || sep - 2 < 8) return { ok: false, messageStart: -1 };
  return { ok: true, messageStart: sep + 1 };
}

function em(k: number, psLength: number, message: readonly number[]): Uint8Array {
  const out = new Uint8Array(k);
  out[1] = 2;
  out.fill(0xa5, 2, 2 + psLength);
  out.set(message, k - message.length);
  return out;
}

test('unpadPkcs1v15 accepts 00 02 PS(≥8 nonzero) 00 M and points at M', () => {
  assert.deepEqual(unpadPkcs1v15(em(128, 128 - 3 - 32, Array(32).fill(9))), { ok: true, messageStart: 96 });
  // Minimal PS (8 bytes): separator at index 10.
  assert.deepEqual(unpadPkcs1v15(em(64, 8, Array(53).fill(1))), { ok: true, messageStart: 11 });
  // Empty message: separator is the last byte.
  assert.deepEqual(unpadPkcs1v15(em(64, 61, [])), { ok: true, messageStart: 64 });
  // Zeros inside M are message bytes: only the first zero after 02 separates.
  assert.deepEqual(unpadPkcs1v15(em(64, 57, [0, 0, 5, 0])), { ok: true, messageStart: 60 });
  // PS shorter than the block: the first zero after it separates, the rest (zeros included) is the message.
  assert.deepEqual(unpadPkcs1v15(em(64, 20, [5])), { ok: true, messageStart: 23 });
});

test('unpadPkcs1v15 rejects each malformation', () => {
  const good = em(64, 29, Array(32).fill(3));
  assert.equal(unpadPkcs1v15(good).ok, true);
  const first = good.slice();
  first[0] = 0x01;
  const second = good.slice();
  second[1] = 0x01;
  const noSep = good.slice();
  noSep.fill(7, 2);
  assert.equal(unpadPkcs1v15(first).ok, false);
  assert.equal(unpadPkcs1v15(second).ok, false);
  assert.equal(unpadPkcs1v15(noSep).ok, false);
  for (let ps = 0; ps < 8; ps++) assert.equal(unpadPkcs1v15(em(64, ps, Array(61 - ps).fill(4))).ok, false, `PS ${ps}`);
  for (const k of [0, 1, 2, 10]) assert.equal(unpadPkcs1v15(new Uint8Array(k)).ok, false, `k ${k}`);
});

test('property: unpadPkcs1v15 agrees with the textbook check on random and near-valid blocks', () => {
  const nearValid = fc
    .tuple(fc.integer({ min: 11, max: 300 }), fc.nat(300), fc.uint8Array({ minLength: 0, maxLength: 300 }))
    .map(([k, ps, noise]) => {
      const b = em(k, Math.min(ps, k - 3), []);
      // Sprinkle zeros and noise into the block so separators land anywhere.
      noise.forEach((v, i) => {
        if (v < 40) b[(i * 7) % k] = v % 3;
      });
      return b;
    });
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), nearValid), (block) => {
      const want = naive(block);
      const got = unpadPkcs1v15(block);
      assert.equal(got.ok, want.ok);
      if (want.ok) assert.equal(got.messageStart, want.messageStart);
    }),
    { numRuns: RUNS * 100 },
  );
});
