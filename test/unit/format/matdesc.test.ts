import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CseError } from '../../../src/errors.js';
import { encodeMatDesc, matDescEquals, matDescKey, MATDESC_MAX_LENGTH, parseMatDesc } from '../../../src/format/matdesc.js';

const RUNS = process.env.SLOW ? 2000 : 100;

function rejectsMatDesc(raw: string): void {
  assert.throws(
    () => parseMatDesc(raw, 'x-oss-meta-client-side-encryption-matdesc', 'obj'),
    (e: unknown) => {
      assert.ok(e instanceof CseError);
      assert.equal(e.code, 'ERR_CSE_ENVELOPE_BAD_MATDESC');
      assert.equal(e.header, 'x-oss-meta-client-side-encryption-matdesc');
      assert.equal(e.object, 'obj');
      return true;
    },
    raw.slice(0, 80),
  );
}

test('encodeMatDesc equals Go json.Marshal output for the put-17-matdesc vector', () => {
  const goHeader = '{"desc":"test rsa key","owner":"peer"}';
  assert.equal(encodeMatDesc({ owner: 'peer', desc: 'test rsa key' }), goHeader);
  // oss2's spelling of the same map (vectors/oss2 put-17-matdesc) re-encodes to Go's.
  assert.equal(encodeMatDesc(parseMatDesc('{"desc": "test rsa key", "owner": "peer"}')), goHeader);
});

test('parseMatDesc reads oss2 insertion-order and \\u-escaped spelling (put-17-matdesc-order-unicode)', () => {
  const m = parseMatDesc('{"z": "1", "a": "\\u00fc\\u00e9"}');
  assert.deepEqual(m, { z: '1', a: 'üé' });
  assert.equal(encodeMatDesc(m), '{"a":"\\u00fc\\u00e9","z":"1"}');
});

test('encodeMatDesc escapes like Go (<>& U+2028/9, \\b \\f) and every non-ASCII char and DEL as \\uXXXX', () => {
  assert.equal(encodeMatDesc({ k: '<a&b>' }), '{"k":"\\u003ca\\u0026b\\u003e"}');
  assert.equal(encodeMatDesc({ k: '\u2028\u2029' }), '{"k":"\\u2028\\u2029"}');
  assert.equal(encodeMatDesc({ k: '"\\\n\r\t\b\f\u0001\u007f/' }), '{"k":"\\"\\\\\\n\\r\\t\\b\\f\\u0001\\u007f/"}');
  assert.equal(encodeMatDesc({ k: '😀' }), '{"k":"\\ud83d\\ude00"}');
  assert.match(encodeMatDesc({ 'ключ': '值' }), /^[\x20-\x7e]+$/);
});

test('encodeMatDesc sorts keys by UTF-8 bytes (code points), not UTF-16 units', () => {
  // U+FF5E sorts before U+1F600 in UTF-8 although its UTF-16 unit 0xFF5E is above the surrogate 0xD83D.
  assert.equal(encodeMatDesc({ '😀': '1', '～': '2', b: '3', a: '4', '': '5' }), '{"":"5","a":"4","b":"3","\\uff5e":"2","\\ud83d\\ude00":"1"}');
});

test('an empty description encodes as {} and equals an absent one', () => {
  assert.equal(encodeMatDesc({}), '{}');
  assert.deepEqual(parseMatDesc(' { } '), {});
  assert.ok(matDescEquals(parseMatDesc('{}'), {}));
});

test('parseMatDesc keeps __proto__ as an ordinary own key', () => {
  const m = parseMatDesc('{"__proto__": "x", "constructor": "y"}');
  assert.equal(Object.getPrototypeOf(m), Object.prototype);
  assert.deepEqual(Object.keys(m), ['__proto__', 'constructor']);
  assert.equal(encodeMatDesc(m), '{"__proto__":"x","constructor":"y"}');
});

test('parseMatDesc refuses anything but a flat JSON object of string values', () => {
  for (const raw of [
    '',
    ' ',
    'desc=test',
    '[]',
    '["a"]',
    '"a"',
    'null',
    '{"a":1}',
    '{"a":null}',
    '{"a":true}',
    '{"a":["b"]}',
    '{"a":{"b":"c"}}',
    '{"a":"b","a":"c"}',
    '{"a":"b","a":"b"}',
    '{"a":"b",}',
    '{"a" "b"}',
    '{a:"b"}',
    "{'a':'b'}",
    '{"a":"b"} x',
    '{"a":"b"}{}',
    '{"a":"b"',
    '{"a":"b',
    '{"a":"\\x41"}',
    '{"a":"\\u12"}',
    '{"a":"\u0001"}',
    '{"a":"\\ud800"}',
    '{"a":"\\udc00x"}',
    '{"a":"\ud800"}',
  ]) {
    rejectsMatDesc(raw);
  }
});

test('parseMatDesc refuses oversized input quickly instead of parsing it', () => {
  const huge = `{"a":"${'x'.repeat(MATDESC_MAX_LENGTH)}"}`;
  const t0 = performance.now();
  rejectsMatDesc(huge);
  rejectsMatDesc('['.repeat(1_000_000));
  rejectsMatDesc(`{"a":"${'\\u0041'.repeat(1_000_000)}"}`);
  assert.ok(performance.now() - t0 < 2000, "oversized input must be refused without parsing it");
  // Just under the cap still parses.
  const fits = `{"a":"${'x'.repeat(MATDESC_MAX_LENGTH - 8)}"}`;
  assert.equal(parseMatDesc(fits).a?.length, MATDESC_MAX_LENGTH - 8);
});

test('encodeMatDesc refuses non-string values and lone surrogates from untyped callers', () => {
  assert.throws(() => encodeMatDesc({ a: 1 } as never), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => encodeMatDesc({ a: '\ud800' }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => encodeMatDesc(null as never), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});

const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const matdesc = fc.dictionary(text, text, { maxKeys: 6, noNullPrototype: true });

/** Re-spells a map as other writers might: any key order, any JSON whitespace, gratuitous \u and \/ escapes. */
function respell(m: Record<string, string>, order: number[], spaces: string[], escapeAll: boolean): string {
  const keys = Object.keys(m);
  const sp = (i: number) => spaces[i % spaces.length] ?? '';
  const q = (s: string) =>
    escapeAll
      ? `"${Array.from({ length: s.length }, (_, i) => `\\u${s.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"`
      : JSON.stringify(s).replace(/\//g, '\\/');
  const ordered = order.length === keys.length ? order.map((i) => keys[i]!) : keys;
  return `${sp(0)}{${ordered.map((k, i) => `${sp(i + 1)}${q(k)}${sp(i + 2)}:${sp(i + 3)}${q(m[k]!)}${sp(i + 4)}`).join(',')}}${sp(1)}`;
}

test('property: parseMatDesc(encodeMatDesc(m)) = m, and the encoding is printable ASCII', () => {
  fc.assert(
    fc.property(matdesc, (m) => {
      const enc = encodeMatDesc(m);
      assert.match(enc, /^[\x20-\x7e]*$/);
      assert.deepEqual(parseMatDesc(enc), m);
      assert.deepEqual(JSON.parse(enc), m);
    }),
    { numRuns: RUNS },
  );
});

test('property: equality and matDescKey ignore key order, whitespace and escaping', () => {
  const spacing = fc.array(fc.constantFrom('', ' ', '\t', '\n', '\r\n  '), { minLength: 1, maxLength: 5 });
  fc.assert(
    fc.property(
      matdesc.chain((m) => fc.tuple(fc.constant(m), fc.shuffledSubarray(Object.keys(m).map((_, i) => i), { minLength: Object.keys(m).length }))),
      spacing,
      fc.boolean(),
      ([m, order], spaces, escapeAll) => {
        const spelled = respell(m, order, spaces, escapeAll);
        const parsed = parseMatDesc(spelled);
        assert.deepEqual(parsed, m);
        assert.ok(matDescEquals(parsed, m));
        assert.equal(matDescKey(parsed), matDescKey(m));
      },
    ),
    { numRuns: RUNS },
  );
});

test('property: matDescEquals is map equality', () => {
  fc.assert(
    fc.property(matdesc, matdesc, (a, b) => {
      const same = JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());
      assert.equal(matDescEquals(a, b), same);
      assert.equal(matDescKey(a) === matDescKey(b), same);
    }),
    { numRuns: RUNS },
  );
});
