/**
 * The envelope: what an encrypted object's metadata carries (wrapped data key and start, algorithms, material
 * description, sizes), parsed from and encoded to `x-oss-meta-*` headers. Three header families exist: V2 (every
 * current SDK), V1 (oss2 2.5–2.10) and the hand-rolled "guide" form (FORMAT.md §2).
 *
 * Parsing is strict and total: it returns an {@link Envelope} or throws a {@link CseError} with an
 * `ERR_CSE_ENVELOPE_*` (or `ERR_CSE_NOT_ENCRYPTED`) code naming the object and header. Wrapped values are kept as the
 * exact header strings, so `encodeEnvelope(parseEnvelope(h))` gives back the crypto headers of `h`.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode } from '../errors.js';
import type { CseErrorCode } from '../errors.js';
import { decodeBase64Strict, isStrictBase64 } from './base64.js';
import { CekAlgorithm, GuideHeader, V1Header, V2Header, WrapAlgorithm } from './headers.js';
import { BLOCK_SIZE } from './layout.js';
import { assertMatDesc, encodeMatDesc, matDescEquals, parseMatDesc } from './matdesc.js';
import type { Envelope, EnvelopeVersion, MatDesc, WrapScheme, WrappedMaterial } from './types.js';

/**
 * Response or request headers as `ali-oss` and `node:http` hand them out: names in any case, values as strings,
 * string arrays (repeated headers), numbers, or `undefined`.
 */
export type HeaderInput = Readonly<Record<string, string | readonly string[] | number | undefined>>;

/**
 * Longest crypto header value we accept, in characters: 8 KiB, the whole OSS user-metadata budget, so no real
 * object can exceed it.
 */
export const MAX_CRYPTO_HEADER_LENGTH = 8192;

/** Length of an MD5 digest, the decoded size of `unencrypted-content-md5`. */
const MD5_SIZE = 16;

const V2_NAMES: readonly string[] = Object.values(V2Header);
const V1_NAMES: readonly string[] = Object.values(V1Header);
const GUIDE_NAMES: readonly string[] = Object.values(GuideHeader);
const ALL_NAMES: readonly string[] = [...V2_NAMES, ...V1_NAMES, ...GUIDE_NAMES];
const ALL_NAME_SET: ReadonlySet<string> = new Set(ALL_NAMES);

/**
 * The V1 names that mark a V1 envelope. `x-oss-meta-unencrypted-content-md5`/`-length` are V1 envelope fields but
 * carry no `oss-crypto` marker and alone do not make an object encrypted, so they do not count for detection.
 */
const V1_MARKERS: readonly string[] = [V1Header.KEY, V1Header.START, V1Header.CEK_ALG, V1Header.WRAP_ALG, V1Header.MATDESC];

/**
 * Every header name of an envelope family, lower-case; of all three families when `version` is omitted. Use it to
 * copy, strip or rewrite crypto metadata.
 *
 * @param version - `v2`, `v1` or `guide`; omit for all
 */
export function cryptoHeaderNames(version?: EnvelopeVersion): readonly string[] {
  switch (version) {
    case undefined: return ALL_NAMES;
    case 'v2': return V2_NAMES;
    case 'v1': return V1_NAMES;
    case 'guide': return GUIDE_NAMES;
  }
}

/** True when `name` (any case) is a header of some envelope family (see {@link cryptoHeaderNames}). */
export function isCryptoHeader(name: string): boolean {
  return ALL_NAME_SET.has(name.toLowerCase());
}

interface Where {
  readonly object: string | undefined;
}

function fail(code: CseErrorCode, message: string, where: Where, header?: string): never {
  throw new CseError(code, message, {
    ...(where.object === undefined ? {} : { object: where.object }),
    ...(header === undefined ? {} : { header }),
  });
}

/**
 * The crypto headers of `headers` (every family), lower-cased, each with a single string value.
 *
 * @throws CseError ERR_CSE_ENVELOPE_MALFORMED when a crypto header appears twice with different values (names
 *   differing in case only), has an array value with other than one element, or is longer than
 *   {@link MAX_CRYPTO_HEADER_LENGTH}
 */
export function pickCryptoHeaders(headers: HeaderInput, options: { readonly object?: string } = {}): Record<string, string> {
  return collect(headers, { object: options.object });
}

function collect(headers: HeaderInput, where: Where): Record<string, string> {
  const out: Record<string, string> = {};
  // for…in over own keys: no key array per call (two calls per GET; issue 15, allocation per small round trip).
  for (const rawName in headers) {
    if (!Object.hasOwn(headers, rawName)) continue;
    const name = rawName.toLowerCase();
    if (!ALL_NAME_SET.has(name)) continue;
    const rawValue = headers[rawName];
    if (rawValue === undefined) continue;
    let value: string;
    if (typeof rawValue === 'string') {
      value = rawValue;
    } else if (typeof rawValue === 'number') {
      value = String(rawValue);
    } else {
      // A repeated crypto header has no single meaning: refuse rather than pick one.
      const [first] = rawValue;
      if (rawValue.length !== 1 || first === undefined) {
        fail(ErrorCode.ENVELOPE_MALFORMED, `header appears ${rawValue.length} times; expected exactly once`, where, name);
      }
      value = first;
    }
    if (value.length > MAX_CRYPTO_HEADER_LENGTH) {
      fail(
        ErrorCode.ENVELOPE_MALFORMED,
        `header value is ${value.length} characters long, more than the ${MAX_CRYPTO_HEADER_LENGTH} allowed`,
        where,
        name,
      );
    }
    const previous = out[name];
    if (previous !== undefined && previous !== value) {
      fail(ErrorCode.ENVELOPE_MALFORMED, 'header appears twice (names differing in case) with different values', where, name);
    }
    out[name] = value;
  }
  return out;
}

function familiesPresent(h: Readonly<Record<string, string>>): EnvelopeVersion[] {
  const found: EnvelopeVersion[] = [];
  if (V2_NAMES.some((n) => n in h)) found.push('v2');
  if (V1_MARKERS.some((n) => n in h)) found.push('v1');
  if (GUIDE_NAMES.some((n) => n in h)) found.push('guide');
  return found;
}

function detect(h: Readonly<Record<string, string>>, where: Where): EnvelopeVersion | null {
  const found = familiesPresent(h);
  const [first, second] = found;
  if (second !== undefined) {
    // oss2 lets V1 win over V2 (`oss2-python.md` §3.2); an object with two envelopes is either damaged or forged, and
    // guessing which one is meant could decrypt with the wrong material. Refuse (FORMAT.md §7).
    const header = cryptoHeaderNames(second).find((n) => n in h);
    fail(ErrorCode.ENVELOPE_MALFORMED, `object carries headers of two envelope families (${found.join(', ')})`, where, header);
  }
  return first ?? null;
}

/**
 * Which envelope family the headers hold.
 *
 * @param headers - object metadata (names in any case)
 * @param options - `object`: the object key, for error messages
 * @returns `v2`, `v1`, `guide`, or `null` when no crypto header of any family is present
 * @throws CseError ERR_CSE_ENVELOPE_MALFORMED when headers of two families are present, or as {@link pickCryptoHeaders}
 */
export function detectEnvelopeVersion(headers: HeaderInput, options: { readonly object?: string } = {}): EnvelopeVersion | null {
  const where = { object: options.object };
  return detect(collect(headers, where), where);
}

/**
 * The normalised scheme of a wrap-alg header value.
 * - `v2`: `RSA/NONE/PKCS1Padding`, `RSA/NONE/OAEPWithSHA-1AndMGF1Padding`, `KMS/ALICLOUD`, compared
 *   case-insensitively as Java does (`oss-go-java.md` §1);
 * - `v1`: `kms`, or `rsa`/absent (oss2 ≥ 2.11 reads absent as RSA-OAEP, `oss2-python.md` §3.2);
 * - `guide`: always absent, RSA-OAEP-SHA1.
 *
 * @param algorithm - the header value (`undefined` when absent)
 * @param version - the envelope family (default `v2`)
 * @throws CseError ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM for any other value
 */
export function schemeOfWrapAlgorithm(algorithm: string | undefined, version: EnvelopeVersion = 'v2'): WrapScheme {
  const scheme = schemeOrNull(algorithm, version);
  if (scheme === null) {
    throw new CseError(
      ErrorCode.ENVELOPE_UNSUPPORTED_ALGORITHM,
      `unsupported ${version} key-wrap algorithm ${algorithm === undefined ? '(absent)' : JSON.stringify(algorithm)}`,
    );
  }
  return scheme;
}

/** ASCII-only upper-casing: `toUpperCase` would also fold e.g. dotless `ı` to `I`. */
function asciiUpper(s: string): string {
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 32));
}

/** The V2 wrap algorithms, upper-cased once (every read compares against them). */
const RSA_PKCS1_UPPER = asciiUpper(WrapAlgorithm.RSA_PKCS1);
const RSA_OAEP_SHA1_UPPER = asciiUpper(WrapAlgorithm.RSA_OAEP_SHA1);
const KMS_UPPER = asciiUpper(WrapAlgorithm.KMS);

function schemeOrNull(algorithm: string | undefined, version: EnvelopeVersion): WrapScheme | null {
  switch (version) {
    case 'v2': {
      if (algorithm === undefined) return null;
      const a = asciiUpper(algorithm);
      if (a === RSA_PKCS1_UPPER) return 'rsa-pkcs1';
      if (a === RSA_OAEP_SHA1_UPPER) return 'rsa-oaep-sha1';
      if (a === KMS_UPPER) return 'kms';
      return null;
    }
    case 'v1':
      if (algorithm === WrapAlgorithm.V1_KMS) return 'kms';
      if (algorithm === WrapAlgorithm.V1_RSA || algorithm === undefined) return 'rsa-oaep-sha1';
      return null;
    case 'guide':
      return algorithm === undefined ? 'rsa-oaep-sha1' : null;
  }
}

/** Options of {@link parseEnvelope}. */
export interface ParseEnvelopeOptions {
  /** The object key, for error messages. */
  readonly object?: string;
}

/**
 * Parses an object's metadata into an {@link Envelope} (rules in FORMAT.md §2 and §7).
 *
 * @param headers - object metadata as returned by HEAD/GET (names in any case)
 * @param options - `object`: the object key, for error messages
 * @throws CseError ERR_CSE_NOT_ENCRYPTED when no crypto header of any family is present
 * @throws CseError ERR_CSE_ENVELOPE_MISSING_HEADER when a required header is absent
 * @throws CseError ERR_CSE_ENVELOPE_BAD_BASE64 when key or start is not strict base64
 *   (empty key/start included)
 * @throws CseError ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM for a cek-alg or wrap-alg we do not read (V2 with the
 *   `AES/GCM/NoPadding` label included)
 * @throws CseError ERR_CSE_ENVELOPE_BAD_MATDESC when the matdesc is not a JSON object of string values
 * @throws CseError ERR_CSE_ENVELOPE_BAD_NUMBER when a size header is not a non-negative decimal safe integer, or the
 *   part size is 0 or not a multiple of 16
 * @throws CseError ERR_CSE_ENVELOPE_MALFORMED for two envelope families at once, repeated or case-duplicated crypto
 *   headers with different values, or oversized values (unencrypted-content-md5 is kept verbatim, never refused:
 *   see {@link isMd5Base64})
 */
export function parseEnvelope(headers: HeaderInput, options: ParseEnvelopeOptions = {}): Envelope {
  const where = { object: options.object };
  const h = collect(headers, where);
  const version = detect(h, where);
  switch (version) {
    case null:
      return fail(ErrorCode.NOT_ENCRYPTED, 'object has no client-side encryption headers', where);
    case 'v2':
      return parseV2(h, where);
    case 'v1':
      return parseV1(h, where);
    case 'guide':
      return parseGuide(h, where);
  }
}

function required(h: Readonly<Record<string, string>>, name: string, where: Where): string {
  const v = h[name];
  if (v === undefined) fail(ErrorCode.ENVELOPE_MISSING_HEADER, 'required envelope header is missing', where, name);
  return v;
}

function wrappedValue(h: Readonly<Record<string, string>>, name: string, where: Where): string {
  const v = required(h, name, where);
  // KMS CiphertextBlobs are base64 text as well, so one rule covers every scheme (FORMAT.md §2.1).
  if (v === '') fail(ErrorCode.ENVELOPE_BAD_BASE64, 'wrapped value is empty', where, name);
  if (!isStrictBase64(v)) fail(ErrorCode.ENVELOPE_BAD_BASE64, 'wrapped value is not strict base64', where, name);
  return v;
}

function decimal(h: Readonly<Record<string, string>>, name: string, where: Where): number | undefined {
  const v = h[name];
  if (v === undefined) return undefined;
  if (!/^[0-9]+$/.test(v)) {
    fail(ErrorCode.ENVELOPE_BAD_NUMBER, 'expected a non-negative decimal integer', where, name);
  }
  const n = Number(v);
  if (!Number.isSafeInteger(n)) fail(ErrorCode.ENVELOPE_BAD_NUMBER, 'number is too large', where, name);
  return n;
}

function partSize(h: Readonly<Record<string, string>>, name: string, where: Where): number | undefined {
  const n = decimal(h, name, where);
  if (n !== undefined && (n === 0 || n % BLOCK_SIZE !== 0)) {
    fail(ErrorCode.ENVELOPE_BAD_NUMBER, `part size must be a positive multiple of ${BLOCK_SIZE}`, where, name);
  }
  return n;
}

/**
 * The unencrypted-content-md5 value, verbatim. Read leniently: every peer copies the caller's Content-MD5 here
 * without checking it (`oss-go-java.md` §4; Java's own test stores "1234"), so a value that is not an MD5 must not
 * make an otherwise valid object unreadable. {@link isMd5Base64} tells whether it can be verified.
 */
function md5(h: Readonly<Record<string, string>>, name: string): string | undefined {
  return h[name];
}

/** True when `value` is base64 of a 16-byte digest, i.e. an unencrypted-content-md5 that can be verified. */
export function isMd5Base64(value: string): boolean {
  return isStrictBase64(value) && decodeBase64Strict(value).length === MD5_SIZE;
}

function matdesc(h: Readonly<Record<string, string>>, name: string, where: Where): { matdesc: MatDesc; matdescRaw: string | undefined } {
  const raw = h[name];
  if (raw === undefined) return { matdesc: EMPTY, matdescRaw: undefined };
  // An empty value means "no description", as in Go (which compares it with the empty string, `oss-go-java.md` §8).
  if (raw === '') return { matdesc: EMPTY, matdescRaw: '' };
  return { matdesc: parseMatDesc(raw, name, where.object), matdescRaw: raw };
}

const EMPTY: MatDesc = Object.freeze({});

function parseV2(h: Readonly<Record<string, string>>, where: Where): Envelope {
  const wrappedKey = wrappedValue(h, V2Header.KEY, where);
  const wrappedStart = wrappedValue(h, V2Header.START, where);
  const cekAlgorithm = required(h, V2Header.CEK_ALG, where);
  // Exact, as Go and oss2 compare it. AES/GCM/NoPadding is oss2's V1 mislabel and never valid in V2: a V2 object
  // labelled GCM is either really GCM (which no SDK writes) or corrupted.
  if (cekAlgorithm !== CekAlgorithm.AES_CTR) {
    fail(ErrorCode.ENVELOPE_UNSUPPORTED_ALGORITHM, `unsupported content algorithm ${JSON.stringify(cekAlgorithm)}`, where, V2Header.CEK_ALG);
  }
  const wrapAlgorithm = required(h, V2Header.WRAP_ALG, where);
  const scheme = schemeOrNull(wrapAlgorithm, 'v2');
  if (scheme === null) {
    fail(ErrorCode.ENVELOPE_UNSUPPORTED_ALGORITHM, `unsupported key-wrap algorithm ${JSON.stringify(wrapAlgorithm)}`, where, V2Header.WRAP_ALG);
  }
  return {
    version: 'v2',
    scheme,
    wrapAlgorithm,
    cekAlgorithm,
    wrappedKey,
    wrappedStart,
    ...matdesc(h, V2Header.MATDESC, where),
    unencryptedContentMd5: md5(h, V2Header.UNENCRYPTED_CONTENT_MD5),
    unencryptedContentLength: decimal(h, V2Header.UNENCRYPTED_CONTENT_LENGTH, where),
    dataSize: decimal(h, V2Header.DATA_SIZE, where),
    partSize: partSize(h, V2Header.PART_SIZE, where),
  };
}

function parseV1(h: Readonly<Record<string, string>>, where: Where): Envelope {
  const wrappedKey = wrappedValue(h, V1Header.KEY, where);
  const wrappedStart = wrappedValue(h, V1Header.START, where);
  const cekAlgorithm = h[V1Header.CEK_ALG];
  // oss2 ≤ 2.10 labelled its CTR cipher AES/GCM/NoPadding; in V1 that label means CTR (`oss2-python.md` §3.1).
  if (cekAlgorithm !== undefined && cekAlgorithm !== CekAlgorithm.AES_CTR && cekAlgorithm !== CekAlgorithm.V1_MISLABELLED_GCM) {
    fail(ErrorCode.ENVELOPE_UNSUPPORTED_ALGORITHM, `unsupported V1 content algorithm ${JSON.stringify(cekAlgorithm)}`, where, V1Header.CEK_ALG);
  }
  const wrapAlgorithm = h[V1Header.WRAP_ALG];
  const scheme = schemeOrNull(wrapAlgorithm, 'v1');
  if (scheme === null) {
    fail(ErrorCode.ENVELOPE_UNSUPPORTED_ALGORITHM, `unsupported V1 key-wrap algorithm ${JSON.stringify(wrapAlgorithm)}`, where, V1Header.WRAP_ALG);
  }
  return {
    version: 'v1',
    scheme,
    wrapAlgorithm,
    cekAlgorithm,
    wrappedKey,
    wrappedStart,
    ...matdesc(h, V1Header.MATDESC, where),
    unencryptedContentMd5: md5(h, V1Header.UNENCRYPTED_CONTENT_MD5),
    unencryptedContentLength: decimal(h, V1Header.UNENCRYPTED_CONTENT_LENGTH, where),
    dataSize: undefined,
    partSize: undefined,
  };
}

function parseGuide(h: Readonly<Record<string, string>>, where: Where): Envelope {
  return {
    version: 'guide',
    scheme: 'rsa-oaep-sha1',
    wrapAlgorithm: undefined,
    cekAlgorithm: undefined,
    wrappedKey: wrappedValue(h, GuideHeader.KEY, where),
    wrappedStart: wrappedValue(h, GuideHeader.START, where),
    matdesc: EMPTY,
    matdescRaw: undefined,
    unencryptedContentMd5: undefined,
    unencryptedContentLength: undefined,
    dataSize: undefined,
    partSize: undefined,
  };
}

function invalid(message: string): never {
  throw new CseError(ErrorCode.INVALID_ARGUMENT, message);
}

/** The matdesc header value to write, or undefined to omit it. */
function matdescToWrite(env: Envelope): string | undefined {
  const raw = env.matdescRaw;
  if (raw !== undefined) {
    if (raw === '' && Object.keys(env.matdesc).length === 0) return raw;
    // Keep a peer's spelling (e.g. oss2's `{"a": "b"}`) when it still says the same thing, so a metadata rewrite
    // does not change what Go, which compares strings, reads (`oss2-python.md` §11).
    if (raw !== '' && matDescEquals(parseMatDesc(raw), env.matdesc)) return raw;
  }
  return Object.keys(env.matdesc).length === 0 ? undefined : encodeMatDesc(env.matdesc);
}

/**
 * Encodes an envelope as lower-case headers of its own family. The matdesc header is omitted when the description is
 * empty, written as `matdescRaw` verbatim when that still parses to `matdesc`, else as {@link encodeMatDesc};
 * optional fields are written only when defined. `parseEnvelope(encodeEnvelope(e))` deep-equals `e`.
 *
 * @param env - the envelope
 * @returns header name → value
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when the envelope cannot be expressed in its family (a V2 envelope without
 *   algorithms; V1 with data-size/part-size; guide with algorithms, matdesc or sizes)
 * @throws CseError ERR_CSE_ENVELOPE_BAD_MATDESC when `matdescRaw` is set but is not a valid description
 */
export function encodeEnvelope(env: Envelope): Record<string, string> {
  const out: Record<string, string> = {};
  const put = (name: string, value: string | number | undefined): void => {
    if (value !== undefined) out[name] = String(value);
  };
  switch (env.version) {
    case 'v2':
      if (env.wrapAlgorithm === undefined || env.cekAlgorithm === undefined) {
        invalid('a V2 envelope needs both a wrap algorithm and a content algorithm');
      }
      put(V2Header.KEY, env.wrappedKey);
      put(V2Header.START, env.wrappedStart);
      put(V2Header.CEK_ALG, env.cekAlgorithm);
      put(V2Header.WRAP_ALG, env.wrapAlgorithm);
      put(V2Header.MATDESC, matdescToWrite(env));
      put(V2Header.UNENCRYPTED_CONTENT_MD5, env.unencryptedContentMd5);
      put(V2Header.UNENCRYPTED_CONTENT_LENGTH, env.unencryptedContentLength);
      put(V2Header.DATA_SIZE, env.dataSize);
      put(V2Header.PART_SIZE, env.partSize);
      return out;
    case 'v1':
      if (env.dataSize !== undefined || env.partSize !== undefined) invalid('a V1 envelope cannot carry data-size or part-size');
      put(V1Header.KEY, env.wrappedKey);
      put(V1Header.START, env.wrappedStart);
      put(V1Header.CEK_ALG, env.cekAlgorithm);
      put(V1Header.WRAP_ALG, env.wrapAlgorithm);
      put(V1Header.MATDESC, matdescToWrite(env));
      put(V1Header.UNENCRYPTED_CONTENT_MD5, env.unencryptedContentMd5);
      put(V1Header.UNENCRYPTED_CONTENT_LENGTH, env.unencryptedContentLength);
      return out;
    case 'guide':
      if (
        env.wrapAlgorithm !== undefined ||
        env.cekAlgorithm !== undefined ||
        env.matdescRaw !== undefined ||
        Object.keys(env.matdesc).length !== 0 ||
        env.unencryptedContentMd5 !== undefined ||
        env.unencryptedContentLength !== undefined ||
        env.dataSize !== undefined ||
        env.partSize !== undefined
      ) {
        invalid('a guide-form envelope carries only the wrapped key and start');
      }
      put(GuideHeader.KEY, env.wrappedKey);
      put(GuideHeader.START, env.wrappedStart);
      return out;
  }
}

/** Optional fields of {@link buildV2Envelope}. */
export interface BuildV2EnvelopeOptions {
  /** Material description of the master key (omitted from the headers when empty). */
  readonly matdesc?: MatDesc;
  /** The caller's Content-MD5 of the plaintext (base64 of 16 bytes), recorded, never checked by peers. */
  readonly unencryptedContentMd5?: string;
  /** The plaintext length. */
  readonly unencryptedContentLength?: number;
  /** Multipart: total plaintext size. */
  readonly dataSize?: number;
  /** Multipart: part size (a positive multiple of 16). */
  readonly partSize?: number;
}

function checkCount(value: number | undefined, what: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    invalid(`${what} must be a non-negative integer, got ${String(value)}`);
  }
}

/**
 * The V2 envelope a writer stores, from a master key's wrapped material: cek-alg `AES/CTR/NoPadding`, the wrap
 * algorithm's scheme, and `matdescRaw` = {@link encodeMatDesc} of a non-empty description.
 *
 * @param wrapped - the master key's output
 * @param opts - description and sizes
 * @throws CseError ERR_CSE_ENVELOPE_UNSUPPORTED_ALGORITHM when `wrapped.wrapAlgorithm` is not a V2 wrap algorithm
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when a wrapped value is empty or not strict base64, the description is not
 *   a map of strings, a size is not a non-negative integer, the part size is not a positive multiple of 16, or the
 *   MD5 is not base64 of 16 bytes
 */
export function buildV2Envelope(wrapped: WrappedMaterial, opts: BuildV2EnvelopeOptions = {}): Envelope {
  const scheme = schemeOfWrapAlgorithm(wrapped.wrapAlgorithm, 'v2');
  for (const [what, v] of [['wrapped key', wrapped.wrappedKey], ['wrapped start', wrapped.wrappedStart]] as const) {
    if (v === '' || !isStrictBase64(v)) invalid(`${what} must be non-empty strict base64`);
  }
  const m = opts.matdesc ?? EMPTY;
  assertMatDesc(m);
  checkCount(opts.unencryptedContentLength, 'unencrypted content length');
  checkCount(opts.dataSize, 'data size');
  checkCount(opts.partSize, 'part size');
  if (opts.partSize !== undefined && (opts.partSize === 0 || opts.partSize % BLOCK_SIZE !== 0)) {
    invalid(`part size must be a positive multiple of ${BLOCK_SIZE}, got ${opts.partSize}`);
  }
  const md = opts.unencryptedContentMd5;
  if (md !== undefined && (!isStrictBase64(md) || decodeBase64Strict(md).length !== MD5_SIZE)) {
    invalid(`unencrypted content MD5 must be base64 of ${MD5_SIZE} bytes`);
  }
  const empty = Object.keys(m).length === 0;
  return {
    version: 'v2',
    scheme,
    wrapAlgorithm: wrapped.wrapAlgorithm,
    cekAlgorithm: CekAlgorithm.AES_CTR,
    wrappedKey: wrapped.wrappedKey,
    wrappedStart: wrapped.wrappedStart,
    matdesc: empty ? EMPTY : Object.freeze({ ...m }),
    matdescRaw: empty ? undefined : encodeMatDesc(m),
    unencryptedContentMd5: md,
    unencryptedContentLength: opts.unencryptedContentLength,
    dataSize: opts.dataSize,
    partSize: opts.partSize,
  };
}

/**
 * How a KMS-wrapped header value holds its CiphertextBlob:
 * - `blob`: the header is the CiphertextBlob itself (Go, Java, C++; and V1 `kms` from oss2 ≤ 2.10);
 * - `base64-of-blob`: the header is base64 of the CiphertextBlob text (oss2 ≥ 2.11 V2, `oss2-python.md` §2.3).
 */
export type KmsBlobForm = 'blob' | 'base64-of-blob';

/**
 * The KMS CiphertextBlob inside a KMS-wrapped `key` or `start` header value, by our rule (FORMAT.md §2.1): in V2,
 * base64-decode the header; if the decoded bytes are themselves non-empty strict base64 text, the header is oss2's
 * double-base64 form and the decoded text is the blob; otherwise the header is the blob. A real CiphertextBlob
 * decodes to binary, which is essentially never all base64 characters. V1 values are always the blob itself.
 *
 * @param headerValue - `Envelope.wrappedKey` or `Envelope.wrappedStart` of a `kms` envelope
 * @param version - the envelope family (default `v2`)
 * @throws CseError ERR_CSE_ENVELOPE_BAD_BASE64 when `headerValue` is not strict base64
 */
export function kmsCiphertextBlob(headerValue: string, version: EnvelopeVersion = 'v2'): { readonly blob: string; readonly form: KmsBlobForm } {
  const bytes = decodeBase64Strict(headerValue);
  if (version !== 'v2') return { blob: headerValue, form: 'blob' };
  let text = '';
  for (const b of bytes) {
    // Only base64 alphabet bytes can make base64 text; stop at the first other byte.
    if (!((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2b || b === 0x2f || b === 0x3d)) {
      return { blob: headerValue, form: 'blob' };
    }
    text += String.fromCharCode(b);
  }
  return text !== '' && isStrictBase64(text) ? { blob: text, form: 'base64-of-blob' } : { blob: headerValue, form: 'blob' };
}
