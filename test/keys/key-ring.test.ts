// The key ring (issue 7 §2) with RSA and KMS keys (KMS through the real @alicloud/kms20160120 client against the
// emulator): the object's matdesc is compared as a map, so Go's compact spelling and oss2's spaced one both find the
// key by lookup with exactly one unwrap attempt; `strict` fails at once with a listing of the object's matdesc and
// every key's description and reason; `fallback` finds the right key among several and reports each failed one.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKmsServer, type KmsServer } from '../../server/src/kms/index.js';
import { NoMatchingKeyError } from '../../src/errors.js';
import { V2Header } from '../../src/format/headers.js';
import { KeyRing } from '../../src/keys/key-ring.js';
import { KmsMasterKey } from '../../src/keys/kms.js';
import type { MasterKey } from '../../src/keys/master-key.js';
import { RsaMasterKey, generateRsaKeyPair } from '../../src/keys/rsa.js';
import { decryptObject, encryptObject } from '../../src/object-crypto.js';
import { vectorKeys } from '../helpers/vectors.js';

const AK = { accessKeyId: 'ring-ak', accessKeySecret: 'ring-secret' };
const REGION = 'cn-hangzhou';
const PLAINTEXT = Buffer.from('key ring test body');

/** Counts unwrap attempts (every call, whatever its outcome). */
interface Counting extends MasterKey {
  calls: number;
}

function counting(key: MasterKey): Counting {
  const wrapper: Counting = {
    kind: key.kind,
    name: key.name,
    description: key.description,
    calls: 0,
    wrap: async (m) => key.wrap(m),
    unwrap: async (e, c) => {
      wrapper.calls++;
      return key.unwrap(e, c);
    },
  };
  return wrapper;
}

/** oss2 writes `json.dumps(matdesc)`: `{"k": "v", "k2": "v2"}`, spaces after `:` and `,`, its own key order. */
function oss2Spelling(matdesc: Record<string, string>): string {
  return `{${Object.entries(matdesc)
    .reverse()
    .map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`)
    .join(', ')}}`;
}

async function rejection(p: Promise<unknown>): Promise<NoMatchingKeyError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof NoMatchingKeyError, `expected NoMatchingKeyError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}

describe('key ring with RSA and KMS keys', () => {
  let kms: KmsServer;
  let rsa2024: RsaMasterKey;
  let rsa2025: RsaMasterKey;
  let rsaPlain: RsaMasterKey;
  let kmsA: KmsMasterKey;
  let kmsB: KmsMasterKey;
  const kmsCalls = (action: string): number => kms.service.calls().filter((c) => c.action === action).length;

  before(async () => {
    kms = await startKmsServer({ memory: true, credentials: [AK] });
    const make = async (keyId: string, description: Record<string, string>): Promise<KmsMasterKey> =>
      new KmsMasterKey({ keyId, region: REGION, endpoint: kms.endpoint, credentials: AK, description, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    kmsA = await make((await kms.service.createKey({ description: 'A' })).KeyId, { app: 'billing', year: '2025' });
    kmsB = await make((await kms.service.createKey({ description: 'B' })).KeyId, { app: 'billing', year: '2024' });
    rsa2024 = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { year: '2024', app: 'billing' } });
    rsa2025 = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem, description: { app: 'billing', year: '2025' } });
    rsaPlain = new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem });
  });
  after(async () => {
    await kms.close();
  });
  beforeEach(() => {
    kms.service.clearCalls();
    kms.service.clearFailures();
  });

  for (const writer of ['rsa', 'kms'] as const) {
    test(`${writer}: Go's compact matdesc and oss2's spaced one both find the key by lookup: exactly one unwrap attempt`, async () => {
      const key = writer === 'rsa' ? rsa2025 : kmsA;
      const enc = await encryptObject(PLAINTEXT, { masterKey: key });
      assert.equal(enc.headers[V2Header.MATDESC], '{"app":"billing","year":"2025"}', 'we write Go\'s spelling');
      const spaced = oss2Spelling({ app: 'billing', year: '2025' });
      assert.equal(spaced, '{"year": "2025", "app": "billing"}');
      for (const matdesc of [enc.headers[V2Header.MATDESC], spaced]) {
        const ring = [rsaPlain, rsa2024, kmsB, rsa2025, kmsA].map(counting);
        for (const policy of ['fallback', 'strict'] as const) {
          for (const k of ring) k.calls = 0;
          kms.service.clearCalls();
          const headers = { ...enc.headers, [V2Header.MATDESC]: matdesc ?? '' };
          const out = await decryptObject({ headers, body: enc.body }, { masterKeys: new KeyRing(ring, { policy }) });
          assert.ok(out.equals(PLAINTEXT));
          assert.deepEqual(
            ring.map((k) => k.calls),
            ring.map((k) => (k.name === key.name ? 1 : 0)),
            `${policy}, matdesc ${String(matdesc)}: only the matching key is tried, once`,
          );
          if (writer === 'kms') assert.equal(kmsCalls('Decrypt'), 2, 'one Decrypt for the key and one for the IV');
        }
      }
    });
  }

  test('strict: no description matches → NoMatchingKey at once, listing the object matdesc and every key', async () => {
    const enc = await encryptObject(PLAINTEXT, { masterKey: new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { year: '2023' } }) });
    const ring = [rsa2024, rsa2025, kmsA].map(counting);
    const e = await rejection(decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: new KeyRing(ring, { policy: 'strict' }) }));
    assert.equal(e.code, 'ERR_CSE_NO_MATCHING_KEY');
    assert.deepEqual(ring.map((k) => k.calls), [0, 0, 0], 'no key tried');
    assert.equal(e.objectDescription, '{"year":"2023"}');
    assert.match(e.message, /object matdesc \{"year":"2023"\}/);
    assert.deepEqual(
      e.attempts.map((a) => [a.key, a.description]),
      [
        [rsa2024.name, '{"app":"billing","year":"2024"}'],
        [rsa2025.name, '{"app":"billing","year":"2025"}'],
        [kmsA.name, '{"app":"billing","year":"2025"}'],
      ],
    );
    assert.match(e.attempts[0]?.reason ?? '', /strict policy: not tried/);
    assert.match(e.attempts[2]?.reason ?? '', /a kms key cannot unwrap a rsa envelope/);
    for (const a of e.attempts) assert.ok(e.message.includes(`${a.key} ${a.description}: ${a.reason}`));
  });

  test('fallback: the right key is found among several when no description matches, in order', async () => {
    // The object says year 2023, but it was written by the key now labelled 2024 (relabelled keys, Java/Go v2 style).
    const writer = new RsaMasterKey({ privateKey: vectorKeys.privatePkcs8(), description: { year: '2023' } });
    const enc = await encryptObject(PLAINTEXT, { masterKey: writer });
    const ring = [rsaPlain, rsa2025, kmsA, rsa2024].map(counting);
    const out = await decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: new KeyRing(ring) });
    assert.ok(out.equals(PLAINTEXT));
    assert.deepEqual(ring.map((k) => k.calls), [1, 1, 0, 1], 'the RSA keys in order up to the right one; the KMS key is not of the kind');
  });

  test('fallback: when none works, one NoMatchingKey reports every failed key and its reason', async () => {
    const enc = await encryptObject(PLAINTEXT, { masterKey: kmsB });
    // kmsA cannot open kmsB's blobs (the key-id check), the RSA keys are of the wrong kind.
    const ring = [rsa2024, kmsA, rsaPlain].map(counting);
    const e = await rejection(decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: new KeyRing(ring) }));
    assert.equal(e.objectDescription, '{"app":"billing","year":"2024"}');
    assert.deepEqual(ring.map((k) => k.calls), [0, 1, 0]);
    assert.deepEqual(e.attempts.map((a) => a.key), [kmsA.name, rsa2024.name, rsaPlain.name]);
    assert.match(e.attempts[0]?.reason ?? '', /wrapped under KMS key .*, not under kms:/);
    assert.deepEqual(e.attempts.map((a) => a.description), ['{"app":"billing","year":"2025"}', '{"app":"billing","year":"2024"}', '{}']);
    assert.equal(e.retryable, false);

    // Several RSA keys, all wrong: each one's reason is listed.
    const rsaEnc = await encryptObject(PLAINTEXT, { masterKey: new RsaMasterKey({ privateKey: (await generateRsaKeyPair(2048)).privateKeyPem }) });
    const rsaRing = [rsa2024, rsa2025, rsaPlain].map(counting);
    const e2 = await rejection(decryptObject({ headers: rsaEnc.headers, body: rsaEnc.body }, { masterKeys: rsaRing }));
    assert.deepEqual(rsaRing.map((k) => k.calls), [1, 1, 1], 'every RSA key tried once');
    assert.equal(e2.attempts.length, 3);
    for (const a of e2.attempts) assert.match(a.reason, /could not unwrap|cannot unwrap/);
  });

  test('a key that failed transiently makes the NoMatchingKey error retryable (a later attempt may succeed)', async () => {
    const enc = await encryptObject(PLAINTEXT, { masterKey: kmsA });
    kms.service.injectFailures({ action: 'Decrypt', count: 10 });
    const e = await rejection(decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: [kmsA] }));
    assert.equal(e.retryable, true);
    assert.match(e.attempts[0]?.reason ?? '', /ServiceUnavailableTemporary/);
    kms.service.clearFailures();
    assert.ok((await decryptObject({ headers: enc.headers, body: enc.body }, { masterKeys: [kmsA] })).equals(PLAINTEXT));
  });
});
