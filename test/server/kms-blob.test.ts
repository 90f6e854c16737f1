// The KMS emulator's CiphertextBlob (server/src/kms/ciphertext-blob.ts): its documented layout, authenticity under any
// single-bit change, binding to the encryption context, and the canonical context.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { canonicalContext, openBlob, parseBlob, sealBlob } from '../../server/src/kms/ciphertext-blob.js';

const runs = process.env.SLOW ? 1000 : 10;
const keyId = randomUUID();
const keyVersionId = randomUUID();
const secret = randomBytes(32);
const empty = canonicalContext(new Map());

function seal(plaintext: string, context = empty, s = secret): string {
  return sealBlob({ keyId, keyVersionId, secret: s, context, plaintext });
}

const contextArb = fc.dictionary(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), { maxKeys: 5 });

describe('KMS emulator CiphertextBlob', () => {
  test('layout: version 1, key id, key version id, 12-byte nonce, ciphertext as long as the UTF-8 plaintext, 16-byte tag', () => {
    const plaintext = 'héllo';
    const raw = Buffer.from(seal(plaintext), 'base64');
    assert.equal(raw[0], 1);
    assert.equal(raw.subarray(1, 17).toString('hex'), keyId.replace(/-/g, ''));
    assert.equal(raw.subarray(17, 33).toString('hex'), keyVersionId.replace(/-/g, ''));
    assert.equal(raw.length, 45 + Buffer.byteLength(plaintext) + 16);
    const parsed = parseBlob(raw.toString('base64'));
    assert.ok(parsed);
    assert.equal(parsed.keyId, keyId);
    assert.equal(parsed.keyVersionId, keyVersionId);
  });

  test('seal then open returns any plaintext string under any context', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1 }), contextArb, (plaintext, dict) => {
        const context = canonicalContext(new Map(Object.entries(dict)));
        const parsed = parseBlob(seal(plaintext, context));
        assert.ok(parsed);
        assert.equal(openBlob(parsed, secret, context), plaintext);
      }),
      { numRuns: runs },
    );
  });

  test('any single-bit change of the blob makes it unparseable or unauthentic', () => {
    const blob = seal('data key bytes in base64');
    const bits = Buffer.from(blob, 'base64').length * 8;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bits - 1 }), (bit) => {
        const raw = Buffer.from(blob, 'base64');
        raw[bit >> 3] = raw[bit >> 3]! ^ (1 << (bit & 7));
        const parsed = parseBlob(raw.toString('base64'));
        // A changed key id or version names another key: the service finds none (checked end to end elsewhere).
        if (parsed === null || parsed.keyId !== keyId || parsed.keyVersionId !== keyVersionId) return;
        assert.equal(openBlob(parsed, secret, empty), null);
      }),
      { numRuns: process.env.SLOW ? bits : runs },
    );
  });

  test('a blob opens only under an equal context and only with its own secret', () => {
    fc.assert(
      fc.property(contextArb, contextArb, (a, b) => {
        const ca = canonicalContext(new Map(Object.entries(a)));
        const cb = canonicalContext(new Map(Object.entries(b)));
        const parsed = parseBlob(seal('x', ca))!;
        assert.equal(openBlob(parsed, secret, cb) === 'x', ca === cb);
        assert.equal(openBlob(parsed, randomBytes(32), ca), null);
      }),
      { numRuns: runs },
    );
  });

  test('the canonical context ignores insertion order and keeps distinct contexts distinct', () => {
    fc.assert(
      fc.property(contextArb, (dict) => {
        const entries = Object.entries(dict);
        const forward = canonicalContext(new Map(entries));
        const backward = canonicalContext(new Map([...entries].reverse()));
        assert.equal(forward, backward);
        assert.deepEqual(new Map(Object.entries(JSON.parse(forward))), new Map(entries));
      }),
      { numRuns: runs },
    );
    assert.equal(canonicalContext(new Map([['2', 'a'], ['10', 'b']])), '{"10":"b","2":"a"}');
    assert.notEqual(canonicalContext(new Map([['a', 'b,"c":"d']])), canonicalContext(new Map([['a', 'b'], ['c', 'd']])));
  });

  test('non-canonical base64, unknown versions and short inputs are refused by parseBlob', () => {
    const blob = seal('x');
    const raw = Buffer.from(blob, 'base64');
    // raw is 62 bytes: the last base64 group encodes 2 bytes, so its last character carries 2 unused bits.
    const last = blob.at(-2)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const sloppy = `${blob.slice(0, -2)}${alphabet[alphabet.indexOf(last) ^ 1]!}=`;
    assert.deepEqual(Buffer.from(sloppy, 'base64'), raw, 'same bytes, other spelling');
    assert.equal(parseBlob(sloppy), null);
    assert.equal(parseBlob(`${blob}\n`), null);
    assert.equal(parseBlob(''), null);
    const v2 = Buffer.from(raw);
    v2[0] = 2;
    assert.equal(parseBlob(v2.toString('base64')), null);
    assert.equal(parseBlob(raw.subarray(0, 60).toString('base64')), null);
  });
});
