/**
 * Master keys in the page: the {@link BrowserMasterKey} seam, the key ring that picks one for an object, and
 * {@link RsaMasterKey} on WebCrypto.
 *
 * RSA in the browser (ecosystem-facts.md, Browser; SECURITY.md):
 * - `RSA/NONE/PKCS1Padding` *wrap* is a public-key operation, written here (random non-zero padding, BigInt modular
 *   exponentiation): WebCrypto has no RSAES-PKCS1-v1_5. Nothing secret depends on its timing.
 * - PKCS#1 v1.5 *unwrap* is never done in JavaScript (the Marvin timing attack): such objects are opened through
 *   the key broker ({@link KeyBrokerMasterKey} in broker.ts).
 * - OAEP (SHA-1, MGF1-SHA-1, empty label, as oss2's `LocalRsaProvider`, FORMAT.md §2.1) wraps and unwraps on
 *   WebCrypto.
 *
 * @packageDocumentation
 */

import { CseError, ErrorCode, NoMatchingKeyError, type KeyAttempt } from '../../src/errors.js';
import { WrapAlgorithm } from '../../src/format/headers.js';
import { DATA_KEY_SIZE, IV_SIZE, counterBlockFromDecimal } from '../../src/format/layout.js';
import { encodeMatDesc, matDescEquals } from '../../src/format/matdesc.js';
import type { ContentMaterial, Envelope, MatDesc, WrappedMaterial } from '../../src/format/types.js';
import { plainBuffer } from './aes.js';
import { decodeBase64Strict, encodeBase64 } from './base64.js';

/** Fresh content material with its wrapped form, as a master key hands it out for one new object. */
export interface NewMaterial {
  /** The plaintext data key and IV (kept in memory only while the object is written). */
  readonly material: ContentMaterial;
  /** The wrapped key and IV. */
  readonly wrapped: WrappedMaterial;
  /** The material description to store (`{}` for none). */
  readonly matdesc: MatDesc;
}

/**
 * A master key usable in the page. `unwrap` answers `null` for "not mine" and throws for "mine, but broken" (or
 * refused), as the Node `MasterKey` does.
 */
export interface BrowserMasterKey {
  /** A display name for errors; never secret. */
  readonly name: string;
  /** The description written with new objects and preferred when matching (`{}` when none). */
  readonly description: MatDesc;
  /**
   * Makes material for a new object.
   * @param object - the object key it is for (the broker's `authorize` sees it)
   * @throws CseError ERR_CSE_KEY_UNUSABLE, ERR_CSE_KEY_BROKER, ERR_CSE_KEY_BROKER_REFUSED
   */
  newMaterial(object: string): Promise<NewMaterial>;
  /**
   * Unwraps an object's envelope.
   * @param envelope - the parsed envelope
   * @param object - the object key
   * @throws CseError ERR_CSE_UNWRAP_FAILED, ERR_CSE_UNWRAP_BAD_LENGTH, ERR_CSE_KEY_UNUSABLE, ERR_CSE_KEY_BROKER,
   *   ERR_CSE_KEY_BROKER_REFUSED
   */
  unwrap(envelope: Envelope, object: string): Promise<ContentMaterial | null>;
}

/**
 * Checks unwrapped material: 32-byte key; a 16-byte IV (V2) or a decimal start (V1 and guide).
 * @throws CseError ERR_CSE_UNWRAP_BAD_LENGTH, ERR_CSE_ENVELOPE_BAD_NUMBER
 */
export function materialFrom(envelope: Envelope, key: Uint8Array, start: Uint8Array, object: string): ContentMaterial {
  if (key.length !== DATA_KEY_SIZE) {
    throw new CseError(ErrorCode.UNWRAP_BAD_LENGTH, `the unwrapped data key has ${key.length} bytes, expected ${DATA_KEY_SIZE}`, { object });
  }
  if (envelope.version === 'v2') {
    if (start.length !== IV_SIZE) {
      throw new CseError(ErrorCode.UNWRAP_BAD_LENGTH, `the unwrapped IV has ${start.length} bytes, expected ${IV_SIZE}`, { object });
    }
    return { key, iv: start };
  }
  return { key, iv: counterBlockFromDecimal(new TextDecoder().decode(start)) };
}

/**
 * Unwraps with the first key that can: keys whose description equals the object's first, then the others (the
 * `fallback` policy of the Node key ring). A broker refusal is an answer, not a mismatch: it is thrown at once.
 * @throws CseError ERR_CSE_KEY_BROKER_REFUSED; NoMatchingKeyError (ERR_CSE_NO_MATCHING_KEY) listing every key's reason
 */
export async function unwrapWithKeys(keys: readonly BrowserMasterKey[], envelope: Envelope, object: string): Promise<ContentMaterial> {
  const ordered = [...keys.filter((k) => matDescEquals(k.description, envelope.matdesc)), ...keys.filter((k) => !matDescEquals(k.description, envelope.matdesc))];
  const attempts: KeyAttempt[] = [];
  for (const key of ordered) {
    try {
      const material = await key.unwrap(envelope, object);
      if (material !== null) return material;
      attempts.push({ key: key.name, description: encodeMatDesc(key.description), reason: `not applicable to wrap scheme ${envelope.scheme}` });
    } catch (e) {
      if (e instanceof CseError && e.code === ErrorCode.KEY_BROKER_REFUSED) throw e;
      attempts.push({ key: key.name, description: encodeMatDesc(key.description), reason: e instanceof Error ? e.message : String(e), error: e });
    }
  }
  throw new NoMatchingKeyError(encodeMatDesc(envelope.matdesc), attempts, { object });
}

// ---- PEM and DER -------------------------------------------------------------------------------------------------

const RSA_ALGORITHM_ID = Uint8Array.of(0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00);

function derLength(n: number): Uint8Array {
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

function der(tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concat(parts);
  return concat([Uint8Array.of(tag), derLength(body.length), body]);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The DER inside a PEM block of the given labels; PKCS#1 bodies are wrapped into SPKI / PKCS#8. */
function pemToDer(pem: string, kind: 'public' | 'private'): Uint8Array {
  const m = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (m === null) throw new CseError(ErrorCode.INVALID_KEY, `expected a PEM ${kind} key`);
  const label = m[1] ?? '';
  const body = (m[2] ?? '').replace(/\s+/g, '');
  if (/Proc-Type|DEK-Info/.test(m[2] ?? '') || label === 'ENCRYPTED PRIVATE KEY') {
    throw new CseError(ErrorCode.INVALID_KEY, 'encrypted PEM keys are not supported in the browser; decrypt the key first');
  }
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64Strict(body);
  } catch (e) {
    throw new CseError(ErrorCode.INVALID_KEY, `the PEM ${label} body is not base64`, { cause: e });
  }
  if (kind === 'public' && label === 'PUBLIC KEY') return bytes;
  if (kind === 'public' && label === 'RSA PUBLIC KEY') return der(0x30, RSA_ALGORITHM_ID, der(0x03, Uint8Array.of(0), bytes));
  if (kind === 'private' && label === 'PRIVATE KEY') return bytes;
  if (kind === 'private' && label === 'RSA PRIVATE KEY') return der(0x30, Uint8Array.of(0x02, 0x01, 0x00), RSA_ALGORITHM_ID, der(0x04, bytes));
  throw new CseError(ErrorCode.INVALID_KEY, `a PEM "${label}" block is not an RSA ${kind} key`);
}

function base64UrlToBigInt(s: string): bigint {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  let n = 0n;
  for (const byte of decodeBase64Strict(b64)) n = (n << 8n) | BigInt(byte);
  return n;
}

function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  for (let e = exponent; e > 0n; e >>= 1n) {
    if ((e & 1n) === 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
  }
  return result;
}

/**
 * RSAES-PKCS1-v1_5 encryption (RFC 8017 §7.2.1) with the public key: `EM = 00 02 PS 00 M`, `PS` at least 8 random
 * non-zero bytes, then `EM^e mod n`, big-endian, modulus length.
 * @throws CseError ERR_CSE_INVALID_ARGUMENT when the message is longer than k − 11 bytes
 */
export function pkcs1v15Encrypt(n: bigint, e: bigint, k: number, message: Uint8Array): Uint8Array {
  if (message.length > k - 11) throw new CseError(ErrorCode.INVALID_ARGUMENT, `message too long for a ${k * 8}-bit RSA key`);
  const em = new Uint8Array(k);
  em[1] = 0x02;
  const ps = em.subarray(2, k - message.length - 1);
  crypto.getRandomValues(ps);
  for (let i = 0; i < ps.length; i++) {
    // Redraw zero bytes until none is left (each draw is zero with probability 1/256).
    while (ps[i] === 0) crypto.getRandomValues(ps.subarray(i, i + 1));
  }
  em.set(message, k - message.length);
  let m = 0n;
  for (const byte of em) m = (m << 8n) | BigInt(byte);
  let c = modPow(m, e, n);
  const out = new Uint8Array(k);
  for (let i = k - 1; i >= 0; i--) {
    out[i] = Number(c & 0xffn);
    c >>= 8n;
  }
  return out;
}

/** Options of {@link RsaMasterKey}: a public key (wrap only) or a private key (wrap, and OAEP unwrap). */
export interface RsaMasterKeyOptions {
  /** SPKI (`PUBLIC KEY`) or PKCS#1 (`RSA PUBLIC KEY`) PEM. */
  readonly publicKey?: string;
  /** PKCS#8 (`PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`) PEM, unencrypted. */
  readonly privateKey?: string;
  /**
   * How new objects are wrapped: `pkcs1` (`RSA/NONE/PKCS1Padding`, the default; Go, Java, oss2 `RsaProvider` read
   * it) or `oaep` (`RSA/NONE/OAEPWithSHA-1AndMGF1Padding`; oss2 `LocalRsaProvider` reads it, and so can the page).
   */
  readonly wrap?: 'pkcs1' | 'oaep';
  /** Material description written with new objects and matched on read. */
  readonly description?: MatDesc;
  /** Display name (default `rsa-<bits>` once loaded). */
  readonly name?: string;
}

interface LoadedRsa {
  readonly n: bigint;
  readonly e: bigint;
  readonly k: number;
  readonly oaepPublic: CryptoKey;
  readonly oaepPrivate: CryptoKey | undefined;
}

/**
 * An RSA master key in the page. `new RsaMasterKey({ publicKey: pem })` wraps new objects;
 * `new RsaMasterKey({ privateKey: pem, wrap: 'oaep' })` also unwraps OAEP objects. PKCS#1 v1.5 objects are never
 * unwrapped in the page (see the module comment): use {@link KeyBrokerMasterKey}.
 */
export class RsaMasterKey implements BrowserMasterKey {
  /** The description written with new objects. */
  readonly description: MatDesc;
  /** The wrap padding for new objects. */
  readonly wrap: 'pkcs1' | 'oaep';
  #name: string;
  readonly #loaded: Promise<LoadedRsa>;

  /**
   * @param options - one PEM key, the wrap padding, a description
   * @throws CseError ERR_CSE_INVALID_ARGUMENT unless exactly one of `publicKey` / `privateKey` is given or `wrap` is
   *   not `pkcs1`/`oaep`; ERR_CSE_INVALID_KEY for a PEM that is not an unencrypted RSA key of the expected kind
   *   (a key WebCrypto refuses is reported by the first `newMaterial` / `unwrap`)
   */
  constructor(options: RsaMasterKeyOptions) {
    if ((options.publicKey === undefined) === (options.privateKey === undefined)) {
      throw new CseError(ErrorCode.INVALID_ARGUMENT, 'RsaMasterKey needs exactly one of publicKey or privateKey (PEM)');
    }
    // Checked at run time too: pages call this from plain JavaScript.
    const wrap: unknown = options.wrap ?? 'pkcs1';
    if (wrap !== 'pkcs1' && wrap !== 'oaep') throw new CseError(ErrorCode.INVALID_ARGUMENT, `wrap must be 'pkcs1' or 'oaep', got ${JSON.stringify(wrap)}`);
    this.wrap = wrap;
    this.description = Object.freeze({ ...(options.description ?? {}) });
    this.#name = options.name ?? 'rsa';
    const named = options.name !== undefined;
    const spki = options.publicKey === undefined ? undefined : pemToDer(options.publicKey, 'public');
    const pkcs8 = options.privateKey === undefined ? undefined : pemToDer(options.privateKey, 'private');
    this.#loaded = (async () => {
      const params = { name: 'RSA-OAEP', hash: 'SHA-1' };
      try {
        let oaepPrivate: CryptoKey | undefined;
        let jwk: JsonWebKey;
        if (pkcs8 !== undefined) {
          oaepPrivate = await crypto.subtle.importKey('pkcs8', plainBuffer(pkcs8), params, true, ['decrypt']);
          jwk = await crypto.subtle.exportKey('jwk', oaepPrivate);
        } else {
          const pub = await crypto.subtle.importKey('spki', plainBuffer(spki ?? new Uint8Array(0)), params, true, ['encrypt']);
          jwk = await crypto.subtle.exportKey('jwk', pub);
        }
        const n = base64UrlToBigInt(jwk.n ?? '');
        const e = base64UrlToBigInt(jwk.e ?? '');
        const oaepPublic = await crypto.subtle.importKey('jwk', { kty: 'RSA', n: jwk.n ?? '', e: jwk.e ?? '', alg: 'RSA-OAEP', ext: true }, params, false, ['encrypt']);
        const k = Math.ceil(n.toString(16).length / 2);
        if (!named) this.#name = `rsa-${k * 8}`;
        // Only non-secret values are kept in extractable form: the private key stays a CryptoKey.
        return { n, e, k, oaepPublic, oaepPrivate: oaepPrivate === undefined ? undefined : await crypto.subtle.importKey('pkcs8', plainBuffer(pkcs8 ?? new Uint8Array(0)), params, false, ['decrypt']) };
      } catch (e) {
        throw new CseError(ErrorCode.INVALID_KEY, `WebCrypto refused the RSA key: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
    })();
    // Reported on first use; never an unhandled rejection.
    this.#loaded.catch(() => undefined);
  }

  /** Display name (`rsa-<bits>` once the key is loaded, unless one was given). */
  get name(): string {
    return this.#name;
  }

  /**
   * Wraps fresh material with the public key.
   * @throws CseError ERR_CSE_INVALID_KEY when WebCrypto refused the key
   */
  async newMaterial(_object: string): Promise<NewMaterial> {
    const rsa = await this.#loaded;
    const key = crypto.getRandomValues(new Uint8Array(DATA_KEY_SIZE));
    const iv = crypto.getRandomValues(new Uint8Array(IV_SIZE));
    const seal = async (m: Uint8Array): Promise<string> =>
      encodeBase64(this.wrap === 'oaep' ? new Uint8Array(await crypto.subtle.encrypt({ name: 'RSA-OAEP' }, rsa.oaepPublic, plainBuffer(m))) : pkcs1v15Encrypt(rsa.n, rsa.e, rsa.k, m));
    const wrapped: WrappedMaterial = {
      wrapAlgorithm: this.wrap === 'oaep' ? WrapAlgorithm.RSA_OAEP_SHA1 : WrapAlgorithm.RSA_PKCS1,
      wrappedKey: await seal(key),
      wrappedStart: await seal(iv),
    };
    return { material: { key, iv }, wrapped, matdesc: this.description };
  }

  /**
   * Unwraps an OAEP envelope with the private key; `null` for KMS envelopes and for ciphertexts of another modulus
   * size.
   * @throws CseError ERR_CSE_KEY_UNUSABLE for a PKCS#1 v1.5 envelope (never opened in the page) or without a private
   *   key; ERR_CSE_UNWRAP_FAILED when OAEP decryption fails; ERR_CSE_UNWRAP_BAD_LENGTH; ERR_CSE_INVALID_KEY
   */
  async unwrap(envelope: Envelope, object: string): Promise<ContentMaterial | null> {
    if (envelope.scheme === 'kms') return null;
    const rsa = await this.#loaded;
    const wrappedKey = decodeBase64Strict(envelope.wrappedKey);
    const wrappedStart = decodeBase64Strict(envelope.wrappedStart);
    if (wrappedKey.length !== rsa.k || wrappedStart.length !== rsa.k) return null;
    if (envelope.scheme === 'rsa-pkcs1') {
      throw new CseError(
        ErrorCode.KEY_UNUSABLE,
        'RSA/NONE/PKCS1Padding envelopes are not unwrapped in the browser (PKCS#1 v1.5 decryption in JavaScript is ' +
          'exposed to the Marvin timing attack); open them through a KeyBrokerMasterKey',
        { object },
      );
    }
    if (rsa.oaepPrivate === undefined) {
      throw new CseError(ErrorCode.KEY_UNUSABLE, 'this RsaMasterKey has only a public key and cannot unwrap', { object });
    }
    const priv = rsa.oaepPrivate;
    let key: Uint8Array;
    let start: Uint8Array;
    try {
      key = new Uint8Array(await crypto.subtle.decrypt({ name: 'RSA-OAEP' }, priv, plainBuffer(wrappedKey)));
      start = new Uint8Array(await crypto.subtle.decrypt({ name: 'RSA-OAEP' }, priv, plainBuffer(wrappedStart)));
    } catch (e) {
      // One message for both values: which one failed is not told.
      throw new CseError(ErrorCode.UNWRAP_FAILED, 'RSA-OAEP unwrap failed (wrong key or damaged envelope)', { object, cause: e });
    }
    return materialFrom(envelope, key, start, object);
  }
}
