import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { constants, createPrivateKey, createPublicKey, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { CseError } from '../../../src/errors.js';
import {
  buildV2Envelope,
  cryptoHeaderNames,
  detectEnvelopeVersion,
  encodeEnvelope,
  isMd5Base64,
  isCryptoHeader,
  kmsCiphertextBlob,
  MAX_CRYPTO_HEADER_LENGTH,
  parseEnvelope,
  pickCryptoHeaders,
  schemeOfWrapAlgorithm,
} from '../../../src/format/envelope.js';
import type { HeaderInput } from '../../../src/format/envelope.js';
import { GuideHeader, V1Header, V2Header } from '../../../src/format/headers.js';
import { counterBlockFromDecimal } from '../../../src/format/layout.js';
import type { Envelope } from '../../../src/format/types.js';

const vectors = (dir: string) => JSON.parse(readFileSync(new URL(`../../vectors/${dir}/vectors.json`, import.meta.url), 'utf8'));
const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64');

/** A valid V2 RSA envelope: the Go SDK's put-17 request headers. */
const goPut17: Record<string, string> = vectors('go').cases.find((c: any) => c.name === 'put-17').request_headers;
const V2_BASE: Record<string, string> = Object.fromEntries(Object.entries(goPut17).filter(([k]) => isCryptoHeader(k)));
const WRAPPED = b64(randomBytes(256));
const V1_BASE: Record<string, string> = {
  [V1Header.KEY]: WRAPPED,
  [V1Header.START]: WRAPPED,
  [V1Header.CEK_ALG]: 'AES/GCM/NoPadding',
  [V1Header.WRAP_ALG]: 'rsa',
};
const GUIDE_BASE: Record<string, string> = { [GuideHeader.KEY]: WRAPPED, [GuideHeader.START]: WRAPPED };

function without(h: Record<string, string>, name: string): Record<string, string> {
  const { [name]: _, ...rest } = h;
  return rest;
}

function rejects(headers: HeaderInput, code: string, header?: string): void {
  assert.throws(
    () => parseEnvelope(headers, { object: 'dir/obj.bin' }),
    (e: unknown) => {
      assert.ok(e instanceof CseError, `expected a CseError, got ${String(e)}`);
      assert.equal(e.code, code, e.message);
      assert.equal(e.header, header);
      assert.equal(e.object, 'dir/obj.bin');
      assert.ok(e.message.includes('dir/obj.bin'));
      return true;
    },
  );
}

// ---- negative cases: each names its code and header ----

const negative: [string, HeaderInput, string, string | undefined][] = [
  // Missing required V2 headers.
  ['V2 without key', without(V2_BASE, V2Header.KEY), 'ERR_CSE_ENVELOPE_MISSING_HEADER', V2Header.KEY],
  ['V2 without start', without(V2_BASE, V2Header.START), 'ERR_CSE_ENVELOPE_MISSING_HEADER', V2Header.START],
  ['V2 without cek-alg', without(V2_BASE, V2Header.CEK_ALG), 'ERR_CSE_ENVELOPE_MISSING_HEADER', V2Header.CEK_ALG],
  ['V2 without wrap-alg', without(V2_BASE, V2Header.WRAP_ALG), 'ERR_CSE_ENVELOPE_MISSING_HEADER', V2Header.WRAP_ALG],
  ['only a V2 matdesc', { [V2Header.MATDESC]: '{}' }, 'ERR_CSE_ENVELOPE_MISSING_HEADER', V2Header.KEY],
  ['only a V2 data-size', { [V2Header.DATA_SIZE]: '10' }, 'ERR_CSE_ENVELOPE_MISSING_HEADER', V2Header.KEY],
  // Bad base64.
  ['V2 empty key', { ...V2_BASE, [V2Header.KEY]: '' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', V2Header.KEY],
  ['V2 key with a line break', { ...V2_BASE, [V2Header.KEY]: 'QUJD\nREVG' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', V2Header.KEY],
  ['V2 key with a space', { ...V2_BASE, [V2Header.KEY]: 'QUJD REVG' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', V2Header.KEY],
  ['V2 key unpadded', { ...V2_BASE, [V2Header.KEY]: 'QUJDRA' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', V2Header.KEY],
  ['V2 key in the URL-safe alphabet', { ...V2_BASE, [V2Header.KEY]: 'ab-_cd==' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', V2Header.KEY],
  ['V2 start with misplaced padding', { ...V2_BASE, [V2Header.START]: 'ab=c' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', V2Header.START],
  ['V2 start with too much padding', { ...V2_BASE, [V2Header.START]: 'a===' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', V2Header.START],
  ['V2 start with a non-ASCII char', { ...V2_BASE, [V2Header.START]: 'QUJDé===' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', V2Header.START],
  // Algorithms.
  ['V2 labelled AES/GCM/NoPadding', { ...V2_BASE, [V2Header.CEK_ALG]: 'AES/GCM/NoPadding' }, 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM', V2Header.CEK_ALG],
  ['V2 cek-alg in lower case', { ...V2_BASE, [V2Header.CEK_ALG]: 'aes/ctr/nopadding' }, 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM', V2Header.CEK_ALG],
  ['V2 empty cek-alg', { ...V2_BASE, [V2Header.CEK_ALG]: '' }, 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM', V2Header.CEK_ALG],
  ['V2 unknown wrap-alg', { ...V2_BASE, [V2Header.WRAP_ALG]: 'RSA/ECB/PKCS1Padding' }, 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM', V2Header.WRAP_ALG],
  ['V2 with the V1 wrap-alg label', { ...V2_BASE, [V2Header.WRAP_ALG]: 'rsa' }, 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM', V2Header.WRAP_ALG],
  ['V2 empty wrap-alg', { ...V2_BASE, [V2Header.WRAP_ALG]: '' }, 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM', V2Header.WRAP_ALG],
  ['V2 wrap-alg with a non-ASCII case fold', { ...V2_BASE, [V2Header.WRAP_ALG]: 'kms/alıcloud' }, 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM', V2Header.WRAP_ALG],
  // Material description.
  ['matdesc not JSON', { ...V2_BASE, [V2Header.MATDESC]: 'desc=x' }, 'ERR_CSE_ENVELOPE_BAD_MATDESC', V2Header.MATDESC],
  ['matdesc an array', { ...V2_BASE, [V2Header.MATDESC]: '["a"]' }, 'ERR_CSE_ENVELOPE_BAD_MATDESC', V2Header.MATDESC],
  ['matdesc nested', { ...V2_BASE, [V2Header.MATDESC]: '{"a":{"b":"c"}}' }, 'ERR_CSE_ENVELOPE_BAD_MATDESC', V2Header.MATDESC],
  ['matdesc number value', { ...V2_BASE, [V2Header.MATDESC]: '{"a":1}' }, 'ERR_CSE_ENVELOPE_BAD_MATDESC', V2Header.MATDESC],
  ['matdesc null value', { ...V2_BASE, [V2Header.MATDESC]: '{"a":null}' }, 'ERR_CSE_ENVELOPE_BAD_MATDESC', V2Header.MATDESC],
  ['matdesc duplicate keys', { ...V2_BASE, [V2Header.MATDESC]: '{"a":"b","a":"c"}' }, 'ERR_CSE_ENVELOPE_BAD_MATDESC', V2Header.MATDESC],
  ['V1 matdesc not JSON', { ...V1_BASE, [V1Header.MATDESC]: '{' }, 'ERR_CSE_ENVELOPE_BAD_MATDESC', V1Header.MATDESC],
  // Numbers.
  ['negative data-size', { ...V2_BASE, [V2Header.DATA_SIZE]: '-1' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.DATA_SIZE],
  ['fractional data-size', { ...V2_BASE, [V2Header.DATA_SIZE]: '1.5' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.DATA_SIZE],
  ['hex data-size', { ...V2_BASE, [V2Header.DATA_SIZE]: '0x10' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.DATA_SIZE],
  ['exponent data-size', { ...V2_BASE, [V2Header.DATA_SIZE]: '1e3' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.DATA_SIZE],
  ['empty data-size', { ...V2_BASE, [V2Header.DATA_SIZE]: '' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.DATA_SIZE],
  ['data-size above 2^53', { ...V2_BASE, [V2Header.DATA_SIZE]: '9007199254740993' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.DATA_SIZE],
  ['data-size as a NaN number', { ...V2_BASE, [V2Header.DATA_SIZE]: Number.NaN }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.DATA_SIZE],
  ['unencrypted-content-length with a space', { ...V2_BASE, [V2Header.UNENCRYPTED_CONTENT_LENGTH]: ' 12' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.UNENCRYPTED_CONTENT_LENGTH],
  ['unencrypted-content-length with a sign', { ...V2_BASE, [V2Header.UNENCRYPTED_CONTENT_LENGTH]: '+12' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.UNENCRYPTED_CONTENT_LENGTH],
  ['V1 unencrypted-content-length not a number', { ...V1_BASE, [V1Header.UNENCRYPTED_CONTENT_LENGTH]: 'ten' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V1Header.UNENCRYPTED_CONTENT_LENGTH],
  ['part-size not a multiple of 16', { ...V2_BASE, [V2Header.PART_SIZE]: '100001' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.PART_SIZE],
  ['part-size zero', { ...V2_BASE, [V2Header.PART_SIZE]: '0' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.PART_SIZE],
  ['part-size negative', { ...V2_BASE, [V2Header.PART_SIZE]: '-16' }, 'ERR_CSE_ENVELOPE_BAD_NUMBER', V2Header.PART_SIZE],
  // V1.
  ['V1 without key', without(V1_BASE, V1Header.KEY), 'ERR_CSE_ENVELOPE_MISSING_HEADER', V1Header.KEY],
  ['V1 without start', without(V1_BASE, V1Header.START), 'ERR_CSE_ENVELOPE_MISSING_HEADER', V1Header.START],
  ['V1 start not base64', { ...V1_BASE, [V1Header.START]: '8' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', V1Header.START],
  ['V1 key not base64', { ...V1_BASE, [V1Header.KEY]: '%%%%' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', V1Header.KEY],
  ['V1 with a V2 wrap-alg label', { ...V1_BASE, [V1Header.WRAP_ALG]: 'RSA/NONE/PKCS1Padding' }, 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM', V1Header.WRAP_ALG],
  ['V1 wrap-alg in upper case', { ...V1_BASE, [V1Header.WRAP_ALG]: 'KMS' }, 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM', V1Header.WRAP_ALG],
  ['V1 unknown cek-alg', { ...V1_BASE, [V1Header.CEK_ALG]: 'AES/CBC/PKCS5Padding' }, 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM', V1Header.CEK_ALG],
  // Guide form.
  ['guide without start', without(GUIDE_BASE, GuideHeader.START), 'ERR_CSE_ENVELOPE_MISSING_HEADER', GuideHeader.START],
  ['guide without key', without(GUIDE_BASE, GuideHeader.KEY), 'ERR_CSE_ENVELOPE_MISSING_HEADER', GuideHeader.KEY],
  ['guide key not base64', { ...GUIDE_BASE, [GuideHeader.KEY]: 'a b' }, 'ERR_CSE_ENVELOPE_BAD_BASE64', GuideHeader.KEY],
  // Ambiguity and header-level damage.
  ['V1 and V2 at once', { ...V2_BASE, ...V1_BASE }, 'ERR_CSE_ENVELOPE_MALFORMED', V1Header.KEY],
  ['V2 plus a stray V1 wrap-alg', { ...V2_BASE, [V1Header.WRAP_ALG]: 'rsa' }, 'ERR_CSE_ENVELOPE_MALFORMED', V1Header.WRAP_ALG],
  ['guide and V2 at once', { ...V2_BASE, ...GUIDE_BASE }, 'ERR_CSE_ENVELOPE_MALFORMED', GuideHeader.KEY],
  ['guide and V1 at once', { ...V1_BASE, [GuideHeader.START]: WRAPPED }, 'ERR_CSE_ENVELOPE_MALFORMED', GuideHeader.START],
  [
    'names differing in case with different values',
    { ...V2_BASE, 'X-Oss-Meta-Client-Side-Encryption-Wrap-Alg': 'KMS/ALICLOUD' },
    'ERR_CSE_ENVELOPE_MALFORMED',
    V2Header.WRAP_ALG,
  ],
  ['a repeated key header (array of 2)', { ...V2_BASE, [V2Header.KEY]: [WRAPPED, WRAPPED] }, 'ERR_CSE_ENVELOPE_MALFORMED', V2Header.KEY],
  ['an empty array value', { ...V2_BASE, [V2Header.START]: [] }, 'ERR_CSE_ENVELOPE_MALFORMED', V2Header.START],
  ['an oversized key', { ...V2_BASE, [V2Header.KEY]: 'A'.repeat(MAX_CRYPTO_HEADER_LENGTH + 4) }, 'ERR_CSE_ENVELOPE_MALFORMED', V2Header.KEY],
  ['an oversized matdesc', { ...V2_BASE, [V2Header.MATDESC]: `{"a":"${'x'.repeat(MAX_CRYPTO_HEADER_LENGTH)}"}` }, 'ERR_CSE_ENVELOPE_MALFORMED', V2Header.MATDESC],
  // Not encrypted at all.
  ['no headers', {}, 'ERR_CSE_NOT_ENCRYPTED', undefined],
  ['only ordinary headers', { 'content-type': 'text/plain', 'x-oss-meta-owner': 'me', etag: '"x"' }, 'ERR_CSE_NOT_ENCRYPTED', undefined],
  ['only the V1 unencrypted-content-length name', { [V1Header.UNENCRYPTED_CONTENT_LENGTH]: '5' }, 'ERR_CSE_NOT_ENCRYPTED', undefined],
  ['crypto names with undefined values', { [V2Header.KEY]: undefined, [V1Header.KEY]: undefined }, 'ERR_CSE_NOT_ENCRYPTED', undefined],
];

test(`parseEnvelope refuses ${negative.length} malformed envelopes with the right code, header and object`, () => {
  assert.ok(negative.length >= 30);
  for (const [name, headers, code, header] of negative) {
    try {
      rejects(headers, code, header);
    } catch (e) {
      assert.fail(`${name}: ${(e as Error).message}`);
    }
  }
});

test('detectEnvelopeVersion finds the family, null for plain objects, and refuses two families', () => {
  assert.equal(detectEnvelopeVersion(V2_BASE), 'v2');
  assert.equal(detectEnvelopeVersion(V1_BASE), 'v1');
  assert.equal(detectEnvelopeVersion(GUIDE_BASE), 'guide');
  assert.equal(detectEnvelopeVersion({ 'content-length': '3' }), null);
  assert.equal(detectEnvelopeVersion({ [V2Header.PART_SIZE]: 'garbage' }), 'v2');
  assert.throws(() => detectEnvelopeVersion({ ...V2_BASE, ...GUIDE_BASE }, { object: 'o' }), { code: 'ERR_CSE_ENVELOPE_MALFORMED', object: 'o' });
});

// ---- positive: every vector's headers ----

test('parseEnvelope reads every Go, oss2 and upstream vector with the expected version, scheme, matdesc and sizes', () => {
  let n = 0;
  for (const dir of ['go', 'oss2']) {
    for (const c of vectors(dir).cases) {
      const headers = c.request_headers ?? c.stored_object_headers;
      if (headers === undefined) continue;
      const env = parseEnvelope(headers, { object: c.name });
      n++;
      assert.equal(env.version, 'v2', c.name);
      assert.equal(env.cekAlgorithm, 'AES/CTR/NoPadding');
      assert.equal(env.wrappedKey, headers[V2Header.KEY]);
      assert.equal(env.wrappedStart, headers[V2Header.START]);
      const kms = c.name.includes('fakekms');
      assert.equal(env.scheme, kms ? 'kms' : 'rsa-pkcs1', c.name);
      assert.equal(env.wrapAlgorithm, kms ? 'KMS/ALICLOUD' : 'RSA/NONE/PKCS1Padding');
      const expectedMatdesc = c.mat_desc_given ?? (c.name === 'put-17-matdesc' ? { desc: 'test rsa key', owner: 'peer' } : kms ? { kms: 'fake' } : {});
      assert.deepEqual(env.matdesc, expectedMatdesc, c.name);
      assert.equal(env.matdescRaw, headers[V2Header.MATDESC]);
      const md5Case = c.name === 'put-1023-md5-length';
      assert.equal(env.unencryptedContentLength, md5Case ? 1023 : undefined);
      assert.equal(env.unencryptedContentMd5, md5Case ? 'CRGtk49I5tFS6cf0Vf80GQ==' : undefined);
      assert.equal(env.dataSize, c.kind === 'multipart' ? c.plaintext_len : undefined);
      assert.equal(env.partSize, c.kind === 'multipart' ? c.part_size : undefined);
      // Encoding gives back exactly the crypto headers the SDK sent, the matdesc spelling included.
      assert.deepEqual(encodeEnvelope(env), pickCryptoHeaders(headers));
    }
  }
  for (const c of vectors('upstream').cases) {
    const env = parseEnvelope(c.headers);
    n++;
    assert.equal(env.version, 'v2');
    assert.equal(env.scheme, 'rsa-pkcs1');
    assert.deepEqual(env.matdesc, {});
    assert.equal(Buffer.from(env.wrappedKey, 'base64').length, 128, 'RSA-1024 wrapped key');
    assert.deepEqual(encodeEnvelope(env), c.headers);
  }
  assert.equal(n, 21);
});

test('parseEnvelope reads every multipart request of the Go vector (Initiate and each UploadPart) identically', () => {
  const mp = vectors('go').cases.find((c: any) => c.kind === 'multipart');
  const stored = parseEnvelope(mp.stored_object_headers);
  for (const r of mp.requests) {
    if (r.headers[V2Header.KEY] === undefined) continue;
    assert.deepEqual(parseEnvelope(r.headers), stored);
  }
});

test('header names are case-insensitive; duplicates that agree, single-element arrays and numbers are accepted', () => {
  const mixed: Record<string, string | string[] | number> = {};
  for (const [k, v] of Object.entries(V2_BASE)) mixed[k.toUpperCase()] = v;
  mixed['x-oss-meta-client-side-encryption-key'] = V2_BASE[V2Header.KEY]!;
  mixed[V2Header.START.toUpperCase()] = [V2_BASE[V2Header.START]!];
  mixed['X-Oss-Meta-Client-Side-Encryption-Data-Size'] = 1048579;
  mixed['X-OSS-META-CLIENT-SIDE-ENCRYPTION-PART-SIZE'] = '262144';
  const env = parseEnvelope(mixed);
  assert.equal(env.dataSize, 1048579);
  assert.equal(env.partSize, 262144);
  assert.deepEqual({ ...env, dataSize: undefined, partSize: undefined }, parseEnvelope(V2_BASE));
});

test('wrap-alg is compared case-insensitively (as Java) and kept verbatim', () => {
  const env = parseEnvelope({ ...V2_BASE, [V2Header.WRAP_ALG]: 'rsa/none/oaepwithsha-1andmgf1padding' });
  assert.equal(env.scheme, 'rsa-oaep-sha1');
  assert.equal(env.wrapAlgorithm, 'rsa/none/oaepwithsha-1andmgf1padding');
  assert.equal(encodeEnvelope(env)[V2Header.WRAP_ALG], 'rsa/none/oaepwithsha-1andmgf1padding');
});

test('an empty matdesc header means no description and round-trips', () => {
  const h = { ...V2_BASE, [V2Header.MATDESC]: '' };
  const env = parseEnvelope(h);
  assert.deepEqual(env.matdesc, {});
  assert.equal(env.matdescRaw, '');
  assert.deepEqual(encodeEnvelope(env), h);
});

// ---- envelopes built from the byte-level spec (oss2-python.md §2.2, §2.3, §3.1; oss-go-java.md §2) ----

const keysDir = new URL('../../vectors/go/keys/', import.meta.url);
const publicKey = createPublicKey(readFileSync(new URL('rsa2048-public-pkix.pem', keysDir)));
const privateKey = createPrivateKey(readFileSync(new URL('rsa2048-private-pkcs8.pem', keysDir)));
const oaep = (data: Uint8Array | string) => b64(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(data)));
const unOaep = (header: string) => privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, Buffer.from(header, 'base64'));
/** The offline fake KMS of the vectors: CiphertextBlob = base64(JSON {"k": KeyId, "p": Plaintext}). */
const fakeBlob = (plaintext: string) => b64(JSON.stringify({ k: 'fake-cmk-id', p: plaintext }));

test('V1 RSA (oss2 2.10 LocalRsaProvider): OAEP-wrapped key and decimal start round-trip; start "8" is counter 8', () => {
  const h = {
    [V1Header.KEY]: oaep(randomBytes(32)),
    [V1Header.START]: oaep('8'),
    [V1Header.CEK_ALG]: 'AES/GCM/NoPadding',
    [V1Header.WRAP_ALG]: 'rsa',
    [V1Header.UNENCRYPTED_CONTENT_MD5]: b64(randomBytes(16)),
    [V1Header.UNENCRYPTED_CONTENT_LENGTH]: '1048576',
  };
  const env = parseEnvelope(h);
  assert.equal(env.version, 'v1');
  assert.equal(env.scheme, 'rsa-oaep-sha1');
  assert.equal(env.cekAlgorithm, 'AES/GCM/NoPadding');
  assert.equal(env.unencryptedContentLength, 1048576);
  assert.deepEqual(encodeEnvelope(env), h);
  const counter = counterBlockFromDecimal(unOaep(env.wrappedStart).toString('ascii'), V1Header.START);
  assert.equal(Buffer.from(counter).toString('hex'), '00'.repeat(15) + '08');
});

test('V1 reader defaults: absent wrap-alg is RSA-OAEP, absent or CTR cek-alg is accepted, kms is KMS', () => {
  const base = { [V1Header.KEY]: WRAPPED, [V1Header.START]: WRAPPED };
  for (const [extra, scheme] of [
    [{}, 'rsa-oaep-sha1'],
    [{ [V1Header.CEK_ALG]: 'AES/CTR/NoPadding' }, 'rsa-oaep-sha1'],
    [{ [V1Header.WRAP_ALG]: 'kms' }, 'kms'],
    [{ [V1Header.MATDESC]: '{"a": "b"}' }, 'rsa-oaep-sha1'],
  ] as const) {
    const h = { ...base, ...extra };
    const env = parseEnvelope(h);
    assert.equal(env.scheme, scheme);
    assert.deepEqual(encodeEnvelope(env), h);
  }
});

test('V1 KMS (oss2 2.10 AliKMSProvider): the headers are the CiphertextBlobs themselves', () => {
  const keyBlob = fakeBlob(b64(randomBytes(32)));
  const startBlob = fakeBlob('7');
  const h = { [V1Header.KEY]: keyBlob, [V1Header.START]: startBlob, [V1Header.CEK_ALG]: 'AES/GCM/NoPadding', [V1Header.WRAP_ALG]: 'kms' };
  const env = parseEnvelope(h);
  assert.equal(env.scheme, 'kms');
  assert.deepEqual(kmsCiphertextBlob(env.wrappedKey, env.version), { blob: keyBlob, form: 'blob' });
  assert.deepEqual(kmsCiphertextBlob(env.wrappedStart, env.version), { blob: startBlob, form: 'blob' });
  assert.deepEqual(encodeEnvelope(env), h);
});

test('V2 OAEP (oss2 >= 2.11 LocalRsaProvider): V2 names, binary IV, OAEPWithSHA-1 label', () => {
  const iv = randomBytes(16);
  const h = {
    [V2Header.KEY]: oaep(randomBytes(32)),
    [V2Header.START]: oaep(iv),
    [V2Header.CEK_ALG]: 'AES/CTR/NoPadding',
    [V2Header.WRAP_ALG]: 'RSA/NONE/OAEPWithSHA-1AndMGF1Padding',
  };
  const env = parseEnvelope(h);
  assert.equal(env.scheme, 'rsa-oaep-sha1');
  assert.deepEqual(unOaep(env.wrappedStart), iv);
  assert.deepEqual(encodeEnvelope(env), h);
});

test('V2 KMS: the Go/Java form (header = blob) and the oss2 form (header = base64(blob)) are told apart', () => {
  const goVector = vectors('go').cases.find((c: any) => c.name === 'put-17-fakekms');
  const goEnv = parseEnvelope(goVector.request_headers);
  assert.deepEqual(kmsCiphertextBlob(goEnv.wrappedKey), { blob: goVector.request_headers[V2Header.KEY], form: 'blob' });
  // oss2 >= 2.11: GenerateDataKey blob for the key, Encrypt(base64(iv)) blob for the start, each base64'd again.
  const keyBlob = fakeBlob(b64(randomBytes(32)));
  const ivBlob = fakeBlob(b64(randomBytes(16)));
  const h = {
    [V2Header.KEY]: b64(keyBlob),
    [V2Header.START]: b64(ivBlob),
    [V2Header.CEK_ALG]: 'AES/CTR/NoPadding',
    [V2Header.WRAP_ALG]: 'KMS/ALICLOUD',
    [V2Header.MATDESC]: '{"kms": "fake"}',
  };
  const env = parseEnvelope(h);
  assert.equal(env.scheme, 'kms');
  assert.deepEqual(kmsCiphertextBlob(env.wrappedKey), { blob: keyBlob, form: 'base64-of-blob' });
  assert.deepEqual(kmsCiphertextBlob(env.wrappedStart), { blob: ivBlob, form: 'base64-of-blob' });
  assert.deepEqual(encodeEnvelope(env), h);
  // A real KMS blob is base64 of binary: it decodes to non-alphabet bytes, so it is the Go form.
  const realish = b64(Buffer.concat([Buffer.from([0x00, 0xff]), randomBytes(100)]));
  assert.equal(kmsCiphertextBlob(realish).form, 'blob');
  assert.throws(() => kmsCiphertextBlob('not base64!'), { code: 'ERR_CSE_ENVELOPE_BAD_BASE64' });
});

test('guide form: RSA-OAEP of the raw key and of the ASCII decimal start, no algorithm headers', () => {
  const h = { [GuideHeader.KEY]: oaep(randomBytes(32)), [GuideHeader.START]: oaep('123456789') };
  const env = parseEnvelope(h);
  assert.deepEqual(env, {
    version: 'guide',
    scheme: 'rsa-oaep-sha1',
    wrapAlgorithm: undefined,
    cekAlgorithm: undefined,
    wrappedKey: h[GuideHeader.KEY],
    wrappedStart: h[GuideHeader.START],
    matdesc: {},
    matdescRaw: undefined,
    unencryptedContentMd5: undefined,
    unencryptedContentLength: undefined,
    dataSize: undefined,
    partSize: undefined,
  } satisfies Envelope);
  assert.equal(unOaep(env.wrappedStart).toString('ascii'), '123456789');
  assert.deepEqual(encodeEnvelope(env), h);
});

// ---- writers ----

test('buildV2Envelope: compact sorted matdesc, only defined optional fields, and it parses back identically', () => {
  const env = buildV2Envelope(
    { wrapAlgorithm: 'RSA/NONE/PKCS1Padding', wrappedKey: WRAPPED, wrappedStart: WRAPPED },
    { matdesc: { owner: 'peer', desc: 'test rsa key' }, dataSize: 1048579, partSize: 262144 },
  );
  const h = encodeEnvelope(env);
  assert.deepEqual(Object.keys(h).sort(), [V2Header.CEK_ALG, V2Header.DATA_SIZE, V2Header.KEY, V2Header.MATDESC, V2Header.PART_SIZE, V2Header.START, V2Header.WRAP_ALG].sort());
  assert.equal(h[V2Header.MATDESC], '{"desc":"test rsa key","owner":"peer"}');
  assert.equal(h[V2Header.CEK_ALG], 'AES/CTR/NoPadding');
  assert.deepEqual(parseEnvelope(h), env);

  const bare = buildV2Envelope({ wrapAlgorithm: 'KMS/ALICLOUD', wrappedKey: WRAPPED, wrappedStart: WRAPPED });
  assert.equal(bare.scheme, 'kms');
  assert.equal(bare.matdescRaw, undefined);
  assert.equal(Object.keys(encodeEnvelope(bare)).length, 4, 'matdesc omitted when empty');
  assert.deepEqual(parseEnvelope(encodeEnvelope(bare)), bare);
});

test('buildV2Envelope refuses what no reader could parse', () => {
  const w = { wrapAlgorithm: 'RSA/NONE/PKCS1Padding', wrappedKey: WRAPPED, wrappedStart: WRAPPED };
  assert.throws(() => buildV2Envelope({ ...w, wrapAlgorithm: 'rsa' }), { code: 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM' });
  assert.throws(() => buildV2Envelope({ ...w, wrappedKey: '' }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => buildV2Envelope({ ...w, wrappedStart: 'a b' }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => buildV2Envelope(w, { partSize: 100 }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => buildV2Envelope(w, { partSize: 0 }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => buildV2Envelope(w, { dataSize: -1 }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => buildV2Envelope(w, { unencryptedContentLength: 1.5 }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => buildV2Envelope(w, { unencryptedContentMd5: 'abcd' }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => buildV2Envelope(w, { matdesc: { a: 1 } as never }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
});

test('encodeEnvelope refuses envelopes its family cannot express', () => {
  const v2 = parseEnvelope(V2_BASE);
  assert.throws(() => encodeEnvelope({ ...v2, cekAlgorithm: undefined }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => encodeEnvelope({ ...parseEnvelope(V1_BASE), partSize: 16 }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  assert.throws(() => encodeEnvelope({ ...parseEnvelope(GUIDE_BASE), matdesc: { a: 'b' } }), { code: 'ERR_CSE_INVALID_ARGUMENT' });
  // A matdescRaw that no longer matches the map is replaced by the canonical spelling.
  const changed = encodeEnvelope({ ...v2, matdesc: { a: 'b' }, matdescRaw: '{"a": "c"}' });
  assert.equal(changed[V2Header.MATDESC], '{"a":"b"}');
});

test('cryptoHeaderNames and isCryptoHeader cover every family, in any case', () => {
  assert.equal(cryptoHeaderNames('v2').length, 9);
  assert.equal(cryptoHeaderNames('v1').length, 7);
  assert.deepEqual(cryptoHeaderNames('guide'), [GuideHeader.KEY, GuideHeader.START]);
  assert.equal(cryptoHeaderNames().length, 18);
  for (const n of cryptoHeaderNames()) {
    assert.ok(isCryptoHeader(n) && isCryptoHeader(n.toUpperCase()));
    assert.equal(n, n.toLowerCase());
  }
  assert.ok(!isCryptoHeader('x-oss-meta-owner'));
  assert.ok(!isCryptoHeader('content-md5'));
});

test('schemeOfWrapAlgorithm maps each family\'s labels and refuses the rest', () => {
  assert.equal(schemeOfWrapAlgorithm('RSA/NONE/PKCS1Padding'), 'rsa-pkcs1');
  assert.equal(schemeOfWrapAlgorithm('kms/alicloud'), 'kms');
  assert.equal(schemeOfWrapAlgorithm('RSA/NONE/OAEPWithSHA-1AndMGF1Padding', 'v2'), 'rsa-oaep-sha1');
  assert.equal(schemeOfWrapAlgorithm(undefined, 'v1'), 'rsa-oaep-sha1');
  assert.equal(schemeOfWrapAlgorithm('kms', 'v1'), 'kms');
  assert.equal(schemeOfWrapAlgorithm(undefined, 'guide'), 'rsa-oaep-sha1');
  for (const [alg, v] of [[undefined, 'v2'], ['kms', 'v2'], ['KMS/ALICLOUD', 'v1'], ['rsa', 'guide']] as const) {
    assert.throws(() => schemeOfWrapAlgorithm(alg, v), { code: 'ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM' });
  }
});

test('an unencrypted-content-md5 that is not an MD5 is kept verbatim, not refused (peers copy the caller\'s value unchecked)', () => {
  for (const value of ['1234', 'not-md5', b64(new Uint8Array(15)), '0911ad938f48e6d152e9c7f455ff3419']) {
    const env = parseEnvelope({ ...V2_BASE, [V2Header.UNENCRYPTED_CONTENT_MD5]: value });
    assert.equal(env.unencryptedContentMd5, value);
    assert.equal(isMd5Base64(value), false);
    assert.equal(encodeEnvelope(env)[V2Header.UNENCRYPTED_CONTENT_MD5], value);
    const v1 = parseEnvelope({ ...V1_BASE, [V1Header.UNENCRYPTED_CONTENT_MD5]: value });
    assert.equal(v1.unencryptedContentMd5, value);
  }
  assert.equal(isMd5Base64('CRGtk49I5tFS6cf0Vf80GQ=='), true);
});
