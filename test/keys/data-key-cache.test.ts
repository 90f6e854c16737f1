// DataKeyCachingMasterKey (issue 15 §4) against the KMS emulator through the real KMS client: KMS calls counted per
// PUT, each bound (age, object count, bytes) retiring the key, unknown lengths bypassing the cache, IVs under one
// key never sharing a counter block, concurrent misses sharing one KMS call, and every object readable by a plain
// KmsMasterKey (what a peer SDK does: two Decrypts).
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { startKmsServer, type KmsServer } from '../../server/src/kms/index.js';
import { CseError, ErrorCode } from '../../src/errors.js';
import { buildV2Envelope } from '../../src/format/envelope.js';
import { V2Header } from '../../src/format/headers.js';
import { DataKeyCachingMasterKey, MAX_OBJECTS_PER_DATA_KEY } from '../../src/keys/data-key-cache.js';
import { KmsMasterKey } from '../../src/keys/kms.js';
import { decryptObject, encryptObject, openEnvelope, sealEnvelope } from '../../src/object-crypto.js';

const AK = { accessKeyId: 'dk-cache-ak', accessKeySecret: 'dk-cache-secret' };
const REGION = 'cn-hangzhou';

describe('DataKeyCachingMasterKey against the KMS emulator', () => {
  let server: KmsServer;
  let kms: KmsMasterKey;
  let clock = 0;
  const encrypts = (): number => server.service.calls().filter((c) => c.action === 'Encrypt').length;
  const cache = (bounds: Partial<{ maxAgeMs: number; maxObjects: number; maxBytes: number }> = {}): DataKeyCachingMasterKey =>
    new DataKeyCachingMasterKey(kms, { maxAgeMs: 60_000, maxObjects: 100, maxBytes: 1 << 20, now: () => clock, ...bounds });

  before(async () => {
    server = await startKmsServer({ memory: true, credentials: [AK] });
    const keyId = (await server.service.createKey({ description: 'cache' })).KeyId;
    kms = new KmsMasterKey({ keyId, region: REGION, endpoint: `http://${server.hostPort}`, credentials: AK });
  });
  after(async () => {
    await server.close();
  });
  beforeEach(() => {
    server.service.clearCalls();
    clock = 0;
  });

  test('a burst of 20 small PUTs costs 21 KMS Encrypt calls (1 data key + 1 IV each) instead of 40, and all decrypt with a plain KMS key', async () => {
    const mk = cache();
    const bodies = Array.from({ length: 20 }, () => randomBytes(1024));
    const objects = [];
    for (const body of bodies) objects.push(await encryptObject(body, { masterKey: mk }));
    assert.equal(encrypts(), 21);
    const keys = new Set(objects.map((o) => o.headers[V2Header.KEY]));
    assert.equal(keys.size, 1, 'one wrapped data key for the burst');
    assert.equal(new Set(objects.map((o) => o.headers[V2Header.START])).size, 20, 'each object its own wrapped IV');
    for (const [i, o] of objects.entries()) {
      const out = await decryptObject({ headers: o.headers, body: o.body }, { masterKeys: [kms] });
      assert.deepEqual(out, bodies[i]);
    }
    mk.clear();
  });

  test('maxObjects: the data key is replaced after that many objects', async () => {
    const mk = cache({ maxObjects: 3 });
    const wrappedKeys = [];
    for (let i = 0; i < 7; i++) wrappedKeys.push((await sealEnvelope({ masterKey: mk, plaintextLength: 10 })).envelope.wrappedKey);
    assert.equal(new Set(wrappedKeys).size, 3); // 3 + 3 + 1
    assert.equal(encrypts(), 7 + 3);
    mk.clear();
  });

  test('maxBytes: an object that would pass the byte bound starts a new data key; one larger than it gets fresh material', async () => {
    const mk = cache({ maxBytes: 1000 });
    const a = await sealEnvelope({ masterKey: mk, plaintextLength: 600 });
    const b = await sealEnvelope({ masterKey: mk, plaintextLength: 400 });
    assert.equal(a.envelope.wrappedKey, b.envelope.wrappedKey); // exactly 1000
    const c = await sealEnvelope({ masterKey: mk, plaintextLength: 1 });
    assert.notEqual(c.envelope.wrappedKey, a.envelope.wrappedKey);
    assert.equal(encrypts(), 3 + 2);
    server.service.clearCalls();
    const big = await sealEnvelope({ masterKey: mk, plaintextLength: 1001 });
    assert.equal(encrypts(), 2, 'fresh key and IV for an object over maxBytes');
    const d = await sealEnvelope({ masterKey: mk, plaintextLength: 1 });
    assert.equal(d.envelope.wrappedKey, c.envelope.wrappedKey, 'the bypass does not disturb the cached key');
    assert.notEqual(big.envelope.wrappedKey, c.envelope.wrappedKey);
    mk.clear();
  });

  test('maxAgeMs: after that long a new data key is wrapped, hits do not renew the age', async () => {
    const mk = cache({ maxAgeMs: 1000 });
    const first = await sealEnvelope({ masterKey: mk, plaintextLength: 1 });
    clock = 999;
    const second = await sealEnvelope({ masterKey: mk, plaintextLength: 1 });
    assert.equal(second.envelope.wrappedKey, first.envelope.wrappedKey);
    clock = 1000;
    const third = await sealEnvelope({ masterKey: mk, plaintextLength: 1 });
    assert.notEqual(third.envelope.wrappedKey, first.envelope.wrappedKey);
    mk.clear();
  });

  test('an unknown length bypasses the cache (two KMS calls, a fresh key)', async () => {
    const mk = cache();
    const a = await sealEnvelope({ masterKey: mk, plaintextLength: 5 });
    server.service.clearCalls();
    const b = await sealEnvelope({ masterKey: mk });
    assert.equal(encrypts(), 2);
    assert.notEqual(a.envelope.wrappedKey, b.envelope.wrappedKey);
    mk.clear();
  });

  test('concurrent PUTs with no cached key share one KMS call for the data key', async () => {
    const mk = cache({ maxObjects: 1000 });
    const sealed = await Promise.all(Array.from({ length: 10 }, async () => sealEnvelope({ masterKey: mk, plaintextLength: 1 })));
    assert.equal(new Set(sealed.map((s) => s.envelope.wrappedKey)).size, 1);
    assert.equal(encrypts(), 11);
    mk.clear();
  });

  test('IVs under one data key keep the SDK shape and differ in bytes 0..7 (disjoint counter ranges), across bound changes', async () => {
    const mk = cache({ maxObjects: 50 });
    const byKey = new Map<string, Set<string>>();
    for (let i = 0; i < 120; i++) {
      const s = await sealEnvelope({ masterKey: mk, plaintextLength: 1 });
      assert.deepEqual([...s.material.iv.subarray(8, 12)], [0, 0, 0, 0]);
      const high = Buffer.from(s.material.iv.subarray(0, 8)).toString('hex');
      const set = byKey.get(s.envelope.wrappedKey) ?? new Set<string>();
      assert.ok(!set.has(high), 'no two objects under one key share IV bytes 0..7');
      set.add(high);
      byKey.set(s.envelope.wrappedKey, set);
      // What a reader gets back is what the writer used.
      const opened = await openEnvelope(s.headers, { masterKeys: [kms] });
      assert.deepEqual(opened.material.key, s.material.key);
      assert.deepEqual(opened.material.iv, s.material.iv);
    }
    assert.equal(byKey.size, 3);
    mk.clear();
  });

  // Counter blocks an object of `length` bytes uses: [IV, IV + ceil(length / 16)) as 128-bit integers.
  const counterRange = (iv: Uint8Array, length: number): [bigint, bigint] => {
    const start = BigInt(`0x${Buffer.from(iv).toString('hex')}`);
    return [start, start + BigInt(Math.ceil(length / 16))];
  };

  test('concurrent sealMaterial calls on a cached key: distinct IV bytes 0..7 and disjoint counter ranges per object, each round-trips', async () => {
    const mk = cache({ maxObjects: 1000 });
    await mk.sealMaterial({ plaintextLength: 1 }); // a live entry, so the burst is all cache hits
    const lengths = Array.from({ length: 40 }, (_, i) => 1 + i * 37);
    const sealed = await Promise.all(lengths.map(async (plaintextLength) => mk.sealMaterial({ plaintextLength })));
    const byKey = new Map<string, { high: string; range: [bigint, bigint] }[]>();
    for (const [i, s] of sealed.entries()) {
      assert.deepEqual([...s.material.iv.subarray(8, 12)], [0, 0, 0, 0]);
      const list = byKey.get(s.wrapped.wrappedKey) ?? [];
      list.push({ high: Buffer.from(s.material.iv.subarray(0, 8)).toString('hex'), range: counterRange(s.material.iv, lengths[i] ?? 0) });
      byKey.set(s.wrapped.wrappedKey, list);
    }
    for (const list of byKey.values()) {
      assert.equal(new Set(list.map((o) => o.high)).size, list.length, 'no two objects under one key share IV bytes 0..7');
      const ranges = list.map((o) => o.range).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      for (let i = 1; i < ranges.length; i++) {
        assert.ok((ranges[i - 1]?.[1] ?? 0n) <= (ranges[i]?.[0] ?? 0n), 'counter ranges under one key are disjoint');
      }
    }
    for (const s of sealed) {
      const opened = await kms.unwrap(buildV2Envelope(s.wrapped, { matdesc: kms.description }));
      assert.ok(opened !== null);
      assert.deepEqual(opened.key, s.material.key);
      assert.deepEqual(opened.iv, s.material.iv);
    }
    mk.clear();
  });

  test('concurrent PUTs with maxObjects 1: no object gets a zeroed key, each decrypts with the key from its own envelope', async () => {
    const mk = cache({ maxObjects: 1 });
    await mk.sealMaterial({ plaintextLength: 1 }); // a full entry: the burst retires it and races for new ones
    const bodies = Array.from({ length: 12 }, () => randomBytes(100));
    const objects = await Promise.all(bodies.map(async (body) => encryptObject(body, { masterKey: mk })));
    const sealed = await Promise.all(bodies.map(async () => mk.sealMaterial({ plaintextLength: 10 })));
    for (const s of sealed) {
      assert.ok(s.material.key.some((b) => b !== 0), 'never an all-zero data key');
      const opened = await kms.unwrap(buildV2Envelope(s.wrapped, { matdesc: kms.description }));
      assert.ok(opened !== null);
      assert.deepEqual(opened.key, s.material.key, 'the key used is the key in the envelope');
    }
    for (const [i, o] of objects.entries()) {
      const out = await decryptObject({ headers: o.headers, body: o.body }, { masterKeys: [kms] });
      assert.deepEqual(out, bodies[i]);
    }
    mk.clear();
  });

  test('a failed KMS call caches nothing: the next PUT asks again and succeeds', async () => {
    const mk = cache();
    server.service.injectFailures({ action: 'Encrypt', count: 3, code: 'Rejected.Throttling', status: 400 });
    await assert.rejects(sealEnvelope({ masterKey: mk, plaintextLength: 1 }), (e: unknown) => e instanceof CseError && e.code === ErrorCode.KMS);
    server.service.clearFailures();
    const ok = await sealEnvelope({ masterKey: mk, plaintextLength: 1 });
    assert.ok(ok.envelope.wrappedKey.length > 0);
    mk.clear();
  });

  test('bounds are validated: every bad value is a typed error', () => {
    const bad: Record<string, unknown>[] = [
      { maxAgeMs: 0, maxObjects: 1, maxBytes: 1 },
      { maxAgeMs: 1, maxObjects: 0, maxBytes: 1 },
      { maxAgeMs: 1, maxObjects: MAX_OBJECTS_PER_DATA_KEY + 1, maxBytes: 1 },
      { maxAgeMs: 1, maxObjects: 1, maxBytes: -1 },
      { maxAgeMs: 1.5, maxObjects: 1, maxBytes: 1 },
      { maxObjects: 1, maxBytes: 1 },
    ];
    for (const options of bad) {
      assert.throws(() => new DataKeyCachingMasterKey(kms, options as never), (e: unknown) => e instanceof CseError && e.code === ErrorCode.INVALID_ARGUMENT);
    }
    assert.throws(() => new DataKeyCachingMasterKey({} as never, { maxAgeMs: 1, maxObjects: 1, maxBytes: 1 }), CseError);
  });

  test('property: for any sequence of lengths, the data key changes exactly when a bound is reached', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: 300 }), { minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 4 }), async (lengths, maxObjects) => {
        const maxBytes = 500;
        const mk = cache({ maxObjects, maxBytes });
        server.service.clearCalls();
        let keys = 0;
        let objects = 0;
        let bytes = 0;
        for (const length of lengths) {
          if (keys === 0 || objects + 1 > maxObjects || bytes + length > maxBytes) {
            keys++;
            objects = 0;
            bytes = 0;
          }
          objects++;
          bytes += length;
          await sealEnvelope({ masterKey: mk, plaintextLength: length });
        }
        assert.equal(encrypts(), lengths.length + keys);
        mk.clear();
      }),
      { numRuns: 15 },
    );
  });
});
