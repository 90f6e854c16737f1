// The opt-in unwrap cache (src/keys/caching-master-key.ts): hits skip the inner key, every caller gets its own copy,
// entries expire by age (not renewed by hits) and by LRU count and are zeroed when they go, envelopes differing in any
// field never share an entry, null and errors are never cached, wrap is never cached, and an EncryptionClient reading
// one object 100 times through ranged GETs unwraps once.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { EncryptionClient } from '../../src/client.js';
import { CseError, ErrorCode } from '../../src/errors.js';
import type { ContentMaterial, Envelope, WrappedMaterial } from '../../src/format/types.js';
import { CachingMasterKey, MAX_CACHE_ENTRIES, envelopeDigest } from '../../src/keys/caching-master-key.js';
import type { MasterKey } from '../../src/keys/master-key.js';
import { RsaMasterKey } from '../../src/keys/rsa.js';
import { vectorKeys } from '../helpers/vectors.js';
import { startHarness, type Harness } from '../client/support.js';

const NUM_RUNS = process.env.SLOW ? 1000 : 10;

/** A fake inner key: material derived from the whole envelope, every returned material and call recorded. */
class FakeKey implements MasterKey {
  readonly kind = 'rsa' as const;
  readonly name = 'fake-inner';
  readonly description = { role: 'inner' };
  calls = 0;
  wraps = 0;
  readonly returned: ContentMaterial[] = [];
  constructor(readonly behaviour: 'ok' | 'null' | 'throw' = 'ok') {}
  async wrap(material: ContentMaterial): Promise<WrappedMaterial> {
    this.wraps++;
    return {
      wrapAlgorithm: 'fake',
      wrappedKey: Buffer.from(material.key).toString('base64'),
      wrappedStart: Buffer.from(material.iv).toString('base64'),
    };
  }
  async unwrap(envelope: Envelope): Promise<ContentMaterial | null> {
    this.calls++;
    await Promise.resolve();
    if (this.behaviour === 'null') return null;
    if (this.behaviour === 'throw') throw new CseError(ErrorCode.UNWRAP_FAILED, 'fake inner key refuses');
    const material = expectedMaterial(envelope);
    this.returned.push(material);
    return material;
  }
}

function expectedMaterial(envelope: Envelope): ContentMaterial {
  const d = createHash('sha256').update(JSON.stringify(envelope)).digest();
  return { key: new Uint8Array(d), iv: new Uint8Array(d.subarray(0, 16)) };
}

function envelope(overrides: Partial<Envelope> = {}): Envelope {
  return {
    version: 'v2',
    scheme: 'rsa-pkcs1',
    wrapAlgorithm: 'RSA/NONE/PKCS1Padding',
    cekAlgorithm: 'AES/CTR/NoPadding',
    wrappedKey: 'a2V5',
    wrappedStart: 'c3RhcnQ=',
    matdesc: {},
    matdescRaw: undefined,
    unencryptedContentMd5: undefined,
    unencryptedContentLength: 1024,
    dataSize: undefined,
    partSize: undefined,
    ...overrides,
  };
}

const isZero = (m: ContentMaterial): boolean => m.key.every((b) => b === 0) && m.iv.every((b) => b === 0);

function cache(inner: MasterKey, clock?: { t: number }, maxEntries = 10, maxAgeMs = 1000): CachingMasterKey {
  return new CachingMasterKey(inner, { maxEntries, maxAgeMs, ...(clock === undefined ? {} : { now: () => clock.t }) });
}

async function must(p: Promise<ContentMaterial | null>): Promise<ContentMaterial> {
  const m = await p;
  assert.ok(m !== null, 'expected material');
  return m;
}

describe('CachingMasterKey', () => {
  test('a hit does not call the inner key and returns the same bytes', async () => {
    const inner = new FakeKey();
    const key = cache(inner, { t: 0 });
    const e = envelope();
    const first = await must(key.unwrap(e));
    for (let i = 0; i < 5; i++) assert.deepEqual(await must(key.unwrap(e)), first);
    assert.equal(inner.calls, 1);
    assert.deepEqual(first, expectedMaterial(e));
    assert.equal(key.size, 1);
  });

  test('every unwrap returns a fresh copy: zeroing what a caller got does not affect the next hit', async () => {
    const inner = new FakeKey();
    const key = cache(inner, { t: 0 });
    const e = envelope();
    const miss = await must(key.unwrap(e));
    const hit = await must(key.unwrap(e));
    assert.notEqual(miss.key.buffer, hit.key.buffer);
    assert.notEqual(miss.iv.buffer, hit.iv.buffer);
    miss.key.fill(0);
    miss.iv.fill(0);
    hit.key.fill(0);
    hit.iv.fill(0);
    assert.deepEqual(await must(key.unwrap(e)), expectedMaterial(e));
    assert.equal(inner.calls, 1);
  });

  test('an entry expires maxAgeMs after the unwrap that filled it (hits do not renew it) and is zeroed', async () => {
    const inner = new FakeKey();
    const clock = { t: 5_000 };
    const key = cache(inner, clock, 10, 1000);
    const e = envelope();
    await key.unwrap(e);
    clock.t += 999;
    await key.unwrap(e);
    assert.equal(inner.calls, 1, 'a hit 1 ms before expiry');
    const firstCopy = inner.returned[0];
    assert.ok(firstCopy !== undefined && !isZero(firstCopy));
    clock.t += 1;
    assert.equal(key.size, 0, 'expired at exactly maxAgeMs');
    assert.ok(isZero(firstCopy), 'the expired entry is zeroed');
    assert.deepEqual(await must(key.unwrap(e)), expectedMaterial(e));
    assert.equal(inner.calls, 2);
  });

  test('an idle entry is zeroed by the timer after maxAgeMs without any further call', async () => {
    const inner = new FakeKey();
    const key = new CachingMasterKey(inner, { maxEntries: 4, maxAgeMs: 20 });
    await key.unwrap(envelope());
    const held = inner.returned[0];
    assert.ok(held !== undefined && !isZero(held));
    await new Promise((resolve) => setTimeout(resolve, 80));
    assert.ok(isZero(held));
  });

  test('beyond maxEntries the least recently used entry is evicted and zeroed', async () => {
    const inner = new FakeKey();
    const key = cache(inner, { t: 0 }, 2);
    const [a, b, c] = ['A', 'B', 'C'].map((k) => envelope({ wrappedKey: k }));
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    await key.unwrap(a);
    await key.unwrap(b);
    await key.unwrap(a); // a is now the most recently used
    assert.equal(inner.calls, 2);
    await key.unwrap(c); // evicts b
    assert.equal(key.size, 2);
    const [heldA, heldB, heldC] = inner.returned;
    assert.ok(heldA !== undefined && heldB !== undefined && heldC !== undefined);
    assert.ok(isZero(heldB), 'the evicted entry is zeroed');
    assert.ok(!isZero(heldA) && !isZero(heldC));
    await key.unwrap(a);
    await key.unwrap(c);
    assert.equal(inner.calls, 3, 'a and c are still cached');
    assert.deepEqual(await must(key.unwrap(b)), expectedMaterial(b));
    assert.equal(inner.calls, 4, 'b was evicted');
  });

  test('envelopes differing in any single field never share an entry', async () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const optText = fc.option(text, { nil: undefined });
    const optNumber = fc.option(fc.oneof(fc.integer(), fc.double()), { nil: undefined });
    const matdesc = fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 3 });
    const fields: { [K in keyof Envelope]-?: fc.Arbitrary<Envelope[K]> } = {
      version: fc.constantFrom('v2', 'v1', 'guide'),
      scheme: fc.constantFrom('rsa-pkcs1', 'rsa-oaep-sha1', 'kms'),
      wrapAlgorithm: optText,
      cekAlgorithm: optText,
      wrappedKey: text,
      wrappedStart: text,
      matdesc,
      matdescRaw: optText,
      unencryptedContentMd5: optText,
      unencryptedContentLength: optNumber,
      dataSize: optNumber,
      partSize: optNumber,
    };
    const names = Object.keys(fields) as (keyof Envelope)[];
    const base = fc.record(fields) as fc.Arbitrary<Envelope>;
    const sameValue = (a: unknown, b: unknown): boolean =>
      typeof a === 'object' && typeof b === 'object' && a !== null && b !== null
        ? JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort())
        : Object.is(a, b);
    const arb = fc
      .tuple(base, fc.constantFrom(...names))
      .chain(([e, field]) =>
        (fields[field] as fc.Arbitrary<unknown>)
          .filter((v) => !sameValue(v, e[field]))
          .map((v) => [e, { ...e, [field]: v }, field] as const),
      );
    await fc.assert(
      fc.asyncProperty(arb, async ([a, b, field]) => {
        const inner = new FakeKey();
        const key = cache(inner, { t: 0 });
        await key.unwrap(a);
        await key.unwrap(b);
        assert.equal(inner.calls, 2, `envelopes differing in ${field} shared an entry`);
        assert.notEqual(envelopeDigest(a), envelopeDigest(b));
        await key.unwrap(a);
        await key.unwrap(b);
        assert.equal(inner.calls, 2, 'each is a hit afterwards');
      }),
      { numRuns: NUM_RUNS * 5 },
    );
  });

  test('the cache key is unambiguous: shifted field boundaries and distinct lone surrogates are different entries', () => {
    assert.notEqual(envelopeDigest(envelope({ wrappedKey: 'ab', wrappedStart: 'c' })), envelopeDigest(envelope({ wrappedKey: 'a', wrappedStart: 'bc' })));
    assert.notEqual(envelopeDigest(envelope({ wrappedKey: '\ud800' })), envelopeDigest(envelope({ wrappedKey: '\ud801' })));
    assert.notEqual(envelopeDigest(envelope({ matdescRaw: undefined })), envelopeDigest(envelope({ matdescRaw: '' })));
    assert.notEqual(envelopeDigest(envelope({ matdesc: { a: 'b', c: '' } })), envelopeDigest(envelope({ matdesc: { a: '', b: 'c' } })));
    // The matdesc is a map: key order does not matter (as in the key ring).
    assert.equal(envelopeDigest(envelope({ matdesc: { a: '1', b: '2' } })), envelopeDigest(envelope({ matdesc: { b: '2', a: '1' } })));
  });

  test('an envelope with fields of the wrong type is unwrapped by the inner key and not cached', async () => {
    const inner = new FakeKey();
    const key = cache(inner, { t: 0 });
    const odd = envelope({ matdesc: { a: 1 } as unknown as Envelope['matdesc'] });
    assert.equal(envelopeDigest(odd), undefined);
    await key.unwrap(odd);
    await key.unwrap(odd);
    assert.equal(inner.calls, 2);
    assert.equal(key.size, 0);
  });

  test('null ("not mine") passes through and is not cached', async () => {
    const inner = new FakeKey('null');
    const key = cache(inner, { t: 0 });
    assert.equal(await key.unwrap(envelope()), null);
    assert.equal(await key.unwrap(envelope()), null);
    assert.equal(inner.calls, 2);
    assert.equal(key.size, 0);
  });

  test('errors pass through unchanged and are not cached', async () => {
    const inner = new FakeKey('throw');
    const key = cache(inner, { t: 0 });
    await assert.rejects(key.unwrap(envelope()), { code: ErrorCode.UNWRAP_FAILED, message: /fake inner key refuses/ });
    await assert.rejects(key.unwrap(envelope()), { code: ErrorCode.UNWRAP_FAILED });
    assert.equal(inner.calls, 2);
    assert.equal(key.size, 0);
  });

  test('concurrent misses for one envelope share one inner unwrap and each caller gets its own copy', async () => {
    const inner = new FakeKey();
    const key = cache(inner, { t: 0 });
    const e = envelope();
    const results = await Promise.all(Array.from({ length: 6 }, async () => must(key.unwrap(e))));
    assert.equal(inner.calls, 1);
    const buffers = new Set(results.map((m) => m.key.buffer));
    assert.equal(buffers.size, results.length, 'distinct copies');
    results[0]?.key.fill(0);
    for (const m of results.slice(1)) assert.deepEqual(m, expectedMaterial(e));
    const held = inner.returned[0];
    assert.ok(held !== undefined && !isZero(held), "the cache's entry is intact");
  });

  test('clear() zeroes every entry and the next read asks the inner key again', async () => {
    const inner = new FakeKey();
    const key = cache(inner, { t: 0 });
    await key.unwrap(envelope({ wrappedKey: 'x' }));
    await key.unwrap(envelope({ wrappedKey: 'y' }));
    key.clear();
    assert.equal(key.size, 0);
    assert.ok(inner.returned.every(isZero));
    await key.unwrap(envelope({ wrappedKey: 'x' }));
    assert.equal(inner.calls, 3);
  });

  test('an unwrap in flight during clear() answers its caller but does not fill the cache', async () => {
    const inner = new FakeKey();
    const key = cache(inner, { t: 0 });
    const pending = key.unwrap(envelope());
    key.clear();
    assert.deepEqual(await must(pending), expectedMaterial(envelope()));
    assert.equal(key.size, 0);
    assert.ok(inner.returned.every(isZero));
  });

  test('wrap delegates to the inner key on every call (never cached)', async () => {
    const inner = new FakeKey();
    const key = cache(inner);
    const material = { key: new Uint8Array(32).fill(7), iv: new Uint8Array(16).fill(9) };
    const a = await key.wrap(material);
    const b = await key.wrap(material);
    assert.equal(inner.wraps, 2);
    assert.deepEqual(a, await inner.wrap(material));
    assert.deepEqual(a, b);
  });

  test("name, kind, description, canUnwrap and fingerprint are the inner key's", () => {
    const rsa = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { team: 'a' } });
    const key = cache(rsa);
    assert.equal(key.name, rsa.name);
    assert.equal(key.kind, 'rsa');
    assert.deepEqual(key.description, { team: 'a' });
    assert.equal(key.canUnwrap, true);
    assert.equal(key.fingerprint, rsa.fingerprint);
    const publicOnly = cache(new RsaMasterKey({ publicKey: vectorKeys.publicSpki() }));
    assert.equal(publicOnly.canUnwrap, false);
    assert.equal(cache(new FakeKey()).fingerprint, undefined);
  });

  test('bounds that are missing, not integers, not positive or too large are refused with ERR_CSE_INVALID_ARGUMENT', () => {
    const inner = new FakeKey();
    const bad: unknown[] = [
      { maxEntries: 0, maxAgeMs: 1000 },
      { maxEntries: -1, maxAgeMs: 1000 },
      { maxEntries: 1.5, maxAgeMs: 1000 },
      { maxEntries: MAX_CACHE_ENTRIES + 1, maxAgeMs: 1000 },
      { maxEntries: Number.NaN, maxAgeMs: 1000 },
      { maxEntries: 10, maxAgeMs: 0 },
      { maxEntries: 10, maxAgeMs: 2.5 },
      { maxEntries: 10, maxAgeMs: Infinity },
      { maxEntries: 10 },
      { maxAgeMs: 10 },
      { maxEntries: 10, maxAgeMs: 10, now: 5 },
      null,
      undefined,
    ];
    for (const options of bad) {
      assert.throws(() => new CachingMasterKey(inner, options as never), { code: ErrorCode.INVALID_ARGUMENT }, JSON.stringify(options));
    }
    assert.throws(() => new CachingMasterKey({} as never, { maxEntries: 1, maxAgeMs: 1 }), { code: ErrorCode.INVALID_ARGUMENT });
    assert.equal(new CachingMasterKey(inner, { maxEntries: MAX_CACHE_ENTRIES, maxAgeMs: 1 }).maxEntries, MAX_CACHE_ENTRIES);
  });
});

describe('EncryptionClient with a CachingMasterKey', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test('100 ranged GETs of one object take exactly one inner unwrap and return the right bytes', async () => {
    const rsa = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8() });
    let unwraps = 0;
    const counted: MasterKey = {
      kind: rsa.kind,
      name: rsa.name,
      description: rsa.description,
      wrap: async (m) => rsa.wrap(m),
      unwrap: async (e, c) => {
        unwraps++;
        return rsa.unwrap(e, c);
      },
    };
    const client = new EncryptionClient(h.oss, { masterKey: new CachingMasterKey(counted, { maxEntries: 16, maxAgeMs: 60_000 }) });
    const body = randomBytes(256 * 1024 + 7);
    await client.put('cache/ranged', body);
    for (let i = 0; i < 100; i++) {
      const start = Math.floor(Math.random() * (body.length - 1));
      const end = Math.min(body.length - 1, start + Math.floor(Math.random() * 2048));
      const r = await client.get('cache/ranged', { range: { start, end } });
      assert.deepEqual(r.content, body.subarray(start, end + 1), `range ${start}-${end}`);
    }
    assert.equal(unwraps, 1);
  });
});
