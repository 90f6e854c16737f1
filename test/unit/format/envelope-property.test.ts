import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CseError } from '../../../src/errors.js';
import { cryptoHeaderNames, encodeEnvelope, parseEnvelope, pickCryptoHeaders } from '../../../src/format/envelope.js';
import { CekAlgorithm, GuideHeader, V1Header, V2Header, WrapAlgorithm } from '../../../src/format/headers.js';
import { encodeMatDesc } from '../../../src/format/matdesc.js';
import type { Envelope, MatDesc, WrapScheme } from '../../../src/format/types.js';

const RUNS = process.env.SLOW ? 2000 : 100;
const FUZZ_RUNS = process.env.SLOW ? 20000 : 300;

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const wrapped = fc.uint8Array({ minLength: 1, maxLength: 300 }).map(b64);
const md5 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(b64);
const count = fc.option(fc.nat({ max: Number.MAX_SAFE_INTEGER }), { nil: undefined });
const partSize = fc.option(fc.integer({ min: 1, max: 2 ** 40 }).map((n) => n * 16), { nil: undefined });
const text = fc.string({ unit: 'grapheme', maxLength: 10 });

/** Random ASCII case changes: header values compared case-insensitively must survive them verbatim. */
const recase = (s: string) => fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((flips) =>
  // Header names and algorithm labels are ASCII, so code units are characters here.
  Array.from({ length: s.length }, (_, i) => {
    const c = s.charAt(i);
    return flips[i] ? (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) : c;
  }).join(''),
);

/** A description and a spelling of it, as some writer might have stored it (or none, for an absent header). */
const described: fc.Arbitrary<{ matdesc: MatDesc; matdescRaw: string | undefined }> = fc.oneof(
  fc.constant({ matdesc: {}, matdescRaw: undefined }),
  fc.constantFrom('', '{}', ' { } ').map((raw) => ({ matdesc: {}, matdescRaw: raw })),
  fc.dictionary(text, text, { minKeys: 1, maxKeys: 4, noNullPrototype: true }).chain((m) =>
    fc.constantFrom(
      encodeMatDesc(m),
      // oss2's json.dumps spelling: ", " and ": " separators, insertion order.
      `{${Object.entries(m).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`).join(', ')}}`,
    ).map((raw) => ({ matdesc: m, matdescRaw: raw })),
  ),
);

const v2Envelope: fc.Arbitrary<Envelope> = fc
  .record({
    alg: fc.constantFrom<[string, WrapScheme]>(
      [WrapAlgorithm.RSA_PKCS1, 'rsa-pkcs1'],
      [WrapAlgorithm.RSA_OAEP_SHA1, 'rsa-oaep-sha1'],
      [WrapAlgorithm.KMS, 'kms'],
    ).chain(([a, s]) => recase(a).map((r) => [r, s] as const)),
    wrappedKey: wrapped,
    wrappedStart: wrapped,
    described,
    unencryptedContentMd5: fc.option(md5, { nil: undefined }),
    unencryptedContentLength: count,
    dataSize: count,
    partSize,
  })
  .map((r) => ({
    version: 'v2',
    scheme: r.alg[1],
    wrapAlgorithm: r.alg[0],
    cekAlgorithm: CekAlgorithm.AES_CTR,
    wrappedKey: r.wrappedKey,
    wrappedStart: r.wrappedStart,
    ...r.described,
    unencryptedContentMd5: r.unencryptedContentMd5,
    unencryptedContentLength: r.unencryptedContentLength,
    dataSize: r.dataSize,
    partSize: r.partSize,
  }));

const v1Envelope: fc.Arbitrary<Envelope> = fc
  .record({
    alg: fc.constantFrom<[string | undefined, WrapScheme]>(['rsa', 'rsa-oaep-sha1'], [undefined, 'rsa-oaep-sha1'], ['kms', 'kms']),
    cek: fc.constantFrom(undefined, CekAlgorithm.V1_MISLABELLED_GCM, CekAlgorithm.AES_CTR),
    wrappedKey: wrapped,
    wrappedStart: wrapped,
    described,
    unencryptedContentMd5: fc.option(md5, { nil: undefined }),
    unencryptedContentLength: count,
  })
  .map((r) => ({
    version: 'v1',
    scheme: r.alg[1],
    wrapAlgorithm: r.alg[0],
    cekAlgorithm: r.cek,
    wrappedKey: r.wrappedKey,
    wrappedStart: r.wrappedStart,
    ...r.described,
    unencryptedContentMd5: r.unencryptedContentMd5,
    unencryptedContentLength: r.unencryptedContentLength,
    dataSize: undefined,
    partSize: undefined,
  }));

const guideEnvelope: fc.Arbitrary<Envelope> = fc.record({ wrappedKey: wrapped, wrappedStart: wrapped }).map((r) => ({
  version: 'guide',
  scheme: 'rsa-oaep-sha1',
  wrapAlgorithm: undefined,
  cekAlgorithm: undefined,
  wrappedKey: r.wrappedKey,
  wrappedStart: r.wrappedStart,
  matdesc: {},
  matdescRaw: undefined,
  unencryptedContentMd5: undefined,
  unencryptedContentLength: undefined,
  dataSize: undefined,
  partSize: undefined,
}));

const anyEnvelope = fc.oneof(v2Envelope, v1Envelope, guideEnvelope);

/** Ordinary headers that must not disturb parsing. */
const junk = fc.dictionary(
  fc.constantFrom('content-type', 'etag', 'x-oss-meta-owner', 'x-oss-request-id', 'content-length', 'x-oss-meta-client-side-encryption'),
  fc.string({ maxLength: 20 }),
  { noNullPrototype: true },
);

test('property: parseEnvelope(encodeEnvelope(e)) deep-equals e for every family', () => {
  fc.assert(
    fc.property(anyEnvelope, (e) => {
      const h = encodeEnvelope(e);
      for (const name of Object.keys(h)) assert.ok(cryptoHeaderNames(e.version).includes(name), name);
      assert.deepEqual(parseEnvelope(h), e);
    }),
    { numRuns: RUNS },
  );
});

test('property: encodeEnvelope(parseEnvelope(h)) is the lower-cased crypto subset of h, whatever the name case and extra headers', () => {
  fc.assert(
    fc.property(
      anyEnvelope.chain((e) => {
        const entries = Object.entries(encodeEnvelope(e));
        return fc.tuple(fc.tuple(...entries.map(([k, v]) => recase(k).map((rk) => [rk, v] as const))), junk);
      }),
      ([entries, extra]) => {
        const h: Record<string, string> = { ...extra, ...Object.fromEntries(entries) };
        const expected = Object.fromEntries(entries.map(([k, v]) => [k.toLowerCase(), v]));
        assert.deepEqual(pickCryptoHeaders(h), expected);
        assert.deepEqual(encodeEnvelope(parseEnvelope(h)), expected);
      },
    ),
    { numRuns: RUNS },
  );
});

// ---- fuzz: arbitrary header maps give an Envelope or a CseError, nothing else ----

const cryptoName = fc.constantFrom(...cryptoHeaderNames()).chain((n) => fc.oneof(fc.constant(n), recase(n)));
const anyName = fc.oneof({ weight: 4, arbitrary: cryptoName }, { weight: 1, arbitrary: fc.string({ maxLength: 30 }) });

/** Single-character edits of a valid value: the inputs most likely to slip past a lax check. */
function mutate(s: string): fc.Arbitrary<string> {
  return fc.tuple(fc.nat({ max: Math.max(0, s.length) }), fc.constantFrom('delete', 'insert', 'replace', 'truncate', 'double'), fc.string({ minLength: 1, maxLength: 2, unit: 'binary' })).map(
    ([i, op, c]) => {
      switch (op) {
        case 'delete': return s.slice(0, i) + s.slice(i + 1);
        case 'insert': return s.slice(0, i) + c + s.slice(i);
        case 'replace': return s.slice(0, i) + c + s.slice(i + 1);
        case 'truncate': return s.slice(0, i);
        case 'double': return s + s;
      }
    },
  );
}

const value: fc.Arbitrary<string | string[] | number | undefined> = fc.oneof(
  fc.string({ maxLength: 40, unit: 'binary' }),
  wrapped,
  fc.constantFrom(
    '',
    '{}',
    '{"a":"b"}',
    '{"a":"b","a":"b"}',
    '["x"]',
    'AES/CTR/NoPadding',
    'AES/GCM/NoPadding',
    'RSA/NONE/PKCS1Padding',
    'KMS/ALICLOUD',
    'rsa',
    'kms',
    '262144',
    '-1',
    '1e3',
    '9007199254740993',
    'CRGtk49I5tFS6cf0Vf80GQ==',
  ),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
  fc.oneof(fc.integer(), fc.double()),
  fc.constant(undefined),
);

const mutatedEnvelope: fc.Arbitrary<Record<string, string | string[] | number | undefined>> = anyEnvelope.chain((e) => {
  const h = encodeEnvelope(e);
  const names = Object.keys(h);
  return fc.tuple(fc.constantFrom(...names), fc.dictionary(anyName, value, { maxKeys: 2, noNullPrototype: true })).chain(([name, extra]) =>
    mutate(h[name] ?? '').map((m) => ({ ...h, [name]: m, ...extra })),
  );
});

const headerMap = fc.oneof(
  fc.dictionary(anyName, value, { maxKeys: 12, noNullPrototype: true }),
  mutatedEnvelope,
);

test(`fuzz: parseEnvelope on arbitrary header maps returns an Envelope that round-trips or throws a CseError (${FUZZ_RUNS} runs)`, () => {
  let parsed = 0;
  let refused = 0;
  fc.assert(
    fc.property(headerMap, (h) => {
      let e: Envelope;
      try {
        e = parseEnvelope(h, { object: 'fuzz' });
      } catch (err) {
        if (!(err instanceof CseError) || !err.code.startsWith('ERR_CSE_') || err.object !== 'fuzz') throw err;
        refused++;
        return;
      }
      parsed++;
      assert.ok(['v2', 'v1', 'guide'].includes(e.version));
      assert.deepEqual(parseEnvelope(encodeEnvelope(e)), e);
    }),
    { numRuns: FUZZ_RUNS },
  );
  // Both outcomes must actually be exercised, or the generator is broken.
  assert.ok(parsed > 0 && refused > 0, `parsed ${parsed}, refused ${refused}`);
});

test('V1 envelope names never double as V2 ones (families are disjoint)', () => {
  const all = [...Object.values(V2Header), ...Object.values(V1Header), ...Object.values(GuideHeader)];
  assert.equal(new Set(all).size, all.length);
});
